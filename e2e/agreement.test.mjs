// Page–CLI agreement (issue 12 item 6): for generated images (non-square opaque RGBA PNGs, a
// JPEG, PNGs with alpha, a 1×1 and a 550×5 PNG) and the crops `center`, `full` and one
// `X,Y,SIZE` each, the page's final prediction and Dynamic Confidence stop step (and the
// pixels it cropped) must equal `dynconf classify --json --crop … --max-steps T_max` on the
// same file, with the same model and calibration: the CLI reads the files the page loads,
// from dist/models/.
//
// Alpha: the page reads the exact, unpremultiplied bytes with WebGL2 (sendImage), so the PNGs
// with alpha must agree too: a cut-out (transparent and opaque pixels), per-pixel varying
// semi-transparency (through a 2D canvas, premultiplied, these came back up to 1 level off
// once composited over white and a 32-pixel crop's stop step moved by two), a gradient alpha
// over a textured scene and a palette PNG with tRNS. The page must have read them with WebGL2
// (#crop-text data-reader); without WebGL2 it falls back to the canvas (docs/demo.md).
//
// JPEG: a 4:4:4 and a 4:2:0 file (what most cameras write). Both must agree: the CLI decodes
// JPEG with libjpeg-turbo's decoder (mozjpeg crate), as both browsers do; with the image
// crate's zune-jpeg, 4:2:0 chroma upsampling differed by up to 4 levels and moved a stop step.
//
// Models in format 2 (a layer graph): tests/fixtures/resnet-tiny.safetensors (residual: `add`
// layers, shortcuts) and vgg-tiny.safetensors (IF layers after linear layers), random weights,
// dropped on the page as files without a calibration: the run to T_max must equal
// `dynconf classify --json --decoder D` (no threshold) step by step, prediction and score, and
// the page must list the model's IF layers (the rates chart, the spike maps, the model line)
// with no error. Then resnet-tiny with a calibration the CLI made on a generated batch, under
// the max-softmax decoder and a threshold from its front: the stop step and every step before
// it equal `dynconf classify --json --decoder D --threshold θ`.
//
// The sample photos row: each photo, clicked, must run as `dynconf classify --json` runs
// www/samples/FILE, step by step, with the note "Unlike the pictures it learnt from" exactly
// when the CLI's report at the stop says out_of_distribution.
//
// The Model picker: it lists the models the build shipped (www/models.json, those whose files
// exist), choosing the default model after a dropped one runs the image as the CLI does, a
// model that cannot be downloaded leaves the page as it was, with a message; the residual model
// dynconf-cifar10-res-l4 is chosen and checked against the CLI when its files exist (otherwise
// the test says it was skipped).
//
//   node e2e/agreement.test.mjs       (scripts/test-web.sh e2e runs it after demo.test.mjs)
//   E2E_SKIP_BUILD=1                  use the existing dist/
//   E2E_DYNCONF=path                  use this dynconf binary instead of `cargo build --release`
//   E2E_MODEL=NAME                    as in demo.test.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePalettePng, encodePng, syntheticScene } from './png.mjs';
import { build, DIST, dropFiles, dynconfBinary, launch, MODEL, modelSpec, openDemo, ROOT, runSample, SAMPLES, serve, step, syntheticBatch } from './lib.mjs';

/** The residual CIFAR-10 model the Model picker offers once its files exist. */
const RESIDUAL = 'dynconf-cifar10-res-l4';

/** `dynconf classify --json` on files: one object per file, by path. */
function classify(binary, model, maxSteps, crop, files) {
  const args = ['classify', '--json', '--model', model, '--max-steps', String(maxSteps), '--crop', crop, ...files];
  const result = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, `dynconf ${args.join(' ')}: ${result.stderr}`);
  return Object.fromEntries(result.stdout.trim().split('\n').map((line) => JSON.parse(line)).map((r) => [r.file, r]));
}

/** `dynconf classify --json ARGS… FILE` on one file: the parsed object. */
function classifyOne(binary, args, file) {
  const all = ['classify', '--json', ...args, file];
  const result = spawnSync(binary, all, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, `dynconf ${all.join(' ')}: ${result.stderr}`);
  const out = JSON.parse(result.stdout.trim());
  assert.ok(!out.error, `dynconf ${all.join(' ')}: ${out.error}`);
  return out;
}

