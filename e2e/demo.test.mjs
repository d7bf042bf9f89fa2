// End-to-end test of the browser demo: build it with Trunk, serve dist/ on 127.0.0.1, drive
// headless Chromium with playwright-core, and check what a user would see.
//
//   node e2e/demo.test.mjs            (scripts/test-web.sh runs it)
//   E2E_SKIP_BUILD=1                  use the existing dist/ (E2E_DIST=dir: another folder)
//   E2E_MODEL=NAME                    load models/NAME.* instead of the published model (?model=)
//   E2E_SCREENSHOT=path               where to save the screenshot (default target/e2e/screenshot.png;
//                                     E2E_SCREENSHOT=docs/screenshot.png refreshes the README's)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodePng, syntheticScene } from './png.mjs';
import { build, DIST, launch, maxSpeed, MODEL, QUERY, ROOT, runSample, sampleCaption, SAMPLES, SCREENSHOT, serve, step, TIMEOUT } from './lib.mjs';

/** The sample photo of the screenshot (docs/screenshot.png): v7 answers it right. */
const SCREENSHOT_SAMPLE = 'cat-chelsea.jpg';

// ------------------------------------------------------------------ reference figures

// The calibration summary straight from the wasm API (not from the page's state): each
// decoder's name, calibrated threshold, cross-fitted figures and Pareto front.
function calibrationSummary(page) {
  return page.evaluate(async (model) => {
    const bytes = new Uint8Array(await (await fetch(`models/${model}.calibration.json`)).arrayBuffer());
    const calibration = new window.wasmBindings.Calibration(bytes);
    const summary = calibration.summary();
    calibration.free();
    return summary;
  }, MODEL);
}

// A fresh Simulation of the same image (its centre square, the page's default crop) under
// decoder `index` of the calibration, run until Dynamic Confidence stops: what the page's
// run must reproduce.
// `bytes` is the file (a PNG unless `file` names another); the result has every step's
// out-of-distribution flag as the page lists it (`ood`: "1,0,…").
function referenceRun(page, index, png, file = { name: 'scene.png', type: 'image/png' }) {
  return page.evaluate(async ({ model, index, png, file }) => {
    const { Simulation, Calibration } = window.wasmBindings;
    const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
    const sim = new Simulation(await get(`models/${model}.safetensors`));
    const calibration = new Calibration(await get(`models/${model}.calibration.json`));
    sim.use_decoder(calibration, index);
    const { decodeImage, sendImage } = await import(new URL('js/image-input.js', location.href).href);
    const image = await decodeImage(new File([new Uint8Array(png)], file.name, { type: file.type }));
    const [x, y, w, h] = window.wasmBindings.cropRect('center', image.width, image.height);
    sendImage(sim, image.bitmap, { rect: { x, y, w, h } });
    image.bitmap.close();
    let r;
    const ood = [];
    do {
      r = sim.step();
      ood.push(r.out_of_distribution == null ? '' : r.out_of_distribution ? '1' : '0');
    } while (!r.stop);
    const result = {
      t: r.t, prediction: sim.info().classes[r.prediction], decoder: sim.decoder, threshold: sim.threshold, confident: r.confident, chance: r.chance,
      ood: ood.join(','), out_of_distribution: r.out_of_distribution, ood_score: r.ood_score,
    };
    sim.free();
    calibration.free();
    return result;
  }, { model: MODEL, index, png: [...png], file });
}

// The page's strips (sendImage: each strip read with WebGL2, the exact unpremultiplied bytes)
// against the PNG's own RGBA bytes given whole to set_image: the same input, bit for bit. And
// the 2D-canvas fallback (reader '2d': the bitmap drawn strip by strip into a small canvas)
// against the whole image read with one getImageData and set_image: the same, bit for bit.
function stripsVersusWhole(page, png, rgba, stripBytes) {
  return page.evaluate(async ({ model, png, rgba, stripBytes }) => {
    const { Simulation } = window.wasmBindings;
    const sim = new Simulation(new Uint8Array(await (await fetch(`models/${model}.safetensors`)).arrayBuffer()));
    const { decodeImage, sendImage } = await import(new URL('js/image-input.js', location.href).href);
    const image = await decodeImage(new File([new Uint8Array(png)], 'alpha.png', { type: 'image/png' }));
    const run = () => [sim.preview().join(), ...[1, 2, 3].map(() => sim.step().output.join())];
    const reader = sendImage(sim, image.bitmap, { stripBytes });
    const strips = run();
    sim.set_image(new Uint8Array(rgba), image.width, image.height);
    const exact = run();
    const fallback = sendImage(sim, image.bitmap, { stripBytes, reader: '2d' });
    const canvasStrips = run();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(image.bitmap, 0, 0);
    sim.set_image(ctx.getImageData(0, 0, image.width, image.height).data, image.width, image.height);
    const canvasWhole = run();
    image.bitmap.close();
    sim.free();
    const maxTextureSize = document.createElement('canvas').getContext('webgl2')?.getParameter(WebGL2RenderingContext.MAX_TEXTURE_SIZE);
    return { reader, fallback, strips, exact, canvasStrips, canvasWhole, maxTextureSize };
  }, { model: MODEL, png: [...png], rgba: [...rgba], stripBytes });
}

// The 32×32 view as the page shows it: #preview drawn nearest-neighbour, one sample per cell.
function shownPreview(page) {
  return page.$eval('#preview', (c) => {
    const n = 32;
    const cell = c.width / n;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const out = [];
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const k = 4 * (Math.floor((j + 0.5) * cell) * c.width + Math.floor((i + 0.5) * cell));
        out.push(data[k], data[k + 1], data[k + 2], data[k + 3]);
      }
    }
    return out;
  });
}

// What the network receives for the pixels `rect` ([x, y, w, h]) of a PNG, computed
// independently of the page's crop code: the whole image drawn once, getImageData of the
// rectangle, Simulation.set_image, preview().
function cropPreview(page, png, rect) {
  return page.evaluate(async ({ model, png, rect }) => {
    const { Simulation } = window.wasmBindings;
    const sim = new Simulation(new Uint8Array(await (await fetch(`models/${model}.safetensors`)).arrayBuffer()));
    const bitmap = await createImageBitmap(new Blob([new Uint8Array(png)], { type: 'image/png' }), { premultiplyAlpha: 'none' });
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    const [x, y, w, h] = rect;
    sim.set_image(ctx.getImageData(x, y, w, h).data, w, h);
    const preview = [...sim.preview()];
    sim.free();
    return preview;
  }, { model: MODEL, png: [...png], rect });
}

