"""Train the compact QCFS CIFAR-10 network, export it for the spiking engine, check the
conversion with the reference SNN, and write the Rust fixtures. The defaults are the committed
model's student (L = 4, 45 epochs); training/recipe.sh runs its whole recipe (teacher, targets, student):

    training/recipe.sh                                      # the committed model, ~3.5 h on 2 CPU cores
    training/.venv/bin/python training/train.py --teacher TARGETS.safetensors   # its student stage
    training/.venv/bin/python training/train.py --smoke     # pipeline check in ~1 minute
"""
import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import data
import distill
import export
import export_torch
import fixtures
import reference
from augment import augment, photo_augment
from model import POOLS, Net

ROOT = Path(__file__).resolve().parent.parent


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    p.add_argument("--out", type=Path, default=ROOT / "models/dynconf-cifar10-v7.safetensors")
    p.add_argument("--fixtures", type=Path, default=ROOT / "tests/fixtures")
    p.add_argument("--checkpoint", type=Path, help="where to save the trained weights "
                   "(default training/runs/<model name>.pt); CHECKPOINT.resume.pt is written after every epoch "
                   "and resumed from by the same command")
    p.add_argument("--max-minutes", type=float, help="stop after the last epoch that fits in this many minutes "
                   "(of this process) and exit with status 3; the same command resumes (stages of a long recipe)")
    p.add_argument("--epochs", type=int, help="default 45 (--smoke: 1)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate (SGD, Nesterov)")
    p.add_argument("--warmup", type=float, default=1.5, help="epochs of linear warm-up")
    p.add_argument("--wd", type=float, default=1e-3)
    p.add_argument("--label-smoothing", type=float, default=0.2)
    p.add_argument("--ema", type=float, default=0.998, help="EMA decay per step (0 disables)")
    p.add_argument("--levels", type=int, default=4, help="QCFS quantization levels L")
    p.add_argument("--translate", type=int, default=4, help="random translation in pixels (reflect padding)")
    p.add_argument("--cutout", type=int, default=12, help="side of a random zeroed square per image (0 disables)")
    p.add_argument("--photo-augment", type=float, default=0.0, metavar="P",
                   help="fraction of images seen as the page sees a photo (augment.photo_augment: random-resized "
                        "crop area-averaged down, exposure/colour/gamma jitter, blur); 0 disables")
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                   help="training arithmetic: bf16 autocast (about 1.5x faster on CPUs with AVX512-BF16) or fp32; "
                        "evaluation, export and the SNN check are always fp32")
    p.add_argument("--widths", default="64,160,256", help="channels of the three blocks")
    p.add_argument("--pool", choices=POOLS, default="after",
                   help="average pool of each block's first conv: before its activation or after it (on spikes)")
    p.add_argument("--residual", action="store_true",
                   help="an identity shortcut around each block's second conv (model.ResidualBlock); "
                        "exported as a format-2 layer graph by export_torch.py")
    p.add_argument("--weights", choices=export.WEIGHT_FORMATS, default="int8",
                   help="storage of the spike-fed weights: int8 with a scale per row, or f16 (twice the bytes)")
    p.add_argument("--steps", type=int, default=32, help="SNN time steps for the conversion check")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--smoke", action="store_true", help="tiny subset, 1 epoch: checks the pipeline only")
    p.add_argument("--teacher", type=Path, metavar="TARGETS",
                   help="distil from these teacher logits (training/distill.py writes them from a ladder.py network)")
    p.add_argument("--kd-weight", type=float, default=0.5, help="weight α of the distillation term (--teacher)")
    p.add_argument("--kd-temperature", type=float, default=1.0,
                   help="softmax temperature τ of the distillation term (ladder teachers, trained with label "
                        "smoothing 0.2, already give soft targets: mean top probability 0.70 at τ = 1)")
    p.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                   help="start training from these weights (a second stage) instead of a fresh network")
    p.add_argument("--export-from", type=Path, metavar="CHECKPOINT",
                   help="skip training: export, check and write fixtures from a training/runs/*.pt checkpoint")
    return p.parse_args()


def log(msg):
    print(msg, flush=True)


