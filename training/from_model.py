"""A training checkpoint and teacher targets from an exported chain model (issue 26).

The training checkpoint of v7 is not kept (only the exported `.safetensors`), yet a second stage,
for example fine-tuning on photo-like views with `train.py --photo-augment`, starts from
`train.py --init-from CHECKPOINT`. This script undoes `export.fold` for a chain model:

- the whitening conv is stored in f32 as it was trained;
- a spike-fed layer's stored weight is θ_prev · W (θ_prev the threshold of the IF layer before
  it, `export.spike_fed_tensors`), int8 with per-row scales or f16: W = dequantised / θ_prev, the
  BatchNorm already folded into W and the bias;
- each BatchNorm is rebuilt so that, in eval mode, it adds the folded bias and nothing else
  (exactly), and in training mode, with batch statistics, it does about the same: its running
  mean μ and variance σ² are those of the conv's output on `--stat-images` training images and
  γ = √(σ² + ε), β = bias + μ;
- the QCFS λ of each activation is the exported IF threshold θ.

So the rebuilt float ANN computes the exported (quantised) ANN. The script checks it on the
validation split and prints its accuracy, then writes
- `--checkpoint OUT.pt`: {"state", "training", "mean", "std"}, what `train.py --init-from` reads;
- `--teacher OUT.safetensors` (optional): its six-view TTA logits on the training split, in
  `distill.py`'s format, so that the next stage can keep the model's own answers on clean images
  (`train.py --teacher`) while it learns from photo-like views.

    training/.venv/bin/python training/from_model.py models/dynconf-cifar10-v7.safetensors \\
        --checkpoint training/runs/v7-exported.pt --teacher training/runs/teacher-v7.safetensors
"""
import argparse
import copy
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402
import distill  # noqa: E402
import export  # noqa: E402
import reference  # noqa: E402
import ladder  # noqa: E402
from model import Net  # noqa: E402


class ModelError(Exception):
    """The file is not an exported chain model this script can rebuild; the message says why."""


def read_model(path: Path) -> tuple[dict, dict]:
    """(metadata, f32 tensors by name, int8 weights dequantised) of an exported model, as the
    reference engine reads it."""
    try:
        deployed = reference.Deployed(path)
    except Exception as e:  # safetensors, json and the engine raise several types for a damaged file
        raise ModelError(f"{path}: not a dynconf model ({e})") from e
    return deployed.meta, deployed.tensors


