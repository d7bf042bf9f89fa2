"""Synthetic fixture inputs (no dataset pixels) and the reference outputs the Rust engine
must reproduce: quantized-ANN logits and the SNN's accumulated output at every step."""
import hashlib
import json

import numpy as np
import torch

from reference import Deployed


def synthetic_inputs(seed=7):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    cases = {
        "noise_uniform": rng.integers(0, 256, (3, 32, 32)),
        "noise_smooth": np.clip(128 + 60 * rng.standard_normal((3, 8, 8)).repeat(4, 1).repeat(4, 2), 0, 255),
        "gradient": np.stack([255 * xx, 255 * yy, 255 * (1 - xx) * yy]),
        "sinusoid": np.stack([127.5 + 127.5 * np.sin(2 * np.pi * f * (xx + p * yy)) for f, p in [(1, 0.5), (2, 1), (3, -1)]]),
        "blobs": np.stack([255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05) for cx, cy in [(0.3, 0.4), (0.6, 0.6), (0.5, 0.2)]]),
        "gray": np.full((3, 32, 32), 128),
    }
    return {name: np.round(img).clip(0, 255).astype(np.uint8) for name, img in cases.items()}


def write_fixtures(model_path, out_dir, steps=32):
    model = Deployed(model_path)
    cases = []
    for name, pixels in synthetic_inputs().items():
        x = torch.as_tensor(pixels)[None]
        outputs, spikes = model.snn_run(x, steps)
        cases.append({
            "name": name,
            "pixels_chw": pixels.flatten().tolist(),
            "ann_logits": model.ann_logits(x)[0].tolist(),
            "snn_outputs": outputs[:, 0].tolist(),
            "snn_spikes_per_layer": spikes.int().tolist(),
        })
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{model_path.stem}.json"
    path.write_text(json.dumps({
        "model": model_path.name,
        "model_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "steps": steps,
        "cases": cases,
    }))
    return path
