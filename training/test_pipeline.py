"""Smoke test of the training pipeline (run by .ci/run): data checks, BN/threshold folding,
and a tiny end-to-end run (train a few batches, export, reload, fixtures). About a minute."""
import copy
import itertools
import json
import os
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
from augment import augment, gaussian_blur, photo_augment
from model import POOLS, Net

HERE = Path(__file__).resolve().parent


class LadderSnnTests(unittest.TestCase):
    """training/ladder_snn.py, the SNN evaluation of the ablation ladder's QCFS rungs."""

    def test_one_if_layer_at_t_equal_l_is_the_qcfs_layer(self):
        # With v(0) = theta/2 and a constant current z, an IF neuron fires floor(T z/theta + 1/2)
        # times (clipped to 0..T) in T steps: at T = L that is QCFS(z) * L / theta spikes.
        import ladder_snn
        from model import QCFS
        torch.manual_seed(0)
        for levels in (3, 4, 8):
            qcfs = QCFS(levels, threshold=1.7)
            net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16), qcfs, torch.nn.Linear(16, 10))
            x = torch.randn(64, 3, 2, 2) * 2
            o = ladder_snn.simulate(net, QCFS, x, steps=levels, batch=32)
            with torch.no_grad():
                ann = net(x).double()
            torch.testing.assert_close(o[-1] / levels, ann, rtol=1e-5, atol=1e-5)

    def test_held_out_dynamic_confidence_is_reported_on_the_other_half(self):
        import ladder_snn
        torch.manual_seed(0)
        o = torch.randn(8, 40, 10, dtype=torch.float64).cumsum(0)
        y = torch.randint(0, 10, (40,))
        correct = o.argmax(-1) == y[None]
        th = ladder_snn.choose(ladder_snn.scores(o, 1.0), correct)
        c, steps = ladder_snn.replay(ladder_snn.scores(o, 1.0), correct, th)
        self.assertGreaterEqual(c, int(correct[-1].sum()) - int(0.002 * 40))
        self.assertLessEqual(steps, 8 * 40)
        result = ladder_snn.evaluate_snn(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 10)),
                                         type(None), torch.randn(40, 3, 2, 2), y, steps=4)
        self.assertEqual(sum(h["images"] for h in result["dynamic_held_out"]["halves"]), 40)
        self.assertEqual(result["ann_agreement"], 1.0)  # no IF layers: the SNN is the ANN at every step


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


class PhotoAugmentTests(unittest.TestCase):
    MEAN, STD = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]

    def normalised(self, pixels):
        m, s = torch.tensor(self.MEAN)[:, None, None], torch.tensor(self.STD)[:, None, None]
        return (pixels - m) / s

    def test_none_chosen_is_a_copy(self):
        x = torch.randn(8, 3, 32, 32)
        out = photo_augment(x, 0.0, self.MEAN, self.STD)
        self.assertTrue(torch.equal(out, x))
        self.assertIsNot(out, x)

    def test_a_flat_colour_stays_flat_and_inside_the_pixel_range(self):
        # Crop and area-average, colour jitter and blur keep a one-colour image one colour; the
        # colour changes and stays a pixel value in [0, 1].
        torch.manual_seed(1)
        colours = torch.rand(64, 3, 1, 1)
        x = self.normalised(colours.expand(64, 3, 32, 32))
        out = photo_augment(x, 1.0, self.MEAN, self.STD)
        pixels = out * torch.tensor(self.STD)[:, None, None] + torch.tensor(self.MEAN)[:, None, None]
        spread = pixels.amax(dim=(2, 3)) - pixels.amin(dim=(2, 3))
        self.assertLess(spread.max().item(), 1e-5)
        self.assertGreaterEqual(pixels.min().item(), -1e-6)
        self.assertLessEqual(pixels.max().item(), 1 + 1e-6)
        self.assertGreater((pixels[:, :, 0, 0] - colours[:, :, 0, 0]).abs().max().item(), 0.05)

    def test_the_crop_moves_the_edge(self):
        # A grey image, left half dark and right half light: the colour jitter is monotone and the
        # blur symmetric, so only the random-resized crop moves where the edge falls.
        torch.manual_seed(2)
        pixels = torch.full((32, 3, 32, 32), 0.3)
        pixels[..., 16:] = 0.7
        out = photo_augment(self.normalised(pixels), 1.0, self.MEAN, self.STD)[:, 0]
        middle = (out.amax(dim=(1, 2)) + out.amin(dim=(1, 2))) / 2
        light = (out > middle[:, None, None]).float().mean(dim=(1, 2))
        self.assertGreater(light.std().item(), 0.05)  # not always half

    def test_blur_keeps_the_sum_of_an_impulse(self):
        x = torch.zeros(2, 1, 9, 9)
        x[:, :, 4, 4] = 1
        out = gaussian_blur(x, torch.tensor([0.5, 1.0]))
        self.assertTrue(torch.allclose(out.sum(dim=(2, 3)), torch.ones(2, 1)))
        self.assertGreater(out[0, 0, 4, 4].item(), out[1, 0, 4, 4].item())  # narrower keeps more


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