/** The crop as `dynconf classify` (without --json) words it: "crop center (600×600 pixels at 100,0)". */
function cliCropWords(binary, model, maxSteps, crop, file) {
  const args = ['classify', '--model', model, '--max-steps', String(maxSteps), '--crop', crop, file];
  const result = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, `dynconf ${args.join(' ')}: ${result.stderr}`);
  const words = /crop \S+ \(\d+×\d+ pixels at \d+,\d+\)/.exec(result.stdout);
  assert.ok(words, `dynconf ${args.join(' ')} names no crop: ${result.stdout}`);
  return words[0];
}

/** The generated images: name → {bytes, width, height, mime}. No dataset pixels. */
async function images(page) {
  const withAlpha = syntheticScene(64, 48);
  // A cut-out: the scene inside an ellipse, transparent (with stray colours) outside.
  const cutout = Uint8Array.from(withAlpha.rgba);
  // Semi-transparent everywhere, varying from pixel to pixel.
  const soft = Uint8Array.from(withAlpha.rgba);
  for (let i = 0; i < 64 * 48; i++) {
    const [x, y] = [i % 64, Math.floor(i / 64)];
    if (((x - 32) / 30) ** 2 + ((y - 24) / 20) ** 2 > 1) {
      cutout.set([(i * 53) % 256, (i * 101) % 256, (i * 7) % 256, 0], 4 * i);
    }
    soft[4 * i + 3] = 30 + ((i * 37) % 226);
  }
  // A gradient alpha (0 at the left to 255 at the right, waving down the rows) over the scene
  // with photo-like noise.
  const [gw, gh] = [120, 90];
  const gradient = Uint8Array.from(syntheticScene(gw, gh).rgba);
  for (let i = 0; i < gw * gh; i++) {
    const [x, y] = [i % gw, Math.floor(i / gw)];
    for (let c = 0; c < 3; c++) gradient[4 * i + c] = Math.max(0, Math.min(255, gradient[4 * i + c] + ((i * 7919 + c * 104729) % 41) - 20));
    gradient[4 * i + 3] = Math.round(255 * Math.max(0, Math.min(1, 1.2 * (x / (gw - 1)) - 0.1 + 0.15 * Math.sin(y / 6))));
  }
  // A palette PNG with tRNS: the scene in 64 colours (4 levels a channel), each in 4 alphas
  // (0, 85, 170, 255) by 8×8 block.
  const [pw, ph] = [80, 60];
  const paletteScene = syntheticScene(pw, ph).rgba;
  const palette = Array.from({ length: 256 }, (_, k) => [85 * ((k >> 4) & 3), 85 * ((k >> 2) & 3), 85 * (k & 3), 85 * (k >> 6)]);
  const indices = new Uint8Array(pw * ph).map((_, i) => {
    const level = (c) => Math.round(paletteScene[4 * i + c] / 85);
    const [x, y] = [i % pw, Math.floor(i / pw)];
    return (((x >> 3) + (y >> 3)) % 4 << 6) | (level(0) << 4) | (level(1) << 2) | level(2);
  });
  const jpegScene = syntheticScene(200, 150);
  // JPEGs encoded by Chromium's canvas (generated, not photographs); quality 1 is 4:4:4.
  const jpeg = async (quality) => Buffer.from(await page.evaluate(async ({ w, h, rgba, quality }) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);
    const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/jpeg', quality));
    return [...new Uint8Array(await blob.arrayBuffer())];
  }, { w: 200, h: 150, rgba: [...jpegScene.rgba], quality }));
  const [jpeg444, jpeg420] = [await jpeg(1), await jpeg(0.92)];
  assert.equal(jpegSampling(jpeg444), '11,11,11', 'Chromium wrote the quality-1 JPEG with chroma subsampling');
  assert.equal(jpegSampling(jpeg420), '22,11,11');
  const png = (s) => ({ bytes: s.png, width: s.width, height: s.height, mime: 'image/png' });
  return {
    // The scenes are RGBA PNGs (colour type 6) that are fully opaque (α = 255 everywhere).
    'scene-160x120.png': png(syntheticScene(160, 120)),
    'scene-90x200.png': png(syntheticScene(90, 200)),
    'scene-200x150-444.jpg': { bytes: jpeg444, width: 200, height: 150, mime: 'image/jpeg' },
    'scene-200x150-420.jpg': { bytes: jpeg420, width: 200, height: 150, mime: 'image/jpeg' },
    'cutout-64x48.png': { bytes: encodePng(64, 48, cutout), width: 64, height: 48, mime: 'image/png' },
    'soft-alpha-64x48.png': { bytes: encodePng(64, 48, soft), width: 64, height: 48, mime: 'image/png' },
    'gradient-alpha-120x90.png': { bytes: encodePng(gw, gh, gradient), width: gw, height: gh, mime: 'image/png' },
    'palette-trns-80x60.png': { bytes: encodePalettePng(pw, ph, indices, palette), width: pw, height: ph, mime: 'image/png' },
    'pixel-1x1.png': { bytes: encodePng(1, 1, Uint8Array.from([200, 60, 40, 255])), width: 1, height: 1, mime: 'image/png' },
    'strip-550x5.png': png(syntheticScene(550, 5)),
  };
}

