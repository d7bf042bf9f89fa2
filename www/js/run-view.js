// The runs of the current input and their drawing: the Dynamic Confidence run (one
// Simulation.step() per time step, at the chosen speed), the fixed-length runs beside it, the
// requestAnimationFrame loop that advances both, and the panels that show them (class
// probabilities, score over time, the fixed-steps table, spike activity).
import * as charts from './charts.js';
import { $, clearError, COARSE, escapeHtml, fmtInt, fmtOps, NARROW, pct, showError } from './ui.js';
import { thresholdText } from './threshold-panel.js';
import { onRunStopped } from './camera.js';

const SPEEDS = [1, 2, 4, 8, 16, 32, Infinity]; // steps per second; Infinity: as fast as frames allow
const FIXED_LENGTHS = [4, 8, 16, 32];
const MAX_FIXED_T = 256;
const SPIKE_MAP_LAYERS = 3; // the early IF layers drawn as spike maps
const FRAME_BUDGET_MS = 12; // simulation time per animation frame
// While "Evaluate all" keeps every core busy, a frame does less (its tasks stay far under 50 ms
// even when the workers slow the main thread down, and the workers get the cores).
const FRAME_BUDGET_EVALUATING_MS = 3;

// ---------------------------------------------------------------- the Dynamic Confidence run

/** The Dynamic Confidence run and the fixed-length runs start over on the current input. */
export function restartRuns(app) {
  app.full?.free();
  app.full = app.dc.fork();
  app.fixed = { lengths: [...(app.fixed?.lengths || FIXED_LENGTHS)], steps: [] };
  startRun(app);
  if (app.image && app.image !== app.revealedImage && !app.camera) {
    app.revealedImage = app.image; // a new image, not a new crop of it
    revealResult();
  }
}

const REDUCED_MOTION = matchMedia('(prefers-reduced-motion: reduce)');

/** Scrolls the headline result into view if it is off screen (on a phone it is below the image). */
function revealResult() {
  const verdictBox = $('run-verdict');
  const r = verdictBox.getBoundingClientRect();
  if (r.top >= 0 && r.bottom <= innerHeight) return;
  verdictBox.scrollIntoView({ block: 'start', behavior: REDUCED_MOTION.matches ? 'auto' : 'smooth' });
}

export function startRun(app, { play = true } = {}) {
  app.dc.reset();
  app.dc.threshold = app.threshold;
  app.run = { reports: [], stopT: null, playing: play, debt: 0, last: null, id: (app.run?.id || 0) + 1, crop: app.cropBox?.text };
  for (const id of ['play', 'step', 'replay']) $(id).disabled = false;
  renderRun(app); // the status shows the restart at once (the end-to-end test waits on it)
  schedule(app);
}

export function togglePlay(app) {
  if (!app.run || app.run.stopT) return;
  app.run.playing = !app.run.playing;
  app.run.last = null;
  schedule(app);
}

export function stepOnce(app) {
  if (!app.run) return;
  if (app.run.stopT) startRun(app, { play: false }); // stepping after the stop starts over
  app.run.playing = false;
  dcStep(app);
  schedule(app);
}

export function replay(app) {
  if (app.run) startRun(app);
}

function dcStep(app) {
  const started = performance.now();
  const report = app.dc.step();
  const ms = performance.now() - started;
  app.stepMs = app.stepMs == null ? ms : 0.9 * app.stepMs + 0.1 * ms;
  app.run.reports.push(report);
  if (report.stop) {
    app.run.stopT = report.t;
    app.run.playing = false;
    onRunStopped(app, report);
  }
}

/** The speed slider's steps per second, in its label. */
export function showSpeed() {
  const s = SPEEDS[Number($('speed').value)];
  $('speed-text').textContent = s === Infinity ? 'max' : `${s} steps/s`;
}

/** Runs the steps that are due at the chosen speed. */
function advanceRun(app, now, budget = FRAME_BUDGET_MS) {
  const run = app.run;
  if (!run || !run.playing) return;
  const speed = SPEEDS[Number($('speed').value)];
  if (run.last == null) { run.last = now; run.debt = 1; } // the first step right away
  // Steps due since the last frame; at most 3 behind (e.g. after the tab was hidden).
  run.debt = speed === Infinity ? Infinity : Math.min(run.debt + ((now - run.last) / 1000) * speed, 3);
  run.last = now;
  const deadline = performance.now() + budget;
  while (run.playing && run.debt >= 1 && performance.now() < deadline) {
    dcStep(app);
    run.debt -= 1;
  }
}

