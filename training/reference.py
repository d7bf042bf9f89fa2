"""Reference PyTorch engine for an exported `dynconf-snn` model: the quantized ANN and the
converted SNN (IF neurons, subtractive reset, theta/2 start, direct input, accumulated
output), computed exactly as docs/model-format.md specifies so the Rust engine can match it.
"""
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open

from export import dequantize


class Deployed:
    def __init__(self, path: Path):
        with safe_open(str(path), framework="pt") as f:
            self.meta = json.loads(f.metadata()["dynconf"])
            stored = {k: f.get_tensor(k) for k in f.keys()}
        self.tensors = {k: dequantize(t, stored[k + "_scale"]) if t.dtype == torch.int8 else t.float()
                        for k, t in stored.items() if not k.endswith("_scale")}
        self.levels = self.meta["levels"]
        self.mean = torch.tensor(self.meta["input"]["mean"], dtype=torch.float64)[:, None, None]
        self.std = torch.tensor(self.meta["input"]["std"], dtype=torch.float64)[:, None, None]
        layers = self.meta["layers"]
        first_if = next(i for i, l in enumerate(layers) if l["kind"] == "if")
        self.analog, self.spiking = layers[:first_if], layers[first_if:]
        self.thresholds = [l["threshold"] for l in layers if l["kind"] == "if"]

    def normalize(self, pixels_u8: torch.Tensor) -> torch.Tensor:
        return (pixels_u8.double() / 255 - self.mean) / self.std

    def _apply(self, layer, x):
        kind = layer["kind"]
        if kind == "conv2d":
            w, b = self.tensors[layer["name"] + ".weight"], self.tensors[layer["name"] + ".bias"]
            return F.conv2d(x, w.to(x.dtype), b.to(x.dtype), stride=layer["stride"], padding=layer["padding"])
        if kind == "avgpool2d":
            return F.avg_pool2d(x, layer["kernel"], layer["stride"])
        if kind == "global_avgpool":
            return x.mean(dim=(2, 3))
        if kind == "linear":
            w, b = self.tensors[layer["name"] + ".weight"], self.tensors[layer["name"] + ".bias"]
            return F.linear(x.flatten(1), w.to(x.dtype), b.to(x.dtype))
        raise ValueError(f"unknown layer kind {kind}")

    @torch.no_grad()
    def input_current(self, pixels_u8):
        """Constant current into the first IF layer: computed in f64, rounded to f32 once."""
        x = self.normalize(pixels_u8)
        for layer in self.analog:
            x = self._apply(layer, x)
        return x.float()

    @torch.no_grad()
    def ann_logits(self, pixels_u8):
        x = self.input_current(pixels_u8)
        for layer in self.spiking:
            if layer["kind"] == "if":
                scale = torch.tensor(float(self.levels), dtype=torch.float32) / torch.tensor(layer["threshold"], dtype=torch.float32)
                x = torch.clamp(torch.floor(x * scale + 0.5), 0, self.levels) / self.levels
            else:
                x = self._apply(layer, x)
        return x

    @torch.no_grad()
    def snn_run(self, pixels_u8, steps: int):
        """Returns (outputs [steps, N, classes] = O(t), spikes [steps, n_if] summed over the batch)."""
        current = self.input_current(pixels_u8)
        potentials = {}
        total = None
        outputs, spikes = [], []
        for _ in range(steps):
            x, counts = current, []
            for i, layer in enumerate(self.spiking):
                if layer["kind"] == "if":
                    theta = torch.tensor(layer["threshold"], dtype=torch.float32)
                    v = potentials.get(i)
                    if v is None:
                        v = torch.full_like(x, layer["threshold"] / 2)
                    v = v + x                     # charge
                    s = (v >= theta).float()      # fire
                    v = v - theta * s             # reset by subtraction
                    potentials[i] = v
                    counts.append(s.sum().item())
                    x = s
                else:
                    x = self._apply(layer, x)
            total = x if total is None else total + x
            outputs.append(total.clone())
            spikes.append(counts)
        return torch.stack(outputs), torch.tensor(spikes)

    def neuron_counts(self, pixels_u8):
        x = self.input_current(pixels_u8[:1])
        counts = []
        for layer in self.spiking:
            if layer["kind"] == "if":
                counts.append(x[0].numel())
            else:
                x = self._apply(layer, x)
        return counts


@torch.no_grad()
def evaluate(model: Deployed, images_u8, labels, steps: int, batch=500, log=print):
    """Quantized-ANN accuracy and the SNN's per-step accuracy curve on a split."""
    labels = torch.as_tensor(labels)
    ann_correct = 0
    snn_correct = torch.zeros(steps)
    spikes = torch.zeros(steps)
    for start in range(0, len(labels), batch):
        x = torch.as_tensor(images_u8[start:start + batch])
        y = labels[start:start + batch]
        ann_correct += (model.ann_logits(x).argmax(1) == y).sum().item()
        outputs, counts = model.snn_run(x, steps)
        snn_correct += (outputs.argmax(2) == y).sum(1).float()
        spikes += counts.sum(1)
        log(f"  reference SNN: {min(start + batch, len(labels))}/{len(labels)} images")
    n = len(labels)
    neurons = sum(model.neuron_counts(torch.as_tensor(images_u8[:1])))
    return {"ann_accuracy": ann_correct / n,
            "snn_accuracy_per_step": (snn_correct / n).tolist(),
            "spikes_per_neuron_per_step": (spikes / n / neurons).tolist(),
            "neurons": neurons}
