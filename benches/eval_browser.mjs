// A whole CIFAR-10 batch evaluated in the browser (the page's BatchEvaluation: Web Workers,
// one engine each) against `dynconf eval` on the same batch, model and machine, in one run;
// then both scaled from 1 to N workers/threads on the first images.
//
//   node benches/eval_browser.mjs [--data DIR] [--split NAME] [--limit N] [--scaling-images N]
//                                 [--workers 1,2] [--no-full]
//
//   --data DIR           CIFAR-10 binary batches (default ../shared/cifar10/cifar-10-batches-bin)
//   --split NAME         the batch NAME.bin (default data_batch_5: 10,000 images; its records
//                        5000..9999 are the validation split, the rest training images)
//   --limit N            only the first N images (written to a temporary NAME-firstN.bin)
//   --scaling-images N   images for the scaling runs (default 1000)
//   --workers LIST       worker/thread counts for the scaling runs (default 1..navigator.hardwareConcurrency)
//   --no-full            skip the whole-batch comparison
//
// Both sides run every image to T_max (the model's calibration's, 32 for the published model:
// `--max-steps` for the CLI, the page's maxSteps) with the quantized ANN too, as `dynconf eval` does,
// and the figures of the two JSON reports must be equal (all keys but `seconds`). "running"
// is the time spent running images (the reports' `seconds`); "wall" adds starting the workers
// or threads, summarising and cross-fitting. E2E_SKIP_BUILD=1 reuses dist/; E2E_DYNCONF=path
// uses that binary.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, DIST, dynconfBinary, launch, MODEL, ROOT, serve, step, TIMEOUT } from '../e2e/lib.mjs';

const RECORD = 3073;
// T_max of the model's calibration: the page's Dynamic Confidence run and "Evaluate all" use it.
const T_MAX = JSON.parse(readFileSync(join(ROOT, 'models', `${MODEL}.calibration.json`), 'utf8')).max_steps;
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const DATA = resolve(ROOT, option('data', '../shared/cifar10/cifar-10-batches-bin'));
const SPLIT = option('split', 'data_batch_5');
const LIMIT = option('limit', null);
const SCALING_IMAGES = Number(option('scaling-images', 1000));
const FULL = !args.includes('--no-full');

function cliEval(dynconf, dir, split, threads) {
  const argv = [...(threads ? ['--threads', String(threads)] : []), 'eval', '--json', '--model', join(ROOT, 'models', `${MODEL}.safetensors`), '--data', dir, '--split', split, '--max-steps', String(T_MAX)];
  const started = process.hrtime.bigint();
  const result = spawnSync(dynconf, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20 });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(result.status, 0, `dynconf ${argv.join(' ')}: ${result.stderr}`);
  const report = JSON.parse(result.stdout);
  return { report, running: report.seconds, wall };
}

/** The page's BatchEvaluation on /bench/FILE with `workers` runner workers. */
function browserEval(page, file, split, workers) {
  return page.evaluate(async ({ file, split, workers, model, maxSteps }) => {
    const { BatchEvaluation } = await import('./js/evaluation.js');
    const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
    const [batchBytes, modelBytes, calibrationBytes] = await Promise.all([
      get(`bench/${file}`), get(`models/${model}.safetensors`), get(`models/${model}.calibration.json`)]);
    const recordBytes = window.wasmBindings.cifarRecordBytes();
    const evaluation = new BatchEvaluation({ modelBytes, calibrationBytes, batchBytes, recordBytes, split, fileName: file, maxSteps, workers });
    const started = performance.now();
    const { evalJson, seconds } = await evaluation.run();
    return { evalJson, running: seconds, wall: (performance.now() - started) / 1000 };
  }, { file, split, workers, model: MODEL, maxSteps: T_MAX });
}

function sameFigures(page, cli) {
  const strip = ({ seconds, ...rest }) => rest;
  assert.deepStrictEqual(strip(page), strip(cli), 'the page and the CLI report different figures');
}