// ---------------------------------------------------------------- fixed-length runs

/** Advances the full-length simulation within a time budget; its prefix of T steps is the
 * fixed-length run with T steps (the simulation is deterministic). */
function advanceFixed(app, budgetMs) {
  const fixed = app.fixed;
  if (!fixed || !app.full) return;
  const goal = Math.max(...fixed.lengths);
  const deadline = performance.now() + budgetMs;
  while (fixed.steps.length < goal && performance.now() < deadline) {
    const r = app.full.step();
    fixed.steps.push({ t: r.t, prediction: r.prediction, score: r.score, spikes: r.cumulative_spikes, ops: r.cumulative_synaptic_ops });
  }
}

function fixedPending(app) {
  return app.fixed && app.fixed.steps.length < Math.max(...app.fixed.lengths);
}

export function addFixedLength(app, event) {
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
  schedule(app);
}

export function removeFixedLength(app, t) {
  app.fixed.lengths = app.fixed.lengths.filter((x) => x !== t);
  if (!app.fixed.lengths.length) app.fixed.lengths = [...FIXED_LENGTHS];
  schedule(app);
}

// ---------------------------------------------------------------- the animation loop

export function schedule(app) {
  if (app.frame == null) app.frame = requestAnimationFrame((now) => frame(app, now));
}

function frame(app, now) {
  app.frame = null;
  const budget = app.evaluation ? FRAME_BUDGET_EVALUATING_MS : FRAME_BUDGET_MS;
  advanceRun(app, now, budget);
  advanceFixed(app, app.run?.playing ? budget / 2 : budget);
  render(app);
  if (app.run?.playing || fixedPending(app)) schedule(app);
}

// ---------------------------------------------------------------- drawing

export function render(app) {
  renderRun(app);
  renderFixed(app);
  renderSpikes(app);
}

/** A score s(t), and for max-probability decoders c = 1 − 10^(−s). */
function scoreText(app, score, text = charts.formatScore(score)) {
  const c = app.dc.scores_max_probability && Number.isFinite(score) ? ` (c = ${charts.formatProbabilityOfScore(score)})` : '';
  return `s = ${text}${c}`;
}

/**
 * A score and the threshold as text with enough digits that they never read equal when they
 * differ (s = 0.024 > θ = 0.024 would contradict itself): [score text, θ text].
 */
export function distinctScoreTexts(score, theta) {
  let a = charts.formatScore(score);
  let b = charts.formatScore(theta);
  for (let digits = 3; a === b && score !== theta && digits <= 9 && Number.isFinite(score) && Number.isFinite(theta); digits++) {
    a = score.toPrecision(digits).replace('-', '−');
    b = theta.toPrecision(digits).replace('-', '−');
  }
  return [a, b];
}

/** The images the calibration measured its figures on, in words ("5,000 validation images (CIFAR-10)"). */
function calibrationImages(app) {
  const { images, split } = app.cal;
  return /^validation\b/.test(split) ? `${fmtInt(images)} validation images (CIFAR-10)` : `${fmtInt(images)} images of ${split}`;
}

/** The steps a report's chance was measured over, in words ("at step 1", "at steps 5–8"). */
function stepsText([first, last]) {
  return first === last ? `at step ${first}` : `at steps ${first}–${last}`;
}

/** The chance p as words: "96%" (whole per cent; one decimal near 0 and 1). */
const chanceText = (p) => (p > 0.99 || p < 0.01 ? pct(p, 1) : pct(p, 0));

/**
 * Whether a step report says the spiking activity so far is unlike that on the calibration's
 * pictures (the calibration's out-of-distribution rule; false when it has none).
 */
const unlikeTraining = (report) => report?.out_of_distribution === true;

/**
 * The headline: what happened, in words, and how often the network was right on validation
 * images at about this step and score; with `ood`, the note that the image is unlike the
 * pictures the network learnt from (at the step shown). It changes only when the run starts,
 * pauses or stops (it is a live region: a screen reader reads it out then, not at every step),
 * so while the run plays it gives no answer and no note (the status line below shows both).
 */
function verdict(app, run, last) {
  const v = verdictWords(app, run, last);
  return { ...v, ood: v.state !== 'idle' && v.state !== 'running' && unlikeTraining(last) };
}

