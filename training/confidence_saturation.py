"""How often the Dynamic Confidence code saturates: the share of validation images whose
confidence max softmax(O(t)/kappa), stored as a 16-bit code (src/decode.rs), is already the
top code 65535 (= 1.0) at step t, and the accuracy of those images. A saturated image stops
at any threshold below 1.0, so heavy early saturation leaves no threshold to calibrate.

    training/.venv/bin/python training/confidence_saturation.py models/dynconf-cifar10-v6.safetensors
"""
import argparse
from pathlib import Path

import torch

import data
import reference


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    p.add_argument("--limit", type=int, default=1000, help="first N validation images")
    p.add_argument("--kappas", type=float, nargs="+", default=[1.0, 2.0])
    args = p.parse_args()
    torch.set_num_threads(2)
    _, (val_x, val_y) = data.load_splits(args.data)
    images, labels = torch.from_numpy(val_x[:args.limit]), torch.from_numpy(val_y[:args.limit])
    outputs, _ = reference.Deployed(args.model).snn_run(images, 32)
    for kappa in args.kappas:
        print(f"kappa {kappa:g} (first {len(labels)} validation images)")
        for t in (2, 4, 6, 8, 12, 16, 24, 32):
            o = outputs[t - 1].double() / kappa
            confidence = 1 / torch.exp(o - o.max(1, keepdim=True).values).sum(1)
            saturated = torch.round(confidence * 65535) == 65535
            right = outputs[t - 1].argmax(1) == labels
            share = f"{right[saturated].float().mean():.3f}" if saturated.any() else "-"
            print(f"  t={t:2d}: saturated {saturated.float().mean():.3f} (accuracy {share}), "
                  f"all images {right.float().mean():.3f}")


if __name__ == "__main__":
    main()
