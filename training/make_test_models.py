"""Builds the graph (format version 2) test models from training/zoo.py with seeded random weights
and exports them with training/export_torch.py, as a user would export a trained network:

  tests/fixtures/resnet-tiny.safetensors + .json   ResNet: identity and 1x1-conv shortcuts, an
                                                   average pool on the stem's spikes, L = 4
  tests/fixtures/vgg-tiny.safetensors + .json      VGG: conv groups with average pools, classifier
                                                   Linear -> act -> Dropout -> Linear -> ..., L = 4
  /tmp/graph-models/resnet18-shape.safetensors     full-size CIFAR ResNet-18 (L = 4) and VGG-16
  /tmp/graph-models/vgg16-shape.safetensors        (L = 2), not committed: for load/run checks

  training/.venv/bin/python training/make_test_models.py [--full-dir DIR | --no-full]

Random weights are made to behave like a trained network's: BatchNorm scales and shifts are drawn
around 1 and 0, the running statistics come from a training-mode forward pass on synthetic images,
and each activation's threshold `up` is set, during that pass, to a high percentile of its positive
inputs (so every layer fires at a moderate rate). The firing rate on the fixtures' synthetic
inputs must be 2-30% of neurons per step.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_torch  # noqa: E402
import fixtures  # noqa: E402
import zoo  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MEAN, STD = export_torch.QCFS_MEAN, export_torch.QCFS_STD
RATE_RANGE = (0.02, 0.30)

# name, zoo builder, keyword arguments, seed, percentile for the thresholds
TINY = (("resnet-tiny", "resnet_tiny", {"levels": 4}, 1, 0.99),
        ("vgg-tiny", "vgg_tiny", {"levels": 4}, 2, 0.99))
FULL = (("resnet18-shape", "resnet18", {"levels": 4}, 3, 0.99),
        ("vgg16-shape", "vgg16", {"levels": 2}, 4, 0.99))


def calibration_images(n: int, seed: int) -> torch.Tensor:
    """Normalised synthetic images: the fixture patterns at other seeds, with random contrast,
    brightness and flips (no dataset pixels)."""
    rng = np.random.default_rng(seed)
    images = []
    while len(images) < n:
        for img in fixtures.synthetic_inputs(seed=int(rng.integers(1 << 30))).values():
            img = img.astype(np.float64)
            img = (img - 128) * rng.uniform(0.5, 1.5) + 128 + rng.uniform(-40, 40, (3, 1, 1))
            if rng.random() < 0.5:
                img = img[:, :, ::-1]
            images.append(np.clip(img, 0, 255))
    x = torch.tensor(np.stack(images[:n]))
    mean = torch.tensor(MEAN, dtype=torch.float64)[:, None, None]
    std = torch.tensor(STD, dtype=torch.float64)[:, None, None]
    return ((x / 255 - mean) / std).float()


def is_activation(m: nn.Module) -> bool:
    return any(a.matches(m) for a in export_torch.DEFAULT_ACTIVATIONS)


@torch.no_grad()
def calibrate(net: nn.Module, images: torch.Tensor, percentile: float = 0.99, seed: int = 0):
    """Trained-like statistics for a random network (see the module docstring). Returns it in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(0.75 + 0.5 * torch.rand(m.num_features, generator=gen))
            m.bias.copy_(0.2 * torch.randn(m.num_features, generator=gen))
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch, that batch's statistics

    def set_threshold(m, inputs):
        x = inputs[0]
        positive = x[x > 0].flatten()
        if positive.numel():
            k = max(1, int(percentile * positive.numel()))
            threshold = m.up if hasattr(m, "up") else m.threshold
            threshold.fill_(positive.kthvalue(k).values.item())

    hooks = [m.register_forward_pre_hook(set_threshold) for m in net.modules() if is_activation(m)]
    net.train()
    for m in net.modules():
        if isinstance(m, nn.Dropout):
            m.eval()  # thresholds for the eval-mode network
    net(images)
    for h in hooks:
        h.remove()
    return net.eval()


def short(path: Path) -> str:
    """`path` relative to the working directory when it lies below it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def build(name, builder, kwargs, seed, percentile, out_dir: Path, steps=32, log=print, checkpoint_style="wrapped"):
    """Builds, calibrates, saves a checkpoint and exports one network; returns export_torch's summary."""
    torch.manual_seed(seed)
    net = getattr(zoo, builder)(**kwargs)
    calibrate(net, calibration_images(96, seed), percentile, seed)
    # A fixed scratch folder (removed afterwards), so that the command stored in the model's
    # metadata, and so the file, is the same at every run.
    scratch = Path(tempfile.gettempdir()) / "dynconf-make-test-models"
    scratch.mkdir(exist_ok=True)
    try:
        ckpt = scratch / f"{name}.pth"
        state = net.state_dict()
        if checkpoint_style == "wrapped":  # as a DataParallel training script saves it
            torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 0}, ckpt)
        else:
            torch.save(state, ckpt)
        argv = ["--model", f"{short(HERE / 'zoo.py')}:{builder}", "--model-args", json.dumps(kwargs),
                "--checkpoint", str(ckpt), "--out", short(out_dir / f"{name}.safetensors"), "--steps", str(steps)]
        log(f"{name}: training/.venv/bin/python training/export_torch.py " + " ".join(argv))
        args = export_torch.parse_args(argv)
        args.threads = torch.get_num_threads()  # this script's --threads (not stored in the file)
        summary = export_torch.export_model(args, log=log)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rate = summary["mean_firing_rate"]
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise SystemExit(f"{name}: mean firing rate {rate:.3f} outside {RATE_RANGE}")
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", type=Path, default=ROOT / "tests/fixtures")
    p.add_argument("--full-dir", type=Path, default=Path("/tmp/graph-models"))
    p.add_argument("--no-full", action="store_true", help="only the tiny fixture models")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    args.out_dir, args.full_dir = args.out_dir.resolve(), args.full_dir.resolve()
    os.chdir(ROOT)  # relative paths in the stored commands
    torch.set_num_threads(args.threads)
    jobs = [(spec, args.out_dir, style) for spec, style in zip(TINY, ("wrapped", "plain"))]
    if not args.no_full:
        jobs += [(spec, args.full_dir, "plain") for spec in FULL]
    for (name, builder, kwargs, seed, percentile), out_dir, style in jobs:
        s = build(name, builder, kwargs, seed, percentile, out_dir, checkpoint_style=style)
        rates = ", ".join(f"{k} {v:.3f}" for k, v in s["firing_rates"].items())
        print(f"{name}: {s['size_bytes']} bytes, {s['layers']} layers ({s['if_layers']} IF), L = {s['levels']}; "
              f"float vs exported on the synthetic inputs: max |dlogit| {s['synthetic']['max_abs_logit_diff']:.4g} "
              f"(largest |logit| {s['synthetic']['max_abs_float_logit']:.4g}), argmax agreement "
              f"{s['synthetic']['argmax_agreement']:.3f}; firing rate mean {s['mean_firing_rate']:.3f} ({rates})\n",
              flush=True)


if __name__ == "__main__":
    main()
