"""Ablation ladder (issue 14): airbench94 (legacy/airbench94.py) as published, on our data.

Rung (a) = the defaults: GELU, max pooling, widths 64/256/256, batch 1024 (drop last), 9.9 epochs,
Nesterov SGD, summed label-smoothed loss, lookahead-EMA, alternating flip + 2-px translate; scored
on the validation split (records 5000..9999 of data_batch_5.bin) without and with six-view TTA.
Facts: ../shared/docs/fast-training.md section 2. Switches: --pool avg|stride2|avg-after,
--act qcfs --levels L (then the SNN is simulated too: ladder_snn.py; ladder_export.py writes the
network in the dynconf-snn format for the Rust engine).

  training/.venv/bin/python training/ladder.py --pool max --act gelu \
      --checkpoint training/runs/ladder-a.pt --out-json training/runs/ladder.jsonl
"""
import argparse, json, math, os, resource, sys, time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402
import ladder_snn  # noqa: E402
from model import QCFS  # noqa: E402

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # airbench's constants
CL = torch.channels_last


class BatchNorm(nn.BatchNorm2d):
    """eps 1e-12, running-stats momentum 0.4 (airbench's 0.6 passed as 1-0.6), weight frozen at 1."""

    def __init__(self, c):
        super().__init__(c, eps=1e-12, momentum=0.4)
        self.weight.requires_grad_(False)


def conv3(c_in, c_out, stride=1):
    """PyTorch default init, then the first c_in filters set to identity (Dirac)."""
    c = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(c.weight[:c_in])
    return c


class Mul(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


def make_net(pool, act, levels, widths=(64, 256, 256)):
    new_act = (lambda: nn.GELU()) if act == "gelu" else (lambda: QCFS(levels))
    pool2 = {"max": lambda: [nn.MaxPool2d(2)], "avg": lambda: [nn.AvgPool2d(2)], "stride2": lambda: [],
             "avg-after": lambda: []}[pool]
    whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)
    whiten.weight.requires_grad_(False)
    layers, c = [whiten, new_act()], 24
    for w in widths:  # conv -> pool -> BN -> act -> conv -> BN -> act (avg-after: conv -> BN -> act -> pool -> ...)
        if pool == "avg-after":  # training/model.py's placement: the pool averages the activations
            layers += [conv3(c, w), BatchNorm(w), new_act(), nn.AvgPool2d(2), conv3(w, w), BatchNorm(w), new_act()]
        else:
            layers += [conv3(c, w, 2 if pool == "stride2" else 1), *pool2(), BatchNorm(w), new_act(),
                       conv3(w, w), BatchNorm(w), new_act()]
        c = w
    layers += [nn.MaxPool2d(3) if pool == "max" else nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(c, 10, bias=False), Mul(1 / 9)]
    with torch.no_grad():
        whiten.bias.zero_()
    return nn.Sequential(*layers)


@torch.no_grad()
def init_whitening(layer, x, eps=5e-4):
    """Uncentred covariance of every stride-1 2x2 patch; filters = eigenvectors / sqrt(eig + eps),
    largest first, then their negatives."""
    c = x.shape[1]
    p = x.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, c * 4).double()
    eigval, eigvec = torch.linalg.eigh(p.T @ p / len(p))
    filters = (eigvec.T / torch.sqrt(eigval + eps)[:, None]).flip(0).reshape(-1, c, 2, 2)
    layer.weight.copy_(torch.cat([filters, -filters]).float())


