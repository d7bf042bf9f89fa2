"""training/export_torch.py (any PyTorch QCFS network -> format version 2) and the graph
evaluation of training/reference.py. About 20 s on two cores."""
import copy
import json
import math
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from torch import nn

import export
import export_torch
import fixtures
import make_test_models
import reference
import zoo
from export_torch import Activation, ExportError, convert

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
V1_MODEL = ROOT / "models/dynconf-cifar10-v7.safetensors"
V1_FIXTURES = ROOT / "tests/fixtures/dynconf-cifar10-v7.json"
SHAPE = (3, 32, 32)


def calibrated(builder, seed, **kwargs):
    torch.manual_seed(seed)
    net = getattr(zoo, builder)(**kwargs)
    return make_test_models.calibrate(net, make_test_models.calibration_images(48, seed), 0.99, seed)


def write(net, directory, weights="int8", activations=(), name="m"):
    """Exports `net` as export_torch does (without fixtures) and loads it with the reference engine."""
    specs, tensors, levels = convert(net, SHAPE, activations, weights)
    meta = {"format": "dynconf-snn", "version": 2, "name": name,
            "input": {"channels": 3, "height": 32, "width": 32,
                      "mean": list(export_torch.QCFS_MEAN), "std": list(export_torch.QCFS_STD)},
            "classes": [str(i) for i in range(10)], "levels": levels, "layers": specs}
    path = Path(directory) / f"{name}.safetensors"
    export.save_model(path, meta, tensors)
    return reference.Deployed(path)


def normalized(pixels_u8, dtype=torch.float32):
    mean = torch.tensor(export_torch.QCFS_MEAN, dtype=torch.float64)[:, None, None]
    std = torch.tensor(export_torch.QCFS_STD, dtype=torch.float64)[:, None, None]
    return ((pixels_u8.double() / 255 - mean) / std).to(dtype)


