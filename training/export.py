"""Folds the trained network into the deployable `dynconf-snn` v1 format (docs/model-format.md).

BatchNorm is folded into the preceding convolution, each IF threshold is folded into the
weights of the layer it feeds (IF layers then emit unit spikes), and every number a spike
touches is rounded onto a 2^-16 grid so that any summation order gives the same f32 result.
Spike-fed weights are stored as int8 with one scale per output channel, chosen so that the
products stay on that grid: half the bytes of f16 for every visitor's download.
"""
import json

import torch
from torch import nn
from safetensors.torch import save

from model import QCFS, Net

GRID_EXPONENT = -16
GRID = 2.0 ** GRID_EXPONENT
THRESHOLD_GRID = 2.0 ** -15  # so that theta / 2 is on GRID too


def on_grid(t: torch.Tensor, grid=GRID) -> torch.Tensor:
    return torch.round(t.double() / grid) * grid


# Row scales whose multiples by any int8 stay on GRID and exact in f16: c * 2^e with a 4-bit c
# (1..15) and e >= GRID_EXPONENT, ascending.
SCALES = (torch.arange(1, 16, dtype=torch.float64)[:, None]
          * 2.0 ** torch.arange(GRID_EXPONENT, GRID_EXPONENT + 48, dtype=torch.float64)).flatten().unique()


def scale_candidates(largest: float, grid: float = GRID) -> torch.Tensor:
    """The SCALES on `grid` that clip `largest` at most 2x and are not absurdly coarse for it."""
    keep = (SCALES * 127 >= largest / 2) & (SCALES <= max(16 * largest / 127, grid)) & (torch.remainder(SCALES, grid) == 0)
    return SCALES[keep]