function verdictWords(app, run, last) {
  const tMax = app.dc.max_steps;
  const name = last ? app.info.classes[last.prediction] : '';
  if (!run) {
    return { state: 'idle', head: COARSE.matches ? 'Choose an image or take a photo to see what the network says.' : 'Choose, drop or paste an image to see what the network says.', sub: '' };
  }
  // A report made before the calibration changed may carry a chance of the old one.
  const measured = last?.chance != null && app.cal
    ? `On ${calibrationImages(app)}, ${stepsText(last.chance_steps)} with about this score, the network was right ${chanceText(last.chance)} of the time.`
    : '';
  if (run.stopT && last.confident) {
    return { state: 'sure', head: `Sure at step ${run.stopT}: <b>${escapeHtml(name)}</b>`, sub: measured };
  }
  if (run.stopT && !app.cal) {
    return { state: 'no-threshold', head: `After ${run.stopT} steps: <b>${escapeHtml(name)}</b>`, sub: 'This model has no calibration, so the run has no threshold to stop at and no measured figure.' };
  }
  if (run.stopT) {
    return { state: 'not-sure', head: `Not sure after ${run.stopT} steps: best guess <b>${escapeHtml(name)}</b>`, sub: measured };
  }
  if (!run.playing && last) {
    return { state: 'paused', head: `Paused at step ${last.t} of at most ${tMax}: leaning towards <b>${escapeHtml(name)}</b>`, sub: '' };
  }
  return { state: 'running', head: `Watching the network decide… (at most ${tMax} steps)`, sub: '' };
}

function renderVerdict(app, run, last) {
  const v = verdict(app, run, last);
  const box = $('run-verdict');
  const key = `${v.state}|${v.head}|${v.sub}|${v.ood}`;
  if (box.dataset.key === key) return; // unchanged: no new announcement
  box.dataset.key = key;
  box.dataset.state = v.state;
  box.dataset.ood = String(v.ood);
  $('verdict-head').innerHTML = v.head;
  $('verdict-sub').textContent = v.sub;
  $('verdict-sub').hidden = !v.sub;
  $('verdict-ood').hidden = !v.ood;
}

/** What the class bars show, named on screen: a measured chance, or softmax without one. */
function barsMeaning(app, last) {
  const kappa = app.dc.kappa;
  const softmax = kappa != null ? `softmax(O(t) / ${kappa})` : 'softmax(O(t) / t)';
  const measured = !!app.cal && (last ? last.chances != null : app.cal.decoders[app.decoderIndex]?.reliability != null);
  if (measured) {
    return {
      measured,
      title: 'Chance each answer is right',
      words: `the leading class: how often it was right on ${calibrationImages(app)} at about this step and score; the others share the rest by ${softmax}`,
    };
  }
  return { measured, title: 'Class probabilities', words: `${softmax}: not a measured chance (${app.cal ? 'this calibration has no reliability table' : 'no calibration'})` };
}

