"""Quantized-ANN validation accuracy of one checkpoint exported with int8 weights (the format's
default) and with f16 weights (the format before int8), so the cost of int8 rounding is
measured on the same trained network.

    training/.venv/bin/python training/compare_formats.py training/runs/v3-B.pt
"""
import argparse
import tempfile
from pathlib import Path

import torch

import data
import export
import reference
from model import Net


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ckpt = torch.load(args.checkpoint, weights_only=False, map_location="cpu")
    net = Net.from_checkpoint(ckpt).eval()
    _, (val_x, val_y) = data.load_splits(args.data)
    images, labels = torch.from_numpy(val_x), torch.from_numpy(val_y)
    for weights in export.WEIGHT_FORMATS:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "m.safetensors"
            export.write_model(path, net, ckpt["mean"], ckpt["std"], data.DEFAULT_CLASSES, {}, weights)
            model = reference.Deployed(path)
            correct = sum((model.ann_logits(images[i:i + 500]).argmax(1) == labels[i:i + 500]).sum().item()
                          for i in range(0, len(labels), 500))
            print(f"{weights}: quantized ANN {correct / len(labels):.4f} on the validation split "
                  f"({len(labels)} images), file {path.stat().st_size / 1e6:.2f} MB", flush=True)


if __name__ == "__main__":
    main()
