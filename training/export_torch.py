"""Exports any PyTorch QCFS network (ResNet, VGG, ...) to the `dynconf-snn` format, version 2 (a
layer graph, docs/model-format.md), checks the exported quantized ANN against the float network,
and writes the Rust fixtures.

  training/.venv/bin/python training/export_torch.py --model FILE.py:FUNCTION --checkpoint CKPT.pth \\
      --out OUT.safetensors [--mean m,m,m --std s,s,s] [--classes a,b,...] [--input 3,32,32] \\
      [--weights int8|f16|f32] [--activation CLASS:THRESHOLD_ATTR:LEVELS_ATTR ...] [--fixtures DIR] \\
      [--name NAME] [--data CIFAR10_DIR] [--model-args JSON]

FUNCTION(**model-args) returns the nn.Module ready for the checkpoint (a state_dict, or a dict
holding one under 'state_dict', 'model', 'state' or 'net'; a 'module.' prefix is stripped). The
network is traced with torch.fx, its QCFS activations kept as leaves: this project's model.QCFS
(threshold `threshold`, levels `levels`), the QCFS reference code's MyFloor (`up`, `t`; also
training/zoo.py's), and any class named with --activation. All activations must share one L.

Mapping: Conv2d (+ the BatchNorm2d right after it, folded) -> conv2d; Linear -> linear; each
activation -> an IF layer named after its module; AvgPool2d -> avgpool2d; AdaptiveAvgPool2d(1),
F.adaptive_avg_pool2d(x, 1), x.mean((2, 3)) -> global_avgpool; + / torch.add -> add (named after
its fx node); Flatten, torch.flatten, x.view(x.size(0), -1), Dropout, Identity -> nothing.
Anything else (MaxPool2d, ReLU, BatchNorm elsewhere, grouped or dilated convs, ...) is refused
with the module's name, class and place in the graph.

Defaults: CIFAR-10's class names and the QCFS reference code's normalisation (mean 0.4914,
0.4822, 0.4465; std 0.2023, 0.1994, 0.2010), stored in the file. Fixtures go beside --out unless
--fixtures says otherwise. With --data DIR (CIFAR-10 binary batches) it also reports validation
accuracy (records 5000..9999 of data_batch_5.bin) of the float network and of the exported
quantized ANN.
"""
import argparse
import importlib.util
import json
import math
import operator
import sys
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402
import export  # noqa: E402
import fixtures  # noqa: E402
import reference  # noqa: E402
from model import QCFS  # noqa: E402

QCFS_MEAN = (0.4914, 0.4822, 0.4465)
QCFS_STD = (0.2023, 0.1994, 0.2010)
WEIGHTS = ("int8", "f16", "f32")
CHECKPOINT_KEYS = ("state_dict", "model", "state", "net")


class ExportError(Exception):
    """The network cannot be exported; the message names the module and says why."""


class Activation:
    """How to recognise a QCFS activation and read its threshold and levels."""

    def __init__(self, class_name: str, threshold_attr: str, levels_attr: str, cls=None):
        self.class_name, self.threshold_attr, self.levels_attr, self.cls = class_name, threshold_attr, levels_attr, cls

    @classmethod
    def parse(cls, spec: str) -> "Activation":
        parts = spec.split(":")
        if len(parts) != 3 or not all(parts):
            raise argparse.ArgumentTypeError(f"--activation {spec!r}: expected CLASS:THRESHOLD_ATTR:LEVELS_ATTR")
        return cls(*parts)

    def matches(self, m: nn.Module) -> bool:
        if self.cls is not None:
            return isinstance(m, self.cls)
        t = type(m)
        return self.class_name in (t.__name__, f"{t.__module__}.{t.__qualname__}") and \
            hasattr(m, self.threshold_attr) and hasattr(m, self.levels_attr)

    def threshold(self, m):
        return getattr(m, self.threshold_attr)

    def levels(self, m):
        return getattr(m, self.levels_attr)


DEFAULT_ACTIVATIONS = (Activation("QCFS", "threshold", "levels", cls=QCFS), Activation("QCFS", "threshold", "levels"),
                       Activation("MyFloor", "up", "t"))

DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d)
RECTIFIERS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
              nn.Mish, nn.Hardswish, nn.Hardtanh, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Softplus)
MAX_POOL_FUNCTIONS = {F.max_pool2d, F.adaptive_max_pool2d, torch.max_pool2d}
RECTIFIER_FUNCTIONS = {F.relu, F.relu_, torch.relu, torch.relu_, F.relu6, F.leaky_relu, F.gelu, F.silu, F.elu,
                       F.hardtanh, F.sigmoid, torch.sigmoid, F.tanh, torch.tanh, F.mish, F.hardswish}