// Waits until the run restarted (its id passed `after`) on crop `crop`; returns the new id.
async function restartedOn(page, crop, after) {
  await page.waitForFunction(({ crop, after }) => {
    const s = document.querySelector('#run-status');
    return s.dataset.crop === crop && Number(s.dataset.run) > after && document.querySelector('#crop-text').dataset.crop === crop;
  }, { crop, after });
  return Number(await page.getAttribute('#run-status', 'data-run'));
}

// A drop of text (no file) on the drop zone, as a drag from another tab gives it.
const dropText = (page, type, text) => page.evaluate(({ type, text }) => {
  const dt = new DataTransfer();
  dt.setData(type, text);
  document.querySelector('#dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
}, { type, text });

const errorShown = (page, pattern) => page.waitForFunction((source) => {
  const e = document.querySelector('#error');
  return !e.hidden && new RegExp(source).test(e.textContent);
}, pattern.source);

// The size of the page's wasm memory (it never shrinks: the peak so far).
const wasmMemory = (page) => page.evaluate(() => window.wasmBindings.wasm_memory().buffer.byteLength);
const MB = 1 << 20;

// The threshold panel shows decoder `index`: its cross-fitted figures first, the slider at
// its calibrated front point.
async function checkPanel(page, summary, index) {
  const decoder = summary.decoders[index];
  const cf = decoder.crossfit;
  assert.equal(await page.getAttribute('#decoder', 'data-decoder'), decoder.name);
  const shown = await page.$eval('#crossfit', (e) => ({ ...e.dataset, text: e.textContent }));
  assert.equal(shown.decoder, decoder.name);
  assert.equal(Number(shown.accuracy), cf.accuracy);
  assert.equal(Number(shown.meanSteps), cf.mean_steps);
  assert.equal(Number(shown.accuracySd), cf.accuracy_sd);
  assert.equal(Number(shown.meanStepsSd), cf.mean_steps_sd);
  assert.equal(shown.latencyReduction === '' ? null : Number(shown.latencyReduction), cf.latency_reduction);
  for (const text of [`${(100 * cf.accuracy).toFixed(2)}%`, cf.mean_steps.toFixed(2), `calibrated on ${cf.k - 1} of ${cf.k} folds`]) {
    assert.ok(shown.text.includes(text), `the cross-fitted figures lack "${text}": ${shown.text}`);
  }
  const calibrated = decoder.front.findIndex((p) => p.threshold === decoder.threshold);
  assert.ok(calibrated >= 0, `${decoder.name}: the calibrated threshold is not a front point`);
  const point = await page.$eval('#tradeoff', (c) => ({ ...c.dataset }));
  assert.equal(point.decoder, decoder.name);
  assert.equal(Number(point.frontIndex), calibrated);
  assert.equal(Number(point.meanSteps), decoder.front[calibrated].mean_steps);
  assert.equal(Number(point.accuracy), decoder.front[calibrated].accuracy);
  // The slider's track is mean steps along the front; it sits at the calibrated point.
  assert.equal(Number(await page.getAttribute('#threshold', 'min')), decoder.front[0].mean_steps);
  assert.equal(Number(await page.getAttribute('#threshold', 'max')), decoder.front.at(-1).mean_steps);
  assert.equal(Number(await page.inputValue('#threshold')), decoder.front[calibrated].mean_steps);
  assert.match(await page.textContent('#tradeoff-readout'), /In-sample, on the calibration split itself/);
}

/**
 * The run's headline against a fresh Simulation's run of the same image (`reference`: its
 * stop, whether it was confident, its chance): "Sure at step t: class" or "Not sure after
 * t steps: best guess class", the measured figure in words, and the class bars' meaning.
 */
async function checkHeadline(page, reference, summary) {
  const box = await page.$eval('#run-verdict', (v) => ({
    state: v.dataset.state, head: v.querySelector('#verdict-head').textContent,
    sub: v.querySelector('#verdict-sub').textContent, live: v.getAttribute('aria-live'),
  }));
  assert.equal(box.live, 'polite');
  const words = reference.confident ? `Sure at step ${reference.t}: ${reference.prediction}`
    : `Not sure after ${reference.t} steps: best guess ${reference.prediction}`;
  assert.equal(box.head, words);
  assert.equal(box.state, reference.confident ? 'sure' : 'not-sure');
  const chance = Number(await page.getAttribute('#run-status', 'data-chance'));
  assert.equal(chance, reference.chance, 'the page\'s chance is the engine\'s');
  const percent = chance > 0.99 || chance < 0.01 ? (100 * chance).toFixed(1) : (100 * chance).toFixed(0);
  const groups = summary.decoders[summary.chosen].reliability.groups;
  const group = groups.find((g) => reference.t <= g.last_step);
  const steps = group.first_step === group.last_step ? `at step ${group.first_step}` : `at steps ${group.first_step}–${group.last_step}`;
  assert.equal(box.sub, `On ${summary.images.toLocaleString('en-US')} validation images (CIFAR-10), ${steps} with about this score, the network was right ${percent}% of the time.`);
  // The note "Unlike the pictures it learnt from" is there exactly when the engine's report at
  // the stop flags the image; the status line lists every step's flag as the engine's.
  assert.equal(await page.getAttribute('#run-status', 'data-ood'), reference.ood, 'the out-of-distribution flag step by step');
  assert.equal(await page.isVisible('#verdict-ood'), reference.out_of_distribution === true,
    `the note is ${await page.isVisible('#verdict-ood') ? 'shown' : 'not shown'}; the engine's flag at the stop is ${reference.out_of_distribution} (score ${reference.ood_score})`);
  assert.equal(/unlike the pictures it learnt from/.test(await page.textContent('#run-status')), reference.out_of_distribution === true);
  // The bars: named on screen; the leading class's bar is that same figure.
  assert.equal(await page.textContent('#bars-title'), 'Chance each answer is right');
  const label = await page.getAttribute('#bars', 'aria-label');
  assert.ok(label.includes(`${reference.prediction} ${(100 * chance).toFixed(1)}%`), label);
}

const stoppedUnder = (page, name) => page.waitForFunction((n) => {
  const s = document.querySelector('#run-status');
  return s.dataset.decoder === n && s.dataset.state === 'stopped';
}, name);

/**
 * The sample photos row: every photo of samples.json (shipped in dist/samples/) as a lazy
 * thumbnail named by its caption, the credits link; a click (and Enter) runs a photo as the
 * engine runs that file, with the note "Unlike the pictures it learnt from" exactly when the
 * engine's report at the step shown flags it: at the stop, on a photo flagged there and one
 * that is not, and step by step (paused) on a photo whose flag changes during the run.
 */
async function checkSamples(page, calibrated) {
  step('the sample photos row: shipped, lazy thumbnails named by their captions, the credits link');
  for (const s of SAMPLES) assert.ok(existsSync(join(DIST, 'samples', s.file)), `dist/samples/${s.file} missing`);
  assert.ok(existsSync(join(DIST, 'samples', 'LICENSES.md')), 'dist/samples/LICENSES.md missing');
  await page.waitForSelector('#samples:not([hidden])');
  assert.equal(await page.textContent('#samples-title'), 'No photo at hand? Try one of these');
  const thumbs = await page.$$eval('#sample-list button.sample', (bs) => bs.map((b) => {
    const img = b.querySelector('img');
    return { file: b.dataset.file, type: b.type, alt: img.alt, loading: img.loading, src: img.getAttribute('src') };
  }));
  assert.deepEqual(thumbs.map((t) => [t.file, t.alt, t.type, t.loading, t.src]), SAMPLES.map((s) => [s.file, s.caption, 'button', 'lazy', `samples/${s.file}`]));
  const credits = await page.$eval('#samples a', (a) => ({ href: a.getAttribute('href'), text: a.textContent }));
  assert.equal(credits.href, 'samples/LICENSES.md');
  assert.match(credits.text, /^Photo credits and licences/);
  assert.equal(await page.evaluate(async (href) => (await fetch(href)).status, credits.href), 200);

  step('each sample against a fresh Simulation of the same file: a photo flagged at its stop and one that is not');
  const references = {};
  for (const s of SAMPLES) {
    const bytes = readFileSync(join(ROOT, 'www', 'samples', s.file));
    references[s.file] = await referenceRun(page, calibrated.chosen, bytes, { name: s.file, type: 'image/jpeg' });
  }
  console.table(SAMPLES.map((s) => ({ file: s.file, class: s.class, stop: references[s.file].t, prediction: references[s.file].prediction, flagged_at_stop: references[s.file].out_of_distribution, flags: references[s.file].ood.replace(/,/g, '') })));
  const plain = SAMPLES.find((s) => references[s.file].out_of_distribution === false);
  const flagged = SAMPLES.find((s) => references[s.file].out_of_distribution === true);
  assert.ok(plain && flagged, 'the samples need a photo flagged at its stop and one that is not');
  for (const [sample, key] of [[plain, false], [flagged, true]]) {
    const reference = references[sample.file];
    const shown = await runSample(page, sample.file, { key });
    step(`  ${sample.file} (${key ? 'Enter' : 'click'}): ${shown.prediction} at step ${shown.stopT}; flagged: ${reference.out_of_distribution}`);
    assert.equal(Number(shown.stopT), reference.t, `${sample.file}: the page stopped at ${shown.stopT}, a fresh Simulation at ${reference.t}`);
    assert.equal(shown.prediction, reference.prediction);
    assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
    // Under the photo: what it shows, its class and whose work it is (samples.json's credit).
    assert.ok(sample.credit, `samples.json: ${sample.file} has no credit`);
    assert.equal(await page.textContent('#original-caption'), sampleCaption(sample));
    await checkHeadline(page, reference, calibrated);
  }

  const changing = SAMPLES.find((s) => /1/.test(references[s.file].ood) && /0/.test(references[s.file].ood));
  if (!changing) {
    step('  no sample whose flag changes during its run: the step-by-step check is skipped');
    return;
  }
  const reference = references[changing.file];
  const flags = reference.ood.split(',');
  step(`  ${changing.file} step by step (paused): the note follows the flag of the step shown (${flags.join('')})`);
  await runSample(page, changing.file);
  for (let t = 1; t <= reference.t; t++) {
    await page.click('#step');
    const last = t === reference.t; // the step where the run stops
    await page.waitForFunction(({ t, state }) => document.querySelector('#run-status').dataset.t === String(t)
      && document.querySelector('#run-verdict').dataset.state === state, { t, state: last ? (reference.confident ? 'sure' : 'not-sure') : 'paused' });
    if (!last) assert.equal(await page.textContent('#verdict-head'), `Paused at step ${t} of at most ${calibrated.t_max}: leaning towards ${(await page.getAttribute('#run-status', 'data-prediction'))}`);
    assert.equal(await page.isVisible('#verdict-ood'), flags[t - 1] === '1', `${changing.file} at step ${t}: the engine's flag is ${flags[t - 1]}`);
  }
  assert.equal(await page.getAttribute('#run-status', 'data-ood'), reference.ood);
}

// ------------------------------------------------------------------ the scenario

async function main() {
  build();
  assert.ok(existsSync(join(DIST, 'index.html')), 'dist/index.html missing');
  const server = await serve(DIST);
  const origin = `http://127.0.0.1:${server.address().port}`;
  // Chromium's fake camera (a test pattern) stands in for a webcam; a context must still be
  // granted the camera, so contexts without the grant see a denied permission.
  const browser = await launch(['--use-fake-device-for-media-stream']);
  const requests = [];
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(TIMEOUT);
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

    const query = QUERY;
    step(`open ${origin}/${query}`);
    await page.goto(`${origin}/${query}`);
    await page.waitForSelector('#app:not([hidden])');
    const info = await page.textContent('#model-info');
    step(`loaded: ${info.trim().slice(0, 100)}…`);

    const scene = syntheticScene();
    step('before any image: the classes up front, empty bars named by what they will show, an invitation');
    const classes = await page.textContent('#classes-note');
    for (const name of ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']) {
      if (MODEL.startsWith('dynconf-cifar10')) assert.ok(classes.includes(name), classes);
    }
    assert.match(classes, /knows only these 10 classes.*answers with one of them/);
    assert.equal(await page.getAttribute('#run-verdict', 'data-state'), 'idle');
    assert.match(await page.textContent('#verdict-head'), /^Choose, drop or paste an image/);
    assert.equal(await page.textContent('#bars-title'), 'Chance each answer is right');

    step('a non-image file is refused with a message');
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are not pixels\n') });
    await page.waitForSelector('#error:not([hidden])');
    const message = await page.textContent('#error');
    assert.match(message, /“notes\.txt” is not an image: expected a PNG, JPEG, WebP or GIF image, but the file starts with "these are not pi"… \(text\)\./, message);
    await page.setInputFiles('#file', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 9, 0, 0, 0, 9, 8, 6, 0, 0, 0]) });
    await page.waitForFunction(() => /“broken\.png” is a PNG file, but it could not be decoded \(damaged or cut short\)/.test(document.querySelector('#error').textContent));

    step('huge images are refused before decoding');
    const header = Buffer.from(scene.png); // same PNG, but the header claims 8000×8000 pixels
    header.writeUInt32BE(8000, 16);
    header.writeUInt32BE(8000, 20);
    await page.setInputFiles('#file', { name: 'huge.png', mimeType: 'image/png', buffer: header });
    await page.waitForFunction(() => /too large: 8000×8000 is 64\.0 megapixels/.test(document.querySelector('#error').textContent));
    const big = Buffer.alloc(21 * 1024 * 1024);
    scene.png.copy(big);
    await page.setInputFiles('#file', { name: 'big.png', mimeType: 'image/png', buffer: big });
    await page.waitForFunction(() => /is 21\.0 MB; the limit is 20\.0 MB/.test(document.querySelector('#error').textContent));

    step('drag-and-drop and paste reach the same path');
    const small = [...syntheticScene(96, 64).png];
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
      document.querySelector('#dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, small);
    await page.waitForFunction(() => /dropped\.png · 96×64 PNG/.test(document.querySelector('#original-caption').textContent));
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, small);
    await page.waitForFunction(() => /pasted\.png · 96×64 PNG/.test(document.querySelector('#original-caption').textContent));


    step('crop: the default is the centre square, drawn over the image; the 32×32 view is that square');
    const crop = await page.$eval('#crop-text', (e) => ({ ...e.dataset, text: e.textContent }));
    assert.equal(crop.crop, 'center');
    assert.equal(crop.rect, '16,0,64,64'); // cropRect('center', 96, 64)
    assert.equal(crop.text, 'crop center (64×64 pixels at 16,0) · dynconf classify --crop center'); // the CLI's words
    assert.equal(await page.getAttribute('#run-status', 'data-crop'), 'center');
    const box = await page.$eval('#crop-box', (b) => ({ hidden: b.hidden, tab: b.tabIndex, label: b.getAttribute('aria-label'), left: b.style.left, top: b.style.top, width: b.style.width }));
    // 96×64 fitted into 240×240: scale 2.5, 40 px letterbox above.
    assert.deepEqual(box, { hidden: false, tab: 0, label: box.label, left: '40px', top: '40px', width: '160px' });
    assert.match(box.label, /Crop square/);
    const centre = await cropPreview(page, small, [16, 0, 64, 64]);
    assert.deepEqual(await shownPreview(page), centre);
    assert.notDeepEqual(await cropPreview(page, small, [0, 0, 96, 64]), centre, 'the test image should look different squashed');

    step('crop: the keyboard moves and resizes the square (inside the image); each change restarts the run');
    let runId = Number(await page.getAttribute('#run-status', 'data-run'));
    await page.focus('#crop-box');
    await page.keyboard.press('ArrowRight'); // one pixel of the 32×32 view: 64 / 32 = 2 image pixels
    runId = await restartedOn(page, '18,0,64', runId);
    assert.equal(await page.textContent('#crop-text'), 'crop 18,0,64 (64×64 pixels at 18,0) · dynconf classify --crop 18,0,64');
    await page.keyboard.press('-'); // 4 pixels smaller, about the centre
    runId = await restartedOn(page, '20,2,60', runId);
    for (let k = 0; k < 15; k++) await page.keyboard.press('ArrowLeft');
    runId = await restartedOn(page, '0,2,60', runId); // stops at the left edge
    await page.keyboard.press('Shift+ArrowDown'); // Shift+arrows resize too
    runId = await restartedOn(page, '0,0,64', runId); // as large as the image allows
    await page.keyboard.press('-');
    runId = await restartedOn(page, '2,2,60', runId);

    step('crop: the mouse drags the square and its corner (pointer events), in image pixels');
    let rect = await page.$eval('#crop-box', (b) => { const r = b.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width }; });
    await page.mouse.move(rect.x + rect.w / 2, rect.y + rect.w / 2);
    await page.mouse.down();
    await page.mouse.move(rect.x + rect.w / 2 + 45, rect.y + rect.w / 2, { steps: 5 }); // 45 CSS px = 18 image px
    await page.mouse.up();
    runId = await restartedOn(page, '20,2,60', runId);
    rect = await page.$eval('#crop-box', (b) => { const r = b.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width }; });
    await page.mouse.move(rect.x + rect.w, rect.y + rect.w);
    await page.mouse.down();
    await page.mouse.move(rect.x + rect.w + 30, rect.y + rect.w + 30, { steps: 3 });
    await page.mouse.up();
    runId = await restartedOn(page, '20,2,62', runId); // 12 px larger would leave the image: 64 − 2 rows

    step('crop: typed as X,Y,SIZE (checked by the engine); the 32×32 view is that square');
    await page.fill('#crop-input', '30,4,50');
    await page.press('#crop-input', 'Enter');
    runId = await restartedOn(page, '30,4,50', runId);
    assert.deepEqual(await shownPreview(page), await cropPreview(page, small, [30, 4, 50, 50]));
    await page.waitForSelector('#run-status[data-state="stopped"]');
    await page.fill('#crop-input', '90,0,50');
    await page.press('#crop-input', 'Enter');
    await errorShown(page, /Crop “90,0,50”: the crop 90,0,50 does not fit in this 96×64 image/);
    assert.equal(await page.getAttribute('#crop-text', 'data-crop'), '30,4,50');
    assert.equal(await page.textContent('#crop-text'), 'crop 30,4,50 (50×50 pixels at 30,4) · dynconf classify --crop 30,4,50');

    step('crop: a refused typed crop stays in the field, marked invalid, until fixed or the crop changes otherwise');
    const cropField = () => page.$eval('#crop-input', (i) => ({ value: i.value, invalid: i.getAttribute('aria-invalid'), outline: getComputedStyle(i).outlineStyle }));
    assert.deepEqual(await cropField(), { value: '90,0,50', invalid: 'true', outline: 'solid' });
    await page.fill('#crop-input', 'abc');
    await page.press('#crop-input', 'Enter');
    await errorShown(page, /Crop “abc”: /);
    assert.equal((await cropField()).value, 'abc');
    assert.equal((await cropField()).invalid, 'true');
    await page.fill('#crop-input', '30,4,50'); // fixed: back to the crop in use
    await page.press('#crop-input', 'Enter');
    assert.equal((await cropField()).invalid, null);
    assert.equal(await page.isHidden('#error'), true);
    await page.fill('#crop-input', '0,0,700');
    await page.press('#crop-input', 'Enter');
    await errorShown(page, /Crop “0,0,700”: /);
    await page.focus('#crop-box'); // the field keeps the text after it loses focus
    assert.deepEqual(await cropField(), { value: '0,0,700', invalid: 'true', outline: 'solid' });

    step('crop: "whole image" gives full (squashed); unticked, the square comes back');
    await page.check('#crop-full');
    runId = await restartedOn(page, 'full', runId);
    assert.equal(await page.getAttribute('#crop-text', 'data-rect'), '0,0,96,64');
    assert.equal(await page.textContent('#crop-text'), 'crop full (96×64 pixels at 0,0) · dynconf classify --crop full');
    assert.deepEqual(await cropField(), { value: 'full', invalid: null, outline: 'none' }); // the crop changed: the typo goes
    assert.equal(await page.isHidden('#crop-box'), true);
    assert.deepEqual(await shownPreview(page), await cropPreview(page, small, [0, 0, 96, 64]));
    await page.uncheck('#crop-full');
    runId = await restartedOn(page, '30,4,50', runId);
    assert.equal(await page.isHidden('#error'), true);

    step('a dropped link: other sites are refused with a message; data: and same-origin links are read');
    await dropText(page, 'text/uri-list', 'https://images.example.com/photos/cat.jpg');
    await errorShown(page, /images\.example\.com.*cannot read images from other sites.*Save the image/);
    await dropText(page, 'text/plain', 'a cat on a mat');
    await errorShown(page, /is text \(“a cat on a mat”\), not an image file/);
    await dropText(page, 'text/uri-list', `${origin}/index.html`);
    await errorShown(page, /“index\.html” is not an image: expected a PNG, JPEG, WebP or GIF image, but the file starts with "<!doctype html> "… \(text\)/);
    await dropText(page, 'text/uri-list', `data:image/png;base64,${Buffer.from(small).toString('base64')}`);
    await page.waitForFunction(() => /dropped image · 96×64 PNG/.test(document.querySelector('#original-caption').textContent));
    assert.equal(await page.isHidden('#error'), true);
    assert.equal(await page.getAttribute('#crop-text', 'data-crop'), 'center'); // a new image: the centre again

    step('the page hands the pixels over in strips, read exactly (WebGL2): the input of the file\'s own bytes');
    const alpha = new Uint8Array(61 * 47 * 4).map((_, i) => (i % 4 === 3 ? (i * 13) % 256 : (i * 7 + (i >> 7)) % 256));
    const compared = await stripsVersusWhole(page, encodePng(61, 47, alpha), alpha, 4 * 61 * 5);
    assert.equal(compared.reader, 'webgl2', 'sendImage fell back to the 2D canvas: no WebGL2 in this Chromium');
    assert.deepEqual(compared.strips, compared.exact, 'WebGL2 strips: not the PNG\'s exact bytes');
    assert.equal(compared.fallback, '2d');
    assert.deepEqual(compared.canvasStrips, compared.canvasWhole, '2D-canvas strips: not one getImageData of the whole image');
    assert.notDeepEqual(compared.canvasStrips, compared.exact, 'the test image should show the 2D canvas\'s premultiplied alpha');
    // Wider than MAX_TEXTURE_SIZE (8192 in SwiftShader): each strip is read in columns.
    const [wideW, wideH] = [9001, 3];
    const wide = new Uint8Array(wideW * wideH * 4).map((_, i) => (i % 4 === 3 ? (i * 29) % 256 : (i * 11 + (i >> 9)) % 256));
    const wideCompared = await stripsVersusWhole(page, encodePng(wideW, wideH, wide), wide, 4 * wideW * 2);
    step(`  ${wideW}×${wideH}, MAX_TEXTURE_SIZE ${wideCompared.maxTextureSize}: ${wideW > wideCompared.maxTextureSize ? 'read in columns' : 'one column'}`);
    assert.equal(wideCompared.reader, 'webgl2');
    assert.deepEqual(wideCompared.strips, wideCompared.exact, `${wideW}×${wideH}: WebGL2 strips are not the PNG's exact bytes`);

    // Taller than the largest canvas browsers allow (32,767 pixels in Firefox): both readers use
    // strips of at most 4,096 rows, and an opaque image gives the file's exact bytes either way.
    const [tallW, tallH] = [2, 40000];
    const tall = new Uint8Array(tallW * tallH * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7 + (i >> 8)) % 256));
    const tallRuns = await page.evaluate(async ({ model, png, rgba, w, h }) => {
      const { Simulation } = window.wasmBindings;
      const sim = new Simulation(new Uint8Array(await (await fetch(`models/${model}.safetensors`)).arrayBuffer()));
      const { decodeImage, sendImage } = await import(new URL('js/image-input.js', location.href).href);
      const image = await decodeImage(new File([new Uint8Array(png)], 'tall.png', { type: 'image/png' }));
      const run = () => [sim.preview().join(), ...[1, 2].map(() => sim.step().output.join())];
      const out = {};
      for (const reader of ['webgl2', '2d']) {
        out[sendImage(sim, image.bitmap, { reader })] = run();
      }
      sim.set_image(new Uint8Array(rgba), w, h);
      out.exact = run();
      image.bitmap.close();
      sim.free();
      return out;
    }, { model: MODEL, png: [...encodePng(tallW, tallH, tall)], rgba: [...tall], w: tallW, h: tallH });
    assert.deepEqual(tallRuns.webgl2, tallRuns.exact, `${tallW}×${tallH}: WebGL2 strips are not the PNG's bytes`);
    assert.deepEqual(tallRuns['2d'], tallRuns.exact, `${tallW}×${tallH}: 2D-canvas strips are not the PNG's bytes`);

    step('a 4200×4011 grey PNG (above 16.8 MP) reaches the network grey, in bounded wasm memory');
    await maxSpeed(page);
    const memoryBefore = await wasmMemory(page);
    const [bigW, bigH] = [4200, 4011];
    const grey = new Uint8Array(bigW * bigH * 4).fill(128);
    for (let i = 3; i < grey.length; i += 4) grey[i] = 255;
    await page.setInputFiles('#file', { name: 'grey-16.8mp.png', mimeType: 'image/png', buffer: encodePng(bigW, bigH, grey) });
    await page.waitForFunction(() => /grey-16\.8mp\.png · 4200×4011 PNG/.test(document.querySelector('#original-caption').textContent));
    await page.waitForSelector('#run-status[data-state="stopped"]');
    assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
    const previewPixel = await page.$eval('#preview', (c) => [...c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data]);
    assert.deepEqual(previewPixel, [128, 128, 128, 255]);
    const memoryAfter = await wasmMemory(page);
    step(`wasm memory ${(memoryBefore / MB).toFixed(1)} MB before, ${(memoryAfter / MB).toFixed(1)} MB after`);
    // The whole image is 67 MB of RGBA; the strips and the model-sized sums must stay far below
    // that (the model's own weights, f32 and int8 rows, are in `memoryBefore`).
    assert.ok(memoryAfter - memoryBefore <= 8 * MB, `wasm memory grew by ${memoryAfter - memoryBefore} bytes (from ${memoryBefore})`);

    step('upload a generated PNG');
    await maxSpeed(page);
    await page.setInputFiles('#file', { name: 'generated-scene.png', mimeType: 'image/png', buffer: scene.png });
    await page.waitForSelector('#error[hidden]', { state: 'attached' });
    assert.match(await page.textContent('#original-caption'), /160×120 PNG/);

    step('Dynamic Confidence stops');
    await page.waitForSelector('#run-status[data-state="stopped"]');
    const stopT = Number(await page.getAttribute('#run-status', 'data-stop-t'));
    step(`stopped at t = ${stopT}: ${(await page.textContent('#run-status')).trim()}`);

    step('the headline says in words what happened, with how often the network was right at that score');
    const calibrated = await calibrationSummary(page);
    await checkHeadline(page, await referenceRun(page, calibrated.chosen, scene.png), calibrated);
    // The DC run's status line: s and θ never print equal when s > θ.
    const statusText = await page.textContent('#run-status');
    const shown = statusText.match(/s = (\S+?)[ ,].*θ = (\S+?)[ ,·.]/);
    if (shown && / > /.test(statusText)) assert.notEqual(shown[1], shown[2], statusText);

    step('an image the network is never sure of: "Not sure after T_max steps: best guess …"');
    let unsure = null;
    for (const level of [128, 64, 192, 0, 255, 32, 224, 96, 160]) {
      const png = encodePng(48, 48, Buffer.alloc(48 * 48 * 4, level).map((v, i) => (i % 4 === 3 ? 255 : v)));
      const reference = await referenceRun(page, calibrated.chosen, png);
      if (!reference.confident) { unsure = { png, reference, level }; break; }
    }
    assert.ok(unsure, 'no grey level that the network is never sure of: pick another not-sure image for this test');
    await page.setInputFiles('#file', { name: `grey-${unsure.level}.png`, mimeType: 'image/png', buffer: unsure.png });
    await page.waitForFunction((level) => document.querySelector('#run-status').dataset.state === 'stopped'
      && document.querySelector('#original-caption').textContent.startsWith(`grey-${level}.png`), unsure.level);
    await checkHeadline(page, unsure.reference, calibrated);
    await page.waitForFunction(() => [...document.querySelectorAll('#fixed-table tr[data-run="fixed"]')].every((r) => r.dataset.done === '1'));
    assert.match(await page.textContent('#fixed-summary'), /Dynamic Confidence was never sure, so it ran all \d+ steps.*no steps saved/);
    await page.setInputFiles('#file', { name: 'generated-scene.png', mimeType: 'image/png', buffer: scene.png });
    await page.waitForFunction((t) => document.querySelector('#run-status').dataset.stopT === String(t)
      && document.querySelector('#original-caption').textContent.startsWith('generated-scene.png'), stopT);

    step('the fixed-length runs finish');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#fixed-table tr[data-run="fixed"]')];
      return rows.length >= 4 && rows.every((r) => r.dataset.done === '1');
    });
    const fixed = await page.$$eval('#fixed-table tr[data-run]', (rows) => rows.map((r) => ({ ...r.dataset })));
    console.table(fixed);
    const longest = Math.max(...fixed.filter((r) => r.run === 'fixed').map((r) => Number(r.steps)));
    const dc = fixed.find((r) => r.run === 'dc');
    assert.equal(Number(dc.steps), stopT);
    assert.ok(stopT >= 1 && stopT <= longest, `DC stopped at ${stopT}, after the longest fixed run (${longest})`);
    // The DC run and the fixed run of the same length are the same computation.
    const same = fixed.find((r) => r.run === 'fixed' && Number(r.steps) === stopT);
    if (same) assert.equal(dc.ops, same.ops);
    assert.ok(Number(dc.ops) <= Number(fixed.find((r) => Number(r.steps) === longest).ops));
    assert.match(await page.textContent('#fixed-summary'), /Dynamic Confidence (stopped after|was never sure)/);

    step('the threshold panel leads with the calibrated decoder\'s cross-fitted figures');
    const summary = await calibrationSummary(page);
    const chosen = summary.decoders[summary.chosen];
    assert.equal(await page.getAttribute('#run-status', 'data-decoder'), chosen.name);
    await checkPanel(page, summary, summary.chosen);
    assert.match(await page.textContent('#tradeoff-caption'), new RegExp(`${summary.images.toLocaleString('en-US')} images.*T_max = ${summary.t_max}.*${summary.crossfit.k}-fold.*seed ${summary.crossfit.seed}`));
    assert.equal(await page.$$eval('#decoder option', (o) => o.length), summary.decoders.length);

    step('each decoder: the run restarts under it and stops where a fresh Simulation does');
    const stops = [];
    for (const [index, decoder] of summary.decoders.entries()) {
      await page.selectOption('#decoder', String(index));
      await stoppedUnder(page, decoder.name);
      const t = Number(await page.getAttribute('#run-status', 'data-stop-t'));
      const reference = await referenceRun(page, index, scene.png);
      assert.equal(reference.decoder, decoder.name);
      assert.equal(reference.threshold, decoder.threshold);
      assert.equal(t, reference.t, `${decoder.name}: the page stopped at ${t}, a fresh Simulation at ${reference.t}`);
      const row = await page.$eval('#fixed-table tr[data-run="dc"]', (r) => ({ ...r.dataset }));
      assert.equal(Number(row.steps), t);
      assert.equal(row.prediction, reference.prediction);
      assert.ok((await page.textContent('#run-status')).includes(decoder.name));
      assert.ok((await page.textContent('#model-info')).includes(decoder.name));
      await checkPanel(page, summary, index);
      stops.push({ decoder: decoder.name, theta: decoder.threshold, stop: t, prediction: row.prediction, crossfit_steps: decoder.crossfit.mean_steps });
    }
    console.table(stops);

    step('back to the calibrated decoder: the same run as before');
    await page.selectOption('#decoder', String(summary.chosen));
    await stoppedUnder(page, chosen.name);
    assert.equal(Number(await page.getAttribute('#run-status', 'data-stop-t')), stopT);

    step('the slider steps along the selected front (keyboard), and the chart point follows');
    const before = await page.$eval('#tradeoff', (c) => ({ ...c.dataset }));
    const start = Number(before.frontIndex);
    await page.focus('#threshold');
    await page.keyboard.press('ArrowRight');
    const next = await page.$eval('#tradeoff', (c) => ({ ...c.dataset }));
    assert.equal(Number(next.frontIndex), start + 1);
    assert.equal(Number(next.threshold), chosen.front[start + 1].threshold);
    assert.equal(Number(next.meanSteps), chosen.front[start + 1].mean_steps);
    // Dragging: the track is mean steps; a position between two front points takes the
    // cheaper one (the most accurate point within that many mean steps).
    const k = Math.floor(start / 2);
    const between = (chosen.front[k].mean_steps + chosen.front[k + 1].mean_steps) / 2;
    await page.$eval('#threshold', (s, v) => { s.value = String(v); s.dispatchEvent(new Event('input')); }, between);
    assert.equal(Number(await page.getAttribute('#tradeoff', 'data-front-index')), k);
    await page.keyboard.press('Home');
    const after = await page.$eval('#tradeoff', (c) => ({ ...c.dataset }));
    step(`point (${before.meanSteps} steps, ${before.accuracy}) → (${after.meanSteps} steps, ${after.accuracy})`);
    assert.equal(Number(after.frontIndex), 0);
    assert.equal(Number(after.meanSteps), chosen.front[0].mean_steps);
    assert.equal(Number(after.accuracy), chosen.front[0].accuracy);
    assert.ok(Number(after.meanSteps) < Number(before.meanSteps), 'a lower threshold should stop earlier on average');
    assert.notEqual(after.x, before.x);
    assert.match(await page.textContent('#tradeoff-readout'), /front point 1 of/);
    await stoppedUnder(page, chosen.name);
    const lowStop = Number(await page.getAttribute('#run-status', 'data-stop-t'));
    assert.ok(lowStop <= stopT, `lower threshold stopped at ${lowStop}, later than ${stopT}`);

    step('back to the calibrated threshold (at the default speed); screenshot');
    await page.evaluate(() => { const s = document.querySelector('#speed'); s.value = '3'; s.dispatchEvent(new Event('input')); });
    await page.click('#threshold-reset');
    await page.waitForFunction((t) => document.querySelector('#run-status').dataset.stopT === String(t), stopT);
    const back = await page.$eval('#tradeoff', (c) => ({ ...c.dataset }));
    assert.equal(back.meanSteps, before.meanSteps);
    await page.waitForFunction(() => [...document.querySelectorAll('#fixed-table tr[data-run="fixed"]')].every((r) => r.dataset.done === '1'));

    await maxSpeed(page);
    await checkSamples(page, summary);

    // The screenshot: a real photo of the samples row, run at the default speed.
    step(`the screenshot: sample ${SCREENSHOT_SAMPLE} at the default speed`);
    await page.evaluate(() => { const s = document.querySelector('#speed'); s.value = '3'; s.dispatchEvent(new Event('input')); });
    const photo = await runSample(page, SCREENSHOT_SAMPLE);
    const expected = SAMPLES.find((s) => s.file === SCREENSHOT_SAMPLE).class;
    step(`  ${SCREENSHOT_SAMPLE}: ${photo.prediction} at step ${photo.stopT} (it shows a ${expected})`);
    if (MODEL === 'dynconf-cifar10-v7') assert.equal(photo.prediction, expected, `the screenshot's photo should be answered right: ${SCREENSHOT_SAMPLE}`);
    await page.waitForFunction(() => [...document.querySelectorAll('#fixed-table tr[data-run="fixed"]')].every((r) => r.dataset.done === '1'));
    await page.mouse.move(0, 0); // no hover ring or focus on the thumbnail clicked
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    step(`saved ${SCREENSHOT}`);

    step('a calibration made for another model is refused with the engine\'s message');
    const other = await browser.newPage();
    other.on('request', (r) => requests.push(r.url()));
    const mismatched = JSON.parse(readFileSync(join(DIST, 'models', `${MODEL}.calibration.json`), 'utf8'));
    mismatched.model_sha256 = '0'.repeat(64);
    await other.route(/\.calibration\.json$/, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(mismatched) }));
    await other.goto(`${origin}/${query}`);
    const refusal = await other.textContent('#loading .error');
    step(refusal);
    assert.match(refusal, /cannot use the calibration file: this calibration was made for another model \(SHA-256 000000000000…/);
    assert.equal(await other.isHidden('#app'), true);
    await other.close();


    step('camera (Chromium\'s fake device): a frame is classified, "keep classifying" goes on, "Stop camera" releases it');
    const cameraContext = await browser.newContext({ permissions: ['camera'], viewport: { width: 1440, height: 1000 } });
    await cameraContext.addInitScript(() => {
      // Keeps the streams the page gets, to check that "Stop camera" ends their tracks.
      window.testStreams = [];
      const md = navigator.mediaDevices;
      const get = md.getUserMedia.bind(md);
      md.getUserMedia = async (c) => { const s = await get(c); window.testStreams.push(s); return s; };
    });
    const cam = await cameraContext.newPage();
    cam.setDefaultTimeout(TIMEOUT);
    cam.on('request', (r) => requests.push(r.url()));
    cam.on('pageerror', (e) => problems.push(`camera page error: ${e.message}`));
    await cam.goto(`${origin}/${query}`);
    await cam.waitForSelector('#app:not([hidden])');
    await maxSpeed(cam);
    await cam.click('#camera-start');
    await cam.waitForSelector('#camera-video:not([hidden])');
    await cam.waitForSelector('#crop-box:not([hidden])');
    const [vw, vh] = await cam.$eval('#camera-video', (v) => [v.videoWidth, v.videoHeight]);
    step(`camera on: ${vw}×${vh}`);
    await cam.click('#camera-grab');
    await cam.waitForFunction(() => document.querySelector('#camera-status').dataset.frames === '1');
    const camStop = await cam.getAttribute('#run-status', 'data-stop-t');
    assert.equal(await cam.getAttribute('#camera-status', 'data-last-steps'), camStop);
    assert.match(await cam.textContent('#camera-status'), new RegExp(`frame 1: \\w+ after ${camStop} step`));
    assert.match(await cam.textContent('#original-caption'), new RegExp(`camera frame 1 · ${vw}×${vh}`));
    const camRect = await cam.evaluate(([w, h]) => [...window.wasmBindings.cropRect('center', w, h)].join(), [vw, vh]);
    assert.equal(await cam.getAttribute('#crop-text', 'data-rect'), camRect);
    step(`camera frame 1: ${(await cam.textContent('#camera-status')).trim()}`);
    await cam.check('#camera-keep');
    await cam.waitForFunction(() => Number(document.querySelector('#camera-status').dataset.frames) >= 3);
    await cam.uncheck('#camera-keep');
    await cam.click('#camera-stop');
    await cam.waitForSelector('#camera-video', { state: 'hidden' });
    assert.match(await cam.textContent('#camera-status'), /Camera stopped/);
    assert.ok(await cam.evaluate(() => window.testStreams.length > 0 && window.testStreams.every((s) => s.getTracks().every((t) => t.readyState === 'ended'))), 'the camera tracks were not stopped');
    assert.equal(await cam.isVisible('#original'), true);
    assert.equal(await cam.isVisible('#camera-start'), true);
    await cameraContext.close();

    step('camera refused: denied permission, no camera, no secure context each give a message; the page stays usable');
    const cameraCases = [
      { name: 'denied', script: null, message: /permission was denied/ },
      { name: 'no camera', script: () => { navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError')); }, message: /No camera was found/ },
      { name: 'insecure', script: () => { Object.defineProperty(Navigator.prototype, 'mediaDevices', { get: () => undefined }); }, message: /The camera needs a secure page/ },
    ];
    for (const c of cameraCases) {
      const context = await browser.newContext(); // camera not granted
      if (c.script) await context.addInitScript(c.script);
      const p = await context.newPage();
      p.setDefaultTimeout(TIMEOUT);
      p.on('pageerror', (e) => problems.push(`${c.name} page error: ${e.message}`));
      await p.goto(`${origin}/${query}`);
      await p.waitForSelector('#app:not([hidden])');
      await p.click('#camera-start');
      await errorShown(p, c.message);
      step(`${c.name}: ${await p.textContent('#error')}`);
      assert.equal(await p.isEnabled('#camera-start'), true);
      await p.setInputFiles('#file', { name: 'after.png', mimeType: 'image/png', buffer: Buffer.from(small) });
      await p.waitForSelector('#run-status[data-state="stopped"]');
      assert.equal(await p.isHidden('#error'), true);
      await context.close();
    }

    step('WebGL2 context lost: the next image gets a new context; no WebGL2: the 2D canvas, said once in the console');
    const softPng = encodePng(61, 47, alpha);
    for (const noWebGL2 of [false, true]) {
      const context = await browser.newContext();
      await context.addInitScript((noWebGL2) => {
        window.testContexts = [];
        const getContext = HTMLCanvasElement.prototype.getContext;
        HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
          if (type === 'webgl2' && noWebGL2) return null;
          const ctx = getContext.call(this, type, ...rest);
          if (type === 'webgl2') window.testContexts.push(ctx);
          return ctx;
        };
      }, noWebGL2);
      const p = await context.newPage();
      p.setDefaultTimeout(TIMEOUT);
      const notes = [];
      p.on('pageerror', (e) => problems.push(`WebGL page error: ${e.message}`));
      p.on('console', (m) => {
        if (m.type() === 'error') problems.push(`WebGL console error: ${m.text()}`);
        if (m.text().startsWith('dynconf: ')) notes.push(`${m.type()}: ${m.text()}`);
      });
      await p.goto(`${origin}/${query}`);
      await p.waitForSelector('#app:not([hidden])');
      await maxSpeed(p);
      const readers = [];
      for (const [k, name] of ['first.png', 'second.png', 'third.png'].entries()) {
        await p.setInputFiles('#file', { name, mimeType: 'image/png', buffer: k === 1 ? Buffer.from(small) : softPng });
        await p.waitForFunction((name) => document.querySelector('#original-caption').textContent.startsWith(name), name);
        await p.waitForSelector('#run-status[data-state="stopped"]');
        assert.equal(await p.isHidden('#error'), true, await p.textContent('#error'));
        readers.push(await p.getAttribute('#crop-text', 'data-reader'));
        if (k === 0 && !noWebGL2) await p.evaluate(() => window.testContexts.forEach((gl) => gl.getExtension('WEBGL_lose_context').loseContext()));
      }
      if (noWebGL2) {
        assert.deepEqual(readers, ['2d', '2d', '2d']);
        assert.equal(notes.length, 1, notes.join('\n'));
        assert.match(notes[0], /^warning: dynconf: WebGL2 is not available.*semi-transparent pixels may differ/);
      } else {
        assert.deepEqual(readers, ['webgl2', 'webgl2', 'webgl2']);
        assert.deepEqual(notes, []);
        assert.equal(await p.evaluate(() => window.testContexts.length), 2, 'a new WebGL2 context after the loss');
      }
      step(`  ${noWebGL2 ? 'no WebGL2' : 'context lost after the first image'}: ${readers.join(', ')}${notes.length ? `; ${notes[0].slice(0, 70)}…` : ''}`);
      await context.close();
    }

    step('a phone (390×844, touch): the fixed-steps table fits, the charts\' text is readable, the drop zone offers the camera');
    {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true });
      const p = await context.newPage();
      p.setDefaultTimeout(TIMEOUT);
      p.on('pageerror', (e) => problems.push(`phone: page error: ${e.message}`));
      await p.goto(`${origin}/${query}`);
      await p.waitForSelector('#app:not([hidden])');
      const coarse = await p.evaluate(() => matchMedia('(pointer: coarse)').matches);
      assert.equal(coarse, true, 'a touch screen should match (pointer: coarse)');
      assert.equal((await p.innerText('#dropzone')).replace(/\s+/g, ' ').trim().split(' PNG')[0], 'Choose an image or take a photo');
      assert.equal(await p.isHidden('#dropzone-drop'), true);
      await maxSpeed(p);
      await p.setInputFiles('#file', { name: 'scene.png', mimeType: 'image/png', buffer: scene.png });
      await p.waitForSelector('#run-status[data-state="stopped"]');
      await p.waitForFunction(() => [...document.querySelectorAll('#fixed-table tr[data-run="fixed"]')].every((r) => r.dataset.done === '1'));
      const table = await p.evaluate(() => {
        const wrap = document.querySelector('#fixed-table').parentElement.getBoundingClientRect();
        const cells = [...document.querySelectorAll('#fixed-table tbody tr')].map((r) => r.cells[2].getBoundingClientRect());
        return {
          wrap: { left: wrap.left, right: wrap.right },
          cells: cells.map((c) => ({ left: c.left, right: c.right })),
          dc: document.querySelector('#fixed-table tr[data-run="dc"]').cells[0].textContent,
          page: document.documentElement.scrollWidth,
        };
      });
      for (const c of table.cells) {
        assert.ok(c.left >= 0 && c.right <= 390 && c.left >= table.wrap.left - 0.5 && c.right <= table.wrap.right + 0.5,
          `a Prediction cell at ${c.left.toFixed(0)}–${c.right.toFixed(0)} px is cut (table ${table.wrap.left.toFixed(0)}–${table.wrap.right.toFixed(0)}, viewport 390)`);
      }
      assert.match(table.dc, /^DC \(θ = /);
      for (const id of ['score', 'tradeoff', 'bars']) {
        const shown = await p.$eval(`#${id}`, (c) => ({ css: c.getBoundingClientRect().width, drawn: Number(c.dataset.drawnWidth), font: Number(c.dataset.fontPx), legend: c.dataset.legend }));
        const px = (shown.font * shown.css) / shown.drawn;
        assert.ok(px >= 10, `#${id}: its text is ${px.toFixed(1)} CSS px on a 390 px screen`);
        if (id === 'tradeoff') assert.equal(shown.legend, 'below');
      }
      step(`  phone: Prediction cells within ${table.wrap.left.toFixed(0)}–${table.wrap.right.toFixed(0)} px; page ${table.page} px wide; chart text 12 CSS px`);
      await context.close();
    }

    step('no request left 127.0.0.1');
    const foreign = requests.filter((u) => !/^(data|blob):/.test(u) && new URL(u).hostname !== '127.0.0.1');
    assert.deepEqual(foreign, [], `requests to other hosts: ${foreign.join(', ')}`);
    assert.deepEqual(problems, [], problems.join('\n'));
    step(`passed (${requests.length} requests, all to 127.0.0.1)`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
