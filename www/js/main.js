// The page: loads the engine, the model and its calibration trace, then wires events and
// draws. All computation happens in Rust (src/wasm/): one Simulation.step() per time step.
import { fetchWithProgress, formatBytes } from './loader.js';
import { attachImageInput, decodeImage, InputError } from './image-input.js';
import * as charts from './charts.js';

const params = new URLSearchParams(location.search);
// ?model=NAME loads models/NAME.safetensors and models/NAME.calibration.json (development).
const MODEL_NAME = /^[\w.-]+$/.test(params.get('model') || '') ? params.get('model') : 'dynconf-cifar10-v6';
const MODEL_URL = `models/${MODEL_NAME}.safetensors`;
const CALIBRATION_URL = `models/${MODEL_NAME}.calibration.json`;
const SPEEDS = [1, 2, 4, 8, 16, 32, Infinity]; // steps per second; Infinity: as fast as frames allow
const FIXED_LENGTHS = [4, 8, 16, 32];
const MAX_FIXED_T = 256;
const SPIKE_MAP_LAYERS = 3; // the early IF layers drawn as spike maps
const FRAME_BUDGET_MS = 12; // simulation time per animation frame

const $ = (id) => document.getElementById(id);
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtOps = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n));
const pct = (x, digits = 1) => `${(100 * x).toFixed(digits)}%`;

const app = {
  wasm: null,        // the wasm-bindgen module (classes Simulation, Calibration; wasm_memory())
  info: null,        // model description from Simulation.info()
  calibration: null, // wasm Calibration
  cal: null,         // its summary: split, t_max, fixed curve, Pareto front, oracle, threshold
  threshold: 0.99,
  dc: null,          // Simulation animated under Dynamic Confidence
  full: null,        // Simulation run to the longest fixed length, for the fixed-length runs
  image: null,       // {name, width, height, format}
  run: null,         // the Dynamic Confidence run: per-step reports, stop step, play state
  fixed: null,       // the fixed-length runs: per-step summaries of `full`, wanted lengths
  stepMs: null,      // moving average of one step's time
  imageTicket: 0,    // counts image loads
  frame: null,
};

// ---------------------------------------------------------------- loading

function wasmModule() {
  if (window.wasmBindings) return Promise.resolve(window.wasmBindings);
  return new Promise((resolve, reject) => {
    addEventListener('TrunkApplicationStarted', () => resolve(window.wasmBindings), { once: true });
    setTimeout(() => reject(new Error('the WebAssembly engine did not start (this browser may lack WebAssembly SIMD)')), 30000);
  });
}

function progressTo(bar, text) {
  return (received, total) => {
    if (total) { bar.max = total; bar.value = received; } else { bar.removeAttribute('value'); }
    text.textContent = total ? `${formatBytes(received)} / ${formatBytes(total)}` : formatBytes(received);
  };
}

async function load() {
  const wasmDone = wasmModule().then((wasm) => {
    $('load-wasm').max = 1; $('load-wasm').value = 1; $('load-wasm-text').textContent = 'ready';
    return wasm;
  });
  const modelBytes = fetchWithProgress(MODEL_URL, progressTo($('load-model'), $('load-model-text')));
  const calibrationBytes = fetchWithProgress(CALIBRATION_URL, progressTo($('load-cal'), $('load-cal-text')));
  const [wasm, model, calibration] = await Promise.all([wasmDone, modelBytes, calibrationBytes]);
  app.wasm = wasm;
  app.dc = new wasm.Simulation(model);
  app.info = app.dc.info();
  app.calibration = new wasm.Calibration(calibration);
  app.cal = app.calibration.summary();
  app.dc.use_calibration(app.calibration);
  warmUp(app.dc);
  app.threshold = app.cal.threshold;
  showModelInfo();
  $('loading').hidden = true;
  $('app').hidden = false;
  setThreshold(app.threshold);
  wireEvents();
  render();
}

// V8 first runs WebAssembly with its baseline compiler and optimises hot functions later, so
// the visitor's first inference would be several times slower than the next ones. A short
// throw-away run on a grey image while the page is still loading pays that cost up front.
function warmUp(simulation) {
  const sim = simulation.fork(); // shares the loaded model: no second parse
  sim.set_image(new Uint8Array(32 * 32 * 4).fill(128), 32, 32);
  for (let t = 0; t < 64; t++) sim.step();
  sim.free();
}

