// End-to-end test of the browser demo: build it with Trunk, serve dist/ on 127.0.0.1, drive
// headless Chromium with playwright-core, and check what a user would see.
//
//   node e2e/demo.test.mjs            (scripts/test-web.sh runs it)
//   E2E_SKIP_BUILD=1                  use the existing dist/ (E2E_DIST=dir: another folder)
//   E2E_MODEL=NAME                    load models/NAME.* instead of the published model (?model=)
//   E2E_SCREENSHOT=path               where to save the screenshot (docs/screenshot.png)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng, syntheticScene } from './png.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = resolve(ROOT, process.env.E2E_DIST || 'dist');
const SCREENSHOT = resolve(ROOT, process.env.E2E_SCREENSHOT || 'docs/screenshot.png');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 120_000;
const MODEL = process.env.E2E_MODEL || 'dynconf-cifar10-v6';

const require = createRequire(join(ROOT, '.tools', 'package.json'));
const { chromium } = require('playwright-core');

let stepNo = 0;
const step = (text) => console.log(`[e2e ${++stepNo}] ${text}`);

// ------------------------------------------------------------------ build

function build() {
  if (process.env.E2E_SKIP_BUILD) {
    step('using the existing dist/ (E2E_SKIP_BUILD)');
    return;
  }
  step('trunk build');
  const env = {
    ...process.env,
    TRUNK_OFFLINE: 'true',
    PATH: [join(process.env.HOME, '.cargo', 'bin'), join(ROOT, '.tools', 'node_modules', '.bin'), process.env.PATH].join(':'),
  };
  const result = spawnSync('trunk', ['build'], { cwd: ROOT, env, stdio: 'inherit' });
  assert.equal(result.status, 0, 'trunk build failed');
}

// ------------------------------------------------------------------ a tiny static server

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.safetensors': 'application/octet-stream',
};

function serve(dir) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    let file = normalize(join(dir, path));
    if (!file.startsWith(dir + sep) && file !== dir) { res.writeHead(403).end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404).end('not found'); return; }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

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

// A fresh Simulation of the same image under decoder `index` of the calibration, run until
// Dynamic Confidence stops: what the page's run must reproduce.
function referenceRun(page, index, png) {
  return page.evaluate(async ({ model, index, png }) => {
    const { Simulation, Calibration } = window.wasmBindings;
    const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
    const sim = new Simulation(await get(`models/${model}.safetensors`));
    const calibration = new Calibration(await get(`models/${model}.calibration.json`));
    sim.use_decoder(calibration, index);
    const { decodeImage, sendImage } = await import(new URL('js/image-input.js', location.href).href);
    const image = await decodeImage(new File([new Uint8Array(png)], 'scene.png', { type: 'image/png' }));
    sendImage(sim, image.bitmap);
    image.bitmap.close();
    let r;
    do r = sim.step(); while (!r.stop);
    const result = { t: r.t, prediction: sim.info().classes[r.prediction], decoder: sim.decoder, threshold: sim.threshold };
    sim.free();
    calibration.free();
    return result;
  }, { model: MODEL, index, png: [...png] });
}

// The page's strips (sendImage: the bitmap drawn strip by strip into a small canvas) against
// the whole image read with one getImageData and set_image: the same input, bit for bit.
function stripsVersusWhole(page, png, stripBytes) {
  return page.evaluate(async ({ model, png, stripBytes }) => {
    const { Simulation } = window.wasmBindings;
    const sim = new Simulation(new Uint8Array(await (await fetch(`models/${model}.safetensors`)).arrayBuffer()));
    const { decodeImage, sendImage } = await import(new URL('js/image-input.js', location.href).href);
    const image = await decodeImage(new File([new Uint8Array(png)], 'alpha.png', { type: 'image/png' }));
    const run = () => [sim.preview().join(), ...[1, 2, 3].map(() => sim.step().output.join())];
    sendImage(sim, image.bitmap, { stripBytes });
    const strips = run();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(image.bitmap, 0, 0);
    sim.set_image(ctx.getImageData(0, 0, image.width, image.height).data, image.width, image.height);
    const whole = run();
    image.bitmap.close();
    sim.free();
    return { strips, whole };
  }, { model: MODEL, png: [...png], stripBytes });
}

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

const stoppedUnder = (page, name) => page.waitForFunction((n) => {
  const s = document.querySelector('#run-status');
  return s.dataset.decoder === n && s.dataset.state === 'stopped';
}, name);

// ------------------------------------------------------------------ the scenario

async function main() {
  build();
  assert.ok(existsSync(join(DIST, 'index.html')), 'dist/index.html missing');
  const server = await serve(DIST);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const requests = [];
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(TIMEOUT);
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

    const query = process.env.E2E_MODEL ? `?model=${encodeURIComponent(process.env.E2E_MODEL)}` : '';
    step(`open ${origin}/${query}`);
    await page.goto(`${origin}/${query}`);
    await page.waitForSelector('#app:not([hidden])');
    const info = await page.textContent('#model-info');
    step(`loaded: ${info.trim().slice(0, 100)}…`);

    const scene = syntheticScene();
    step('a non-image file is refused with a message');
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are not pixels\n') });
    await page.waitForSelector('#error:not([hidden])');
    const message = await page.textContent('#error');
    assert.match(message, /not an image/, message);
    await page.setInputFiles('#file', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 9, 0, 0, 0, 9, 8, 6, 0, 0, 0]) });
    await page.waitForFunction(() => /could not be decoded/.test(document.querySelector('#error').textContent));

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

    step('the page hands the pixels over in strips: the same input as the whole image');
    const alpha = new Uint8Array(61 * 47 * 4).map((_, i) => (i % 4 === 3 ? (i * 13) % 256 : (i * 7 + (i >> 7)) % 256));
    const compared = await stripsVersusWhole(page, encodePng(61, 47, alpha), 4 * 61 * 5);
    assert.deepEqual(compared.strips, compared.whole);

    step('a 4200×4011 grey PNG (above 16.8 MP) reaches the network grey, in bounded wasm memory');
    await page.evaluate(() => { const s = document.querySelector('#speed'); s.value = s.max; s.dispatchEvent(new Event('input')); });
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
    assert.ok(memoryAfter <= 32 * MB, `wasm memory grew to ${memoryAfter} bytes`);

    step('upload a generated PNG');
    await page.evaluate(() => { const s = document.querySelector('#speed'); s.value = s.max; s.dispatchEvent(new Event('input')); });
    await page.setInputFiles('#file', { name: 'generated-scene.png', mimeType: 'image/png', buffer: scene.png });
    await page.waitForSelector('#error[hidden]', { state: 'attached' });
    assert.match(await page.textContent('#original-caption'), /160×120 PNG/);

    step('Dynamic Confidence stops');
    await page.waitForSelector('#run-status[data-state="stopped"]');
    const stopT = Number(await page.getAttribute('#run-status', 'data-stop-t'));
    step(`stopped at t = ${stopT}: ${(await page.textContent('#run-status')).trim()}`);

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
    assert.match(await page.textContent('#fixed-summary'), /Dynamic Confidence used/);

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