def random_trained_like_net(seed, pool):
    """A random network whose BatchNorm statistics and thresholds come from data, so that
    activity reaches the last layer as in a trained network."""
    torch.manual_seed(seed)
    net = Net(widths=(16, 16, 32), levels=4, pool=pool)
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
        for pool in POOLS:
            with self.subTest(pool=pool):
                net = random_trained_like_net(0, pool)
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
        for pool in POOLS:
            with self.subTest(pool=pool):
                net = random_trained_like_net(1, pool)
                pixels = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
                with tempfile.TemporaryDirectory() as d:
                    deployed = export_and_load(net, d)
                    ann = deployed.ann_logits(pixels)
                    outputs, _ = deployed.snn_run(pixels, 64)
                err = [((outputs[t - 1] / t) - ann).abs().mean().item() for t in (1, 8, 64)]
                self.assertGreater(ann.std().item(), 0.1, "degenerate test network")
                self.assertLess(err[1], err[0])
                self.assertLess(err[2], err[1])

    def test_exported_model_is_readable_by_others(self):
        with tempfile.TemporaryDirectory() as d:
            export_and_load(Net(widths=(8, 8, 8), levels=4), d)
            mode = (Path(d) / "m.safetensors").stat().st_mode & 0o777
        umask = os.umask(0)
        os.umask(umask)
        self.assertEqual(mode, 0o666 & ~umask)

    def test_pooling_after_an_if_layer_is_exported_before_the_next_conv(self):
        layers, _ = export.fold(Net(widths=(8, 8, 8), levels=4, pool="after"))
        kinds = [l["kind"] for l in layers]
        self.assertEqual(kinds[:6], ["conv2d", "if", "conv2d", "if", "avgpool2d", "conv2d"])
        self.assertEqual(kinds.count("avgpool2d"), 3)

    def test_spike_fed_weights_are_on_the_exact_grid(self):
        for pool, weights in itertools.product(POOLS, export.WEIGHT_FORMATS):
            layers, tensors = export.fold(Net(widths=(8, 8, 8), levels=4, pool=pool), weights)
            # A conv fed through a 2x2 average pool sees spikes / 4: its weights / 4 must be on the grid.
            divisor = {}
            for before, layer in zip(layers, layers[1:]):
                if "name" in layer:
                    divisor[layer["name"]] = before["kernel"] ** 2 if before["kind"] == "avgpool2d" else 1
            for name, t in tensors.items():
                if name.startswith("conv0.") or name.endswith("_scale"):
                    continue
                if name.endswith(".weight"):
                    self.assertEqual(t.dtype, {"int8": torch.int8, "f16": torch.float16}[weights])
                    if t.dtype == torch.int8:
                        t = export.dequantize(t, tensors[name + "_scale"])
                    t = t.double() / divisor[name.split(".")[0]]
                scaled = t.double() / export.GRID
                self.assertTrue(torch.equal(scaled, scaled.round()), f"{pool}, {weights}: {name}")