/** The sampling factors of a baseline JPEG's components ("22,11,11": 4:2:0). */
function jpegSampling(bytes) {
  for (let i = 2; i + 4 < bytes.length; i += 2 + bytes.readUInt16BE(i + 2)) {
    if (bytes[i + 1] === 0xc0) return [0, 1, 2].map((c) => bytes[i + 11 + 3 * c].toString(16)).join();
  }
  return null;
}

/** A square inside the image, away from the centre: X,Y,SIZE. */
function squareOf(width, height) {
  const size = Math.max(1, Math.floor((2 * Math.min(width, height)) / 3));
  return `${Math.floor((width - size) / 3)},${Math.floor((height - size) / 4)},${size}`;
}

/** Waits for a run after `after` on crop `crop` to stop; returns what the page shows. */
async function pageResult(page, crop, after) {
  await page.waitForFunction(({ crop, after }) => {
    const s = document.querySelector('#run-status');
    return s.dataset.crop === crop && Number(s.dataset.run) > after && s.dataset.state === 'stopped';
  }, { crop, after });
  return page.evaluate(() => {
    const s = document.querySelector('#run-status').dataset;
    return {
      run: Number(s.run), stop: Number(s.stopT), prediction: s.prediction, decoder: s.decoder,
      rect: document.querySelector('#crop-text').dataset.rect, text: document.querySelector('#crop-text').textContent, reader: document.querySelector('#crop-text').dataset.reader, threshold: Number(document.querySelector('#tradeoff').dataset.threshold),
    };
  });
}

/** The page's run so far, step by step: class names and the decoder's scores. */
async function pageSteps(page, classes) {
  const s = await page.$eval('#run-status', (e) => ({ predictions: e.dataset.predictions, scores: e.dataset.scores }));
  return {
    predictions: s.predictions ? s.predictions.split(',').map((k) => classes[Number(k)]) : [],
    scores: s.scores ? s.scores.split(',').map(Number) : [],
  };
}

/**
 * The page's steps against the CLI's first `n`: the same class and the same f32 score at every
 * step (the CLI prints f32 in its shortest form, −∞ as null; the page has the f32 as a number).
 */
function assertSameSteps(shown, cli, n, what) {
  const expected = cli.steps.slice(0, n);
  assert.equal(shown.predictions.length, n, `${what}: the page ran ${shown.predictions.length} steps, expected ${n}`);
  assert.deepEqual(shown.predictions, expected.map((s) => s.prediction), `${what}: predictions step by step`);
  assert.deepEqual(shown.scores, expected.map((s) => (s.score === null ? -Infinity : Math.fround(s.score))), `${what}: scores step by step`);
}

/** Waits until the page uses model `name` (a drop or a choice), or shows why it does not. */
async function modelInUse(page, name) {
  await page.waitForFunction((n) => document.querySelector('#model-info').dataset.model === n || !document.querySelector('#model-error').hidden, name);
  assert.equal(await page.isHidden('#model-error'), true, `model ${name}: ${await page.textContent('#model-error')}`);
}

