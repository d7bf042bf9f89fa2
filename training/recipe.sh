#!/usr/bin/env bash
# The recipe of the committed model v7 (issue 14; training/README.md, "Reproduce the committed model"),
# as three stages on this 2-core CPU (about 3.5 h in all):
#   1. teacher: ladder rung a at 4x the epochs (airbench94: GELU, max pooling; ~70 min)
#   2. its six-view TTA logits on the 45,000 training images (distill.py; ~8 min)
#   3. the student: train.py's network with L = 4 distilled from them, 45 epochs in calls of at most
#      --max-minutes 140 (~127 min), then export, reference check and fixtures (~5 min).
# Every stage writes a checkpoint each epoch: after an interruption run this script again; finished
# stages are skipped and the unfinished one resumes. Extra arguments go to every stage (e.g.
# --data DIR, --threads N, --device cuda). Timings and figures: training/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py=training/.venv/bin/python
runs=training/runs
mkdir -p "$runs"

if [ ! -f "$runs/teacher-a-x4.safetensors" ]; then
    "$py" training/ladder.py --pool max --act gelu --epochs 39.6 \
        --checkpoint "$runs/ladder-a-x4.pt" --out-json "$runs/ladder.jsonl" "$@"
    "$py" training/distill.py "$runs/ladder-a-x4.pt" "$runs/teacher-a-x4.safetensors" "$@"
fi

if [ -f "$runs/v7-L4.pt" ] && [ ! -f "$runs/v7-L4.resume.pt" ]; then
    echo "recipe.sh: $runs/v7-L4.pt is a finished student; to redo its export, check and fixtures run" \
        "$py training/train.py --export-from $runs/v7-L4.pt --out models/dynconf-cifar10-v7.safetensors"
    exit 0
fi
while :; do
    status=0
    "$py" training/train.py --teacher "$runs/teacher-a-x4.safetensors" --levels 4 --epochs 45 \
        --out models/dynconf-cifar10-v7.safetensors --checkpoint "$runs/v7-L4.pt" --max-minutes 140 "$@" ||
        status=$?
    [ "$status" -eq 3 ] || exit "$status"   # 3: stopped cleanly at --max-minutes, go on
done
