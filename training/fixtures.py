"""Synthetic fixture inputs (no dataset pixels) and the reference outputs the Rust engine
must reproduce: quantized-ANN logits and the SNN's accumulated output at every step, its spike
count per IF layer at every step, and a digest of every IF layer's spike map at every step
(`snn_spike_maps[t][layer]`: the first 16 hex digits of SHA-256 over the map, one byte 0 or 1
per neuron in C, H, W order; IF layers in file order)."""
import hashlib
import json

import numpy as np
import torch

from reference import Deployed, spike_map_digest


def synthetic_inputs(seed=7, shape=(3, 32, 32)):
    """Six images of `shape` (C, H, W), uint8; with other than three channels the three-colour
    patterns repeat over the channels."""
    c, h, w = shape
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    yy, xx = yy / max(h - 1, 1), xx / max(w - 1, 1)
    uniform = rng.integers(0, 256, (c, h, w))
    smooth = 60 * rng.standard_normal((c, -(-h // 4), -(-w // 4))).repeat(4, 1).repeat(4, 2)[:, :h, :w]
    cases = {
        "noise_uniform": uniform,
        "noise_smooth": np.clip(128 + smooth, 0, 255),
        "gradient": np.stack([255 * xx, 255 * yy, 255 * (1 - xx) * yy]),
        "sinusoid": np.stack([127.5 + 127.5 * np.sin(2 * np.pi * f * (xx + p * yy)) for f, p in [(1, 0.5), (2, 1), (3, -1)]]),
        "blobs": np.stack([255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05) for cx, cy in [(0.3, 0.4), (0.6, 0.6), (0.5, 0.2)]]),
        "gray": np.full((3, h, w), 128),
    }
    channels = lambda img: img if len(img) == c else np.resize(img, (c, h, w))  # noqa: E731
    return {name: channels(np.round(img).clip(0, 255).astype(np.uint8)) for name, img in cases.items()}


def write_fixtures(model_path, out_dir, steps=32):
    model = Deployed(model_path)
    cases = []
    shape = tuple(model.meta["input"][k] for k in ("channels", "height", "width"))
    for name, pixels in synthetic_inputs(shape=shape).items():
        x = torch.as_tensor(pixels)[None]
        outputs, spikes, maps = model.snn_run(x, steps, spike_maps=True)
        cases.append({
            "name": name,
            "pixels_chw": pixels.flatten().tolist(),
            "ann_logits": model.ann_logits(x)[0].tolist(),
            "snn_outputs": outputs[:, 0].tolist(),
            "snn_spikes_per_layer": spikes.int().tolist(),
            "snn_spike_maps": [[spike_map_digest(m[0]) for m in step] for step in maps],
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