function showModelInfo() {
  const { info, cal } = app;
  const validation = info.metadata?.validation;
  const ann = validation?.ann_accuracy != null ? ` · quantized ANN ${pct(validation.ann_accuracy)} on validation` : '';
  $('model-info').innerHTML = `<b>${escapeHtml(info.name)}</b> · ${info.layers.length} IF layers · ${fmtInt(info.neurons)} neurons · ${fmtOps(info.synapses)} synapses · L = ${info.levels}${ann}<br>`
    + `decoding ${escapeHtml(cal.decoding)} · T<sub>max</sub> = ${cal.t_max} · calibrated θ = ${charts.formatConfidence(cal.threshold)}`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// ---------------------------------------------------------------- errors

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

// ---------------------------------------------------------------- image

async function onFile(file) {
  clearError();
  const ticket = ++app.imageTicket; // a later file wins if decoding overlaps
  let decoded;
  try {
    decoded = await decodeImage(file);
  } catch (error) {
    if (ticket === app.imageTicket) showError(error instanceof InputError ? error.message : `Could not read this file: ${error.message}`);
    return;
  }
  if (ticket !== app.imageTicket) {
    decoded.bitmap.close();
    return;
  }
  try {
    app.dc.set_image(decoded.rgba, decoded.width, decoded.height);
  } catch (error) {
    decoded.bitmap.close();
    showError(`The engine could not use this image: ${error.message}`);
    return;
  }
  charts.drawFitted($('original'), decoded.bitmap, decoded.width, decoded.height);
  decoded.bitmap.close();
  $('original-caption').textContent = `${decoded.name} · ${decoded.width}×${decoded.height} ${decoded.format}`;
  drawPreview();
  app.image = { name: decoded.name, width: decoded.width, height: decoded.height };
  app.full?.free();
  app.full = app.dc.fork();
  app.fixed = { lengths: [...(app.fixed?.lengths || FIXED_LENGTHS)], steps: [] };
  startRun();
}

function drawPreview() {
  const rgba = app.dc.preview();
  const { width, height } = app.info.input;
  const small = document.createElement('canvas');
  small.width = width;
  small.height = height;
  small.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  charts.drawFitted($('preview'), small, width, height, { smooth: false });
}

// ---------------------------------------------------------------- the Dynamic Confidence run

function startRun({ play = true } = {}) {
  app.dc.reset();
  app.dc.threshold = app.threshold;
  app.run = { reports: [], stopT: null, playing: play, debt: 0, last: null };
  for (const id of ['play', 'step', 'replay']) $(id).disabled = false;
  schedule();
}

function togglePlay() {
  if (!app.run || app.run.stopT) return;
  app.run.playing = !app.run.playing;
  app.run.last = null;
  schedule();
}

function stepOnce() {
  if (!app.run) return;
  if (app.run.stopT) startRun({ play: false }); // stepping after the stop starts over
  app.run.playing = false;
  dcStep();
  schedule();
}

function dcStep() {
  const started = performance.now();
  const report = app.dc.step();
  const ms = performance.now() - started;
  app.stepMs = app.stepMs == null ? ms : 0.9 * app.stepMs + 0.1 * ms;
  app.run.reports.push(report);
  if (report.stop) {
    app.run.stopT = report.t;
    app.run.playing = false;
  }
}

/** Runs the steps that are due at the chosen speed. */
function advanceRun(now) {
  const run = app.run;
  if (!run || !run.playing) return;
  const speed = SPEEDS[Number($('speed').value)];
  if (run.last == null) { run.last = now; run.debt = 1; } // the first step right away
  // Steps due since the last frame; at most 3 behind (e.g. after the tab was hidden).
  run.debt = speed === Infinity ? Infinity : Math.min(run.debt + ((now - run.last) / 1000) * speed, 3);
  run.last = now;
  const deadline = performance.now() + FRAME_BUDGET_MS;
  while (run.playing && run.debt >= 1 && performance.now() < deadline) {
    dcStep();
    run.debt -= 1;
  }
}

// ---------------------------------------------------------------- fixed-length runs

/** Advances the full-length simulation within a time budget; its prefix of T steps is the
 * fixed-length run with T steps (the simulation is deterministic). */
function advanceFixed(budgetMs) {
  const fixed = app.fixed;
  if (!fixed || !app.full) return;
  const goal = Math.max(...fixed.lengths);
  const deadline = performance.now() + budgetMs;
  while (fixed.steps.length < goal && performance.now() < deadline) {
    const r = app.full.step();
    fixed.steps.push({ t: r.t, prediction: r.prediction, confidence: r.confidence, spikes: r.cumulative_spikes, ops: r.cumulative_synaptic_ops });
  }
}

function fixedPending() {
  return app.fixed && app.fixed.steps.length < Math.max(...app.fixed.lengths);
}

function addFixedLength(event) {
  event.preventDefault();
  const t = Math.round(Number($('fixed-t').value));
  if (!(t >= 1 && t <= MAX_FIXED_T)) {
    showError(`A fixed run needs between 1 and ${MAX_FIXED_T} steps.`);
    return;
  }
  clearError();
  if (!app.fixed) app.fixed = { lengths: [...FIXED_LENGTHS], steps: [] };
  if (!app.fixed.lengths.includes(t)) app.fixed.lengths.push(t);
  app.fixed.lengths.sort((a, b) => a - b);
  schedule();
}

function removeFixedLength(t) {
  app.fixed.lengths = app.fixed.lengths.filter((x) => x !== t);
  if (!app.fixed.lengths.length) app.fixed.lengths = [...FIXED_LENGTHS];
  schedule();
}

// ---------------------------------------------------------------- threshold

const sliderToThreshold = (u) => charts.uToConfidence(u);

function setThreshold(c, { fromSlider = false } = {}) {
  app.threshold = c;
  if (!fromSlider) $('threshold').value = String(charts.confidenceToU(c));
  $('threshold-text').textContent = charts.formatConfidence(c);
  if (app.dc) app.dc.threshold = c;
  renderTradeoff();
  renderRun();
}

// ---------------------------------------------------------------- the animation loop

function schedule() {
  if (app.frame == null) app.frame = requestAnimationFrame(frame);
}

function frame(now) {
  app.frame = null;
  advanceRun(now);
  advanceFixed(app.run?.playing ? FRAME_BUDGET_MS / 2 : FRAME_BUDGET_MS);
  render();
  if (app.run?.playing || fixedPending()) schedule();
}

// ---------------------------------------------------------------- drawing

function render() {
  renderRun();
  renderFixed();
  renderSpikes();
}

function renderRun() {
  const run = app.run;
  const last = run?.reports.at(-1);
  const tMax = app.cal?.t_max ?? 32;
  charts.drawBars($('bars'), { classes: app.info.classes, probabilities: last?.probabilities, prediction: last?.prediction, final: !!run?.stopT });
  charts.drawConfidence($('confidence'), {
    tMax,
    run: run ? run.reports.map((r) => r.confidence) : [],
    full: app.fixed ? app.fixed.steps.slice(0, tMax).map((s) => s.confidence) : [],
    threshold: app.threshold,
    stopT: run?.stopT,
  });
  const status = $('run-status');
  const theta = charts.formatConfidence(app.threshold);
  if (!run) {
    status.textContent = 'Choose, drop or paste an image to start.';
  } else if (!last) {
    status.textContent = 'Starting…';
  } else {
    const name = app.info.classes[last.prediction];
    const conf = charts.formatConfidence(last.confidence);
    if (run.stopT && last.confident) {
      status.innerHTML = `<b>Stopped at t = ${run.stopT}</b> of at most ${tMax}: <b>${escapeHtml(name)}</b>, confidence ${conf} &gt; θ = ${theta}.`;
    } else if (run.stopT) {
      status.innerHTML = `<b>Reached T<sub>max</sub> = ${tMax}</b> without exceeding θ = ${theta}; answer: <b>${escapeHtml(name)}</b> (confidence ${conf}).`;
    } else {
      status.innerHTML = `t = ${last.t}: <b>${escapeHtml(name)}</b>, confidence ${conf} ≤ θ = ${theta}${run.playing ? ' · running' : ' · paused'}`;
    }
  }
  // Machine-readable state (the end-to-end test reads it).
  status.dataset.state = !run ? 'idle' : run.stopT ? 'stopped' : run.playing ? 'running' : 'paused';
  status.dataset.t = last ? String(last.t) : '0';
  status.dataset.stopT = run?.stopT ? String(run.stopT) : '';
  $('play').textContent = run?.playing ? 'Pause' : 'Play';
  $('play').disabled = !run || !!run.stopT;
  $('perf').textContent = last
    ? `one step: ${app.stepMs.toFixed(2)} ms in WebAssembly · this step ${fmtInt(last.spikes)} spikes, ${fmtOps(last.synaptic_ops)} synaptic ops`
    : '';
}

function renderFixed() {
  const tbody = $('fixed-table').querySelector('tbody');
  const run = app.run;
  const fixed = app.fixed;
  const rows = [];
  const dcDone = run?.stopT ? run.reports.at(-1) : null;
  if (run) {
    const last = run.reports.at(-1);
    rows.push({
      dc: true,
      label: `Dynamic Confidence (θ = ${charts.formatConfidence(app.threshold)})`,
      steps: dcDone ? dcDone.t : last ? `${last.t}…` : '…',
      result: last ? { prediction: last.prediction, confidence: last.confidence, spikes: last.cumulative_spikes, ops: last.cumulative_synaptic_ops } : null,
      final: !!dcDone,
    });
  }
  for (const t of fixed?.lengths || FIXED_LENGTHS) {
    const s = fixed?.steps[t - 1];
    rows.push({ t, label: `Fixed T = ${t}`, steps: t, result: s, final: !!s, removable: !FIXED_LENGTHS.includes(t) });
  }
  const maxOps = Math.max(1, ...rows.filter((r) => r.result).map((r) => r.result.ops));
  tbody.innerHTML = rows.map((r) => {
    const res = r.result;
    const cells = res
      ? `<td>${escapeHtml(app.info.classes[res.prediction])}</td><td class="num">${charts.formatConfidence(res.confidence)}</td>`
        + `<td class="num">${fmtInt(res.spikes)}</td><td class="num">${fmtOps(res.ops)}</td>`
        + `<td><div class="costbar" style="width:${(100 * res.ops) / maxOps}%"></div></td>`
      : '<td class="pending" colspan="5">running…</td>';
    const remove = r.removable ? ` <button type="button" class="remove" data-remove="${r.t}" title="Remove">×</button>` : '';
    const data = `data-run="${r.dc ? 'dc' : 'fixed'}" data-steps="${r.final ? (r.dc ? dcDone.t : r.t) : ''}" data-done="${r.final ? 1 : 0}"`
      + (res ? ` data-prediction="${escapeHtml(app.info.classes[res.prediction])}" data-ops="${res.ops}"` : '');
    return `<tr ${data} class="${r.dc ? 'dc' : ''}${r.final ? ' done' : ''}"><td>${r.label}${remove}</td><td class="num">${r.steps}</td>${cells}</tr>`;
  }).join('');

  const summary = $('fixed-summary');
  const longest = fixed && Math.max(...fixed.lengths);
  const ref = fixed?.steps[longest - 1];
  if (dcDone && ref) {
    const fewerSteps = 1 - dcDone.t / longest;
    const fewerOps = 1 - dcDone.cumulative_synaptic_ops / ref.ops;
    const same = dcDone.prediction === ref.prediction;
    summary.innerHTML = `Dynamic Confidence used <b>${dcDone.t}</b> steps instead of ${longest} (<b>${pct(fewerSteps, 0)} fewer</b>) `
      + `and ${fmtOps(dcDone.cumulative_synaptic_ops)} instead of ${fmtOps(ref.ops)} synaptic ops (${pct(fewerOps, 0)} fewer); `
      + (same ? `<span class="good">same prediction as T = ${longest}</span>.` : `T = ${longest} predicts ${escapeHtml(app.info.classes[ref.prediction])} instead.`);
  } else {
    summary.textContent = run ? '' : 'The same image run for a fixed number of steps, for comparison.';
  }
}

function renderSpikes() {
  const last = app.run?.reports.at(-1);
  $('spikes-t').textContent = last ? `at t = ${last.t}` : '';
  const layers = app.info.layers;
  charts.drawRates($('rates'), last ? layers.map((l, k) => ({ name: l.name, shape: l.shape.join('×'), rate: last.spikes_per_layer[k] / l.neurons })) : null);
  const maps = $('maps');
  const count = Math.min(SPIKE_MAP_LAYERS, layers.length);
  if (maps.children.length !== count) {
    maps.innerHTML = layers.slice(0, count).map((l) => `<figure><canvas></canvas><figcaption>${escapeHtml(l.name)}: ${l.shape.join('×')} (channels tiled)</figcaption></figure>`).join('');
  }
  const memory = app.wasm.wasm_memory();
  [...maps.querySelectorAll('canvas')].forEach((canvas, k) => {
    // A view into the engine's memory, as in the Game of Life: no copy, valid until the next call.
    const spikes = last ? new Uint8Array(memory.buffer, app.dc.spikes_ptr(k), app.dc.spikes_len(k)) : null;
    charts.drawSpikeMap(canvas, spikes, layers[k].shape);
  });
}

function renderTradeoff() {
  if (!app.cal) return;
  const cal = app.cal;
  const current = app.calibration.replay(app.threshold);
  const point = charts.drawTradeoff($('tradeoff'), { tMax: cal.t_max, fixed: cal.fixed, front: cal.front, current, oracle: cal.oracle });
  // Where the current threshold's point is drawn (the end-to-end test reads it).
  Object.assign($('tradeoff').dataset, { meanSteps: current.mean_steps, accuracy: current.accuracy, x: point.x.toFixed(1), y: point.y.toFixed(1) });
  const match = current.fixed_t_matching
    ? `a fixed run needs T = ${current.fixed_t_matching} for at least this accuracy, so Dynamic Confidence saves <b>${pct(current.latency_reduction, 0)}</b> of the steps.`
    : `no fixed length up to ${cal.t_max} reaches this accuracy.`;
  $('tradeoff-readout').innerHTML = `θ = ${charts.formatConfidence(app.threshold)}: <b>${current.mean_steps.toFixed(2)}</b> mean steps, `
    + `<b>${pct(current.accuracy, 2)}</b> accuracy; ${match}`;
  $('tradeoff-caption').textContent = `Measured on: ${cal.split} (${fmtInt(cal.images)} images, each run once to T_max = ${cal.t_max}; `
    + `decoding ${cal.decoding}). Every threshold is replayed from that stored trace. `
    + `Oracle (stop each image at its first correct step): ${pct(cal.oracle.accuracy, 2)} at ${cal.oracle.mean_steps.toFixed(2)} mean steps.`;
}

// ---------------------------------------------------------------- events

function wireEvents() {
  attachImageInput({ dropzone: $('dropzone'), fileInput: $('file'), onFile });
  $('play').addEventListener('click', togglePlay);
  $('step').addEventListener('click', stepOnce);
  $('replay').addEventListener('click', () => app.run && startRun());
  const speed = () => { const s = SPEEDS[Number($('speed').value)]; $('speed-text').textContent = s === Infinity ? 'max' : `${s} steps/s`; };
  $('speed').addEventListener('input', speed);
  speed();
  $('threshold').addEventListener('input', () => setThreshold(sliderToThreshold(Number($('threshold').value)), { fromSlider: true }));
  $('threshold').addEventListener('change', () => app.run && startRun());
  $('threshold-reset').addEventListener('click', () => { setThreshold(app.cal.threshold); if (app.run) startRun(); });
  $('fixed-form').addEventListener('submit', addFixedLength);
  $('fixed-table').addEventListener('click', (event) => {
    const t = event.target.dataset?.remove;
    if (t) removeFixedLength(Number(t));
  });
  addEventListener('resize', () => { render(); renderTradeoff(); });
}

load().catch((error) => {
  console.error(error);
  const box = $('loading');
  box.insertAdjacentHTML('beforeend', `<div class="error">The demo could not start: ${escapeHtml(error.message || String(error))}</div>`);
});