def fmt_time(s):
    return f"{int(s // 60)}m{int(s % 60):02d}s"


@torch.no_grad()
def accuracy(net, x, y, device, batch=500):
    net.eval()
    correct = 0
    for i in range(0, len(y), batch):
        xb = x[i:i + batch].to(device).contiguous(memory_format=torch.channels_last)
        correct += (net(xb).argmax(1).cpu() == y[i:i + batch]).sum().item()
    return correct / len(y)


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    if args.smoke:
        args.steps = 8
    args.epochs = args.epochs or (1 if args.smoke else 45)
    started = time.time()

    try:
        (train_x, train_y), (val_x_u8, val_y) = data.load_splits(args.data, limit=512 if args.smoke else None)
    except data.DataError as e:
        sys.exit(f"error: {e}")
    classes = data.read_classes(args.data)
    # Normalisation constants, rounded so that the exported metadata states them exactly.
    train_f = train_x.astype(np.float32) / 255
    mean = [round(float(m), 4) for m in train_f.mean(axis=(0, 2, 3))]
    std = [round(float(s), 4) for s in train_f.std(axis=(0, 2, 3))]
    to_tensor = lambda a: ((torch.from_numpy(a).float() / 255 - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])
    train_t, val_t = to_tensor(train_x), to_tensor(val_x_u8)
    train_y_t, val_y_t = torch.from_numpy(train_y), torch.from_numpy(val_y)
    teacher = None
    if args.teacher and not args.export_from:
        try:
            teacher = distill.load_targets(args.teacher, train_x, train_y)
        except distill.TeacherError as e:
            sys.exit(f"error: {e}")
        log(f"distilling from {args.teacher} (teacher with TTA: training split {teacher[1].get('train_accuracy_tta', '?')}, "
            f"validation split {teacher[1].get('validation_accuracy_tta', '?')}): α = {args.kd_weight}, τ = {args.kd_temperature}")
    log(f"data: {len(train_y)} training, {len(val_y)} validation images "
        f"(validation = {data.VALIDATION_FILE} records {data.VALIDATION_START}..)")

    if args.export_from:
        ckpt = torch.load(args.export_from, weights_only=False, map_location="cpu")
        net = Net.from_checkpoint(ckpt)
        if (ckpt["mean"], ckpt["std"]) != (mean, std):
            sys.exit("error: the checkpoint was trained with other normalisation constants (another --data?)")
        training_meta = ckpt["training"]
    else:
        ckpt = args.checkpoint or ROOT / "training/runs" / f"{args.out.stem}{'-smoke' if args.smoke else ''}.pt"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        net, training_meta = train(args, train_t, train_y_t, val_t, val_y_t, teacher, resume_path(ckpt), (mean, std))
        torch.save({"state": net.state_dict(), "training": training_meta, "mean": mean, "std": std}, ckpt)
        resume_path(ckpt).unlink(missing_ok=True)
        log(f"saved checkpoint {ckpt}")
    net = net.cpu().eval()
    export_and_check(args, net, mean, std, classes, training_meta, val_x_u8, val_y)
    log(f"total time {fmt_time(time.time() - started)}")


def resume_path(ckpt: Path) -> Path:
    return ckpt.with_name(ckpt.stem + ".resume.pt")


# The arguments a resumed run must share with the run that wrote the resume file.
RESUME_SETTINGS = ("epochs", "batch", "lr", "warmup", "wd", "label_smoothing", "ema", "levels", "translate", "cutout",
                   "photo_augment",
                   "precision", "widths", "pool", "residual", "seed", "smoke", "init_from", "teacher", "kd_weight", "kd_temperature")