class FromModelTests(unittest.TestCase):
    """training/from_model.py: an exported chain model back into train.py's network."""

    def test_the_rebuilt_network_computes_the_exported_ann(self):
        import from_model
        net = random_trained_like_net(2, "after")
        pixels = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
        with tempfile.TemporaryDirectory() as d, torch.no_grad():
            deployed = export_and_load(net, d)
            expected = deployed.ann_logits(pixels).float()
            images = (pixels.float() / 255 - 0.5) / 0.25
            rebuilt = from_model.rebuild(*from_model.read_model(Path(d) / "m.safetensors"), images)
            got = rebuilt.eval()(images)
            # Training mode on the images the statistics came from: the same network.
            in_training = copy.deepcopy(rebuilt).train()(images)
        scale = expected.abs().max().item()
        self.assertGreater(expected.std().item(), 0.1, "degenerate test network")
        self.assertLess((got - expected).abs().max().item(), 1e-3 * scale)
        self.assertLess((in_training - got).abs().max().item(), 1e-2 * scale)

    def test_other_layouts_are_refused_by_name(self):
        import from_model
        net = random_trained_like_net(3, "before")
        with tempfile.TemporaryDirectory() as d:
            export_and_load(net, d)
            with self.assertRaisesRegex(from_model.ModelError, "pooling after the activation"):
                from_model.rebuild(*from_model.read_model(Path(d) / "m.safetensors"), torch.zeros(2, 3, 32, 32))
            (Path(d) / "bad.safetensors").write_bytes(b"not a model")
            with self.assertRaisesRegex(from_model.ModelError, "bad.safetensors: not a dynconf model"):
                from_model.read_model(Path(d) / "bad.safetensors")


class CheckpointTests(unittest.TestCase):
    def test_checkpoints_without_a_pool_entry_load_as_pooling_before(self):
        old = Net(widths=(8, 8, 8), levels=4, pool="before")
        run = {"widths": [8, 8, 8], "levels": 4}  # what train.py saved before v5
        self.assertEqual(Net.from_checkpoint({"training": run, "state": old.state_dict()}).pool, "before")
        new = Net(widths=(8, 8, 8), levels=4)
        loaded = Net.from_checkpoint({"training": {**run, "pool": "after"}, "state": new.state_dict()})
        self.assertEqual([type(m) for m in loaded.body], [type(m) for m in new.body])


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

    def test_rows_fed_by_a_pool_keep_their_share_on_the_grid(self):
        torch.manual_seed(0)
        w = torch.randn(16, 32, dtype=torch.float64) * torch.logspace(-4, 0, 16, dtype=torch.float64)[:, None]
        q, s = export.int8_on_grid(w, divisor=4)
        shares = export.dequantize(q, s).double() / 4 / export.GRID
        self.assertTrue(torch.equal(shares, shares.round()), "w / 4 off the 2^-16 grid")
        self.assertTrue(torch.equal(export.int8_on_grid(w[-1:], divisor=4)[0], export.int8_on_grid(w[-1:])[0]),
                        "a large row should not lose precision")

    def test_tiny_and_zero_rows_stay_on_the_grid(self):
        w = torch.tensor([[1e-7, -3e-6, 2.0 ** -16], [0.0, 0.0, 0.0]])
        q, s = export.int8_on_grid(w)
        self.assertEqual(s.tolist(), [export.GRID] * 2)
        self.assertEqual(q.tolist(), [[0, 0, 1], [0, 0, 0]])