@torch.no_grad()
def rebuild(meta: dict, tensors: dict, stat_images: torch.Tensor) -> Net:
    """The train.py network (train mode off) whose eval-mode forward pass is the exported ANN.
    `stat_images`: normalised training images [N, 3, 32, 32] for the BatchNorm statistics."""
    def kinds(layers):
        return [(layer["kind"], layer.get("kernel")) for layer in layers]

    n_conv = sum(1 for k in tensors if k.startswith("conv") and k.endswith(".weight"))
    widths = tuple(tensors[f"conv{i}.weight"].shape[0] for i in range(1, n_conv, 2))
    net = Net(widths=widths, levels=meta.get("levels", 0), pool="after")
    # Only a chain laid out as train.py's (format 1, pooling after the activation, no shortcuts)
    # can be rebuilt: the file's layers must be those this network exports.
    if meta.get("version") != 1 or n_conv < 3 or kinds(meta.get("layers", [])) != kinds(export.fold(net)[0]):
        raise ModelError("not a chain model laid out as train.py's network (format 1, pooling after the "
                         "activation, no shortcuts); other networks cannot be rebuilt for training")
    thresholds = [layer["threshold"] for layer in meta["layers"] if layer["kind"] == "if"]
    acts = net.activations()
    convs = [m for m in net.body if isinstance(m, nn.Conv2d)]
    bns = [m for m in net.body if isinstance(m, nn.BatchNorm2d)]
    for act, theta in zip(acts, thresholds):
        act.threshold.fill_(theta)
    net.whiten.weight.copy_(tensors["conv0.weight"])
    net.whiten.bias.copy_(tensors["conv0.bias"])
    biases = []
    for i, (conv, bn) in enumerate(zip(convs[1:], bns), start=1):
        conv.weight.copy_(tensors[f"conv{i}.weight"] / thresholds[i - 1])
        biases.append(tensors[f"conv{i}.bias"].float())
        # Identity in eval mode until the statistics below are known.
        bn.weight.fill_(1)
        bn.bias.copy_(biases[-1])
        bn.running_mean.zero_()
        bn.running_var.fill_(1 - bn.eps)
    net.head.weight.copy_(tensors["fc.weight"] / thresholds[-1])
    net.head.bias.copy_(tensors["fc.bias"])
    # Each BatchNorm's input statistics. One pass serves all: in eval mode a BatchNorm computes
    # z + bias before and after its statistics are set.
    stats = {}
    hooks = [bn.register_forward_pre_hook(lambda m, inp: stats.__setitem__(m, inp[0])) for bn in bns]
    net.eval()
    try:
        net.body(stat_images)
    finally:
        for h in hooks:
            h.remove()
    for bn, bias in zip(bns, biases):
        z = stats[bn].double()
        mu, var = z.mean(dim=(0, 2, 3)), z.var(dim=(0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mu)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(bias.double() + mu)
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="an exported chain model (.safetensors)")
    ap.add_argument("--checkpoint", type=Path, required=True, help="where to write the train.py checkpoint (.pt)")
    ap.add_argument("--teacher", type=Path, help="where to write its six-view TTA logits on the training split")
    ap.add_argument("--stat-images", type=int, default=2000, help="training images for the BatchNorm statistics")
    ap.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    try:
        (tx, ty), (vx, vy) = data.load_splits(args.data)
        meta, tensors = read_model(args.model)
    except (data.DataError, ModelError) as e:
        sys.exit(f"error: {e}")
    mean, std = meta["input"]["mean"], meta["input"]["std"]

    def normalise(u8):
        return (torch.from_numpy(u8).float() / 255 - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]

    try:
        net = rebuild(meta, tensors, normalise(tx[:args.stat_images]))
    except ModelError as e:
        sys.exit(f"error: {args.model}: {e}")
    val_logits = ladder.logits(net, normalise(vx), tta=False)
    val_acc = (val_logits.argmax(1) == torch.from_numpy(vy)).float().mean().item()
    stored = (meta.get("validation") or {}).get("ann_accuracy")
    print(f"rebuilt {args.model}: validation split {100 * val_acc:.2f}% (float ANN, eval mode); "
          f"the file's quantized ANN: {'?' if stored is None else f'{100 * stored:.2f}%'}", flush=True)
    with torch.no_grad():  # on a copy: training mode moves the running statistics
        batch_logits = copy.deepcopy(net).train()(normalise(tx[:500]))
    train_mode_acc = (batch_logits.argmax(1) == torch.from_numpy(ty[:500])).float().mean().item()
    print(f"  train mode (batch statistics) on 500 training images: {100 * train_mode_acc:.1f}%", flush=True)
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": net.state_dict(), "training": {**meta.get("training", {}), "rebuilt_from": str(args.model)},
                "mean": mean, "std": std}, args.checkpoint)
    print(f"wrote {args.checkpoint}", flush=True)
    if args.teacher:
        logits = ladder.logits(net, normalise(tx), tta=True)
        val_logits = ladder.logits(net, normalise(vx), tta=True)
        train_acc, val_tta = distill.write_targets(args.teacher, logits, val_logits, (tx, ty), vy, str(args.model),
                                                   "rebuilt by from_model.py", time.time() - started)
        print(f"wrote {args.teacher}: training split {100 * train_acc:.2f}%, validation split {100 * val_tta:.2f}% "
              f"(six-view TTA)", flush=True)
    print(f"{time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
