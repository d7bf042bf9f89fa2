"""CIFAR-10 in the official binary layout, and the project's train/validation split.

Validation split (used for every choice: architecture, L, epochs, thresholds): records
5000..9999 of data_batch_5.bin. Training: data_batch_1..4 plus records 0..4999 of batch 5.
"""
from pathlib import Path

import numpy as np

RECORD_BYTES = 1 + 3 * 32 * 32
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared/cifar10/cifar-10-batches-bin"
DEFAULT_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
VALIDATION_FILE = "data_batch_5.bin"
VALIDATION_START = 5000


class DataError(Exception):
    """A dataset file is missing or malformed; the message says which and how."""


def read_batch(path: Path):
    """Returns (images uint8 [N, 3, 32, 32], labels int64 [N])."""
    if not path.is_file():
        raise DataError(
            f"missing CIFAR-10 batch {path}: pass --data DIR pointing at the folder with "
            "data_batch_1.bin .. data_batch_5.bin (the official cifar-10-binary.tar.gz layout)")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of {RECORD_BYTES}-byte "
                        "CIFAR-10 records (1 label byte + 3072 pixel bytes)")
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataError(f"{path}: record {bad[0]} has label {labels[bad[0]]}, expected 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def read_classes(data_dir: Path):
    meta = data_dir / "batches.meta.txt"
    if meta.is_file():
        names = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
        if len(names) == 10:
            return names
    return DEFAULT_CLASSES


def load_splits(data_dir: Path, limit: int | None = None):
    """(train_x, train_y), (val_x, val_y) as uint8/int64 numpy arrays."""
    parts = [read_batch(data_dir / f"data_batch_{i}.bin") for i in range(1, 5)]
    last_x, last_y = read_batch(data_dir / VALIDATION_FILE)
    if len(last_y) <= VALIDATION_START:
        raise DataError(f"{data_dir / VALIDATION_FILE}: expected 10000 records, found {len(last_y)}")
    parts.append((last_x[:VALIDATION_START], last_y[:VALIDATION_START]))
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    val_x, val_y = last_x[VALIDATION_START:], last_y[VALIDATION_START:]
    if limit:
        train_x, train_y, val_x, val_y = train_x[:limit], train_y[:limit], val_x[:limit], val_y[:limit]
    return (train_x, train_y), (val_x, val_y)
