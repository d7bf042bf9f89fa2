"""Knowledge distillation from a ladder network (issue 14, step 2).

The teacher's targets are computed once, before the student trains: the six-view test-time
augmentation logits (ladder.py's TTA: original and mirror, 1-pixel shifts up-left and
down-right, each mirrored) of a network trained by `ladder.py`, for every training image of the
project's split (45,000: data_batch_1..4 and records 0..4999 of data_batch_5.bin). Folding the
TTA into the targets costs one pass over the training set instead of a teacher forward pass per
student step; the student sees its augmented views (translation, flip, cutout) against the
targets of the whole image.

    training/.venv/bin/python training/distill.py training/runs/ladder-a-x4.pt training/runs/teacher-a-x4.safetensors
    training/.venv/bin/python training/train.py --teacher training/runs/teacher-a-x4.safetensors ...

The loss (Hinton et al. 2015, "Distilling the knowledge in a neural network"):
    (1 - α) · CE(s, y; label smoothing) + α · τ² · KL(softmax(t/τ) || softmax(s/τ))
with s the student's logits, t the teacher's, α the distillation weight and τ the temperature.
"""
import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402
import ladder  # noqa: E402


class TeacherError(Exception):
    """The teacher file does not fit this training set; the message says why."""


def fingerprint(train_x: np.ndarray, train_y: np.ndarray) -> str:
    """SHA-256 of the training images (uint8 [N, 3, 32, 32]) and labels: targets are per image,
    so they only fit the exact set, in the exact order, they were computed on."""
    h = hashlib.sha256(np.ascontiguousarray(train_x).tobytes())
    h.update(np.ascontiguousarray(train_y, dtype=np.int64).tobytes())
    return h.hexdigest()


def kd_loss(student, teacher, labels, weight, temperature, label_smoothing):
    """Mean over the batch of (1 - weight) · CE + weight · τ² · KL; student and teacher are
    logits [B, 10] (the teacher's are constants), labels [B]."""
    ce = F.cross_entropy(student, labels, label_smoothing=label_smoothing)
    if weight == 0:
        return ce
    kl = F.kl_div(F.log_softmax(student / temperature, 1), F.log_softmax(teacher / temperature, 1),
                  log_target=True, reduction="batchmean")
    return (1 - weight) * ce + weight * temperature ** 2 * kl


def load_targets(path: Path, train_x: np.ndarray, train_y: np.ndarray) -> tuple[torch.Tensor, dict]:
    """The teacher logits [N, 10] (float32) in training-set order and the file's metadata;
    TeacherError when the file is missing, malformed or computed on another training set."""
    if not path.is_file():
        raise TeacherError(f"teacher targets {path} not found: write them with "
                           f"training/distill.py LADDER_CHECKPOINT {path}")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            logits = f.get_tensor("logits")
    except Exception as e:  # safetensors raises several types for a damaged file
        raise TeacherError(f"{path}: not a teacher file written by training/distill.py ({e})") from e
    if tuple(logits.shape) != (len(train_y), 10):
        raise TeacherError(f"{path}: logits of shape {tuple(logits.shape)}, expected ({len(train_y)}, 10), "
                           "one row per training image")
    if meta.get("train_sha256") != fingerprint(train_x, train_y):
        raise TeacherError(f"{path}: computed on another training set (another --data, or a changed split); "
                           "recompute it with training/distill.py")
    return logits.float(), meta


def write_targets(path: Path, logits: torch.Tensor, val_logits: torch.Tensor, train: tuple, val_y: np.ndarray,
                  source: str, settings: str, seconds: float) -> tuple[float, float]:
    """Writes the teacher's logits [N, 10] on the training images `train` = (uint8 images, labels),
    with their fingerprint and the teacher's accuracy there and on the validation split (its
    logits `val_logits` against `val_y`) as metadata; returns those two accuracies."""
    train_x, train_y = train
    train_acc = (logits.argmax(1) == torch.from_numpy(train_y)).float().mean().item()
    val_acc = (val_logits.argmax(1) == torch.from_numpy(val_y)).float().mean().item()
    meta = {"format": "dynconf-teacher/1", "checkpoint": source, "settings": settings,
            "train_sha256": fingerprint(train_x, train_y), "train_accuracy_tta": f"{train_acc:.4f}",
            "validation_accuracy_tta": f"{val_acc:.4f}", "seconds": f"{seconds:.0f}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"logits": logits.contiguous()}, str(path), metadata=meta)
    return train_acc, val_acc


@torch.no_grad()
def teacher_logits(net, images: np.ndarray, batch=500, log=print, device="cpu") -> torch.Tensor:
    """Six-view TTA logits [N, 10] (float32, on the CPU) of a ladder network (`ladder.load_network`)
    on uint8 images [N, 3, 32, 32], computed on `device`."""
    net = net.to(device, memory_format=ladder.CL)
    started = time.time()

    def progress(i, done):
        if i % 20 == 0:
            log(f"  {done}/{len(images)} images, {time.time() - started:.0f} s")

    return ladder.logits(net, ladder.normalise(images), tta=True, device=device, batch=batch, progress=progress)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="a finished ladder.py run (its --checkpoint file)")
    ap.add_argument("out", type=Path, help="where to write the targets (.safetensors)")
    ap.add_argument("--data", type=Path, default=data.DEFAULT_DATA_DIR)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.checkpoint.is_file():
        sys.exit(f"error: {args.checkpoint} not found (a ladder.py --checkpoint file)")
    try:
        (tx, ty), (vx, vy) = data.load_splits(args.data)
    except data.DataError as e:
        sys.exit(f"error: {e}")
    started = time.time()
    print(f"teacher {args.checkpoint}: six-view TTA logits on {len(ty)} training images", flush=True)
    net, ck = ladder.load_network(args.checkpoint)
    settings = ck["settings"]
    logits = teacher_logits(net, tx, log=lambda m: print(m, flush=True), device=args.device)
    val_logits = teacher_logits(net, vx, log=lambda m: None, device=args.device)
    train_acc, val_acc = write_targets(args.out, logits, val_logits, (tx, ty), vy, str(args.checkpoint),
                                       repr(settings), time.time() - started)
    print(f"wrote {args.out}: training split {100 * train_acc:.2f}%, validation split {100 * val_acc:.2f}% "
          f"(six-view TTA), {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