/** The page shows no error, and lists the model's IF layers (`spec`: its metadata). */
async function assertLayersListed(page, spec, what) {
  const ifs = spec.layers.filter((l) => l.kind === 'if').map((l) => l.name);
  assert.equal(await page.isHidden('#error'), true, `${what}: ${await page.textContent('#error')}`);
  assert.equal(await page.isHidden('#model-error'), true, `${what}: ${await page.textContent('#model-error')}`);
  assert.deepEqual(JSON.parse(await page.getAttribute('#rates', 'data-layers')), ifs, `${what}: the rates chart's IF layers`);
  const label = await page.getAttribute('#rates', 'aria-label');
  for (const name of ifs) assert.ok(label.includes(`${name} (`), `${what}: the rates chart's label lacks ${name}: ${label}`);
  const captions = await page.$$eval('#maps figcaption', (f) => f.map((c) => c.textContent));
  assert.deepEqual(captions.map((c) => c.split(':')[0]), ifs.slice(0, 3), `${what}: the spike maps`);
  assert.ok((await page.textContent('#model-info')).includes(`${ifs.length} IF layers`), `${what}: the model line`);
  return ifs;
}

/**
 * Format-2 models dropped on the page (see the top of this file): `image` is a generated file
 * {name, path, bytes, mime}; `dir` a scratch directory.
 */