def train(args, train_t, train_y_t, val_t, val_y_t, teacher, resume, normalisation):
    """Trains the QCFS network; returns it (final or EMA weights, whichever validates better)
    with a record of the run. `teacher`: (logits [N, 10], metadata) or None. After every epoch
    the whole state goes to `resume`, and a run with the same settings continues from it.
    `normalisation`: (mean, std) of the training tensors, for --photo-augment's pixel space."""
    device = torch.device(args.device)
    widths = tuple(int(w) for w in args.widths.split(","))
    net = Net(widths=widths, levels=args.levels, pool=args.pool, residual=args.residual)
    previous_stage = None
    if args.init_from:
        previous_stage = torch.load(args.init_from, weights_only=False)
        net.load_state_dict(previous_stage["state"])
    else:
        net.init_whitening(train_t[:5000])
        net.train()
        net.init_thresholds(train_t[:512])
    net = net.to(device).to(memory_format=torch.channels_last)
    if args.precision == "bf16" and device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        log("warning: this CPU has no native bf16 support (AVX512-BF16 or AMX), so bf16 training will be "
            "slow; pass --precision fp32")
    params = sum(p.numel() for p in net.parameters())
    log(f"model: widths {widths}, L={args.levels}, {params / 1e6:.3f} M parameters, "
        f"initial thresholds {[round(a.threshold.item(), 2) for a in net.activations()]}")

    decay, no_decay = [], []
    for p in net.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    n_train = len(train_y_t)
    steps_per_epoch = n_train // args.batch
    total_steps = args.epochs * steps_per_epoch
    warmup_steps = int(args.warmup * steps_per_epoch)

    def lr_at(step):  # linear warm-up, then linear decay to zero (one-cycle, triangular)
        if step < warmup_steps:
            return args.lr * (0.1 + 0.9 * step / warmup_steps)
        return args.lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    ema = copy.deepcopy(net) if args.ema > 0 else None
    step, first_epoch, history, spent = 0, 1, [], 0.0
    settings = {k: str(getattr(args, k)) for k in RESUME_SETTINGS}
    if resume.is_file():
        state = torch.load(resume, weights_only=False, map_location="cpu")
        if state["settings"] != settings:
            changed = sorted(k for k in settings if state["settings"].get(k) != settings[k])
            sys.exit(f"error: {resume} was written by a run with other settings ({', '.join(changed)}); "
                     "delete it to start afresh, or pass the same arguments to resume")
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["rng"])
        step, history, spent = state["step"], state["history"], state["train_seconds"]
        first_epoch = history[-1]["epoch"] + 1
        log(f"resumed from {resume} after epoch {first_epoch - 1}/{args.epochs} ({fmt_time(spent)} spent)")
    teacher_logits = teacher[0].to(device) if teacher else None
    train_started = time.time() - spent
    process_started = time.time()
    for epoch in range(first_epoch, args.epochs + 1):
        net.train()
        perm = torch.randperm(n_train)
        loss_sum = correct = seen = 0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            xb = train_t[idx]
            if args.photo_augment:
                xb = photo_augment(xb, args.photo_augment, *normalisation)
            xb = augment(xb, args.translate, args.cutout).to(device).contiguous(memory_format=torch.channels_last)
            yb = train_y_t[idx].to(device)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                out = net(xb).float()
            if teacher_logits is None:
                loss = F.cross_entropy(out, yb, label_smoothing=args.label_smoothing)
            else:
                loss = distill.kd_loss(out, teacher_logits[idx.to(device)], yb, args.kd_weight,
                                       args.kd_temperature, args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if ema is not None:
                d = min(args.ema, (1 + step) / (10 + step))
                with torch.no_grad():
                    for pe, pn in zip(ema.state_dict().values(), net.state_dict().values()):
                        if pe.dtype.is_floating_point:
                            pe.mul_(d).add_(pn, alpha=1 - d)
                        else:
                            pe.copy_(pn)
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(idx)
            if b % 50 == 0 and epoch == 1:
                rate = seen / (time.time() - train_started)
                log(f"  epoch 1 batch {b}/{steps_per_epoch}: {rate:.0f} img/s, loss {loss_sum / seen:.3f}")
        val_acc = accuracy(ema if ema is not None else net, val_t, val_y_t, device)
        elapsed = time.time() - train_started
        history.append({"epoch": epoch, "train_loss": round(loss_sum / seen, 4),
                        "train_accuracy": round(correct / seen, 4), "validation_accuracy": val_acc})
        eta = (time.time() - process_started) / (epoch - first_epoch + 1) * (args.epochs - epoch)
        log(f"epoch {epoch}/{args.epochs}: loss {loss_sum / seen:.3f} train {correct / seen:.4f} "
            f"val{' (EMA)' if ema is not None else ''} {val_acc:.4f} | elapsed {fmt_time(elapsed)} ETA {fmt_time(eta)}")
        tmp = resume.with_suffix(".tmp")
        torch.save({"settings": settings, "net": net.state_dict(), "opt": opt.state_dict(),
                    "ema": ema.state_dict() if ema is not None else None, "rng": torch.get_rng_state(),
                    "step": step, "history": history, "train_seconds": elapsed}, tmp)
        tmp.replace(resume)
        per_epoch = (time.time() - process_started) / (epoch - first_epoch + 1)
        if args.max_minutes and epoch < args.epochs and time.time() - process_started + per_epoch > 60 * args.max_minutes:
            log(f"stopping after epoch {epoch}/{args.epochs}: the next would end past --max-minutes "
                f"{args.max_minutes:g}; run the same command again to resume from {resume}")
            sys.exit(3)

    # Choose between the final weights and their EMA on the validation split; the last epoch
    # already scored the EMA weights (or the final ones when EMA is off).
    last_score = history[-1]["validation_accuracy"]
    if ema is None:
        candidates, scores = {"final": net}, {"final": last_score}
    else:
        candidates = {"final": net, "ema": ema}
        scores = {"ema": last_score, "final": accuracy(net, val_t, val_y_t, device)}
    chosen = max(scores, key=scores.get)
    log(f"validation accuracy (float QCFS ANN): {scores}; exporting '{chosen}'")
    training_meta = {"seed": args.seed, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                     "warmup_epochs": args.warmup, "weight_decay": args.wd,
                     "label_smoothing": args.label_smoothing, "ema": args.ema, "widths": list(widths), "pool": args.pool,
                     "residual": args.residual,
                     "levels": args.levels, "translate": args.translate, "cutout": args.cutout,
                     "precision": args.precision, "parameters": params, "weights_exported": chosen,
                     "float_ann_validation_accuracy": scores[chosen],
                     "train_images": n_train, "train_seconds": round(time.time() - train_started),
                     "threads": args.threads, "device": args.device, "history": history,
                     "teacher": None if teacher is None else {"targets": str(args.teacher), **teacher[1],
                                                              "weight": args.kd_weight, "temperature": args.kd_temperature},
                     "command": "training/train.py " + " ".join(sys.argv[1:])}
    if previous_stage is not None:
        training_meta["previous_stage"] = previous_stage["training"]
    return candidates[chosen], training_meta


def export_and_check(args, net, mean, std, classes, training_meta, val_x_u8, val_y):
    """Exports the model, checks the conversion with the reference SNN on the validation
    split, stores those figures in the model's metadata, and writes the Rust fixtures."""
    # The chain folds layer by layer (format 1); a residual net is a graph, traced by torch.fx (format 2).
    writer = export_torch.write_model if net.residual else export.write_model
    writer(args.out, net, mean, std, classes, {"training": training_meta}, args.weights)
    log(f"checking the conversion with the reference SNN on {len(val_y)} validation images, T={args.steps}")
    deployed = reference.Deployed(args.out)
    report = reference.evaluate(deployed, val_x_u8, val_y, args.steps, log=log)
    curve = report["snn_accuracy_per_step"]
    for t in sorted({1, 2, 4, 8, 12, 16, 24, 32, args.steps}):
        if t <= args.steps:
            log(f"  SNN T={t:2d}: {curve[t - 1]:.4f}")
    log(f"  quantized ANN (exported weights): {report['ann_accuracy']:.4f}; "
        f"SNN T={args.steps} - ANN = {100 * (curve[-1] - report['ann_accuracy']):+.2f} points")
    validation = {"split": f"{data.VALIDATION_FILE} records {data.VALIDATION_START}..{data.VALIDATION_START + len(val_y) - 1}",
                  "images": len(val_y), **report}
    meta = writer(args.out, net, mean, std, classes, {"training": training_meta, "validation": validation}, args.weights)
    fixture_path = fixtures.write_fixtures(args.out, args.fixtures, steps=32)
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {len(meta['layers'])} layers) and {fixture_path}")


if __name__ == "__main__":
    main()
