// Time per SNN step in headless Chromium (WebAssembly with simd128) against the native build,
// on the same model and validation images, and the time of one complete Dynamic Confidence
// inference in the browser (set the image, step until the stop rule fires).
//
//   node benches/wasm_vs_native.mjs [--model M] [--calibration C] [--images N] [--steps T]
//                                   [--rounds R] [--warmup SECONDS]
//
// Builds the library for wasm32 (release, as the page: wasm-bindgen --target web, wasm-opt -O3),
// serves it on 127.0.0.1 and drives /usr/bin/chromium with playwright-core (.tools/, from
// scripts/install-tools.sh web). Native: `cargo bench --bench step -- --json`, the same loop
// on one thread.
// Both run the event-driven engine, every image for T steps, R timed rounds after a warm-up,
// and report the median round; each also with the convolutions adding f32 weight rows instead
// of summing int8 weights (the engine before it had integers), in the same run.
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Cargo's output directory: $CARGO_TARGET_DIR when set (relative to the checkout), else target/.
const TARGET = resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target');
const OUT = join(TARGET, 'wasm-bench');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function options() {
  const defaults = {
    model: 'models/dynconf-cifar10-v7.safetensors',
    calibration: null,
    data: '../shared/cifar10/cifar-10-batches-bin',
    images: '8',
    steps: '32',
    rounds: '10',
    warmup: '5',
  };
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i].replace(/^--/, '');
    if (!(key in defaults) || args[i + 1] === undefined) throw new Error(`unknown option ${args[i]}`);
    defaults[key] = args[i + 1];
  }
  defaults.calibration ??= defaults.model.replace(/\.safetensors$/, '.calibration.json');
  return defaults;
}

const env = {
  ...process.env,
  PATH: [join(process.env.HOME, '.cargo', 'bin'), join(ROOT, '.tools', 'node_modules', '.bin'), process.env.PATH].join(':'),
};
const run = (cmd, args, extraEnv = {}) => execFileSync(cmd, args, {
  cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'],
}).toString();

function buildWasm() {
  run('cargo', ['build', '--release', '--quiet', '--target', 'wasm32-unknown-unknown', '--lib']);
  mkdirSync(OUT, { recursive: true });
  run('wasm-bindgen', ['--target', 'web', '--out-dir', OUT, '--out-name', 'dynconf',
    join(TARGET, 'wasm32-unknown-unknown/release/dynconf.wasm')]);
  const wasm = join(OUT, 'dynconf_bg.wasm');
  run('wasm-opt', ['-O3', '--enable-simd', '--enable-bulk-memory', '--enable-nontrapping-float-to-int',
    '--enable-sign-ext', '--enable-mutable-globals', '--enable-reference-types', wasm, '-o', wasm]);
}

/// The first `count` validation images (records 5000.. of data_batch_5.bin), CHW bytes.
function validationImages(dataDir, count) {
  const bytes = readFileSync(join(resolve(ROOT, dataDir), 'data_batch_5.bin'));
  const record = 3073;
  return Array.from({ length: count }, (_, i) => {
    const start = (5000 + i) * record + 1;
    return [...bytes.subarray(start, start + 3072)];
  });
}