async function graphModels(page, binary, image, dir) {
  const rows = [];
  const upload = async () => {
    const before = Number(await page.getAttribute('#run-status', 'data-run'));
    await page.setInputFiles('#file', { name: image.name, mimeType: image.mime, buffer: image.bytes });
    return pageResult(page, 'center', before);
  };
  for (const name of ['resnet-tiny', 'vgg-tiny']) {
    const fixture = join(ROOT, 'tests', 'fixtures', `${name}.safetensors`);
    const spec = modelSpec(fixture);
    step(`${name} (format ${spec.version}) dropped without calibration: ${image.name} to T_max against dynconf classify --decoder D`);
    await dropFiles(page, [{ name: `${name}.safetensors`, bytes: readFileSync(fixture) }]);
    await modelInUse(page, name);
    assert.equal(await page.getAttribute('#model-info', 'data-calibrated'), 'false');
    const shown = await upload();
    const steps = await pageSteps(page, spec.classes);
    const cli = classifyOne(binary, ['--model', fixture, '--decoder', shown.decoder, '--max-steps', '32', '--crop', 'center'], image.path);
    assert.equal(cli.stop_step, null);
    assert.equal(shown.stop, cli.max_steps, `${name}: the page ran to ${shown.stop}, T_max is ${cli.max_steps}`);
    assert.equal(shown.prediction, cli.prediction, `${name}: the page predicts ${shown.prediction} at T_max, the CLI ${cli.prediction}`);
    assertSameSteps(steps, cli, cli.max_steps, name);
    const ifs = await assertLayersListed(page, spec, name);
    rows.push({ model: name, decoder: shown.decoder, threshold: 'none', page_stop: shown.stop, cli_stop: `T_max = ${cli.max_steps}`, prediction: shown.prediction, if_layers: ifs.length });
  }

  // resnet-tiny with a calibration (made by the CLI on a generated batch) and a threshold.
  const name = 'resnet-tiny';
  const fixture = join(ROOT, 'tests', 'fixtures', `${name}.safetensors`);
  const spec = modelSpec(fixture);
  const copy = join(dir, `${name}.safetensors`);
  copyFileSync(fixture, copy);
  writeFileSync(join(dir, 'synth.bin'), syntheticBatch(48, 13));
  step(`${name} with a calibration (dynconf calibrate on a generated 48-image batch), max softmax, a threshold from its front`);
  const calibrate = spawnSync(binary, ['calibrate', '--model', copy, '--data', dir, '--split', 'synth'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(calibrate.status, 0, `dynconf calibrate: ${calibrate.stderr}`);
  const calibrationPath = join(dir, `${name}.calibration.json`);
  const calibration = readFileSync(calibrationPath);
  await dropFiles(page, [
    { name: `${name}.safetensors`, bytes: readFileSync(copy) },
    { name: `${name}.calibration.json`, bytes: calibration, type: 'application/json' },
  ]);
  await page.waitForFunction(() => document.querySelector('#model-info').dataset.calibrated === 'true' || !document.querySelector('#model-error').hidden);
  await modelInUse(page, name);
  const index = await page.$$eval('#decoder option', (o) => o.findIndex((x) => x.textContent.startsWith('max_softmax')));
  assert.ok(index >= 0, 'the calibration has no max_softmax decoder');
  const before = Number(await page.getAttribute('#run-status', 'data-run'));
  await page.selectOption('#decoder', String(index));
  // The front point within T_max / 4 mean steps (the slider's track is mean steps).
  const tMax = JSON.parse(calibration).max_steps;
  await page.$eval('#threshold', (s, steps) => {
    s.value = String(Math.max(Number(s.min), Math.min(Number(s.max), steps)));
    s.dispatchEvent(new Event('input'));
    s.dispatchEvent(new Event('change'));
  }, tMax / 4);
  const restarted = Number(await page.getAttribute('#run-status', 'data-run'));
  assert.ok(restarted > before, 'the run did not restart under the chosen decoder and threshold');
  const shown = await pageResult(page, 'center', restarted - 1);
  const steps = await pageSteps(page, spec.classes);
  assert.match(shown.decoder, /^max_softmax/);
  const cli = classifyOne(binary, ['--model', fixture, '--decoder', shown.decoder, '--threshold', String(shown.threshold), '--max-steps', String(tMax), '--crop', 'center'], image.path);
  assert.equal(cli.threshold, shown.threshold);
  assert.equal(shown.stop, cli.stop_step, `${name}: the page stopped at ${shown.stop}, the CLI at ${cli.stop_step} (θ = ${shown.threshold})`);
  assert.equal(shown.prediction, cli.prediction, `${name}: the page predicts ${shown.prediction}, the CLI ${cli.prediction}`);
  assertSameSteps(steps, cli, cli.stop_step, `${name}, θ = ${shown.threshold}`);
  const ifs = await assertLayersListed(page, spec, `${name} calibrated`);
  rows.push({ model: `${name} (calibrated)`, decoder: shown.decoder, threshold: shown.threshold, page_stop: shown.stop, cli_stop: cli.stop_step, prediction: shown.prediction, if_layers: ifs.length });
  console.table(rows);
}

/** The Model picker (see the top of this file). A dropped model is in use when it starts. */
async function modelPicker(page, binary, image, problems) {
  const source = JSON.parse(readFileSync(join(ROOT, 'www', 'models.json'), 'utf8'));
  const shipped = JSON.parse(readFileSync(join(DIST, 'models', 'models.json'), 'utf8'));
  const present = source.models.filter((m) => ['safetensors', 'calibration.json'].every((ext) => existsSync(join(ROOT, 'models', `${m.name}.${ext}`))));
  step(`the Model picker: ${present.map((m) => `${m.name} (“${m.label}”)`).join(', ')}`);
  assert.deepEqual(shipped.models.map((m) => [m.name, m.label]), present.map((m) => [m.name, m.label]), 'dist/models/models.json');
  assert.equal(shipped.default, source.default);
  for (const m of shipped.models) assert.ok(existsSync(join(DIST, 'models', `${m.name}.safetensors`)) && existsSync(join(DIST, 'models', `${m.name}.calibration.json`)), `${m.name} is listed but not in dist/models/`);
  const options = await page.$$eval('#model-select option', (o) => o.map((x) => ({ value: x.value, text: x.textContent, disabled: x.disabled })));
  assert.deepEqual(options.filter((o) => o.value).map((o) => [o.value, o.text]), present.map((m) => [m.name, m.label]), 'the picker\'s options');
  // The dropped model in use is shown as such, and cannot be chosen again from the list.
  assert.deepEqual(options.filter((o) => !o.value), [{ value: '', text: 'resnet-tiny.safetensors (dropped)', disabled: true }]);
  assert.equal(await page.inputValue('#model-select'), '');
  // Its label, and the keyboard: "Model" names the select, which takes the focus.
  assert.equal(await page.getByLabel('Model', { exact: true }).getAttribute('id'), 'model-select');
  await page.focus('#model-select');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'model-select');

  /** Chooses model `name` with selectOption, or with `key` pressed on the focused list. */
  const choose = async (name, key = null) => {
    const before = Number(await page.getAttribute('#run-status', 'data-run'));
    if (key) {
      await page.focus('#model-select');
      await page.keyboard.press(key); // a closed <select> takes the next option and fires change
    } else {
      await page.selectOption('#model-select', name);
    }
    await modelInUse(page, name);
    assert.equal(await page.getAttribute('#model-select', 'data-model'), name);
    return pageResult(page, 'center', before);
  };
  step(`  choose ${source.default}: ${image.name} runs again as dynconf classify runs it`);
  const defaultModel = join(DIST, 'models', `${source.default}.safetensors`);
  const defaultSteps = JSON.parse(readFileSync(join(DIST, 'models', `${source.default}.calibration.json`), 'utf8')).max_steps;
  const expected = classifyOne(binary, ['--model', defaultModel, '--max-steps', String(defaultSteps), '--crop', 'center'], image.path);
  let shown = await choose(source.default);
  assert.equal(await page.getAttribute('#model-info', 'data-calibrated'), 'true');
  assert.equal(shown.stop, expected.stop_step, `${source.default} chosen: the page stopped at ${shown.stop}, the CLI at ${expected.stop_step}`);
  assert.equal(shown.prediction, expected.prediction);
  assert.equal(new URL(page.url()).searchParams.get('model'), null, 'the default model is not named in the address');
  assert.deepEqual((await page.$$eval('#model-select option', (o) => o.map((x) => x.value))), present.map((m) => m.name), 'the dropped model\'s option goes once a listed model is chosen');

  step('  a model that cannot be downloaded: a message, and the page keeps its model');
  const seen = problems.length;
  await page.$eval('#model-select', (s) => s.add(new Option('no-such-model', 'no-such-model')));
  await page.selectOption('#model-select', 'no-such-model');
  const message = await page.waitForFunction(() => !document.querySelector('#model-error').hidden && document.querySelector('#model-error').textContent).then((h) => h.jsonValue());
  step(`    ${message}`);
  assert.match(message, /^The model “no-such-model” could not be loaded: models\/no-such-model\.(safetensors|calibration\.json): HTTP 404 Not Found$/);
  assert.equal(await page.getAttribute('#model-info', 'data-model'), source.default);
  assert.equal(await page.inputValue('#model-select'), source.default);
  assert.equal(await page.isHidden('#model-load'), true);
  // Chromium logs the 404s of the two downloads as console errors: expected here.
  await page.waitForTimeout(500);
  const logged = problems.splice(seen);
  assert.ok(logged.every((p) => /status of 404/.test(p)), logged.join('\n'));

  if (!present.some((m) => m.name === RESIDUAL)) {
    step(`  SKIPPED: choosing ${RESIDUAL} (models/${RESIDUAL}.safetensors and .calibration.json do not exist yet)`);
    return;
  }
  // The keyboard: from the default model, the arrow key moves to the next model of the list.
  const next = present[present.findIndex((m) => m.name === source.default) + 1]?.name;
  const key = next === RESIDUAL ? 'ArrowDown' : null;
  step(`  choose ${RESIDUAL}${key ? ' with the keyboard (ArrowDown)' : ''}: ${image.name} as dynconf classify runs it with dist/models/${RESIDUAL}.* (its calibration)`);
  const model = join(DIST, 'models', `${RESIDUAL}.safetensors`);
  const tMax = JSON.parse(readFileSync(join(DIST, 'models', `${RESIDUAL}.calibration.json`), 'utf8')).max_steps;
  shown = await choose(RESIDUAL, key);
  const cli = classifyOne(binary, ['--model', model, '--max-steps', String(tMax), '--crop', 'center'], image.path);
  assert.equal(shown.stop, cli.stop_step, `${RESIDUAL}: the page stopped at ${shown.stop}, the CLI at ${cli.stop_step}`);
  assert.equal(shown.prediction, cli.prediction);
  assert.equal(shown.threshold, cli.threshold);
  assertSameSteps(await pageSteps(page, modelSpec(model).classes), cli, cli.stop_step, RESIDUAL);
  await assertLayersListed(page, modelSpec(model), RESIDUAL);
  assert.equal(new URL(page.url()).searchParams.get('model'), RESIDUAL);
  step(`    stopped at ${shown.stop} (${shown.prediction}), as the CLI; a reload keeps ${RESIDUAL}`);
  await page.reload();
  await page.waitForSelector('#app:not([hidden])');
  assert.equal(await page.inputValue('#model-select'), RESIDUAL);
  assert.equal(await page.getAttribute('#model-info', 'data-model'), RESIDUAL);
}

/**
 * The sample photos row: each photo, clicked, runs as `dynconf classify --json` runs
 * www/samples/FILE (crop center): the same stop, prediction and crop, the same class and score
 * at every step, the same out-of-distribution flag at every step (and score at the stop), and
 * the note "Unlike the pictures it learnt from" exactly when the CLI flags the stop.
 */
async function samplePhotos(page, binary, model, maxSteps) {
  const paths = SAMPLES.map((s) => join(ROOT, 'www', 'samples', s.file));
  step(`the ${SAMPLES.length} sample photos, clicked, against dynconf classify --json --max-steps ${maxSteps} www/samples/FILE`);
  const cli = classify(binary, model, maxSteps, 'center', paths);
  const classes = modelSpec(model).classes;
  const rows = [];
  for (const [k, sample] of SAMPLES.entries()) {
    const expected = cli[paths[k]];
    const what = sample.file;
    assert.ok(expected && !expected.error, `${what}: ${expected?.error}`);
    const { run } = await runSample(page, sample.file);
    const shown = await pageResult(page, 'center', Number(run) - 1);
    const flags = await page.$eval('#run-status', (e) => ({ ood: e.dataset.ood, score: e.dataset.oodScore }));
    const note = await page.isVisible('#verdict-ood');
    const flagOf = (step) => (step.out_of_distribution == null ? '' : step.out_of_distribution ? '1' : '0');
    rows.push({
      file: sample.file, class: sample.class, page_stop: shown.stop, cli_stop: expected.stop_step, page_prediction: shown.prediction, cli_prediction: expected.prediction,
      cli_flag_at_stop: expected.out_of_distribution ?? '—', note_shown: note, flags: flags.ood.replace(/,/g, ''),
    });
    assert.equal(shown.rect, expected.crop_rect.join(','), `${what}: the page cropped ${shown.rect}, the CLI ${expected.crop_rect}`);
    assert.equal(shown.threshold, expected.threshold, `${what}: threshold`);
    assert.equal(shown.stop, expected.stop_step, `${what}: the page stopped at ${shown.stop}, the CLI at ${expected.stop_step}`);
    assert.equal(shown.prediction, expected.prediction, `${what}: the page predicts ${shown.prediction}, the CLI ${expected.prediction}`);
    assertSameSteps(await pageSteps(page, classes), expected, expected.stop_step, what);
    assert.equal(flags.ood, expected.steps.slice(0, expected.stop_step).map(flagOf).join(','), `${what}: the out-of-distribution flag step by step`);
    assert.equal(note, expected.out_of_distribution === true, `${what}: the note is ${note ? '' : 'not '}shown; the CLI's flag at the stop is ${expected.out_of_distribution}`);
    if (expected.ood_score != null) {
      const score = Number(flags.score);
      assert.ok(Math.abs(score - expected.ood_score) <= 1e-9 * Math.max(1, Math.abs(expected.ood_score)), `${what}: ood_score ${score} on the page, ${expected.ood_score} in the CLI`);
    }
  }
  console.table(rows);
  const flagged = rows.filter((r) => r.note_shown).length;
  step(`the page and dynconf classify agree on all ${rows.length} sample photos; ${flagged} get the note at their stop, ${rows.length - flagged} do not`);
}

async function main() {
  build();
  const binary = dynconfBinary();
  const model = join(DIST, 'models', `${MODEL}.safetensors`);
  const maxSteps = JSON.parse(readFileSync(join(DIST, 'models', `${MODEL}.calibration.json`), 'utf8')).max_steps;
  const server = await serve(DIST);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const dir = mkdtempSync(join(tmpdir(), 'dynconf-agreement-'));
  const problems = [];
  try {
    const page = await openDemo(browser, origin, problems);

    const files = await images(page);
    const paths = {};
    for (const [name, f] of Object.entries(files)) {
      paths[name] = join(dir, name);
      writeFileSync(paths[name], f.bytes);
    }
    step(`dynconf classify --json --max-steps ${maxSteps} on ${Object.keys(files).length} generated images (center, full, one X,Y,SIZE each)`);
    const started = Date.now();
    const cropWordsChecked = new Set(); // center, full, X,Y,SIZE: the page's words against the CLI's, once each
    const cli = {
      center: classify(binary, model, maxSteps, 'center', Object.values(paths)),
      full: classify(binary, model, maxSteps, 'full', Object.values(paths)),
    };
    for (const [name, f] of Object.entries(files)) {
      const square = squareOf(f.width, f.height);
      cli[square] = { ...cli[square], ...classify(binary, model, maxSteps, square, [paths[name]]) };
    }
    step(`the CLI took ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const rows = [];
    let run = 0;
    for (const [name, f] of Object.entries(files)) {
      await page.setInputFiles('#file', { name, mimeType: f.mime, buffer: f.bytes });
      const square = squareOf(f.width, f.height);
      const results = {};
      results.center = await pageResult(page, 'center', run);
      await page.fill('#crop-input', square);
      await page.press('#crop-input', 'Enter');
      results[square] = await pageResult(page, square, results.center.run);
      await page.check('#crop-full');
      results.full = await pageResult(page, 'full', results[square].run);
      await page.uncheck('#crop-full');
      run = (await pageResult(page, square, results.full.run)).run;
      for (const [crop, shown] of Object.entries(results)) {
        const expected = cli[crop][paths[name]];
        assert.ok(expected && !expected.error, `${name} --crop ${crop}: ${expected?.error}`);
        const agree = shown.stop === expected.stop_step && shown.prediction === expected.prediction;
        rows.push({
          image: name, crop, rect: shown.rect, page_stop: shown.stop, cli_stop: expected.stop_step,
          page_prediction: shown.prediction, cli_prediction: expected.prediction,
          agree: agree ? 'yes' : f.reportOnly ? `no (known: ${f.reportOnly})` : 'NO',
        });
        const what = `${name} --crop ${crop}`;
        assert.equal(shown.rect, expected.crop_rect.join(','), `${what}: the page cropped ${shown.rect}, the CLI ${expected.crop_rect}`);
        assert.equal(expected.width, f.width);
        assert.equal(expected.height, f.height);
        assert.equal(shown.threshold, expected.threshold, `${what}: threshold`);
        const [x, y, w, h] = expected.crop_rect;
        assert.equal(shown.text, `crop ${crop} (${w}×${h} pixels at ${x},${y}) · dynconf classify --crop ${crop}`, `${what}: the page's crop text`);
        if (!cropWordsChecked.has(crop === 'center' || crop === 'full' ? crop : 'square')) {
          cropWordsChecked.add(crop === 'center' || crop === 'full' ? crop : 'square');
          const cliWords = cliCropWords(binary, model, maxSteps, crop, paths[name]);
          assert.ok(shown.text.startsWith(`${cliWords} · `), `${what}: the page says ${JSON.stringify(shown.text)}, the CLI ${JSON.stringify(cliWords)}`);
        }
        assert.equal(shown.reader, 'webgl2', `${what}: the page read the pixels with ${shown.reader}, not WebGL2 (exact bytes)`);
        assert.ok(shown.decoder.startsWith(expected.decoder.kind), `${what}: decoder ${shown.decoder} vs ${JSON.stringify(expected.decoder).slice(0, 80)}`);
        if (f.reportOnly) continue;
        assert.equal(shown.stop, expected.stop_step, `${what}: the page stopped at ${shown.stop}, the CLI at ${expected.stop_step}`);
        assert.equal(shown.prediction, expected.prediction, `${what}: the page predicts ${shown.prediction}, the CLI ${expected.prediction}`);
      }
    }
    console.table(rows);
    assert.deepEqual(problems, [], problems.join('\n'));
    const strict = rows.filter((r) => !files[r.image].reportOnly).length;
    step(`the page and dynconf classify agree on all ${strict} strict runs (${rows.length - strict} reported only)`);

    await samplePhotos(page, binary, model, maxSteps);

    const scene = 'scene-160x120.png';
    const image = { name: scene, path: paths[scene], bytes: files[scene].bytes, mime: files[scene].mime };
    await graphModels(page, binary, image, dir);
    await modelPicker(page, binary, image, problems);
    assert.deepEqual(problems, [], problems.join('\n'));
    step('passed: images, format-2 models and the Model picker agree with dynconf classify');
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