@torch.no_grad()
def init_qcfs(net, x, percentile=0.995):
    """QCFS thresholds from the 99.5th percentile of each activation's positive inputs on one batch
    (as training/model.py); BN running statistics are left untouched."""
    def hook(m, inp):
        pos = inp[0][inp[0] > 0].float()
        if pos.numel():
            m.threshold.fill_(pos.kthvalue(max(1, int(percentile * pos.numel()))).values.item())
    hooks = [m.register_forward_pre_hook(hook) for m in net if isinstance(m, QCFS)]
    bns = [m for m in net if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 0.0
    net.train()(x)
    for m in bns:
        m.momentum = 0.4
    for h in hooks:
        h.remove()


class Lookahead:
    """Every 5 steps: ema <- d*ema + (1-d)*net, then net <- ema (all float state, BN buffers too)."""

    def __init__(self, net):
        self.ema = {k: v.detach().clone() for k, v in net.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, net, decay):
        sd = net.state_dict()
        for k, e in self.ema.items():
            e.lerp_(sd[k], 1 - decay)
            sd[k].copy_(e)


def load_network(checkpoint):
    """The network saved in a ladder.py checkpoint, in eval mode, and the checkpoint (its
    "settings", "step", ...)."""
    ck = torch.load(checkpoint, weights_only=False, map_location="cpu")
    s = ck["settings"]
    net = make_net(s["pool"], s["act"], s["levels"])
    net.load_state_dict(ck["net"])
    return net.eval(), ck


def normalise(images_u8):
    """uint8 [N, 3, 32, 32] -> float32, airbench's per-channel constants."""
    return (torch.from_numpy(images_u8).float() / 255 - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


@torch.no_grad()
def tta_logits(net, xb):
    """Six-view TTA logits [B, 10], fp32: original and mirror 1/4 each; 1-px shifts up-left and
    down-right (reflect), each also mirrored, 1/8 each."""
    net.eval()
    mirror = lambda v: 0.5 * net(v) + 0.5 * net(v.flip(-1))
    xb = xb.contiguous(memory_format=CL)
    p = F.pad(xb, (1,) * 4, mode="reflect")
    return 0.5 * mirror(xb) + 0.25 * (mirror(p[:, :, :32, :32]) + mirror(p[:, :, 2:, 2:]))


@torch.no_grad()
def logits(net, x, tta, device="cpu", batch=1000, progress=None):
    """fp32 logits [N, 10] on the CPU, with or without the six-view TTA, of normalised images
    x [N, 3, 32, 32] on the CPU, in batches moved to `device` (where the network is);
    progress(batch index, images done) after each batch."""
    net.eval()
    out, done = [], 0
    for i, xb in enumerate(x.split(batch)):
        xb = xb.to(device).contiguous(memory_format=CL)
        out.append((tta_logits(net, xb) if tta else net(xb)).float().cpu())
        done += len(xb)
        if progress:
            progress(i, done)
    return torch.cat(out)


def evaluate(net, x, y, tta, device="cpu"):
    """Validation accuracy in fp32, with or without the six-view TTA (`logits`)."""
    return (logits(net, x, tta, device).argmax(1) == y).float().mean().item()


def epoch_images(padded, epoch, gen):
    """New random 32x32 crop of the reflect-padded (pre-flipped) set; whole set mirrored on odd epochs."""
    n, r = len(padded), (padded.shape[-1] - 32) // 2
    shifts = torch.randint(0, 2 * r + 1, (n, 2), generator=gen)
    out = torch.empty(n, 3, 32, 32)
    for sy in range(2 * r + 1):
        for sx in range(2 * r + 1):
            m = (shifts[:, 0] == sy) & (shifts[:, 1] == sx)
            out[m] = padded[m, :, sy:sy + 32, sx:sx + 32]
    return (out.flip(-1) if epoch % 2 else out), torch.randperm(n, generator=gen)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", choices=("max", "avg", "stride2", "avg-after"), default="max")
    ap.add_argument("--act", choices=("gelu", "qcfs"), default="gelu")
    ap.add_argument("--levels", type=int, default=8, help="QCFS levels L (--act qcfs)")
    ap.add_argument("--epochs", type=float, default=9.9)
    ap.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (figures in training/README.md are CPU runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    ap.add_argument("--checkpoint", type=Path, help="saved every epoch; resumed from if it exists")
    ap.add_argument("--out-json", type=Path, help="append one JSON line with the result")
    ap.add_argument("--smoke", action="store_true", help="a few steps on 2 batches of 64 images")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0_wall, t0_cpu = time.time(), time.process_time()
    log = lambda s: print(s, flush=True)

    (tx, ty), (vx, vy) = data.load_splits(args.data)
    batch, lr_per_1024, wd_per_1024, momentum = 1024, 11.5, 0.0153, 0.85
    if args.smoke:
        (tx, ty), (vx, vy), batch, args.epochs = (tx[:128], ty[:128]), (vx[:256], vy[:256]), 64, 2.5
    train_t, val_t = normalise(tx), normalise(vx)
    train_y, val_y = torch.from_numpy(ty), torch.from_numpy(vy)

    net = make_net(args.pool, args.act, args.levels)
    init_whitening(net[0], train_t[:5000])
    if args.act == "qcfs":
        init_qcfs(net, train_t[:512])
    device = torch.device(args.device)
    net = net.to(device, memory_format=CL)
    params = sum(p.numel() for p in net.parameters())

    # Decoupled hyperparameters -> PyTorch: lr = 11.5 / (1024 (1 + 1/(1-m))), wd*lr equal across groups.
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr, wd = lr_per_1024 / kilostep, wd_per_1024 * batch / kilostep
    bn_biases = [m.bias for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    thresholds = [m.threshold for m in net.modules() if isinstance(m, QCFS)]
    special = {id(p) for p in bn_biases + thresholds}
    others = [p for p in net.parameters() if p.requires_grad and id(p) not in special]
    groups = [dict(params=bn_biases, lr=64 * lr, weight_decay=wd / (64 * lr)),
              dict(params=others, lr=lr, weight_decay=wd / lr)]
    if thresholds:  # not in airbench: QCFS thresholds at the base lr, without weight decay
        groups.append(dict(params=thresholds, lr=lr, weight_decay=0.0))
    opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=True)
    for g in opt.param_groups:
        g["base_lr"] = g["lr"]

    steps_per_epoch = len(train_y) // batch
    total = math.ceil(steps_per_epoch * args.epochs)  # as airbench: ceil(48 * 9.9) = 476 there, 426 here
    warm = int(total * 0.23)
    lr_factor = lambda s: 0.2 + 0.8 * s / warm if s < warm else 1.0 - 0.93 * (s - warm) / (total - warm)
    lookahead = Lookahead(net)

    # Alternating flip: a random half flipped once (seeded), the whole set mirrored on odd epochs.
    flip = torch.rand(len(train_t), generator=torch.Generator().manual_seed(args.seed + 1)) < 0.5
    padded = F.pad(torch.where(flip[:, None, None, None], train_t.flip(-1), train_t), (2,) * 4, mode="reflect")
    gen = torch.Generator().manual_seed(args.seed + 2)

    step, epoch, history, spent_wall, spent_cpu = 0, 0, [], 0.0, 0.0
    if args.checkpoint and args.checkpoint.exists():
        ck = torch.load(args.checkpoint, weights_only=False, map_location="cpu")
        assert ck["settings"] == settings(args), f"checkpoint settings differ: {ck['settings']}"
        net.load_state_dict(ck["net"]), opt.load_state_dict(ck["opt"])
        lookahead.ema = {k: v.to(device) for k, v in ck["ema"].items()}
        gen.set_state(ck["gen"]), torch.set_rng_state(ck["torch_rng"])
        step, epoch, history, spent_wall, spent_cpu = ck["step"], ck["epoch"], ck["history"], ck["wall_s"], ck["cpu_s"]
        log(f"resumed from {args.checkpoint} at epoch {epoch}, step {step}/{total}")
    log(f"ladder {settings(args)}: {params:,} parameters, {len(train_y)} training / {len(val_y)} validation "
        f"images, {steps_per_epoch} steps/epoch, {total} steps, lr {lr:.4g} (BN biases {64 * lr:.4g}), wd {wd:.4g}")
    wall = lambda: spent_wall + time.time() - t0_wall
    cpu = lambda: spent_cpu + time.process_time() - t0_cpu

    n_epochs = math.ceil(args.epochs)
    while epoch < n_epochs and step < total:
        net[0].bias.requires_grad_(epoch < 3)  # whitening bias trains in epochs 0-2 only
        net.train()
        images, perm = epoch_images(padded, epoch, gen)
        loss_sum = seen = 0
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            xb = images[idx].to(device).contiguous(memory_format=CL)
            yb = train_y[idx].to(device)
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * lr_factor(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                out = net(xb)
            loss = F.cross_entropy(out.float(), yb, label_smoothing=0.2, reduction="sum")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum, seen = loss_sum + loss.item(), seen + len(idx)
            if step % 5 == 0:
                lookahead.update(net, 0.95 ** 5 * (step / total) ** 3)
            if step >= total:
                lookahead.update(net, 1.0)  # the final network is the EMA
                break
        epoch += 1
        val = evaluate(net, val_t, val_y, tta=False, device=device)
        history.append(dict(epoch=epoch, step=step, train_loss=round(loss_sum / seen, 4), val_acc=val))
        eta = wall() / step * (total - step)
        log(f"epoch {epoch}/{n_epochs} step {step}/{total}: train loss {loss_sum / seen:.4f}, val {100 * val:.2f}%, "
            f"elapsed {wall() / 60:.1f} min (CPU {cpu() / 60:.1f}), ETA {eta / 60:.1f} min")
        if args.checkpoint:
            args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.checkpoint.with_suffix(".tmp")
            torch.save(dict(settings=settings(args), net=net.state_dict(), opt=opt.state_dict(), ema=lookahead.ema,
                            gen=gen.get_state(), torch_rng=torch.get_rng_state(), step=step, epoch=epoch,
                            history=history, wall_s=wall(), cpu_s=cpu()), tmp)
            os.replace(tmp, args.checkpoint)

    val = evaluate(net, val_t, val_y, tta=False, device=device)
    val_tta = evaluate(net, val_t, val_y, tta=True, device=device)
    net = net.cpu()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result = dict(settings(args), smoke=args.smoke, steps=step, params=params, val_acc=val, val_acc_tta=val_tta,
                  wall_min=round(wall() / 60, 2), cpu_min=round(cpu() / 60, 2),
                  cpu_min_this_process_rusage=round((ru.ru_utime + ru.ru_stime) / 60, 2),
                  split="validation: records 5000..9999 of data_batch_5.bin", history=history,
                  command=" ".join(sys.argv), torch=torch.__version__, device=args.device,
                  finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    if args.act == "qcfs":
        log("SNN: simulating 32 time steps on the validation split ...")
        result["snn"] = ladder_snn.evaluate_snn(net, QCFS, val_t.contiguous(), val_y)
        log(f"SNN: argmax O(32) agrees with the quantized ANN on {100 * result['snn']['ann_agreement']:.2f}% of images")
        snn = result["snn"]
        fixed = ", ".join(f"{100 * snn['fixed'][t]:.2f}%" for t in (4, 8, 16, 32))
        dc = snn["dynamic_held_out"]
        log(f"SNN: T=4/8/16/32 {fixed}; Dynamic Confidence held out {100 * dc['accuracy']:.2f}% in "
            f"{dc['mean_steps']:.2f} mean steps; oracle {100 * snn['oracle']['accuracy']:.2f}%")
    log(f"final: validation {100 * val:.2f}%, with six-view TTA {100 * val_tta:.2f}%; "
        f"{result['wall_min']} wall min, {result['cpu_min']} CPU min")
    if args.out_json:
        args.out_json.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out_json, "a") as f:
            f.write(json.dumps(result) + "\n")


def settings(args):
    return dict(pool=args.pool, act=args.act, levels=args.levels if args.act == "qcfs" else None,
                epochs=args.epochs, precision=args.precision, threads=args.threads, seed=args.seed)


if __name__ == "__main__":
    main()