/** The first `n` records of `file` as a new batch in `dir`; its split name. */
function firstRecords(file, n, dir, name) {
  const bytes = readFileSync(file);
  writeFileSync(join(dir, `${name}.bin`), bytes.subarray(0, Math.min(bytes.length, n * RECORD)));
  return name;
}

async function main() {
  build();
  const dynconf = dynconfBinary();
  const tmp = mkdtempSync(join(tmpdir(), 'dynconf-bench-'));
  const source = join(DATA, `${SPLIT}.bin`);
  assert.ok(existsSync(source), `${source} does not exist (pass --data DIR --split NAME)`);
  let [dir, split] = [DATA, SPLIT];
  if (LIMIT) [dir, split] = [tmp, firstRecords(source, Number(LIMIT), tmp, `${SPLIT}-first${LIMIT}`)];
  const scalingSplit = firstRecords(source, SCALING_IMAGES, tmp, `${SPLIT}-first${SCALING_IMAGES}`);
  const server = await serve(DIST, {
    [`/bench/${split}.bin`]: join(dir, `${split}.bin`),
    [`/bench/${scalingSplit}.bin`]: join(tmp, `${scalingSplit}.bin`),
  });
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForSelector('#app:not([hidden])');
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const workerCounts = (option('workers', null)?.split(',').map(Number)) || Array.from({ length: cores }, (_, i) => i + 1);
    console.log(`machine: ${availableParallelism()} cores (navigator.hardwareConcurrency ${cores}); model ${MODEL}; T_max ${T_MAX}, quantized ANN included`);

    // Warm-up: V8 moves the hot wasm functions to its optimising compiler after a few seconds.
    step('warm-up: the scaling batch once in the browser');
    await browserEval(page, `${scalingSplit}.bin`, scalingSplit, cores);

    if (FULL) {
      step(`whole batch ${split}.bin: dynconf eval (all cores), then the page (${cores} workers)`);
      const native = cliEval(dynconf, dir, split);
      const web = await browserEval(page, `${split}.bin`, split, cores);
      sameFigures(JSON.parse(web.evalJson), native.report);
      const images = native.report.images;
      console.log(`\n${split}.bin, ${images} images: the same figures on both (every key but seconds)`);
      console.log('               running s   wall s   images/s (running)');
      console.log(`native (CLI)   ${native.running.toFixed(1).padStart(9)} ${native.wall.toFixed(1).padStart(8)} ${(images / native.running).toFixed(1).padStart(10)}`);
      console.log(`browser        ${web.running.toFixed(1).padStart(9)} ${web.wall.toFixed(1).padStart(8)} ${(images / web.running).toFixed(1).padStart(10)}`);
      console.log(`browser / native: running ${(web.running / native.running).toFixed(2)}×, wall ${(web.wall / native.wall).toFixed(2)}× (target ≤ 1.5×)`);
    }

    step(`scaling on the first ${SCALING_IMAGES} images`);
    console.log(`\nscaling, first ${SCALING_IMAGES} images (running seconds, images/s, speed-up over 1)`);
    console.log('workers   native s  img/s  speed-up | browser s  img/s  speed-up | browser/native');
    let base = null;
    for (const n of workerCounts) {
      const native = cliEval(dynconf, tmp, scalingSplit, n);
      const web = await browserEval(page, `${scalingSplit}.bin`, scalingSplit, n);
      sameFigures(JSON.parse(web.evalJson), native.report);
      base ||= { native: native.running, web: web.running };
      const rate = (s) => (SCALING_IMAGES / s).toFixed(1).padStart(6);
      console.log(`${String(n).padStart(7)} ${native.running.toFixed(2).padStart(10)} ${rate(native.running)} ${(base.native / native.running).toFixed(2).padStart(8)}× | `
        + `${web.running.toFixed(2).padStart(9)} ${rate(web.running)} ${(base.web / web.running).toFixed(2).padStart(8)}× | ${(web.running / native.running).toFixed(2).padStart(6)}×`);
    }
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