def int8_on_grid(w: torch.Tensor, divisor: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Rounds each output channel (row) of `w` to q * s, q an int8 in [-127, 127] and s one of
    `scale_candidates`, choosing per row the s with the least squared error (that may clip a
    few outliers). With `divisor` (a power of two: the window of an average pool between the
    spikes and this layer) every q * s / divisor stays on GRID. Returns (q as int8, s as f32)."""
    rows = w.double().flatten(1)
    qs, scales = [], []
    for row in rows:
        cands = scale_candidates(max(float(row.abs().max()), GRID), GRID * divisor)
        q = torch.clamp(torch.round(row[None] / cands[:, None]), -127, 127)
        best = int(torch.argmin(((q * cands[:, None] - row[None]) ** 2).sum(1)))
        qs.append(q[best])
        scales.append(cands[best])
    return torch.stack(qs).to(torch.int8).reshape(w.shape), torch.stack(scales).float()


def f16_on_grid(w: torch.Tensor, divisor: int = 1) -> torch.Tensor:
    """f16 weights on GRID (coarser by `divisor` behind a pool, as int8_on_grid): the format
    before int8, twice the bytes."""
    return on_grid(w.half().double(), GRID * divisor).half()


WEIGHT_FORMATS = ("int8", "f16")


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The f32 weights an int8 tensor and its per-row scales stand for (exact in f32)."""
    return q.float() * scale.view(-1, *[1] * (q.ndim - 1))


def weights_on_grid(w: torch.Tensor, divisor: int = 1, weights: str = "int8") -> dict:
    """The stored form of spike-fed weights `w` (threshold already folded in) on GRID * divisor:
    {"weight": int8, "weight_scale": f32} for "int8", {"weight": f16} for "f16", {"weight": f32}
    for "f32" (exact: every multiple of 2^-16 below 2^8 is an f32)."""
    if weights == "int8":
        q, scale = int8_on_grid(w, divisor)
        return {"weight": q, "weight_scale": scale}
    if weights == "f16":
        return {"weight": f16_on_grid(w, divisor)}
    if weights == "f32":
        return {"weight": on_grid(w, GRID * divisor).float()}
    raise ValueError(f"unknown weight format {weights!r}")


def spike_fed_tensors(name: str, w: torch.Tensor, b: torch.Tensor, theta_prev: float, divisor: int = 1,
                      weights: str = "int8") -> dict:
    """Tensors of a weighted layer fed by the unit spikes of an IF layer with threshold `theta_prev`
    (through average pools whose windows multiply to `divisor`): exported weight = theta_prev * W on
    the grid, bias on the grid in f32."""
    out = {f"{name}.{k}": v for k, v in weights_on_grid(w.double() * theta_prev, divisor, weights).items()}
    out[f"{name}.bias"] = on_grid(b).float()
    return out


def analog_tensors(name: str, w: torch.Tensor, b: torch.Tensor) -> dict:
    """Tensors of the first weighted layer, fed by the analog image and computed in f64 by both
    engines. Kept in f32: it is tiny, and whitening weights are large enough that f16 would move
    many activations."""
    return {f"{name}.weight": w.float(), f"{name}.bias": b.float()}


def fold_batchnorm(weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm2d):
    """(weight, bias) of a convolution with the (eval-mode) BatchNorm after it folded in, in f64."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    weight = weight.double() * scale.view(-1, *[1] * (weight.ndim - 1))
    bias = (bias.double() - bn.running_mean.double()) * scale + bn.bias.double()
    return weight, bias


def round_threshold(threshold: torch.Tensor) -> float:
    """An IF threshold (a QCFS lambda) on THRESHOLD_GRID, at least one grid step."""
    return float(on_grid(threshold.detach().double().clamp_min(THRESHOLD_GRID), THRESHOLD_GRID))


@torch.no_grad()
def fold(net: Net, weights: str = "int8"):
    """Returns (layers, tensors): the ordered layer list and its tensors, spike-fed weights in
    `weights` (one of WEIGHT_FORMATS), the analog layer and biases in f32."""
    layers, tensors = [], {}
    current = None          # conv being assembled: dict(name, weight, bias, ops_after)
    prev_threshold = None   # None while the input is still the analog image
    pools_before = []       # average pools between the last IF layer and the next weighted layer
    n_weighted = n_if = 0

    def emit_current():
        name, w, b = current["name"], current["weight"], current["bias"]
        if prev_threshold is None:
            tensors.update(analog_tensors(name, w, b))
        else:
            # Pooled spikes are multiples of 1/window, so the weights they scale sit on a coarser grid.
            divisor = 1
            for pool in pools_before:
                divisor *= pool["kernel"] ** 2
            tensors.update(spike_fed_tensors(name, w, b, prev_threshold, divisor, weights))
        layers.extend(pools_before)
        pools_before.clear()
        layers.append(current["spec"])
        layers.extend(current["ops_after"])

    for m in net.body:
        if isinstance(m, nn.Conv2d):
            name = f"conv{n_weighted}"
            n_weighted += 1
            bias = m.bias.double() if m.bias is not None else torch.zeros(m.out_channels, dtype=torch.float64)
            current = {"name": name, "weight": m.weight.double(), "bias": bias, "ops_after": [],
                       "spec": {"kind": "conv2d", "name": name, "stride": m.stride[0], "padding": m.padding[0]}}
        elif isinstance(m, nn.AvgPool2d):
            pool = {"kind": "avgpool2d", "kernel": int(m.kernel_size), "stride": int(m.stride)}
            (current["ops_after"] if current is not None else pools_before).append(pool)
        elif isinstance(m, nn.BatchNorm2d):
            # Per-channel affine: it commutes with an average pool between the conv and itself.
            current["weight"], current["bias"] = fold_batchnorm(current["weight"], current["bias"], m)
        elif isinstance(m, QCFS):
            emit_current()
            theta = round_threshold(m.threshold)
            layers.append({"kind": "if", "name": f"if{n_if}", "threshold": theta})
            n_if += 1
            prev_threshold = theta
            current = None
        else:
            raise TypeError(f"cannot export layer {m}")
    layers.append({"kind": "global_avgpool"})
    current = {"name": "fc", "weight": net.head.weight.double(), "bias": net.head.bias.double(),
               "ops_after": [], "spec": {"kind": "linear", "name": "fc"}}
    emit_current()
    return layers, tensors


def save_model(path, meta: dict, tensors: dict):
    """Writes `tensors` with `meta` as the dynconf metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Serialised in memory and written with the usual permissions: save_file writes through a
    # private (0600) file that a web server running as another user could not serve.
    path.write_bytes(save({k: v.contiguous() for k, v in tensors.items()}, metadata={"dynconf": json.dumps(meta)}))


def write_model(path, net: Net, mean, std, classes, extra: dict, weights: str = "int8"):
    layers, tensors = fold(net, weights)
    meta = {"format": "dynconf-snn", "version": 1, "name": path.stem,
            "input": {"channels": 3, "height": 32, "width": 32, "mean": list(mean), "std": list(std)},
            "classes": list(classes), "levels": net.levels, "layers": layers, **extra}
    save_model(path, meta, tensors)
    return meta