RECTIFIER_METHODS = {"relu", "relu_", "sigmoid", "tanh", "clamp", "clamp_", "clip"}
ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}
FLATTEN_LIKE_METHODS = {"view", "reshape", "flatten"}
ALIAS_METHODS = {"contiguous"}
MAX_POOL_ADVICE = ("a spike train cannot be max-pooled faithfully: QCFS needs average pooling. Replace MaxPool2d "
                   "by AvgPool2d (as QCFS's replace_maxpool2d_by_avgpool2d does) and fine-tune")
RECTIFIER_ADVICE = ("not a QCFS activation: replace it by one (model.QCFS, the QCFS code's MyFloor, or your own "
                    "class named with --activation CLASS:THRESHOLD_ATTR:LEVELS_ATTR) and fine-tune")


class _Tracer(fx.Tracer):
    def __init__(self, is_activation):
        super().__init__()
        self.is_activation = is_activation

    def is_leaf_module(self, m, qualname):
        return self.is_activation(m) or super().is_leaf_module(m, qualname)


def _pair(v):
    """A square kernel/stride or symmetric padding as one int, else None."""
    if isinstance(v, int):
        return v
    if isinstance(v, (tuple, list)) and len(v) == 2 and v[0] == v[1] and isinstance(v[0], int):
        return v[0]
    return None


