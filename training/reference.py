"""Reference PyTorch engine for an exported `dynconf-snn` model: the quantized ANN and the
converted SNN (IF neurons, subtractive reset, theta/2 start, direct input, accumulated
output), computed exactly as docs/model-format.md specifies so the Rust engine can match it.

Version 1 files are a chain; version 2 files are a layer graph (a layer's `inputs` name earlier
layers, absent = the previous layer) with `add` layers. Each value in the graph either carries
the unit spikes of an IF layer with threshold theta (an `if` layer's output, or an average pool
of it) or a current (everything else); an `add` takes theta * value of a spike-carrying input
(the current the ANN's QCFS output would give) and a current as is, summed left to right in f32.
"""
import hashlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open

from export import dequantize

WEIGHTED = ("conv2d", "linear")
POOLS = ("avgpool2d", "global_avgpool")


class ModelError(ValueError):
    """The file's layer list is not a graph this engine can run (the message says why)."""


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
        self.layers = self.meta["layers"]
        self.inputs = self._resolve_inputs(self.layers)
        first_if = next((i for i, l in enumerate(self.layers) if l["kind"] == "if"), None)
        if not first_if:
            raise ModelError("the model needs a weighted layer fed by the image and at least one IF layer")
        for i in range(first_if):
            if self.layers[i]["kind"] == "add" or self.inputs[i] != [i - 1]:
                raise ModelError(f"layer {i} ({self.layers[i].get('name', self.layers[i]['kind'])}): the layers "
                                 "before the first IF layer must form a chain without adds")
        # The analog prefix (before the first IF layer) is computed in f64 once per image.
        self.analog, self.spiking = self.layers[:first_if], self.layers[first_if:]
        self.first_if = first_if
        self.if_layers = [i for i, l in enumerate(self.layers) if l["kind"] == "if"]
        self.thresholds = [self.layers[i]["threshold"] for i in self.if_layers]
        self.if_names = [self.layers[i].get("name", f"if{n}") for n, i in enumerate(self.if_layers)]
        # After computing layer i, the values no later layer reads can be dropped.
        last_use = {}
        for i, ins in enumerate(self.inputs):
            for j in ins:
                last_use[j] = i
        self.drop_after = {}
        for j, i in last_use.items():
            if i >= first_if and j >= 0:
                self.drop_after.setdefault(i, []).append(j)
        self.analog_kept = sorted(j for j, i in last_use.items() if 0 <= j < first_if and i >= first_if)
        # The IF layer whose spikes each layer's output carries (through pools), or None for a current.
        self.carrier = []
        for i, layer in enumerate(self.layers):
            if layer["kind"] == "if":
                self.carrier.append(i)
            elif layer["kind"] in POOLS:
                self.carrier.append(self.carrier[self.inputs[i][0]] if self.inputs[i][0] >= 0 else None)
            else:
                self.carrier.append(None)

    @staticmethod
    def _resolve_inputs(layers):
        """For each layer, the indices of its inputs (-1 = the image)."""
        index, resolved = {}, []
        for i, layer in enumerate(layers):
            names = layer.get("inputs")
            if names is None:
                ins = [i - 1]
            else:
                try:
                    ins = [index[n] for n in names]
                except KeyError as e:
                    raise ModelError(f"layer {i} ({layer.get('name', layer['kind'])}): input {e} is not an earlier layer")
            if layer["kind"] == "add":
                if len(ins) < 2:
                    raise ModelError(f"add layer {layer.get('name')} needs at least two inputs")
            elif len(ins) != 1:
                raise ModelError(f"layer {layer.get('name', layer['kind'])} takes exactly one input")
            resolved.append(ins)
            if "name" in layer:
                if layer["name"] in index:
                    raise ModelError(f"two layers are named {layer['name']}")
                index[layer["name"]] = i
        return resolved

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
        raise ModelError(f"unknown layer kind {kind}")

    def _add(self, i, values):
        """An add layer: theta * value for spike-carrying inputs, the value for currents, summed
        left to right in f32."""
        acc = None
        for j in self.inputs[i]:
            x = values[j]
            if self.carrier[j] is not None:
                x = torch.tensor(self.layers[self.carrier[j]]["threshold"], dtype=torch.float32) * x
            acc = x if acc is None else acc + x
        return acc

    def _analog_values(self, pixels_u8):
        """Values of the analog prefix: computed in f64, rounded to f32 once."""
        x = self.normalize(pixels_u8)
        values = {}
        for i, layer in enumerate(self.analog):
            x = self._apply(layer, x)
            values[i] = x
        return {i: values[i].float() for i in self.analog_kept}

    def _forward(self, values, fire):
        """Runs the layers from the first IF layer on, given the analog prefix's `values`
        (updated in place); `fire(n, i, current)` is the n-th IF layer (layer index i)."""
        n = 0
        for i in range(self.first_if, len(self.layers)):
            layer = self.layers[i]
            kind = layer["kind"]
            if kind == "if":
                values[i] = fire(n, i, values[self.inputs[i][0]])
                n += 1
            elif kind == "add":
                values[i] = self._add(i, values)
            else:
                values[i] = self._apply(layer, values[self.inputs[i][0]])
            for j in self.drop_after.get(i, ()):
                del values[j]
        return values[len(self.layers) - 1]

    @torch.no_grad()
    def input_current(self, pixels_u8):
        """Constant current into the first IF layer: computed in f64, rounded to f32 once."""
        return self._analog_values(pixels_u8)[self.inputs[self.first_if][0]]

    def _quantize(self, layer, x):
        scale = torch.tensor(float(self.levels), dtype=torch.float32) / torch.tensor(layer["threshold"], dtype=torch.float32)
        return torch.clamp(torch.floor(x * scale + 0.5), 0, self.levels) / self.levels

    @torch.no_grad()
    def ann_logits(self, pixels_u8):
        return self._forward(self._analog_values(pixels_u8), lambda n, i, x: self._quantize(self.layers[i], x))

    @torch.no_grad()
    def snn_run(self, pixels_u8, steps: int, spike_maps: bool = False):
        """Returns (outputs [steps, N, classes] = O(t), spikes [steps, n_if] summed over the batch),
        and with `spike_maps` a third item: for each step, for each IF layer (in file order), its
        spikes as a uint8 tensor [N, *neuron shape] (0 or 1)."""
        analog = self._analog_values(pixels_u8)
        potentials = {}
        total = None
        outputs, spikes, maps = [], [], []
        for _ in range(steps):
            counts, step_maps = [], []

            def fire(n, i, x):
                theta = self.layers[i]["threshold"]
                v = potentials.get(i)
                if v is None:
                    v = torch.full_like(x, theta / 2)
                v = v + x                     # charge
                s = (v >= torch.tensor(theta, dtype=torch.float32)).float()  # fire
                v = v - torch.tensor(theta, dtype=torch.float32) * s        # reset by subtraction
                potentials[i] = v
                counts.append(s.sum().item())
                if spike_maps:
                    step_maps.append(s.to(torch.uint8))
                return s

            x = self._forward(dict(analog), fire)
            total = x if total is None else total + x
            outputs.append(total.clone())
            spikes.append(counts)
            maps.append(step_maps)
        result = (torch.stack(outputs), torch.tensor(spikes))
        return result + (maps,) if spike_maps else result

    @torch.no_grad()
    def neuron_counts(self, pixels_u8):
        """Neurons per IF layer, for one image."""
        counts = []

        def fire(n, i, x):
            counts.append(x[0].numel())
            return self._quantize(self.layers[i], x)

        self._forward(self._analog_values(pixels_u8[:1]), fire)
        return counts


def spike_map_digest(spikes_u8: torch.Tensor) -> str:
    """First 16 hex digits of SHA-256 over one image's spike map, one byte (0 or 1) per neuron
    in C, H, W order."""
    return hashlib.sha256(spikes_u8.contiguous().to(torch.uint8).numpy().tobytes()).hexdigest()[:16]


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