export function renderRun(app) {
  const run = app.run;
  const last = run?.reports.at(-1);
  const tMax = app.dc.max_steps;
  const meaning = barsMeaning(app, last);
  const bars = last ? ((meaning.measured && last.chances) || last.probabilities) : null;
  charts.drawBars($('bars'), { classes: app.info.classes, probabilities: bars, prediction: last?.prediction, final: !!run?.stopT });
  $('bars-title').textContent = meaning.title;
  $('bars-formula').textContent = meaning.words;
  $('bars').setAttribute('aria-label', `${meaning.title}: `
    + app.info.classes.map((c, k) => `${c}${bars ? ` ${pct(bars[k], 1)}` : ''}`).join(', '));
  $('classes-note').textContent = `This network knows only these ${app.info.classes.length} classes: ${app.info.classes.join(', ')}. Whatever the image shows, it answers with one of them.`;
  const decoder = app.dc.decoder;
  $('score-formula').textContent = `s(t) of ${decoder}: larger = surer; dashed: the same image run on to T_max`;
  const confident = !!(run?.stopT && last?.confident);
  charts.drawScore($('score'), {
    tMax,
    run: run ? run.reports.map((r) => r.score) : [],
    full: app.fixed ? app.fixed.steps.slice(0, tMax).map((s) => s.score) : [],
    threshold: app.threshold,
    stopT: run?.stopT,
    confident,
    maxProbability: app.dc.scores_max_probability,
  });
  $('score').setAttribute('aria-label', `Decoder score over time: ${run?.reports.length
    ? run.reports.map((r) => `t = ${r.t}: ${charts.formatScore(r.score)}`).join(', ') : 'no run yet'}; threshold ${thresholdText(app, app.threshold)}`);
  renderVerdict(app, run, last);
  const status = $('run-status');
  if (!run) {
    status.textContent = '';
  } else if (!last) {
    status.textContent = 'Starting…';
  } else {
    const name = app.info.classes[last.prediction];
    const [sText, thetaText] = distinctScoreTexts(last.score, app.threshold);
    const score = scoreText(app, last.score, sText);
    const theta = app.cal ? thresholdText(app, app.threshold).replace(charts.formatScore(app.threshold), thetaText) : 'no threshold';
    const waiting = last.score === -Infinity ? ` (cannot stop yet: argmax unchanged for ${last.unchanged} step${last.unchanged === 1 ? '' : 's'})` : '';
    // The out-of-distribution rule at this step, in words (the headline's note, step by step).
    const unlike = unlikeTraining(last) ? ' · <span class="ood-flag">unlike the pictures it learnt from</span>' : '';
    if (confident) {
      status.innerHTML = `Stopped at t = ${run.stopT} of at most ${tMax}: score ${score} &gt; ${theta} · decoder ${escapeHtml(decoder)}${unlike}.`;
    } else if (run.stopT && !app.cal) {
      status.innerHTML = `Ran to T<sub>max</sub> = ${tMax} (no threshold: this model has no calibration): score ${score} · decoder ${escapeHtml(decoder)}.`;
    } else if (run.stopT) {
      status.innerHTML = `Reached T<sub>max</sub> = ${tMax} without exceeding ${theta}: score ${score} · decoder ${escapeHtml(decoder)}${unlike}.`;
    } else {
      status.innerHTML = `t = ${last.t}: <b>${escapeHtml(name)}</b>, score ${score}${waiting} ≤ ${theta}${unlike}${run.playing ? ' · running' : ' · paused'}`;
    }
  }
  // Machine-readable state (the end-to-end test reads it).
  status.dataset.decoder = decoder;
  status.dataset.state = !run ? 'idle' : run.stopT ? 'stopped' : run.playing ? 'running' : 'paused';
  status.dataset.t = last ? String(last.t) : '0';
  status.dataset.stopT = run?.stopT ? String(run.stopT) : '';
  status.dataset.prediction = last ? app.info.classes[last.prediction] : '';
  // Every step so far: the class index and the decoder's score (-Infinity where it cannot stop).
  status.dataset.predictions = run ? run.reports.map((r) => r.prediction).join(',') : '';
  status.dataset.scores = run ? run.reports.map((r) => r.score).join(',') : '';
  status.dataset.chance = last?.chance != null ? String(last.chance) : '';
  // Every step's out-of-distribution flag (1 or 0; empty without the rule) and the latest score.
  status.dataset.ood = run ? run.reports.map((r) => (r.out_of_distribution == null ? '' : r.out_of_distribution ? '1' : '0')).join(',') : '';
  status.dataset.oodScore = last?.ood_score != null ? String(last.ood_score) : '';
  status.dataset.run = run ? String(run.id) : '0'; // counts restarts
  status.dataset.crop = run?.crop || '';
  $('play').textContent = run?.playing ? 'Pause' : 'Play';
  $('play').disabled = !run || !!run.stopT;
  $('step').title = run?.stopT ? 'Start the run again and advance one time step' : 'Advance one time step';
  $('perf').textContent = last
    ? `one step: ${app.stepMs.toFixed(2)} ms in WebAssembly · this step ${fmtInt(last.spikes)} spikes, ${fmtOps(last.synaptic_ops)} synaptic ops`
    : '';
}