class _Graph:
    """The fx graph turned into the format's layer list (docs/model-format.md, version 2)."""

    def __init__(self, net: nn.Module, input_shape, activations):
        self.net = net
        self.activations = activations
        self.modules = dict(net.named_modules())
        tracer = _Tracer(lambda m: self._activation_of(m) is not None)
        try:
            graph = tracer.trace(net)
        except Exception as e:  # noqa: BLE001 - fx raises many kinds
            raise ExportError(f"torch.fx could not trace the network ({type(e).__name__}: {e}); the export needs "
                              "a forward() without data-dependent control flow") from e
        self.gm = fx.GraphModule(net, graph)
        self.gm.graph.eliminate_dead_code()
        self.gm.recompile()
        try:
            with torch.no_grad():
                ShapeProp(self.gm).propagate(torch.randn(2, *input_shape))
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"the network does not run on an input of shape {tuple(input_shape)} "
                              f"({type(e).__name__}: {e}); pass --input C,H,W") from e
        self.layers = []      # dicts: kind, name, inputs (layer indices, -1 = the image), shape, node, ...
        self.value = {}       # fx node -> layer index (-1 = the image), None for non-tensor values
        self.calls = Counter()
        self.names = set()
        self.input_shape = tuple(input_shape)
        for node in self.gm.graph.nodes:
            self._visit(node)

    # --- descriptions for messages -------------------------------------------------------------
    def _activation_of(self, m):
        return next((a for a in self.activations if a.matches(m)), None)

    def _who(self, node):
        if node.op == "call_module":
            return f"{node.target} ({type(self.modules[node.target]).__name__})"
        if node.op == "call_function":
            what = f"function {getattr(node.target, '__name__', node.target)}"
        elif node.op == "call_method":
            what = f"method .{node.target}()"
        elif node.op == "get_attr":
            what = f"attribute {node.target}"
        else:
            what = node.op
        stack = node.meta.get("nn_module_stack")
        inside = ""
        if stack:
            qualname, cls = list(stack.values())[-1]
            inside = f" inside {qualname} ({getattr(cls, '__name__', cls)})"
        return f"{node.name} ({what}{inside})"

    def _label(self, node):
        return node.target if node.op == "call_module" else node.name

    def _place(self, node):
        users = [u for u in node.users]
        if not users:
            return "unused"
        parts = ["the network's output" if u.op == "output" else self._label(u) for u in users]
        fed = [self._label(a) for a in node.all_input_nodes]
        where = f"input of {', '.join(parts)}"
        return where + (f", fed by {', '.join(fed)}" if fed else "")

    def refuse(self, node, why):
        raise ExportError(f"cannot export {self._who(node)}, {self._place(node)}: {why}")

    # --- building ------------------------------------------------------------------------------
    def _name(self, base):
        self.calls[base] += 1
        name = base if self.calls[base] == 1 else f"{base}#{self.calls[base] - 1}"
        while name in self.names:
            name += "'"
        self.names.add(name)
        return name

    def _input(self, node, arg):
        if not isinstance(arg, fx.Node) or self.value.get(arg) is None:
            self.refuse(node, f"its input {arg!r} is not a tensor computed by the network")
        return self.value[arg]

    def _shape(self, index):
        return self.input_shape if index == -1 else self.layers[index]["shape"]

    def _emit(self, node, kind, inputs, shape, name=None, **fields):
        layer = {"kind": kind, "name": name or self._name(self._label(node)), "inputs": inputs, "shape": tuple(shape),
                 "node": node, **fields}
        self.layers.append(layer)
        self.value[node] = len(self.layers) - 1
        return layer

    def _pool(self, node, x, kernel, stride, padding=0, ceil_mode=False, divisor_override=None):
        k, s = _pair(kernel), _pair(kernel if stride is None or stride == [] else stride)
        if k is None or s is None:
            self.refuse(node, f"average pooling needs a square kernel and stride, got kernel {kernel}, stride {stride}")
        if _pair(padding) != 0 or ceil_mode or divisor_override is not None:
            self.refuse(node, "average pooling must have no padding, floor mode and no divisor_override")
        c, h, w = self._shape4(node, x)
        self._emit(node, "avgpool2d", [x], (c, (h - k) // s + 1, (w - k) // s + 1), kernel=k, stride=s)

    def _shape4(self, node, x):
        shape = self._shape(x)
        if len(shape) != 3:
            self.refuse(node, f"expects a C x H x W input, got shape {shape}")
        return shape

    def _global_pool(self, node, x):
        c, _, _ = self._shape4(node, x)
        self._emit(node, "global_avgpool", [x], (c,))

    def _adaptive(self, node, x, size):
        c, h, w = self._shape4(node, x)
        if size in (1, (1, 1), [1, 1]):
            return self._global_pool(node, x)
        o = _pair(size)
        if o is None or h != w or h % o:
            self.refuse(node, f"adaptive average pooling to {size} is not an exact square pooling of {h}x{w}")
        self._emit(node, "avgpool2d", [x], (c, o, o), kernel=h // o, stride=h // o)

    def _alias(self, node, x):
        self.value[node] = x

    def _flatten_like(self, node, x):
        """view/reshape/flatten that keeps the batch and flattens the rest: our linear flattens C, H, W."""
        meta = node.meta.get("tensor_meta")
        shape = self._shape(x)
        if meta is None or tuple(meta.shape) != (2, math.prod(shape)):
            got = tuple(meta.shape[1:]) if meta is not None else "?"
            self.refuse(node, f"only flattening (batch, C*H*W) is supported, this gives {got} from {shape}")
        self._alias(node, x)

    def _add(self, node, operands):
        ins = []
        for a in operands:
            if not isinstance(a, fx.Node) or self.value.get(a) is None:
                self.refuse(node, "an add must sum tensors computed by the network (no constants)")
            ins.append(self.value[a])
        shapes = {self._shape(i) for i in ins}
        if len(shapes) != 1:
            self.refuse(node, f"an add needs inputs of one shape, got {sorted(shapes)}")
        if -1 in ins:
            self.refuse(node, "an add cannot read the image itself")
        self._emit(node, "add", ins, shapes.pop(), name=self._name(node.name))

    def _visit(self, node):
        op = node.op
        if op == "placeholder":
            if any(v == -1 for v in self.value.values()):
                self.refuse(node, "the network must take one input, the image")
            self.value[node] = -1
        elif op == "output":
            out = node.args[0]
            if not isinstance(out, fx.Node) or self.value.get(out) is None:
                raise ExportError(f"the network must return one tensor (the logits), it returns {out!r}")
            self.output = self.value[out]
        elif op == "get_attr":
            self.refuse(node, "parameters used outside a module cannot be mapped to a layer" + self._activation_hint(node))
        elif op == "call_module":
            self._visit_module(node, self.modules[node.target])
        elif op == "call_function":
            self._visit_function(node)
        elif op == "call_method":
            self._visit_method(node)
        else:
            self.refuse(node, f"unsupported graph operation {op}")

    def _visit_module(self, node, m):
        act = self._activation_of(m)
        if act is not None:
            x = self._input(node, node.args[0])
            theta = act.threshold(m)
            theta = torch.as_tensor(theta).detach()
            if theta.numel() != 1:
                self.refuse(node, f"the threshold {act.threshold_attr} must be one number, it has {theta.numel()}")
            self._emit(node, "if", [x], self._shape(x), threshold=export.round_threshold(theta.reshape(())),
                       levels=act.levels(m), levels_attr=act.levels_attr)
        elif isinstance(m, nn.Conv2d):
            x = self._input(node, node.args[0])
            k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
            if m.groups != 1:
                self.refuse(node, f"grouped convolutions (groups={m.groups}) are not supported")
            if tuple(m.dilation) != (1, 1):
                self.refuse(node, f"dilated convolutions (dilation={tuple(m.dilation)}) are not supported")
            if k is None or s is None:
                self.refuse(node, f"needs a square kernel and stride, got {tuple(m.kernel_size)}, {tuple(m.stride)}")
            if p is None or m.padding_mode != "zeros":
                self.refuse(node, f"needs symmetric zero padding, got {m.padding!r} ({m.padding_mode})")
            c, h, w = self._shape4(node, x)
            if c != m.in_channels:
                self.refuse(node, f"expects {m.in_channels} channels, gets {c}")
            out = (m.out_channels, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            bias = m.bias.detach().double() if m.bias is not None else torch.zeros(m.out_channels, dtype=torch.float64)
            self._emit(node, "conv2d", [x], out, stride=s, padding=p, weight=m.weight.detach().double(), bias=bias,
                       folded_bn=None)
        elif isinstance(m, nn.Linear):
            x = self._input(node, node.args[0])
            meta = node.args[0].meta.get("tensor_meta")
            if meta is not None and len(meta.shape) != 2:
                self.refuse(node, f"a Linear must get a flattened (batch, features) input, it gets {tuple(meta.shape)}: "
                                  "flatten it first")
            if math.prod(self._shape(x)) != m.in_features:
                self.refuse(node, f"expects {m.in_features} features, gets {self._shape(x)}")
            bias = m.bias.detach().double() if m.bias is not None else torch.zeros(m.out_features, dtype=torch.float64)
            self._emit(node, "linear", [x], (m.out_features,), weight=m.weight.detach().double(), bias=bias)
        elif isinstance(m, nn.BatchNorm2d):
            self._fold_bn(node, m)
        elif isinstance(m, nn.AvgPool2d):
            self._pool(node, self._input(node, node.args[0]), m.kernel_size, m.stride, m.padding, m.ceil_mode,
                       m.divisor_override)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            self._adaptive(node, self._input(node, node.args[0]), m.output_size)
        elif isinstance(m, nn.Flatten):
            if (m.start_dim, m.end_dim) != (1, -1):
                self.refuse(node, f"only Flatten(1, -1) is supported, got ({m.start_dim}, {m.end_dim})")
            self._flatten_like(node, self._input(node, node.args[0]))
        elif isinstance(m, DROPOUTS + (nn.Identity,)):
            self._alias(node, self._input(node, node.args[0]))
        elif isinstance(m, MAX_POOLS):
            self.refuse(node, MAX_POOL_ADVICE)
        elif isinstance(m, RECTIFIERS):
            self.refuse(node, f"{type(m).__name__} is {RECTIFIER_ADVICE}")
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            self.refuse(node, "BatchNorm must directly follow a Conv2d to be folded into it")
        else:
            self.refuse(node, f"no dynconf layer for {type(m).__name__} (if it is a QCFS activation, name it with "
                              "--activation CLASS:THRESHOLD_ATTR:LEVELS_ATTR)")

    def _fold_bn(self, node, bn):
        src = node.args[0]
        layer = self.layers[self.value[src]] if isinstance(src, fx.Node) and self.value.get(src, -1) != -1 else None
        if layer is None or layer["kind"] != "conv2d" or layer["node"] is not src:
            self.refuse(node, "BatchNorm must directly follow a Conv2d to be folded into it")
        if len(src.users) != 1:
            self.refuse(node, f"the output of {src.target} before this BatchNorm is also read elsewhere; it cannot be folded")
        if bn.running_mean is None or bn.running_var is None:
            self.refuse(node, "BatchNorm without running statistics (track_running_stats=False) cannot be folded")
        if layer["folded_bn"] is not None:
            self.refuse(node, f"{src.target} already has {layer['folded_bn']} folded in")
        weight = bn.weight if bn.affine else torch.ones_like(bn.running_mean)
        bias = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
        affine = nn.BatchNorm2d(bn.num_features, eps=bn.eps).double()
        with torch.no_grad():
            affine.weight.copy_(weight.detach())
            affine.bias.copy_(bias.detach())
            affine.running_mean.copy_(bn.running_mean)
            affine.running_var.copy_(bn.running_var)
        layer["weight"], layer["bias"] = export.fold_batchnorm(layer["weight"], layer["bias"], affine)
        layer["folded_bn"] = node.target
        self.value[node] = self.value[src]

    @staticmethod
    def _bind(node, names, defaults):
        """The call's arguments by name: positional ones take `names` in order."""
        bound = dict(defaults)
        bound.update(zip(names, node.args))
        bound.update(node.kwargs)
        return bound

    def _visit_function(self, node):
        f = node.target
        if f in ADD_FUNCTIONS:
            if f is torch.add and (len(node.args) > 2 or node.kwargs.get("alpha", 1) != 1):
                self.refuse(node, "torch.add with alpha != 1 is not supported")
            return self._add(node, [node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")])
        if f in (operator.getitem, getattr):
            base = node.args[0]
            if isinstance(base, fx.Node) and self.value.get(base) is None:
                self.value[node] = None  # indexing a shape (x.shape[0])
                return
            if f is getattr and node.args[1] == "shape":
                self.value[node] = None
                return
            self.refuse(node, "indexing or slicing a tensor is not supported")
        if f in MAX_POOL_FUNCTIONS:
            self.refuse(node, MAX_POOL_ADVICE)
        if f in RECTIFIER_FUNCTIONS:
            self.refuse(node, f"{getattr(f, '__name__', f)} is {RECTIFIER_ADVICE}")
        if f is torch.flatten:
            kw = self._bind(node, ("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1})
            x = self._input(node, kw["input"])
            start, end = kw["start_dim"], kw["end_dim"]
            if (start, end) != (1, -1):
                self.refuse(node, f"only torch.flatten(x, 1) is supported, got start_dim={start}, end_dim={end}")
            return self._flatten_like(node, x)
        if f is torch.reshape:
            return self._flatten_like(node, self._input(node, node.args[0]))
        if f in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout):
            return self._alias(node, self._input(node, node.args[0]))
        if f is F.avg_pool2d or f is torch._C._nn.avg_pool2d:
            kw = self._bind(node, ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                                   "divisor_override"), {"stride": None, "padding": 0, "ceil_mode": False,
                                                         "divisor_override": None})
            return self._pool(node, self._input(node, kw["input"]), kw["kernel_size"], kw["stride"],
                              kw["padding"], kw["ceil_mode"], kw["divisor_override"])
        if f is F.adaptive_avg_pool2d:
            kw = self._bind(node, ("input", "output_size"), {})
            return self._adaptive(node, self._input(node, kw["input"]), kw["output_size"])
        if f is torch.mean:
            return self._mean(node, node.args[0], node.args[1:], node.kwargs)
        self.refuse(node, "no dynconf layer for this function" + self._activation_hint(node))

    def _mean(self, node, x, args, kwargs):
        x = self._input(node, x)
        dim = args[0] if args else kwargs.get("dim")
        dims = {d % 4 for d in (dim if isinstance(dim, (tuple, list)) else [dim])} if dim is not None else None
        if dims != {2, 3} or len(self._shape(x)) != 3:
            self.refuse(node, f"only the mean over H and W (dims 2, 3) of a C x H x W input is supported, got dim={dim}")
        self._global_pool(node, x)

    def _activation_hint(self, node):
        stack = node.meta.get("nn_module_stack")
        if not stack:
            return ""
        qualname, cls = list(stack.values())[-1]
        name = getattr(cls, "__name__", cls)
        return (f" (if {qualname} ({name}) is a QCFS activation, name it with --activation "
                f"{name}:THRESHOLD_ATTR:LEVELS_ATTR)")

    def _visit_method(self, node):
        m = node.target
        base = node.args[0]
        if m == "size" or (m == "dim"):
            self.value[node] = None
            return
        if m in ("add", "add_", "__add__", "__iadd__"):
            if len(node.args) > 2 or node.kwargs.get("alpha", 1) != 1:
                self.refuse(node, ".add with alpha != 1 is not supported")
            return self._add(node, [base, node.args[1] if len(node.args) > 1 else node.kwargs.get("other")])
        if m in FLATTEN_LIKE_METHODS:
            return self._flatten_like(node, self._input(node, base))
        if m in ALIAS_METHODS:
            return self._alias(node, self._input(node, base))
        if m == "mean":
            return self._mean(node, base, node.args[1:], node.kwargs)
        if m in RECTIFIER_METHODS:
            self.refuse(node, f".{m}() is {RECTIFIER_ADVICE}")
        self.refuse(node, "no dynconf layer for this method" + self._activation_hint(node))

    # --- checks and tensors --------------------------------------------------------------------
    def carrier(self, i):
        """The IF layer whose spikes layer i's output carries (through average pools), else None;
        and the product of the pool windows on the way."""
        divisor, pools = 1, []
        while i >= 0 and self.layers[i]["kind"] in ("avgpool2d", "global_avgpool"):
            pools.append(self.layers[i])
            i = self.layers[i]["inputs"][0]
        if i >= 0 and self.layers[i]["kind"] == "if":
            return i, pools
        return None, pools

    def check(self):
        layers = self.layers
        if not layers:
            raise ExportError("the network has no layers")
        if self.output != len(layers) - 1 or layers[-1]["kind"] != "linear":
            last = layers[self.output]
            raise ExportError(f"the network's output must be a Linear layer (the accumulated output), it is "
                              f"{self._who(last['node'])}")
        first = layers[0]
        if first["kind"] not in ("conv2d", "linear") or first["inputs"] != [-1]:
            self.refuse(first["node"], "the first layer must be a Conv2d or Linear fed by the image")
        image_users = [i for i, l in enumerate(layers) if -1 in l["inputs"]]
        if image_users != [0]:
            self.refuse(layers[image_users[1]]["node"], "only the first layer may read the image")
        ifs = [i for i, l in enumerate(layers) if l["kind"] == "if"]
        if not ifs:
            raise ExportError("the network has no QCFS activation: nothing to convert to spiking neurons")
        consumers = {i: [] for i in range(len(layers))}
        for i, l in enumerate(layers):
            for j in l["inputs"]:
                if j >= 0:
                    consumers[j].append(i)
        # The analog prefix: one weighted layer (and pools) in a chain into the first IF layer.
        for i in range(ifs[0]):
            l = layers[i]
            if i > 0 and (l["kind"] not in ("avgpool2d", "global_avgpool") or l["inputs"] != [i - 1]):
                self.refuse(l["node"], f"between the first layer and the first activation only average pools "
                                       f"may follow in a chain (found a {l['kind']})")
            if consumers[i] != [i + 1]:
                self.refuse(l["node"], "the first layer's output may only feed, in a chain through average pools, "
                                       "the first activation")
        for i, l in enumerate(layers):
            if i < ifs[0]:
                continue
            if l["kind"] in ("conv2d", "linear"):
                src, pools = self.carrier(l["inputs"][0])
                if src is None:
                    self.refuse(l["node"], "a weighted layer after the first activation must be fed by the spikes "
                                           "of an activation (possibly through average pools), not by a current: "
                                           "insert a QCFS activation before it")
            if l["kind"] == "if":
                src, _ = self.carrier(l["inputs"][0])
                if src is not None:
                    self.refuse(l["node"], f"an activation must be fed by a current (a conv, linear, or a sum), "
                                           f"not directly by the spikes of {layers[src]['name']}")
            if i != len(layers) - 1 and not consumers[i]:
                self.refuse(l["node"], "its output is not used")
        levels = Counter(layers[i]["levels"] for i in ifs)
        if len(levels) > 1:
            common = levels.most_common(1)[0][0]
            odd = [layers[i] for i in ifs if layers[i]["levels"] != common]
            raise ExportError(
                "all activations must share one number of levels L: "
                + ", ".join(f"{l['node'].target} ({type(self.modules[l['node'].target]).__name__}) has "
                            f"{l['levels_attr']}={l['levels']}" for l in odd)
                + f", the other {levels[common]} have {common}")
        self.levels = int(levels.most_common(1)[0][0])

    def tensors_and_specs(self, weights: str):
        """(layer specs for the metadata, tensors)."""
        specs, tensors = [], {}
        last = len(self.layers) - 1
        for i, l in enumerate(self.layers):
            spec = {"kind": l["kind"], "name": l["name"]}
            default = [i - 1]
            if l["inputs"] != default or l["kind"] == "add":
                spec["inputs"] = [self.layers[j]["name"] for j in l["inputs"]]
            if l["kind"] == "conv2d":
                spec.update(stride=l["stride"], padding=l["padding"])
            elif l["kind"] == "avgpool2d":
                spec.update(kernel=l["kernel"], stride=l["stride"])
            elif l["kind"] == "if":
                spec["threshold"] = l["threshold"]
            if l["kind"] in ("conv2d", "linear"):
                if i == 0:
                    tensors.update(export.analog_tensors(l["name"], l["weight"], l["bias"]))
                else:
                    src, pools = self.carrier(l["inputs"][0])
                    divisor = 1
                    for p in pools:
                        if p["kind"] == "avgpool2d":
                            divisor *= p["kernel"] ** 2
                        else:
                            # A global average divides spikes by H*W: keep the products on the grid when
                            # that is a power of two, except for the output layer (precision over exactness,
                            # as version 1's fc).
                            h, w = self.layers[p["inputs"][0]]["shape"][1:]
                            if i != last and (h * w) & (h * w - 1) == 0:
                                divisor *= h * w
                    tensors.update(export.spike_fed_tensors(l["name"], l["weight"], l["bias"],
                                                            self.layers[src]["threshold"], divisor, weights))
            specs.append(spec)
        return specs, tensors


def load_module(spec: str, kwargs: dict):
    """FILE.py:FUNCTION -> FUNCTION(**kwargs)."""
    path, _, function = spec.rpartition(":")
    if not path or not function:
        raise ExportError(f"--model {spec!r}: expected FILE.py:FUNCTION")
    path = Path(path).resolve()
    if not path.is_file():
        raise ExportError(f"--model: {path} not found")
    sys.path.insert(0, str(path.parent))
    module_spec = importlib.util.spec_from_file_location(f"_dynconf_user_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, function):
        raise ExportError(f"--model: {path} has no {function}")
    net = getattr(module, function)(**kwargs)
    if not isinstance(net, nn.Module):
        raise ExportError(f"--model: {function}() returned a {type(net).__name__}, not an nn.Module")
    return net


def load_state_dict(path: Path, log=print):
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - not a plain tensor pickle (e.g. holds an argparse Namespace)
        log(f"note: {path} holds more than tensors; loading it with weights_only=False (trust the file)")
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ExportError(f"{path}: expected a state_dict or a dict holding one, found {type(obj).__name__}")
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in CHECKPOINT_KEYS:
            if isinstance(obj.get(key), (dict, nn.Module)):
                obj = obj[key]
                obj = obj.state_dict() if isinstance(obj, nn.Module) else obj
                break
        else:
            raise ExportError(f"{path}: no state_dict found (looked for the keys {', '.join(CHECKPOINT_KEYS)})")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def _floats(text, n, what):
    values = [float(v) for v in text.split(",")]
    if len(values) != n:
        raise ExportError(f"--{what}: expected {n} comma-separated numbers, got {text!r}")
    return values


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="FILE.py:FUNCTION returning the nn.Module")
    p.add_argument("--model-args", default="{}", help="JSON object of keyword arguments for FUNCTION")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--mean", default=",".join(map(str, QCFS_MEAN)))
    p.add_argument("--std", default=",".join(map(str, QCFS_STD)))
    p.add_argument("--classes", default=",".join(data.DEFAULT_CLASSES), help="comma-separated class names")
    p.add_argument("--input", default="3,32,32", help="C,H,W")
    p.add_argument("--weights", choices=WEIGHTS, default="int8")
    p.add_argument("--activation", action="append", type=Activation.parse, default=[],
                   help="CLASS:THRESHOLD_ATTR:LEVELS_ATTR of a QCFS activation class (repeatable)")
    p.add_argument("--fixtures", type=Path, help="folder for the fixtures JSON (default: beside --out)")
    p.add_argument("--steps", type=int, default=32, help="fixture time steps")
    p.add_argument("--name", help="model name in the metadata (default: the file stem)")
    p.add_argument("--data", type=Path, help="CIFAR-10 binary folder: also report validation accuracy")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


@torch.no_grad()
def convert(net: nn.Module, input_shape, activations=(), weights="int8"):
    """(layer specs, tensors, levels) of the exported graph; raises ExportError."""
    net = net.eval()
    graph = _Graph(net, input_shape, tuple(activations) + DEFAULT_ACTIVATIONS)
    graph.check()
    specs, tensors = graph.tensors_and_specs(weights)
    return specs, tensors, graph.levels


def build(net: nn.Module, mean, std, classes, extra: dict, weights: str = "int8", input_shape=(3, 32, 32),
          activations=(), name="model"):
    """(metadata, tensors) of the version 2 file for `net` (`extra` merged into the metadata)."""
    specs, tensors, levels = convert(net, input_shape, activations, weights)
    n_out = tensors[specs[-1]["name"] + ".bias"].numel()
    if n_out != len(classes):
        raise ExportError(f"the network has {n_out} outputs but {len(classes)} class names")
    meta = {"format": "dynconf-snn", "version": 2, "name": name,
            "input": {"channels": input_shape[0], "height": input_shape[1], "width": input_shape[2],
                      "mean": list(mean), "std": list(std)},
            "classes": list(classes), "levels": levels, "layers": specs, **extra}
    return meta, tensors


def write_model(path: Path, net: nn.Module, mean, std, classes, extra: dict, weights: str = "int8",
                input_shape=(3, 32, 32), activations=(), name=None) -> dict:
    """export.write_model for any traceable QCFS network: writes the version 2 file and returns
    its metadata."""
    meta, tensors = build(net, mean, std, classes, extra, weights, input_shape, activations, name or Path(path).stem)
    export.save_model(Path(path), meta, tensors)
    return meta


@torch.no_grad()
def compare(net, deployed: reference.Deployed, images_u8: torch.Tensor, mean, std, batch=250):
    """Float network vs exported quantized ANN on uint8 images: (float logits, ANN logits)."""
    m = torch.tensor(mean, dtype=torch.float64)[:, None, None]
    s = torch.tensor(std, dtype=torch.float64)[:, None, None]
    floats, anns = [], []
    for i in range(0, len(images_u8), batch):
        x = images_u8[i:i + batch]
        floats.append(net(((x.double() / 255 - m) / s).float()).float())
        anns.append(deployed.ann_logits(x))
    return torch.cat(floats), torch.cat(anns)


def export_model(args, log=print):
    """The command, as a function: returns a summary dict."""
    torch.set_num_threads(args.threads)
    started = time.time()
    input_shape = tuple(int(v) for v in args.input.split(","))
    if len(input_shape) != 3:
        raise ExportError(f"--input {args.input!r}: expected C,H,W")
    mean, std = _floats(args.mean, input_shape[0], "mean"), _floats(args.std, input_shape[0], "std")
    classes = [c.strip() for c in args.classes.split(",")]
    net = load_module(args.model, json.loads(args.model_args))
    state = load_state_dict(args.checkpoint, log)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise ExportError(f"{args.checkpoint} does not fit {args.model}: {e}") from e
    net.eval()
    export_info = {"tool": "training/export_torch.py",
                   "model": f"{Path(args.model.rpartition(':')[0]).name}:{args.model.rpartition(':')[2]}",
                   "checkpoint": args.checkpoint.name, "weights": args.weights,
                   "command": "training/export_torch.py " + " ".join(args.argv)}
    meta, tensors = build(net, mean, std, classes, {"export": export_info}, args.weights, input_shape,
                          args.activation, args.name or args.out.stem)
    export.save_model(args.out, meta, tensors)
    specs = meta["layers"]
    levels = meta["levels"]
    deployed = reference.Deployed(args.out)

    # Float network vs exported quantized ANN on the fixtures' synthetic inputs.
    synthetic = torch.as_tensor(np.stack(list(fixtures.synthetic_inputs(shape=input_shape).values())))
    fl, ann = compare(net, deployed, synthetic, mean, std)
    summary = {"layers": len(specs), "if_layers": sum(s["kind"] == "if" for s in specs), "levels": levels,
               "synthetic": {"images": len(synthetic), "max_abs_logit_diff": (fl - ann).abs().max().item(),
                             "max_abs_float_logit": fl.abs().max().item(),
                             "argmax_agreement": (fl.argmax(1) == ann.argmax(1)).float().mean().item()}}
    log(f"float net vs exported quantized ANN on {len(synthetic)} synthetic inputs: max |dlogit| = "
        f"{summary['synthetic']['max_abs_logit_diff']:.4g} (largest |logit| {summary['synthetic']['max_abs_float_logit']:.4g}), "
        f"argmax agreement {summary['synthetic']['argmax_agreement']:.3f}")
    if args.data is not None:
        images, labels = data.read_batch(args.data / data.VALIDATION_FILE)
        x = torch.as_tensor(images[data.VALIDATION_START:])
        y = torch.as_tensor(labels[data.VALIDATION_START:])
        fl, ann = compare(net, deployed, x, mean, std)
        summary["validation"] = {"split": f"{data.VALIDATION_FILE} records {data.VALIDATION_START}.."
                                          f"{data.VALIDATION_START + len(y) - 1}", "images": len(y),
                                 "float_accuracy": (fl.argmax(1) == y).float().mean().item(),
                                 "quantized_ann_accuracy": (ann.argmax(1) == y).float().mean().item(),
                                 "argmax_agreement": (fl.argmax(1) == ann.argmax(1)).float().mean().item()}
        v = summary["validation"]
        log(f"validation ({len(y)} images): float net {v['float_accuracy']:.4f}, exported quantized ANN "
            f"{v['quantized_ann_accuracy']:.4f} ({args.weights} weights), argmax agreement {v['argmax_agreement']:.4f}")
    export_info["float_vs_exported"] = summary
    export.save_model(args.out, meta, tensors)
    fixture_path = fixtures.write_fixtures(args.out, args.fixtures or args.out.parent, steps=args.steps)
    cases = json.loads(fixture_path.read_text())["cases"]
    neurons = reference.Deployed(args.out).neuron_counts(synthetic[:1])
    counts = torch.tensor([c["snn_spikes_per_layer"] for c in cases], dtype=torch.float64)  # [case, step, layer]
    rates = (counts.sum((0, 1)) / (len(cases) * args.steps) / torch.tensor(neurons, dtype=torch.float64)).tolist()
    summary["firing_rates"] = dict(zip(deployed.if_names, rates))
    summary["mean_firing_rate"] = float(counts.sum() / (len(cases) * args.steps * sum(neurons)))
    summary["size_bytes"] = args.out.stat().st_size
    summary["fixtures"] = str(fixture_path)
    log(f"firing rate on the synthetic inputs (spikes per neuron per step): mean {summary['mean_firing_rate']:.3f}, "
        f"per layer {min(rates):.3f}..{max(rates):.3f}")
    log(f"wrote {args.out} ({summary['size_bytes'] / 1e3:.1f} kB, {len(specs)} layers, "
        f"{summary['if_layers']} IF layers, L = {levels}) and {fixture_path} in {time.time() - started:.1f} s")
    return summary


def main(argv=None):
    args = parse_args(argv)
    try:
        return export_model(args)
    except ExportError as e:
        sys.exit(f"export_torch: {e}")


if __name__ == "__main__":
    main()
