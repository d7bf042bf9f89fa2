"""Exports a finished QCFS rung of the ablation ladder (issue 14) to the dynconf-snn format, so that
the Rust engine measures it as it measures the committed model: int8 spike-fed weights on the exact
grid, BatchNorm and thresholds folded (export.py). This is rung d's "int8 export" step.

  training/.venv/bin/python training/ladder_export.py training/runs/ladder-c-L4.pt /tmp/ladder-c-L4.safetensors
  cargo run --release -p dynconf-cli -- calibrate --model /tmp/ladder-c-L4.safetensors --split validation
  cargo run --release -p dynconf-cli -- eval --model /tmp/ladder-c-L4.safetensors --split validation

Ladder networks are not for models/ (they are diagnostics); write them outside the repository.
"""
import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402
import export  # noqa: E402
import ladder  # noqa: E402


class Folded(nn.Module):
    """The shape export.fold expects: `body` up to the last activation, `head` a Linear after the
    global average, `levels`."""

    def __init__(self, net: nn.Sequential, levels: int):
        super().__init__()
        *body, gap, flatten, linear, mul = net
        assert isinstance(gap, nn.AdaptiveAvgPool2d) and isinstance(linear, nn.Linear), "a max-pool rung cannot be exported"
        self.body, self.levels = nn.Sequential(*body), levels
        self.head = nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():
            self.head.weight.copy_(linear.weight * mul.s)  # the 1/9 output scale folded in
            self.head.bias.zero_()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="a finished ladder checkpoint with --act qcfs")
    ap.add_argument("out", type=Path, help="the .safetensors file to write")
    ap.add_argument("--weights", choices=export.WEIGHT_FORMATS, default="int8")
    args = ap.parse_args()
    net, ck = ladder.load_network(args.checkpoint)
    s = ck["settings"]
    if s["act"] != "qcfs":
        sys.exit(f"{args.checkpoint}: a {s['act']} rung has no QCFS thresholds to convert; expected --act qcfs")
    meta = export.write_model(args.out, Folded(net, s["levels"]), ladder.MEAN, ladder.STD, data.DEFAULT_CLASSES,
                              {"training": {"ladder": s, "steps": ck["step"], "source": str(args.checkpoint)}},
                              args.weights)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {len(meta['layers'])} layers)")


if __name__ == "__main__":
    main()