def test_pixels(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = torch.randint(0, 256, (n, 3, 8, 8), generator=g).repeat_interleave(4, 2).repeat_interleave(4, 3)
    noise = torch.randint(-30, 31, (n, 3, 32, 32), generator=g)
    return (smooth + noise).clamp(0, 255).to(torch.uint8)


class IFSim(nn.Module):
    """An IF layer in the float network (f64): v(0) = theta/2, output theta per spike, subtractive reset."""

    def __init__(self, theta):
        super().__init__()
        self.theta, self.v, self.count = theta, None, 0

    def forward(self, x):
        if self.v is None:
            self.v = torch.full_like(x, self.theta / 2)
        self.v = self.v + x
        s = (self.v >= self.theta).double()
        self.v = self.v - self.theta * s
        self.count += int(s.sum())
        return s * self.theta


def lossless(net):
    """Makes `net` exactly representable in the format: BatchNorm with unit statistics and eps 0
    (scale on 2^-4, shift on 2^-8), weights on 2^-10, thresholds powers of two: the exported
    network (f32 weights) is then the float network, and every sum in it is exact."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                scale = m.weight / torch.sqrt(m.running_var + m.eps)
                m.bias.copy_(torch.round((m.bias - m.running_mean * scale) * 256) / 256)
                m.weight.copy_(torch.round(scale * 16) / 16)
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                m.eps = 0.0
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.round(m.weight * 1024) / 1024)
                if m.bias is not None:
                    m.bias.copy_(torch.round(m.bias * 256) / 256)
            elif isinstance(m, zoo.MyFloor):
                m.up.fill_(2.0 ** max(-4, round(math.log2(float(m.up.detach())))))
    return net


class ExportTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.threads = torch.get_num_threads()
        torch.set_num_threads(min(2, cls.threads))

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls.threads)

    def test_tiny_resnet_and_vgg_export_close_to_the_float_network(self):
        pixels = test_pixels(32)
        for builder, seed in (("resnet_tiny", 1), ("vgg_tiny", 2)):
            with self.subTest(builder), tempfile.TemporaryDirectory() as d:
                net = calibrated(builder, seed)
                deployed = write(net, d)
                with torch.no_grad():
                    expected = net(normalized(pixels))
                got = deployed.ann_logits(pixels)
                spread = expected.std().item()
                self.assertGreater(spread, 0.01, "degenerate test network")
                # int8 weights move a few activations across a quantization step, and a random
                # network amplifies that; a folding or wiring error would move every logit.
                self.assertLess((got - expected).abs().mean().item(), 0.25 * spread)
                self.assertGreaterEqual((got.argmax(1) == expected.argmax(1)).float().mean().item(), 0.75)
                outputs, _ = deployed.snn_run(pixels[:8], 48)
                err = [((outputs[t - 1] / t) - got[:8]).abs().mean().item() for t in (2, 8, 48)]
                self.assertLess(err[2], err[1])
                self.assertLess(err[1], err[0])

    def test_an_exactly_representable_network_is_reproduced_exactly(self):
        """The reference engine's graph semantics against the float network itself: QCFS for the
        quantized ANN, IF neurons in place of every activation for the SNN (f64, no rounding)."""
        pixels = test_pixels(6, seed=1)
        x = normalized(pixels, torch.float64)
        for builder, seed in (("resnet_tiny", 3), ("vgg_tiny", 4)):
            with self.subTest(builder), tempfile.TemporaryDirectory() as d:
                net = lossless(calibrated(builder, seed))
                deployed = write(net, d, weights="f32")
                with torch.no_grad():
                    ann = net.double()(x)
                torch.testing.assert_close(deployed.ann_logits(pixels).double(), ann, rtol=0, atol=1e-5)
                snn = copy.deepcopy(net)
                sims = []
                for name, m in list(snn.named_modules()):
                    if isinstance(m, zoo.MyFloor):
                        parent, _, attr = name.rpartition(".")
                        sims.append(IFSim(float(m.up.detach())))
                        setattr(snn.get_submodule(parent) if parent else snn, attr, sims[-1])
                steps = 16
                outputs, counts = deployed.snn_run(pixels, steps)
                total = torch.zeros_like(ann)
                with torch.no_grad():
                    for t in range(steps):
                        total += snn(x)
                        torch.testing.assert_close(outputs[t].double(), total, rtol=0, atol=1e-4)
                self.assertEqual(counts.sum(0).long().tolist(), [s.count for s in sims])
                self.assertGreater(min(s.count for s in sims), 0)

    def test_version_2_metadata_names_the_inputs_of_adds_and_branches(self):
        with tempfile.TemporaryDirectory() as d:
            meta = write(calibrated("resnet_tiny", 1), d).meta
        layers = meta["layers"]
        self.assertEqual(meta["version"], 2)
        seen = set()
        for i, layer in enumerate(layers):
            for name in layer.get("inputs", []):
                self.assertIn(name, seen, f"{layer['name']} reads a later layer")
            if layer["kind"] == "add":
                self.assertGreaterEqual(len(layer["inputs"]), 2)
            seen.add(layer["name"])
        adds = [l for l in layers if l["kind"] == "add"]
        self.assertEqual(len(adds), 4)
        self.assertEqual(adds[0]["inputs"], ["layers.0.0.conv2", "pool"])  # identity shortcut of pooled spikes
        self.assertEqual(adds[2]["inputs"], ["layers.1.0.conv2", "layers.1.0.shortcut.0"])  # 1x1 conv shortcut
        shortcut = next(l for l in layers if l["name"] == "layers.1.0.shortcut.0")
        self.assertEqual(shortcut["inputs"], ["layers.0.1.act2"])
        self.assertEqual([l["kind"] for l in layers[-2:]], ["global_avgpool", "linear"])

    def test_pool_fed_weights_are_on_the_coarser_grid(self):
        with tempfile.TemporaryDirectory() as d:
            specs, tensors, _ = convert(calibrated("vgg_tiny", 2), SHAPE)
        self.assertEqual(tensors["features.0.weight"].dtype, torch.float32)  # the analog layer
        for name, divisor in (("features.4", 4), ("features.7", 1), ("classifier.1", 4), ("classifier.4", 1)):
            w = export.dequantize(tensors[f"{name}.weight"], tensors[f"{name}.weight_scale"]).double()
            scaled = w / divisor / export.GRID
            self.assertTrue(torch.equal(scaled, scaled.round()), name)

    def test_v2_export_of_the_project_network_equals_its_v1_export(self):
        from model import Net
        from test_pipeline import random_trained_like_net
        net = random_trained_like_net(0, "after")
        pixels = test_pixels(4)
        with tempfile.TemporaryDirectory() as d:
            v1 = Path(d) / "v1.safetensors"
            export.write_model(v1, net, export_torch.QCFS_MEAN, export_torch.QCFS_STD, [str(i) for i in range(10)], {})
            a, b = reference.Deployed(v1), write(net, d)
            self.assertEqual([l["kind"] for l in a.layers], [l["kind"] for l in b.layers])
            self.assertTrue(torch.equal(a.ann_logits(pixels), b.ann_logits(pixels)))
            self.assertTrue(torch.equal(a.snn_run(pixels, 8)[0], b.snn_run(pixels, 8)[0]))
        self.assertIsInstance(net, Net)

    def assertRefused(self, net, *patterns, activations=()):
        with self.assertRaises(ExportError) as caught:
            convert(net, SHAPE, activations)
        for p in patterns:
            self.assertIn(p, str(caught.exception))
        return str(caught.exception)

    def test_refusals_name_the_module(self):
        act = lambda: zoo.MyFloor(t=4)  # noqa: E731
        conv = lambda c_in=3, c_out=8, **kw: nn.Conv2d(c_in, c_out, 3, padding=1, **kw)  # noqa: E731
        head = lambda c=8, hw=16: [nn.Flatten(), nn.Linear(c * hw * hw, 10)]  # noqa: E731
        msg = self.assertRefused(nn.Sequential(conv(), act(), nn.MaxPool2d(2), *head()),
                                 "2 (MaxPool2d)", "AvgPool2d", "replace_maxpool2d_by_avgpool2d")
        self.assertIn("input of 3", msg)  # its place: what it feeds
        self.assertRefused(nn.Sequential(conv(), nn.ReLU(), nn.AvgPool2d(2), *head()), "1 (ReLU)", "not a QCFS activation")
        self.assertRefused(nn.Sequential(conv(), act(), nn.AvgPool2d(2), nn.BatchNorm2d(8), *head()),
                           "3 (BatchNorm2d)", "directly follow a Conv2d")
        self.assertRefused(nn.Sequential(conv(), act(), conv(8, 8, groups=2), act(), nn.AvgPool2d(2), *head()),
                           "2 (Conv2d)", "groups=2")
        self.assertRefused(nn.Sequential(conv(), act(), conv(8, 8), zoo.MyFloor(t=8), conv(8, 8), act(),
                                         nn.AvgPool2d(2), *head()), "3 (MyFloor) has t=8", "the other 2 have 4")
        self.assertRefused(nn.Sequential(conv(), act(), nn.Upsample(scale_factor=2), nn.AvgPool2d(4), *head(8, 16)),
                           "2 (Upsample)", "no dynconf layer")

    def test_refusals_in_a_resnet_name_the_block(self):
        net = zoo.resnet_tiny(4).eval()
        net.layers[1][0].act1 = nn.ReLU()
        self.assertRefused(net, "layers.1.0.act1 (ReLU)", "input of layers.1.0.conv2")
        net = zoo.resnet_tiny(4).eval()
        net.layers[2][0].conv2 = nn.Conv2d(32, 32, 3, padding=2, dilation=2, bias=False)
        self.assertRefused(net, "layers.2.0.conv2 (Conv2d)", "dilation")

    def test_structural_refusals(self):
        act = lambda: zoo.MyFloor(t=4)  # noqa: E731
        # A conv fed by a current (no activation between two convs).
        self.assertRefused(nn.Sequential(nn.Conv2d(3, 8, 3), act(), nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3),
                                         act(), nn.Flatten(), nn.Linear(8 * 26 * 26, 10)),
                           "3 (Conv2d)", "not by a current")
        # An activation fed directly by spikes.
        self.assertRefused(nn.Sequential(nn.Conv2d(3, 8, 3), act(), act(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10)),
                           "2 (MyFloor)", "fed by a current")
        # The output must be a Linear.
        with self.assertRaisesRegex(ExportError, "must be a Linear"):
            convert(nn.Sequential(nn.Conv2d(3, 8, 3), act(), nn.Conv2d(8, 10, 30), nn.Flatten()), SHAPE)

    def test_a_custom_activation_class_is_recognised_with_the_activation_option(self):
        class Clip(nn.Module):
            def __init__(self):
                super().__init__()
                self.lam = nn.Parameter(torch.tensor([2.0]))
                self.steps = 4

            def forward(self, x):
                return torch.clamp(torch.floor(x / self.lam * self.steps + 0.5) / self.steps, 0, 1) * self.lam

        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), Clip(), nn.AvgPool2d(2),
                            nn.Conv2d(8, 8, 3, padding=1), Clip(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
        self.assertRefused(net.eval(), "inside 2 (Clip)", "--activation Clip:THRESHOLD_ATTR:LEVELS_ATTR")
        specs, _, levels = convert(net, SHAPE, [Activation.parse("Clip:lam:steps")])
        self.assertEqual(levels, 4)
        self.assertEqual([s["kind"] for s in specs],
                         ["conv2d", "if", "avgpool2d", "conv2d", "if", "global_avgpool", "linear"])
        self.assertEqual(specs[1]["threshold"], 2.0)

    def test_the_command_exports_a_user_file_and_checkpoint(self):
        """Through the command line: a model file with its own activation class, a checkpoint saved
        by DataParallel under 'model', fixtures beside the output."""
        source = '''
import torch
from torch import nn

class Act(nn.Module):
    def __init__(self):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor([1.5]))
        self.q = 2

    def forward(self, x):
        return torch.clamp(torch.floor(x / self.alpha * self.q + 0.5) / self.q, 0, 1) * self.alpha

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.act = Act()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.act2 = Act()
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        y = self.act(self.conv(x))
        y = self.act2(self.bn2(self.conv2(y)) + y)
        y = torch.nn.functional.adaptive_avg_pool2d(y, 1)
        return self.fc(y.view(y.size(0), -1))

def build():
    return Net()
'''
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            (d / "usernet.py").write_text(source)
            sys.path.insert(0, str(d))
            try:
                import usernet
            finally:
                sys.path.remove(str(d))
            torch.manual_seed(0)
            net = usernet.build()
            torch.save({"model": {f"module.{k}": v for k, v in net.state_dict().items()}, "epoch": 3}, d / "ck.pth")
            summary = export_torch.main(["--model", f"{d / 'usernet.py'}:build", "--checkpoint", str(d / "ck.pth"),
                                         "--out", str(d / "out" / "user.safetensors"), "--activation", "Act:alpha:q",
                                         "--steps", "4", "--threads", str(torch.get_num_threads())])
            meta = reference.Deployed(d / "out" / "user.safetensors").meta
            fx = json.loads((d / "out" / "user.json").read_text())
        self.assertEqual(meta["levels"], 2)
        add = next(l for l in meta["layers"] if l["kind"] == "add")
        self.assertEqual(add["inputs"], ["conv2", "act"])  # a current and the spikes of act
        self.assertEqual(meta["input"]["std"], list(export_torch.QCFS_STD))
        self.assertEqual(len(fx["cases"][0]["snn_spike_maps"]), 4)
        self.assertEqual(len(fx["cases"][0]["snn_spike_maps"][0]), 2)
        self.assertEqual(summary["synthetic"]["images"], 6)


class ReferenceTests(unittest.TestCase):
    def test_version_1_model_reproduces_its_fixtures(self):
        model = reference.Deployed(V1_MODEL)
        stored = json.loads(V1_FIXTURES.read_text())
        self.assertEqual(model.meta["version"], 1)
        for case in stored["cases"][:2]:
            x = torch.tensor(case["pixels_chw"], dtype=torch.uint8).reshape(1, 3, 32, 32)
            self.assertEqual(model.ann_logits(x)[0].tolist(), case["ann_logits"])
            outputs, counts, maps = model.snn_run(x, 3, spike_maps=True)
            self.assertEqual(outputs[:, 0].tolist(), case["snn_outputs"][:3])
            self.assertEqual(counts.int().tolist(), case["snn_spikes_per_layer"][:3])
            self.assertEqual([[reference.spike_map_digest(m[0]) for m in step] for step in maps],
                             case["snn_spike_maps"][:3])
            self.assertEqual(sum(maps[0][i].sum().item() for i in range(len(maps[0]))), sum(counts[0].tolist()))

    def test_committed_graph_models_reproduce_their_fixtures(self):
        for name in ("resnet-tiny", "vgg-tiny"):
            path = ROOT / "tests/fixtures" / f"{name}.safetensors"
            if not path.is_file():
                self.skipTest(f"{path} not written yet (training/make_test_models.py)")
            with self.subTest(name):
                model = reference.Deployed(path)
                stored = json.loads(path.with_suffix(".json").read_text())
                self.assertEqual(model.meta["version"], 2)
                case = stored["cases"][0]
                x = torch.tensor(case["pixels_chw"], dtype=torch.uint8).reshape(1, 3, 32, 32)
                outputs, counts, maps = model.snn_run(x, 4, spike_maps=True)
                self.assertEqual(outputs[:, 0].tolist(), case["snn_outputs"][:4])
                self.assertEqual([[reference.spike_map_digest(m[0]) for m in step] for step in maps],
                                 case["snn_spike_maps"][:4])

    def test_spike_map_digest_is_of_one_byte_per_neuron_in_chw_order(self):
        s = torch.zeros(2, 3, 4, dtype=torch.uint8)
        s[1, 2, 3] = 1
        import hashlib
        self.assertEqual(reference.spike_map_digest(s), hashlib.sha256(bytes(23) + b"\x01").hexdigest()[:16])

    def test_unknown_inputs_are_rejected(self):
        layers = [{"kind": "conv2d", "name": "c", "stride": 1, "padding": 0},
                  {"kind": "if", "name": "i", "threshold": 1.0},
                  {"kind": "add", "name": "a", "inputs": ["i", "nope"]},
                  {"kind": "linear", "name": "fc"}]
        with self.assertRaisesRegex(reference.ModelError, "'nope' is not an earlier layer"):
            reference.Deployed._resolve_inputs(layers)

    def test_synthetic_inputs_of_the_default_shape_are_unchanged(self):
        images = fixtures.synthetic_inputs()
        self.assertEqual(list(images), ["noise_uniform", "noise_smooth", "gradient", "sinusoid", "blobs", "gray"])
        self.assertEqual({v.shape for v in images.values()}, {(3, 32, 32)})
        stored = json.loads(V1_FIXTURES.read_text())
        for case in stored["cases"]:
            self.assertEqual(images[case["name"]].flatten().tolist(), case["pixels_chw"])


if __name__ == "__main__":
    unittest.main()