export function renderFixed(app) {
  const tbody = $('fixed-table').querySelector('tbody');
  const run = app.run;
  const fixed = app.fixed;
  const rows = [];
  const dcDone = run?.stopT ? run.reports.at(-1) : null;
  if (run) {
    const last = run.reports.at(-1);
    rows.push({
      dc: true,
      label: `${NARROW.matches ? 'DC' : 'Dynamic Confidence'} (${app.cal ? `θ = ${charts.formatScore(app.threshold)}` : 'no threshold'})`,
      steps: dcDone ? dcDone.t : last ? `${last.t}…` : '…',
      result: last ? { prediction: last.prediction, score: last.score, spikes: last.cumulative_spikes, ops: last.cumulative_synaptic_ops } : null,
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
      ? `<td>${escapeHtml(app.info.classes[res.prediction])}</td><td class="num">${charts.formatScore(res.score)}</td>`
        + `<td class="num opt">${fmtInt(res.spikes)}</td><td class="num opt">${fmtOps(res.ops)}</td>`
        + `<td class="opt"><div class="costbar" style="width:${(100 * res.ops) / maxOps}%"></div></td>`
      : `<td class="pending" colspan="5">${run ? 'running…' : 'no image yet'}</td>`;
    const remove = r.removable ? ` <button type="button" class="remove" data-remove="${r.t}" title="Remove">×</button>` : '';
    const data = `data-run="${r.dc ? 'dc' : 'fixed'}" data-steps="${r.final ? (r.dc ? dcDone.t : r.t) : ''}" data-done="${r.final ? 1 : 0}"`
      + (res ? ` data-prediction="${escapeHtml(app.info.classes[res.prediction])}" data-ops="${res.ops}"` : '');
    return `<tr ${data} class="${r.dc ? 'dc' : ''}${r.final ? ' done' : ''}"><td>${r.label}${remove}</td><td class="num">${r.steps}</td>${cells}</tr>`;
  }).join('');

  const summary = $('fixed-summary');
  const longest = fixed && Math.max(...fixed.lengths);
  const ref = fixed?.steps[longest - 1];
  if (dcDone && ref) {
    const same = dcDone.prediction === ref.prediction;
    const answer = same ? `T = ${longest} gives the same answer.` : `T = ${longest} answers ${escapeHtml(app.info.classes[ref.prediction])} instead.`;
    if (dcDone.confident) {
      const fewerSteps = 1 - dcDone.t / longest;
      const fewerOps = 1 - dcDone.cumulative_synaptic_ops / ref.ops;
      summary.innerHTML = `Dynamic Confidence stopped after <b>${dcDone.t}</b> step${dcDone.t === 1 ? '' : 's'} instead of ${longest} (${pct(fewerSteps, 0)} fewer) `
        + `and ${fmtOps(dcDone.cumulative_synaptic_ops)} instead of ${fmtOps(ref.ops)} synaptic ops (${pct(fewerOps, 0)} fewer). ${answer}`;
    } else {
      summary.innerHTML = `Dynamic Confidence was never sure, so it ran all ${dcDone.t} steps${dcDone.t < longest ? ` (T<sub>max</sub>; the longest fixed run has ${longest})` : ''}: no steps saved. ${answer}`;
    }
  } else {
    summary.textContent = run ? '' : 'The same image run for a fixed number of steps, for comparison.';
  }
}

function renderSpikes(app) {
  const last = app.run?.reports.at(-1);
  $('spikes-t').textContent = last ? `at t = ${last.t}` : '';
  const layers = app.info.layers; // every IF layer of the model, in its file's order (a chain or a graph)
  const rates = $('rates');
  charts.drawRates(rates, last ? layers.map((l, k) => ({ name: l.name, shape: l.shape.join('×'), rate: last.spikes_per_layer[k] / l.neurons })) : null);
  // The IF layers for screen readers (the chart is a canvas) and the end-to-end tests.
  rates.setAttribute('aria-label', `Firing rate per IF layer${last ? ` at t = ${last.t}` : ''}: `
    + layers.map((l, k) => `${l.name} (${l.shape.join('×')})${last ? ` ${(last.spikes_per_layer[k] / l.neurons).toFixed(3)}` : ''}`).join(', '));
  rates.dataset.layers = JSON.stringify(layers.map((l) => l.name));
  const maps = $('maps');
  const count = Math.min(SPIKE_MAP_LAYERS, layers.length);
  // Rebuilt when the model changes (another model may have as many IF layers, named otherwise).
  const key = JSON.stringify(layers.slice(0, count).map((l) => [l.name, l.shape]));
  if (maps.dataset.key !== key) {
    maps.dataset.key = key;
    maps.innerHTML = layers.slice(0, count).map((l) => `<figure><canvas role="img"></canvas><figcaption>${escapeHtml(l.name)}: ${l.shape.join('×')} (channels tiled)</figcaption></figure>`).join('');
  }
  const memory = app.wasm.wasm_memory();
  [...maps.querySelectorAll('canvas')].forEach((canvas, k) => {
    // A view into the engine's memory, as in the Game of Life: no copy, valid until the next call.
    const spikes = last ? new Uint8Array(memory.buffer, app.dc.spikes_ptr(k), app.dc.spikes_len(k)) : null;
    charts.drawSpikeMap(canvas, spikes, layers[k].shape);
    canvas.setAttribute('aria-label', `Spike map of ${layers[k].name}${last ? ` at t = ${last.t}: ${fmtInt(last.spikes_per_layer[k])} of ${fmtInt(layers[k].neurons)} neurons spiked` : ': no run yet'}`);
  });
}