class DistillTests(unittest.TestCase):
    def test_loss_is_cross_entropy_without_weight_and_zero_for_a_perfect_copy(self):
        import distill
        torch.manual_seed(0)
        s, t, y = torch.randn(16, 10), torch.randn(16, 10), torch.randint(0, 10, (16,))
        ce = torch.nn.functional.cross_entropy(s, y, label_smoothing=0.2)
        torch.testing.assert_close(distill.kd_loss(s, t, y, 0.0, 4.0, 0.2), ce)
        self.assertAlmostEqual(distill.kd_loss(s, s, y, 1.0, 4.0, 0.2).item(), 0.0, places=5)
        self.assertGreater(distill.kd_loss(s, t, y, 1.0, 4.0, 0.2).item(), 0.01)

    def test_targets_of_another_training_set_are_rejected_by_name(self):
        import distill
        from safetensors.torch import save_file
        x = np.zeros((4, 3, 32, 32), np.uint8)
        y = np.arange(4)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "t.safetensors"
            with self.assertRaisesRegex(distill.TeacherError, "not found: write them with"):
                distill.load_targets(path, x, y)
            save_file({"logits": torch.zeros(4, 10)}, str(path), metadata={"train_sha256": distill.fingerprint(x, y)})
            self.assertEqual(tuple(distill.load_targets(path, x, y)[0].shape), (4, 10))
            with self.assertRaisesRegex(distill.TeacherError, "another training set"):
                distill.load_targets(path, x + 1, y)
            with self.assertRaisesRegex(distill.TeacherError, r"shape \(4, 10\), expected \(3, 10\)"):
                distill.load_targets(path, x[:3], y[:3])
            path.write_bytes(b"garbage")
            with self.assertRaisesRegex(distill.TeacherError, "not a teacher file"):
                distill.load_targets(path, x, y)


class SmokeRun(unittest.TestCase):
    def test_train_stop_resume_export_reload_fixtures(self):
        """Two epochs on the smoke subset, distilling from random teacher targets: --max-minutes stops
        after the first (status 3), the same command resumes, exports and writes fixtures."""
        if not (data.DEFAULT_DATA_DIR / "data_batch_1.bin").is_file():
            self.skipTest(f"CIFAR-10 not found at {data.DEFAULT_DATA_DIR} (see ../shared/cifar10/README.md)")
        import distill
        from safetensors.torch import save_file
        (tx, ty), _ = data.load_splits(data.DEFAULT_DATA_DIR, limit=512)
        with tempfile.TemporaryDirectory() as d:
            out, fx, ckpt, teacher = (Path(d) / n for n in ("smoke.safetensors", "fixtures", "smoke.pt", "t.safetensors"))
            save_file({"logits": torch.randn(len(ty), 10)}, str(teacher),
                      metadata={"train_sha256": distill.fingerprint(tx, ty)})
            command = [sys.executable, str(HERE / "train.py"), "--smoke", "--epochs", "2", "--max-minutes", "0.001",
                       "--teacher", str(teacher), "--out", str(out), "--fixtures", str(fx), "--checkpoint", str(ckpt)]
            first = subprocess.run(command, capture_output=True, text=True, timeout=600)
            self.assertEqual(first.returncode, 3, first.stdout + first.stderr)
            self.assertIn("stopping after epoch 1/2", first.stdout)
            self.assertFalse(out.exists())
            second = subprocess.run(command, capture_output=True, text=True, timeout=600)
            self.assertEqual(second.returncode, 0, second.stdout + second.stderr)
            self.assertIn("resumed from", second.stdout)
            self.assertNotIn("epoch 1/2:", second.stdout)
            from train import resume_path
            self.assertFalse(resume_path(ckpt).exists())
            meta = reference.Deployed(out).meta
            self.assertEqual(meta["training"]["teacher"]["weight"], 0.5)
            self.assertEqual(len(meta["training"]["history"]), 2)
            self.assertEqual(meta["format"], "dynconf-snn")
            self.assertEqual(len(meta["validation"]["snn_accuracy_per_step"]), 8)
            fixtures = json.loads((fx / "smoke.json").read_text())
            self.assertEqual(len(fixtures["cases"]), 6)
            self.assertEqual(np.array(fixtures["cases"][0]["snn_outputs"]).shape, (32, 10))


if __name__ == "__main__":
    unittest.main()
