"""Smoke test of the training pipeline (run by .ci/run): data checks, BN/threshold folding,
and a tiny end-to-end run (train a few batches, export, reload, fixtures). About a minute."""
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

import data
import export
import reference
from augment import augment
from model import Net

HERE = Path(__file__).resolve().parent


class AugmentTests(unittest.TestCase):
    def test_translation_is_a_window_of_the_reflect_padded_image(self):
        torch.manual_seed(0)
        x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
        padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
        out = augment(x, translate=2, cutout=0)
        for i in range(2):
            windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
            self.assertTrue(any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(2)) for w in windows))

    def test_cutout_zeroes_at_most_one_square_per_image(self):
        torch.manual_seed(0)
        out = augment(torch.ones(256, 3, 32, 32), translate=0, cutout=8)
        zeroed = (out == 0).sum(dim=(1, 2, 3)) / 3
        self.assertEqual(zeroed.max().item(), 64)  # never more than one 8x8 square
        self.assertGreater(zeroed.min().item(), 0)  # the centre is always inside the image


class DataTests(unittest.TestCase):
    def test_rejects_wrong_length(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "data_batch_1.bin"
            path.write_bytes(bytes(3073 * 2 + 5))
            with self.assertRaisesRegex(data.DataError, "not a whole number"):
                data.read_batch(path)

    def test_rejects_bad_label(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "data_batch_1.bin"
            record = bytearray(3073)
            record[0] = 12
            path.write_bytes(bytes(3073) + bytes(record))
            with self.assertRaisesRegex(data.DataError, "record 1 has label 12"):
                data.read_batch(path)

    def test_missing_file_says_how_to_fix(self):
        with self.assertRaisesRegex(data.DataError, "--data"):
            data.read_batch(Path("/nonexistent/data_batch_1.bin"))


def random_trained_like_net(seed):
    """A random network whose BatchNorm statistics and thresholds come from data, so that
    activity reaches the last layer as in a trained network."""
    torch.manual_seed(seed)
    net = Net(widths=(16, 16, 32), levels=4)
    images = torch.randn(64, 3, 32, 32)
    net.init_whitening(images)
    net.train()
    net.init_thresholds(images, percentile=0.9)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0  # running statistics = this batch's
    net(images)
    return net.eval()


def export_and_load(net, directory):
    path = Path(directory) / "m.safetensors"
    export.write_model(path, net, [0.5] * 3, [0.25] * 3, data.DEFAULT_CLASSES, {})
    return reference.Deployed(path)


class FoldTests(unittest.TestCase):
    def test_exported_ann_matches_float_network(self):
        net = random_trained_like_net(0)
        pixels = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8)
        with tempfile.TemporaryDirectory() as d, torch.no_grad():
            got = export_and_load(net, d).ann_logits(pixels)
            expected = net((pixels.float() / 255 - 0.5) / 0.25)
        scale = expected.abs().max().item()
        # int8 weights move a few activations across a quantization step, and a random
        # network amplifies that; a folding error would move every logit.
        self.assertLess((got - expected).abs().mean().item(), 0.1 * scale)
        self.assertGreaterEqual((got.argmax(1) == expected.argmax(1)).float().mean().item(), 0.9)

    def test_snn_approaches_ann(self):
        net = random_trained_like_net(1)
        pixels = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
        with tempfile.TemporaryDirectory() as d:
            deployed = export_and_load(net, d)
            ann = deployed.ann_logits(pixels)
            outputs, _ = deployed.snn_run(pixels, 64)
        err = [((outputs[t - 1] / t) - ann).abs().mean().item() for t in (1, 8, 64)]
        self.assertGreater(ann.std().item(), 0.1, "degenerate test network")
        self.assertLess(err[1], err[0])
        self.assertLess(err[2], err[1])

    def test_spike_fed_weights_are_on_the_exact_grid(self):
        net = Net(widths=(8, 8, 8), levels=4)
        _, tensors = export.fold(net)
        for name, t in tensors.items():
            if name.startswith("conv0.") or name.endswith("_scale"):
                continue
            if t.dtype == torch.int8:
                t = export.dequantize(t, tensors[name + "_scale"])
            scaled = t.double() / export.GRID
            self.assertTrue(torch.equal(scaled, scaled.round()), name)


class Int8Tests(unittest.TestCase):
    def test_rows_round_to_int8_times_an_exact_scale(self):
        torch.manual_seed(0)
        w = torch.randn(32, 64, 3, 3, dtype=torch.float64) * torch.logspace(-3, 1, 32, dtype=torch.float64)[:, None, None, None]
        q, s = export.int8_on_grid(w)
        self.assertEqual((q.dtype, s.dtype, tuple(s.shape)), (torch.int8, torch.float32, (32,)))
        self.assertLessEqual(q.abs().max().item(), 127)
        back = export.dequantize(q, s)
        grid = back.double() / export.GRID
        self.assertTrue(torch.equal(grid, grid.round()), "off the 2^-16 grid")
        self.assertTrue(torch.equal(back.half().float(), back), "not exact in f16")
        rel = ((back.double() - w).flatten(1).norm(dim=1) / w.flatten(1).norm(dim=1))
        self.assertLess(rel.max().item(), 0.012)  # about what 8 bits per row allow

    def test_tiny_and_zero_rows_stay_on_the_grid(self):
        w = torch.tensor([[1e-7, -3e-6, 2.0 ** -16], [0.0, 0.0, 0.0]])
        q, s = export.int8_on_grid(w)
        self.assertEqual(s.tolist(), [export.GRID] * 2)
        self.assertEqual(q.tolist(), [[0, 0, 1], [0, 0, 0]])


class SmokeRun(unittest.TestCase):
    def test_train_export_reload_fixtures(self):
        if not (data.DEFAULT_DATA_DIR / "data_batch_1.bin").is_file():
            self.skipTest(f"CIFAR-10 not found at {data.DEFAULT_DATA_DIR} (see ../shared/cifar10/README.md)")
        with tempfile.TemporaryDirectory() as d:
            out, fx = Path(d) / "smoke.safetensors", Path(d) / "fixtures"
            subprocess.run([sys.executable, str(HERE / "train.py"), "--smoke", "--out", str(out),
                            "--fixtures", str(fx)], check=True, timeout=600)
            meta = reference.Deployed(out).meta
            self.assertEqual(meta["format"], "dynconf-snn")
            self.assertEqual(len(meta["validation"]["snn_accuracy_per_step"]), 8)
            fixtures = json.loads((fx / "smoke.json").read_text())
            self.assertEqual(len(fixtures["cases"]), 6)
            self.assertEqual(np.array(fixtures["cases"][0]["snn_outputs"]).shape, (32, 10))


if __name__ == "__main__":
    unittest.main()