// The page: loads the module and model like the demo, then times (1) one Dynamic Confidence
// inference straight after loading, while V8 still runs its baseline (Liftoff) code, (2) the
// step loop after a warm-up long enough for V8 to tier the hot functions up to TurboFan
// (it does so after a few seconds of work, in the background), and (3) warm inferences.
const PAGE = `<!doctype html><meta charset="utf-8"><title>wasm step benchmark</title>
<script type="module">
import init, { Simulation, Calibration } from './dynconf.js';
window.bench = async ({ images, steps, rounds, warmupMs, hasCalibration }) => {
  await init();
  const model = new Uint8Array(await (await fetch('model.safetensors')).arrayBuffer());
  const sim = new Simulation(model);
  const pixels = images.map((p) => Uint8Array.from(p));
  const infer = (p) => {
    const start = performance.now();
    sim.set_pixels_chw(p);
    const report = sim.run();
    return { ms: performance.now() - start, steps: report.t };
  };
  const result = {};
  if (hasCalibration) {
    const calibration = new Calibration(new Uint8Array(await (await fetch('calibration.json')).arrayBuffer()));
    sim.use_calibration(calibration);
    result.cold = infer(pixels[0]);
  }
  let synapticOps = 0;
  // The steps only, as the native benchmark times them (not setting the input).
  const pass = () => {
    let ms = 0;
    synapticOps = 0;
    for (const p of pixels) {
      sim.set_pixels_chw(p);
      const start = performance.now();
      synapticOps += sim.run_to(steps).cumulative_synaptic_ops;
      ms += performance.now() - start;
    }
    return ms / (pixels.length * steps);
  };
  // Rounds alternate between the convolutions in integers (the default) and in f32, where
  // the module can switch (set_integer_weights; older builds cannot).
  const switchable = typeof sim.set_integer_weights === 'function';
  const until = performance.now() + warmupMs;
  while (performance.now() < until) {
    if (switchable) { sim.set_integer_weights(false); pass(); sim.set_integer_weights(true); }
    pass();
  }
  const times = [];
  const f32Times = [];
  for (let r = 0; r < rounds; r++) {
    times.push(pass());
    if (switchable) { sim.set_integer_weights(false); f32Times.push(pass()); sim.set_integer_weights(true); }
  }
  times.sort((a, b) => a - b);
  f32Times.sort((a, b) => a - b);
  Object.assign(result, {
    msPerStep: times[rounds >> 1], msPerStepMin: times[0], synapticOpsPerStep: synapticOps / (pixels.length * steps),
  });
  if (switchable) Object.assign(result, { f32MsPerStep: f32Times[rounds >> 1], f32MsPerStepMin: f32Times[0] });
  if (hasCalibration) {
    const inferences = [];
    for (let r = 0; r < 3; r++) for (const p of pixels) inferences.push(infer(p));
    const ms = inferences.map((i) => i.ms).sort((a, b) => a - b);
    result.inference = {
      threshold: sim.threshold, decoder: sim.decoder,
      meanMs: ms.reduce((a, b) => a + b, 0) / ms.length, medianMs: ms[ms.length >> 1], maxMs: ms[ms.length - 1],
      meanSteps: inferences.reduce((a, i) => a + i.steps, 0) / inferences.length,
    };
  }
  return result;
};
window.ready = true;
</script>`;

function serve(files) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://127.0.0.1').pathname];
    if (!file || !existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function browserTimes(opts, images) {
  writeFileSync(join(OUT, 'bench.html'), PAGE);
  const calibration = resolve(ROOT, opts.calibration);
  const server = await serve({
    '/': join(OUT, 'bench.html'),
    '/dynconf.js': join(OUT, 'dynconf.js'),
    '/dynconf_bg.wasm': join(OUT, 'dynconf_bg.wasm'),
    '/model.safetensors': resolve(ROOT, opts.model),
    '/calibration.json': calibration,
  });
  const require = createRequire(join(ROOT, '.tools', 'package.json'));
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(600_000);
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.ready === true);
    return await page.evaluate((args) => window.bench(args), {
      images, steps: Number(opts.steps), rounds: Number(opts.rounds), warmupMs: Number(opts.warmup) * 1000,
      hasCalibration: existsSync(calibration),
    });
  } finally {
    await browser.close();
    server.close();
  }
}

