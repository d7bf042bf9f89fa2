#!/usr/bin/env bash
# Evaluation throughput, the Rust engine vs the PyTorch reference SNN (training/reference.py),
# on the same validation images, time steps and thread count. Prints both sides' figures and
# the ratios (Rust image-steps/s over PyTorch's, at batch 1 and at PyTorch's best batch size).
#
#   benches/vs_pytorch.sh [--model M] [--limit N] [--steps T] [--threads K] [--batches 1,16,64,256]
#
# Rust: `dynconf eval --no-ann` (every image run to T, one image per thread at a time,
# event-driven and dense). PyTorch: training/bench_reference.py (`Deployed.snn_run` on batches
# of each size, intra-op threads = K). Both read the first N records of the validation split.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=models/dynconf-cifar10-v7.safetensors
DATA=../shared/cifar10/cifar-10-batches-bin
LIMIT=256
STEPS=32
THREADS=2
BATCHES=1,16,64,256
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
PYTHON=training/.venv/bin/python
[ -x "$PYTHON" ] || { echo "no $PYTHON: run scripts/install-tools.sh python" >&2; exit 1; }

cargo build --release --quiet -p dynconf-cli
rust_eval() {
  # A fixed threshold: eval needs one, and the throughput does not depend on it.
  target/release/dynconf --threads "$THREADS" eval --model "$MODEL" --data "$DATA" \
    --split validation --limit "$LIMIT" --max-steps "$STEPS" --threshold 0.99 \
    --no-ann --json --engine "$1" 2>/dev/null
}
echo "Rust engine ($THREADS threads, $LIMIT images, T=$STEPS)..." >&2
rust_event=$(rust_eval event)
rust_dense=$(rust_eval dense)
echo "PyTorch reference (batches $BATCHES)..." >&2
pytorch=$("$PYTHON" training/bench_reference.py --model "$MODEL" --data "$DATA" \
  --limit "$LIMIT" --steps "$STEPS" --threads "$THREADS" --batches "$BATCHES")

"$PYTHON" - "$rust_event" "$rust_dense" "$pytorch" "$STEPS" <<'PY'
import json, sys
event, dense, torch_side = (json.loads(a) for a in sys.argv[1:4])
steps = int(sys.argv[4])
rate = lambda r: r["images"] * steps / r["seconds"]
rust = {"event-driven": rate(event), "dense": rate(dense)}
by_batch = {r["batch"]: r for r in torch_side["results"]}
best = torch_side["best"]
print(f"image-steps per second, T = {steps}, {torch_side['threads']} threads, "
      f"{event['images']} validation images (PyTorch {torch_side['torch']})")
for name, value in rust.items():
    print(f"  Rust {name:<13} {value:10.1f}")
for b, r in sorted(by_batch.items()):
    print(f"  PyTorch batch {b:<5} {r['image_steps_per_s']:10.1f}   ({r['images']} images)")
one = by_batch.get(1)
for name, value in rust.items():
    parts = []
    if one:
        parts.append(f"{value / one['image_steps_per_s']:.1f}x PyTorch batch 1")
    parts.append(f"{value / best['image_steps_per_s']:.2f}x PyTorch best (batch {best['batch']})")
    print(f"ratio: Rust {name} = " + ", ".join(parts))
PY
