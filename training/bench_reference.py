"""Throughput of the PyTorch reference SNN (reference.Deployed.snn_run) on validation images,
for comparison with the Rust engine (benches/vs_pytorch.sh runs both).

    training/.venv/bin/python training/bench_reference.py --model models/dynconf-cifar10-v7.safetensors \
        --limit 256 --steps 32 --threads 2 --batches 1,16,64,256

Prints one JSON object: for each batch size, the images run, the seconds they took and the
image-steps per second (images x steps / seconds). Each batch size first runs one untimed
batch (warm-up), then runs the first --limit validation images in batches of that size, and
stops early once --budget seconds have passed (batch 1 is slow; its rate is already stable
after a few images).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

import data
from reference import Deployed

ROOT = Path(__file__).resolve().parent.parent


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models/dynconf-cifar10-v7.safetensors")
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    p.add_argument("--limit", type=int, default=256, help="first N validation images")
    p.add_argument("--steps", type=int, default=32, help="time steps per image (T)")
    p.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
    p.add_argument("--batches", default="1,16,64,256", help="batch sizes, comma-separated")
    p.add_argument("--budget", type=float, default=60.0, help="seconds per batch size, at most")
    return p.parse_args()


def validation_images(data_dir: Path, limit: int) -> torch.Tensor:
    images, _ = data.read_batch(data_dir / data.VALIDATION_FILE)
    return torch.as_tensor(images[data.VALIDATION_START:data.VALIDATION_START + limit])


def time_batch_size(model: Deployed, images: torch.Tensor, batch: int, steps: int, budget: float):
    model.snn_run(images[:batch], steps)  # warm-up: allocator, oneDNN kernel selection
    done = 0
    start = time.perf_counter()
    while done < len(images) and time.perf_counter() - start < budget:
        chunk = images[done:done + batch]
        model.snn_run(chunk, steps)
        done += len(chunk)
    seconds = time.perf_counter() - start
    return {"batch": batch, "images": done, "seconds": seconds,
            "image_steps_per_s": done * steps / seconds}


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    model = Deployed(args.model)
    images = validation_images(args.data, args.limit)
    if len(images) == 0:
        sys.exit(f"no validation images in {args.data}")
    results = []
    for batch in (int(b) for b in args.batches.split(",")):
        results.append(time_batch_size(model, images, min(batch, len(images)), args.steps, args.budget))
        print(f"  batch {batch}: {results[-1]['image_steps_per_s']:.1f} image-steps/s", file=sys.stderr)
    best = max(results, key=lambda r: r["image_steps_per_s"])
    print(json.dumps({"engine": "pytorch-reference", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "steps": args.steps,
                      "limit": len(images), "results": results, "best": best}))


if __name__ == "__main__":
    main()
