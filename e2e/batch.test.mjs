// A CIFAR-10 batch on the page (issue 13): the gallery, a record run in the Dynamic
// Confidence panel, "Evaluate all" against `dynconf eval --json` figure by figure, the main
// thread's longest task during it, Cancel, refused batches with the CLI's messages, a dropped
// model without calibration (its calibration against `dynconf calibrate`), a calibration with
// T_max = 12 (Evaluate all against `dynconf eval`, which takes the calibration's T_max), and a calibration of another
// model refused. The batches are generated here (seeded gradients, shapes and
// noise): no dataset pixels.
//
//   node e2e/batch.test.mjs           (scripts/test-web.sh e2e runs it after demo.test.mjs)
//   E2E_SKIP_BUILD=1                  use the existing dist/
//   E2E_DYNCONF=path                  use this dynconf binary instead of `cargo build --release`
//   E2E_MODEL=NAME                    as in demo.test.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { axeViolations, build, DIST, dynconfBinary, formatViolations, launch, MODEL, openDemo, RECORD, ROOT, serve, step, syntheticBatch } from './lib.mjs';

const LONG_TASK_MS = 50;

function run(binary, args) {
  const result = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return result;
}

/** `dynconf eval --json` on NAME.bin in `dir` (more arguments in `extra`): the parsed object. */
function cliEval(binary, model, dir, split, extra = []) {
  const args = ['eval', '--json', '--model', model, '--data', dir, '--split', split, ...extra];
  const result = run(binary, args);
  assert.equal(result.status, 0, `dynconf ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** The CLI's message for a batch it refuses, with the file's name for its path. */
function cliRefusal(binary, model, dir, split) {
  const result = run(binary, ['eval', '--json', '--model', model, '--data', dir, '--split', split]);
  assert.notEqual(result.status, 0, `dynconf eval took ${split}.bin`);
  const line = result.stderr.split('\n').find((l) => l.startsWith('error: '));
  assert.ok(line, `no error line: ${result.stderr}`);
  return line.slice('error: '.length).replace(join(dir, `${split}.bin`), `${split}.bin`);
}

/** Every key but `seconds`, numbers exactly: figure by figure, naming the first difference. */
function assertSameFigures(page, cli, what) {
  const strip = ({ seconds, ...rest }) => rest;
  const a = strip(page);
  const b = strip(cli);
  const walk = (x, y, path) => {
    if (typeof x !== 'object' || x === null || typeof y !== 'object' || y === null) {
      assert.ok(Object.is(x, y), `${what}: ${path} is ${JSON.stringify(x)} on the page, ${JSON.stringify(y)} from the CLI`);
      return;
    }
    assert.deepEqual(Object.keys(x).sort(), Object.keys(y).sort(), `${what}: the keys of ${path || 'the object'} differ`);
    for (const k of Object.keys(y)) walk(x[k], y[k], `${path}${Array.isArray(y) ? `[${k}]` : `.${k}`}`);
  };
  walk(a, b, '');
}

const batchError = (page) => page.waitForFunction(() => {
  const e = document.querySelector('#batch-error');
  return !e.hidden && e.textContent;
}).then((h) => h.jsonValue());

const evaluationState = (page, state) => page.waitForFunction((s) => document.querySelector('#batch-status').dataset.evaluation === s, state);

/** Clicks "Evaluate all", waits until it ends ('done' or `until`); the long tasks meanwhile. */
async function evaluate(page, until = 'done') {
  await page.click('#evaluate'); // the state is 'starting' once the click has been handled
  await page.waitForFunction(() => ['done', 'failed', 'cancelled'].includes(document.querySelector('#batch-status').dataset.evaluation), null, { timeout: 300_000 });
  const state = await page.getAttribute('#batch-status', 'data-evaluation');
  assert.equal(state, until, `the evaluation ended "${state}": ${await page.textContent('#batch-error')}`);
  // From the click's handler to the moment the page set the state (results shown, a produced
  // calibration adopted; the Dynamic Confidence run that then restarts is not the evaluation's):
  // the tasks that ended after the first and began before the second.
  const tasks = await page.evaluate(() => {
    const { evaluationStarted, evaluationEnded } = document.querySelector('#batch-status').dataset;
    return window.longTasks.filter((e) => e.start + e.duration > Number(evaluationStarted) && e.start <= Number(evaluationEnded));
  });
  return { tasks, longest: Math.max(0, ...tasks.map((e) => e.duration)) };
}

/** The Long Tasks API reports only tasks over 50 ms: the longest of those, or none. */
const longTaskWords = ({ tasks, longest }) => (tasks.length
  ? `main-thread tasks over ${LONG_TASK_MS} ms during the evaluation: ${tasks.length}, the longest ${longest.toFixed(0)} ms`
  : `no main-thread task over ${LONG_TASK_MS} ms during the evaluation (longtask observer)`);

async function download(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: file.suggestedFilename(), text: readFileSync(await file.path(), 'utf8') };
}

async function main() {
  build();
  const dynconf = dynconfBinary();
  const tmp = mkdtempSync(join(tmpdir(), 'dynconf-batch-'));
  const server = await serve(DIST);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const problems = [];
  try {
    // ---------------------------------------------------------- the files and the CLI's figures
    const model = join(DIST, 'models', `${MODEL}.safetensors`); // its calibration lies next to it
    const files = {};
    const write = (name, bytes) => { files[name] = join(tmp, name); writeFileSync(files[name], bytes); };
    const synth = syntheticBatch(48, 13);
    write('synth.bin', synth);
    write('big.bin', syntheticBatch(1200, 7));
    write('broken.bin', synth.subarray(0, 3000));
    const badLabel = synth.slice(0, 6 * RECORD);
    badLabel[4 * RECORD] = 12;
    write('badlabel.bin', badLabel);
    write('empty.bin', new Uint8Array(0));
    write('test_batch.bin', synth);
    step('dynconf eval --json on the generated batch (48 images), with the page\'s model and calibration');
    const reference = cliEval(dynconf, model, tmp, 'synth');
    // A model without calibration: the same weights under another name, nothing next to it; the
    // CLI calibrates it on the batch (written next to it, where `eval` finds it), then evaluates.
    const bareDir = join(tmp, 'bare');
    mkdirSync(bareDir);
    const bare = join(bareDir, 'bare.safetensors');
    copyFileSync(model, bare);
    const bareCalibration = join(bareDir, 'bare.calibration.json');
    step('dynconf calibrate --split synth, then eval, for the model without calibration');
    const calibrate = run(dynconf, ['calibrate', '--model', bare, '--data', tmp, '--split', 'synth', '--output', bareCalibration]);
    assert.equal(calibrate.status, 0, calibrate.stderr);
    const bareReference = cliEval(dynconf, bare, tmp, 'synth');
    const bareCalibrationJson = JSON.parse(readFileSync(bareCalibration, 'utf8'));
    rmSync(bareCalibration); // the page gets the model alone
    // A calibration with T_max = 12 (not 32) next to the same weights, and the CLI's
    // evaluation with it, no --max-steps: page and CLI both take the calibration's T_max.
    const shortDir = join(tmp, 'short');
    mkdirSync(shortDir);
    const shortModel = join(shortDir, 'bare.safetensors');
    copyFileSync(model, shortModel);
    const shortCalibration = join(shortDir, 'bare.calibration.json');
    step('dynconf calibrate --max-steps 12, then eval (T_max from the calibration), for the same weights');
    const calibrateShort = run(dynconf, ['calibrate', '--model', shortModel, '--data', tmp, '--split', 'synth', '--max-steps', '12', '--output', shortCalibration]);
    assert.equal(calibrateShort.status, 0, calibrateShort.stderr);
    const shortReference = cliEval(dynconf, shortModel, tmp, 'synth');
    assert.equal(shortReference.max_steps, 12);
    // A calibration made for another model.
    const other = JSON.parse(readFileSync(join(DIST, 'models', `${MODEL}.calibration.json`), 'utf8'));
    other.model_sha256 = '0'.repeat(64);
    write('other.calibration.json', JSON.stringify(other));

    // ---------------------------------------------------------- the page
    const page = await openDemo(browser, origin, problems);
    await page.evaluate(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    assert.equal(await page.isDisabled('#evaluate'), true, 'Evaluate all is enabled without a batch');

    step('refused batches: the CLI\'s messages');
    for (const name of ['broken', 'badlabel', 'empty']) {
      const expected = cliRefusal(dynconf, model, tmp, name);
      await page.setInputFiles('#batch-file', files[`${name}.bin`]);
      const shown = await batchError(page);
      step(`  ${shown}`);
      assert.equal(shown, expected);
      assert.equal(await page.isDisabled('#evaluate'), true);
    }

    step('a batch of 1200 images: the gallery draws only what is visible');
    await page.setInputFiles('#batch-file', files['big.bin']);
    await page.waitForFunction(() => document.querySelector('#gallery').dataset.count === '1200');
    assert.equal(await page.isHidden('#batch-error'), true);
    const rendered = Number(await page.getAttribute('#gallery', 'data-rendered'));
    step(`  ${rendered} cells exist for 1200 images`);
    assert.ok(rendered > 0 && rendered < 200, `${rendered} gallery cells`);
    await page.$eval('#gallery', (g) => { g.scrollTop = g.scrollHeight; });
    await page.waitForSelector('#gallery [data-index="1199"]');

    step('Evaluate all, then Cancel: every worker ends; the progress line never shows an unknown ETA as a number');
    await page.evaluate(() => {
      const text = document.querySelector('#eval-progress-text');
      window.progressTexts = [];
      new MutationObserver(() => window.progressTexts.push(text.textContent))
        .observe(text, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#evaluate');
    await page.waitForFunction(() => Number(document.querySelector('#eval-progress').dataset.done) > 0);
    const during = await page.evaluate(() => window.dynconfEvaluation.liveWorkers);
    await page.click('#evaluate-cancel');
    await evaluationState(page, 'cancelled');
    const texts = await page.evaluate(() => window.progressTexts);
    assert.ok(texts.some((t) => /ETA/.test(t)), `no progress line with an ETA: ${JSON.stringify(texts)}`);
    assert.ok(!texts.some((t) => /Infinity|NaN/.test(t)), `a progress line reads ${texts.find((t) => /Infinity|NaN/.test(t))}`);
    const after = await page.evaluate(() => window.dynconfEvaluation.liveWorkers);
    step(`  ${during} workers while running, ${after} after Cancel`);
    assert.ok(during > 0);
    assert.equal(after, 0);
    assert.equal(await page.isHidden('#results'), true);

    step('a dropped batch (48 images): the gallery, a label, a record run in the Dynamic Confidence panel');
    await page.evaluate(async (bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'synth.bin', { type: 'application/octet-stream' }));
      document.querySelector('#dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [...synth]);
    await page.waitForFunction(() => document.querySelector('#gallery').dataset.count === '48');
    const classes = await page.evaluate(async (m) => {
      const sim = new window.wasmBindings.Simulation(new Uint8Array(await (await fetch(`models/${m}.safetensors`)).arrayBuffer()));
      const { classes } = sim.info();
      sim.free();
      return classes;
    }, MODEL);
    assert.equal(await page.textContent('#gallery [data-index="3"] span'), `#3 ${classes[synth[3 * RECORD]]}`);
    // Its thumbnail is the record's pixels (drawn within a time budget per frame).
    await page.waitForFunction(() => document.querySelector('#gallery').dataset.undrawn === '0');
    const thumbnail = await page.$eval('#gallery [data-index="3"] canvas', (c) => [...c.getContext('2d').getImageData(0, 0, 32, 32).data]);
    const pixels = [];
    for (let p = 0; p < 1024; p++) pixels.push(...[0, 1, 2].map((c) => synth[3 * RECORD + 1 + c * 1024 + p]), 255);
    assert.deepEqual(thumbnail, pixels, 'the thumbnail of #3 is not the record');
    const runId = Number(await page.getAttribute('#run-status', 'data-run'));
    await page.click('#gallery [data-index="5"]');
    await page.waitForFunction((id) => {
      const s = document.querySelector('#run-status');
      return Number(s.dataset.run) > id && s.dataset.state === 'stopped';
    }, runId);
    const caption = await page.textContent('#original-caption');
    assert.equal(caption, `synth.bin #5 (label: ${classes[synth[5 * RECORD]]})`);
    const shown = await page.$eval('#run-status', (s) => ({ t: Number(s.dataset.stopT), prediction: s.dataset.prediction }));
    // A fresh Simulation of the record (setPixels) under the calibration: the same stop.
    const fresh = await page.evaluate(async ({ m, chw }) => {
      const { Simulation, Calibration } = window.wasmBindings;
      const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
      const sim = new Simulation(await get(`models/${m}.safetensors`));
      const calibration = new Calibration(await get(`models/${m}.calibration.json`));
      sim.use_calibration(calibration);
      sim.set_pixels_chw(new Uint8Array(chw));
      let r;
      do r = sim.step(); while (!r.stop);
      const out = { t: r.t, prediction: sim.info().classes[r.prediction] };
      sim.free();
      calibration.free();
      return out;
    }, { m: MODEL, chw: [...synth.subarray(5 * RECORD + 1, 6 * RECORD)] });
    step(`  #5: stopped at t = ${shown.t} (${shown.prediction}); a fresh Simulation: t = ${fresh.t} (${fresh.prediction})`);
    assert.deepEqual(shown, fresh);
    await page.waitForFunction(() => [...document.querySelectorAll('#fixed-table tbody tr[data-run="fixed"]')].every((r) => r.dataset.done === '1'));
    // The 32×32 view is the record's pixels.
    const preview = await page.$eval('#preview', (c) => {
      const cell = c.width / 32;
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const out = [];
      for (let j = 0; j < 32; j++) for (let i = 0; i < 32; i++) {
        const k = 4 * (Math.floor((j + 0.5) * cell) * c.width + Math.floor((i + 0.5) * cell));
        out.push(data[k], data[k + 1], data[k + 2]);
      }
      return out;
    });
    const expected = [];
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) expected.push(synth[5 * RECORD + 1 + c * 1024 + p]);
    assert.deepEqual(preview, expected, 'the 32×32 view is not the record');
    // The keyboard: focus the next image, Enter.
    await page.focus('#gallery [data-index="5"]');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#original-caption').dataset.record === '6');

    step('Evaluate all on the batch: the figures of dynconf eval --json, and no long task');
    const timing = await evaluate(page);
    step(`  ${longTaskWords(timing)}`);
    const json = await download(page, '#download-eval');
    assert.equal(json.name, 'synth.eval.json');
    assertSameFigures(JSON.parse(json.text), reference, 'Evaluate all');
    const card = await page.$eval('#results', (e) => ({ ...e.dataset, text: e.textContent }));
    assert.equal(card.split, 'synth');
    assert.equal(card.images, '48');
    assert.equal(card.model, MODEL);
    assert.equal(card.inSample, String(reference.dynamic_rule.in_sample));
    for (const text of ['synth.bin', '48 images', MODEL]) assert.ok(card.text.includes(text), `the results lack "${text}"`);
    assert.equal(await page.$$eval('#confusion-tmax tbody tr', (rows) => rows.length), 10);
    assert.equal(await page.isHidden('#download-calibration'), true);
    assert.ok(timing.longest <= LONG_TASK_MS, `a main-thread task of ${timing.longest.toFixed(0)} ms during the evaluation`);

    step('axe-core: no violations with the gallery and the results shown, on this screen and on a phone-wide one');
    for (const width of [1440, 390]) {
      await page.setViewportSize({ width, height: width === 1440 ? 1000 : 844 });
      const violations = await axeViolations(page);
      assert.equal(violations.length, 0, `${width} px wide:\n${formatViolations(violations)}`);
    }
    await page.setViewportSize({ width: 1440, height: 1000 });

    step('a calibration made for another model is refused, naming both files');
    const modelBefore = await page.getAttribute('#model-info', 'data-model');
    await page.setInputFiles('#model-file', [bare, files['other.calibration.json']]);
    const refusal = await page.waitForFunction(() => !document.querySelector('#model-error').hidden && document.querySelector('#model-error').textContent).then((h) => h.jsonValue());
    step(`  ${refusal}`);
    assert.match(refusal, /^“other\.calibration\.json” does not belong to “bare\.safetensors”: this calibration was made for another model \(SHA-256 000000000000…/);
    assert.equal(await page.getAttribute('#model-info', 'data-model'), modelBefore);
    await page.setInputFiles('#model-file', files['other.calibration.json']);
    await page.waitForFunction((m) => document.querySelector('#model-error').textContent.startsWith(`“other.calibration.json” does not belong to “${m}.safetensors”`), MODEL);

    step('a dropped model without calibration: runs to T_max; Evaluate all calibrates it as dynconf calibrate does');
    await page.setInputFiles('#model-file', bare);
    await page.waitForFunction(() => document.querySelector('#model-info').dataset.model === 'bare');
    assert.equal(await page.isHidden('#model-error'), true);
    assert.equal(await page.getAttribute('#model-info', 'data-calibrated'), 'false');
    assert.equal(await page.isHidden('#results'), true, 'the results of the other model stay');
    assert.equal(await page.isVisible('#tradeoff-none'), true);
    await page.waitForFunction(() => document.querySelector('#run-status').dataset.stopT === '32');
    const bareTiming = await evaluate(page);
    step(`  ${longTaskWords(bareTiming)}`);
    const calibration = await download(page, '#download-calibration');
    assert.equal(calibration.name, 'bare.calibration.json');
    assertSameFigures(JSON.parse(calibration.text), bareCalibrationJson, 'the calibration');
    assertSameFigures(JSON.parse((await download(page, '#download-eval')).text), bareReference, 'Evaluate all, in-sample');
    assert.equal(await page.getAttribute('#results', 'data-in-sample'), 'true');
    assert.equal(await page.getAttribute('#model-info', 'data-calibrated'), 'true');
    assert.equal(await page.isVisible('#tradeoff-body'), true);
    assert.ok(bareTiming.longest <= LONG_TASK_MS, `a main-thread task of ${bareTiming.longest.toFixed(0)} ms during the evaluation`);

    step('a calibration with T_max = 12: the run stops by t = 12, and Evaluate all gives dynconf eval');
    await page.setInputFiles('#model-file', [shortModel, shortCalibration]);
    await page.waitForFunction(() => / = 12 · θ/.test(document.querySelector('#model-info').textContent));
    await page.waitForFunction(() => document.querySelector('#run-status').dataset.state === 'stopped');
    const shortStop = Number(await page.getAttribute('#run-status', 'data-stop-t'));
    step(`  the record stopped at t = ${shortStop}`);
    assert.ok(shortStop >= 1 && shortStop <= 12, `stopped at t = ${shortStop}, after T_max = 12`);
    await evaluate(page);
    const shortJson = JSON.parse((await download(page, '#download-eval')).text);
    assert.equal(shortJson.max_steps, 12);
    assertSameFigures(shortJson, shortReference, 'Evaluate all, T_max = 12');

    step('test_batch.bin with a model without calibration: said before the click, then the refusal');
    await page.setInputFiles('#model-file', bare);
    await page.waitForFunction(() => document.querySelector('#model-info').dataset.calibrated === 'false');
    await page.setInputFiles('#batch-file', files['test_batch.bin']);
    await page.waitForFunction(() => document.querySelector('#batch-status').dataset.file === 'test_batch.bin');
    assert.match(await page.textContent('#batch-status'), /test split is never calibrated on/);
    await evaluate(page, 'failed');
    const testRefusal = await page.textContent('#batch-error');
    step(`  ${testRefusal}`);
    assert.match(testRefusal, /^test_batch\.bin is the test split: calibrating on it would tune the threshold on test data/);

    step('a model file over the engine\'s limit is refused before it is read');
    const limit = await page.evaluate(() => window.wasmBindings.maxModelFileBytes());
    await page.evaluate((size) => {
      const input = document.querySelector('#model-file');
      const transfer = new DataTransfer();
      // One MiB of zeros, repeated: the parts share one buffer.
      const mib = new Uint8Array(1 << 20);
      const parts = Array.from({ length: Math.floor(size / mib.length) }, () => mib);
      parts.push(new Uint8Array(size % mib.length));
      transfer.items.add(new File(parts, 'huge.safetensors'));
      input.files = transfer.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
    }, limit + 1);
    const huge = await page.waitForFunction(() => {
      const e = document.querySelector('#model-error');
      return !e.hidden && /huge/.test(e.textContent) && e.textContent;
    }).then((h) => h.jsonValue());
    step(`  ${huge}`);
    assert.match(huge, /“huge\.safetensors”: the model file is 256\.0 MB; the limit is 256 MB/);

    step('a file that is not a model, given as one: named, and what was expected');
    await page.setInputFiles('#model-file', files['test_batch.bin']);
    const notModel = await page.waitForFunction(() => {
      const e = document.querySelector('#model-error');
      return !e.hidden && e.textContent;
    }).then((h) => h.jsonValue());
    step(`  ${notModel}`);
    assert.match(notModel, /“test_batch\.bin”: not a model: expected a dynconf-snn model \(\.safetensors\)/);
    assert.equal(await page.evaluate(() => window.dynconfEvaluation.liveWorkers), 0);

    assert.deepEqual(problems, [], problems.join('\n'));
    step('batch test passed');
  } finally {
    await browser.close();
    server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