async function main() {
  const opts = options();
  const count = Number(opts.images);
  console.error(`building the wasm (release, simd128)...`);
  buildWasm();
  console.error(`native: cargo bench --bench step (${count} images × ${opts.steps} steps, ${opts.rounds} rounds)...`);
  const benchStep = (...extra) => JSON.parse(run('cargo', ['bench', '--quiet', '--bench', 'step', '--', '--json',
    '--model', opts.model, '--images', String(count), '--steps', opts.steps, '--rounds', opts.rounds, ...extra]));
  const both = benchStep();
  // The same binary restricted to 128-bit vectors (SSE2), as wide as simd128.
  const both128 = benchStep('--baseline-simd');
  const native = { ms_per_step: both.ms_per_step, ms_per_step_min: both.ms_per_step_min };
  const native128 = { ms_per_step: both128.ms_per_step, ms_per_step_min: both128.ms_per_step_min };
  // Both with the convolutions adding f32 weight rows instead of summing int8 weights.
  const nativeF32 = { ms_per_step: both.f32_ms_per_step, ms_per_step_min: both.f32_ms_per_step_min };
  const native128F32 = { ms_per_step: both128.f32_ms_per_step, ms_per_step_min: both128.f32_ms_per_step_min };
  console.error('wasm: headless Chromium...');
  const wasm = await browserTimes(opts, validationImages(opts.data, count));
  const version = run(CHROMIUM, ['--version']).trim();
  console.log(`model ${opts.model}; ${count} validation images × ${opts.steps} steps, event-driven, one thread; median of ${opts.rounds} rounds`);
  // Synaptic operations per step as the wasm run counted them (the engines are exact, so the
  // native runs make the same ones), per second of one core.
  const ops = wasm.synapticOpsPerStep;
  const rate = (ms) => `${(ops / ms / 1e6).toFixed(2)} G synaptic ops/s per core`;
  console.log(`  ${(ops / 1e6).toFixed(2)} M synaptic ops per step`);
  console.log(`  native:          ${native.ms_per_step.toFixed(4)} ms per step, ${rate(native.ms_per_step)} (AVX2 where the CPU has it)`);
  console.log(`  native, SSE2:    ${native128.ms_per_step.toFixed(4)} ms per step, ${rate(native128.ms_per_step)} (--baseline-simd: 128-bit vectors)`);
  console.log(`  wasm:            ${wasm.msPerStep.toFixed(4)} ms per step, ${rate(wasm.msPerStep)} (${version}, simd128)`);
  console.log(`ratio: wasm / native = ${(wasm.msPerStep / native.ms_per_step).toFixed(2)}×; `
    + `wasm / native SSE2 = ${(wasm.msPerStep / native128.ms_per_step).toFixed(2)}×`);
  console.log(`with f32 weight rows (set_integer_weights(false)), same run:`);
  console.log(`  native:          ${nativeF32.ms_per_step.toFixed(4)} ms per step, ${rate(nativeF32.ms_per_step)}`);
  console.log(`  native, SSE2:    ${native128F32.ms_per_step.toFixed(4)} ms per step, ${rate(native128F32.ms_per_step)}`);
  if (wasm.f32MsPerStep !== undefined) {
    console.log(`  wasm:            ${wasm.f32MsPerStep.toFixed(4)} ms per step, ${rate(wasm.f32MsPerStep)}`);
    console.log(`ratio: wasm / native = ${(wasm.f32MsPerStep / nativeF32.ms_per_step).toFixed(2)}×; `
      + `integers vs f32: native ${(nativeF32.ms_per_step / native.ms_per_step).toFixed(2)}× faster, `
      + `wasm ${(wasm.f32MsPerStep / wasm.msPerStep).toFixed(2)}× faster`);
  }
  if (wasm.inference) {
    const i = wasm.inference;
    console.log(`Dynamic Confidence inference in Chromium (${i.decoder}, threshold ${i.threshold}): `
      + `mean ${i.meanMs.toFixed(2)} ms, median ${i.medianMs.toFixed(2)} ms, max ${i.maxMs.toFixed(2)} ms, `
      + `${i.meanSteps.toFixed(2)} mean steps; the first one after loading (baseline-compiled code): `
      + `${wasm.cold.ms.toFixed(2)} ms, ${wasm.cold.steps} steps`);
  }
  console.log(JSON.stringify({ native, native128, nativeF32, native128F32, wasm }));
}

main().catch((error) => { console.error(error); process.exit(1); });
