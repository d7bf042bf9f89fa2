// The decoder and threshold panel ("Threshold vs. accuracy and latency"): the decoder list,
// the held-out figures, the slider along the selected decoder's Pareto front and the trade-off
// chart, all drawn from Calibration.summary(); choosing sets the run's decoder and θ.
import * as charts from './charts.js';
import { $, escapeHtml, fmtInt, ordinal, pct } from './ui.js';
import { showModelInfo } from './loading.js';
import { renderRun, startRun } from './run-view.js';

/**
 * The decoder list, the threshold panel and the run's stop rule for the current calibration;
 * without one (a dropped model alone) the runs go to T_max (the simulation's) with no
 * threshold, and the panel says how to get one.
 */
export function configureCalibration(app) {
  const none = !app.cal;
  $('decoder').innerHTML = none ? '<option>no calibration</option>'
    : app.cal.decoders.map((d, k) => `<option value="${k}">${escapeHtml(decoderLabel(app, k))}</option>`).join('');
  for (const id of ['decoder', 'threshold', 'threshold-reset']) $(id).disabled = none;
  $('tradeoff-body').hidden = none;
  $('tradeoff-none').hidden = !none;
  $('tradeoff-none').textContent = none
    ? `${app.model.fileName} has no calibration: the Dynamic Confidence run goes to T_max = ${app.dc.max_steps} with no threshold (decoder ${app.dc.decoder}). `
      + 'Drop its .calibration.json, or choose a CIFAR-10 batch and "Evaluate all": the evaluation calibrates the model on that batch (as dynconf calibrate --split NAME does) and the page uses that calibration from then on.'
    : '';
  if (none) {
    app.threshold = Infinity;
    app.dc.threshold = Infinity;
    showModelInfo(app);
    renderRun(app);
    if (app.run) startRun(app);
  } else {
    selectDecoder(app, app.cal.chosen);
  }
}

/** The selected decoder family of the calibration (with its front and figures). */
export const selectedDecoder = (app) => app.cal.decoders[app.decoderIndex];

function decoderLabel(app, k) {
  return `${app.cal.decoders[k].name}${k === app.cal.chosen ? ' (calibrated choice)' : ''}`;
}

/** The front point of a decoder's calibrated threshold (the calibration stores it on the front). */
export function calibratedIndex(decoder) {
  const exact = decoder.front.findIndex((p) => p.threshold === decoder.threshold);
  if (exact >= 0) return exact;
  const below = decoder.front.findLastIndex((p) => p.threshold <= decoder.threshold);
  return Math.max(0, below);
}

/**
 * Makes decoder family `index` the one the Dynamic Confidence run uses (with its calibrated
 * threshold) and restarts the run; the fixed-length runs are re-run for their score column.
 */
export function selectDecoder(app, index) {
  app.decoderIndex = index;
  app.dc.use_decoder(app.calibration, index);
  app.full?.use_decoder(app.calibration, index);
  const decoder = selectedDecoder(app);
  const select = $('decoder');
  select.value = String(index);
  select.dataset.decoder = decoder.name;
  // The slider's track is mean steps (front points are dense where accuracy is low).
  $('threshold').min = String(decoder.front[0].mean_steps);
  $('threshold').max = String(decoder.front.at(-1).mean_steps);
  renderCrossfit(app);
  setFrontPoint(app, calibratedIndex(decoder));
  if (app.fixed && app.full) {
    app.full.reset();
    app.fixed.steps = [];
  }
  if (app.run) startRun(app);
}

/** The most accurate point of the selected front with at most `steps` mean steps. */
export function frontIndexAt(app, steps) {
  const front = selectedDecoder(app).front; // sorted by mean steps (and accuracy)
  let lo = 0;
  let hi = front.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (front[mid].mean_steps <= steps) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** Moves θ to point `index` of the selected decoder's Pareto front. */
export function setFrontPoint(app, index, { fromSlider = false } = {}) {
  const decoder = selectedDecoder(app);
  app.frontIndex = Math.max(0, Math.min(decoder.front.length - 1, index));
  app.threshold = decoder.front[app.frontIndex].threshold;
  if (!fromSlider) $('threshold').value = String(decoder.front[app.frontIndex].mean_steps);
  const text = thresholdText(app, app.threshold);
  $('threshold-text').textContent = text;
  $('threshold').setAttribute('aria-valuetext', text);
  app.dc.threshold = app.threshold;
  showModelInfo(app);
  renderTradeoff(app);
  renderRun(app);
}

/** θ, and for max-probability decoders the confidence it stands for. */
export function thresholdText(app, theta) {
  if (!app.cal) return 'no threshold';
  const c = selectedDecoder(app).max_probability ? ` (c > ${charts.formatProbabilityOfScore(theta, { bound: true })})` : '';
  return `θ = ${charts.formatScore(theta)}${c}`;
}

/**
 * A latency reduction as Rust computed it (1 − mean steps / T_ref, T_ref the shortest fixed
 * length at least as accurate): {figure, words}.
 */
function latencyText(app, reduction, reference) {
  if (reduction == null) return { figure: '—', words: `no fixed length up to T = ${app.cal.t_max} is as accurate` };
  if (reduction < 0) {
    return { figure: pct(reduction, 1).replace('-', '−'), words: `negative: ${pct(-reduction, 0)} more steps than T = ${reference}, the shortest fixed run as accurate` };
  }
  return { figure: pct(reduction, 1), words: `fewer steps than T = ${reference}, the shortest fixed run as accurate` };
}

/** The selected decoder's cross-fitted (held-out) figures: what the panel leads with. */
function renderCrossfit(app) {
  const { cal } = app;
  const decoder = selectedDecoder(app);
  const cf = decoder.crossfit;
  $('crossfit-how').textContent = `(${decoder.name}: calibrated on ${cf.k - 1} of ${cf.k} folds, scored on the ${ordinal(cf.k)}; ± sd over folds)`;
  $('crossfit-accuracy').textContent = pct(cf.accuracy, 2);
  $('crossfit-accuracy-sd').textContent = `accuracy ± ${(100 * cf.accuracy_sd).toFixed(2)} pts (T = ${cal.t_max}: ${pct(cf.full_accuracy, 2)})`;
  $('crossfit-steps').textContent = cf.mean_steps.toFixed(2);
  $('crossfit-steps-sd').textContent = `mean steps ± ${cf.mean_steps_sd.toFixed(2)} (of at most ${cal.t_max})`;
  const latency = latencyText(app, cf.latency_reduction, cf.latency_reference_steps);
  $('crossfit-reduction').textContent = latency.figure;
  $('crossfit-reference').textContent = `latency reduction: ${latency.words}`;
  Object.assign($('crossfit').dataset, {
    decoder: decoder.name,
    accuracy: String(cf.accuracy),
    meanSteps: String(cf.mean_steps),
    latencyReduction: cf.latency_reduction == null ? '' : String(cf.latency_reduction),
    accuracySd: String(cf.accuracy_sd),
    meanStepsSd: String(cf.mean_steps_sd),
  });
}

/** Every decoder's front, the current point, its in-sample readout and the caption. */
export function renderTradeoff(app) {
  if (!app.cal) return;
  const cal = app.cal;
  const decoder = selectedDecoder(app);
  const current = decoder.front[app.frontIndex];
  const fronts = cal.decoders.map((d, k) => ({
    label: decoderLabel(app, k), color: charts.decoderColor(d.family, k), points: d.front, selected: k === app.decoderIndex,
  }));
  const point = charts.drawTradeoff($('tradeoff'), { tMax: cal.t_max, fixed: cal.fixed, fronts, current, oracle: cal.oracle });
  // Where the current threshold's point is drawn (the end-to-end test reads it).
  Object.assign($('tradeoff').dataset, {
    decoder: decoder.name, frontIndex: String(app.frontIndex), threshold: String(current.threshold),
    meanSteps: current.mean_steps, accuracy: current.accuracy, x: point.x.toFixed(1), y: point.y.toFixed(1),
  });
  const latency = latencyText(app, current.latency_reduction, current.latency_reference_steps);
  const calibrated = app.frontIndex === calibratedIndex(decoder) ? ', the calibrated one' : '';
  // The chart in words (it is a canvas): the selected front's ends, the current point, T_max, the oracle.
  const [first, last] = [decoder.front[0], decoder.front.at(-1)];
  const at = (p) => `${p.mean_steps.toFixed(2)} mean steps, ${pct(p.accuracy, 2)}`;
  $('tradeoff').setAttribute('aria-label', `Accuracy against mean steps on the calibration split. Pareto front of ${decoder.name}: `
    + `${decoder.front.length} points from ${at(first)} to ${at(last)}; current threshold at ${at(current)}; `
    + `fixed T = ${cal.t_max}: ${pct(cal.fixed.at(-1).accuracy, 2)}; oracle ${pct(cal.oracle.accuracy, 2)} at ${cal.oracle.mean_steps.toFixed(2)} mean steps.`);
  $('tradeoff-readout').innerHTML = `<b>In-sample</b>, on the calibration split itself, at ${thresholdText(app, current.threshold)} `
    + `(front point ${app.frontIndex + 1} of ${decoder.front.length}${calibrated}): <b>${current.mean_steps.toFixed(2)}</b> mean steps, `
    + `<b>${pct(current.accuracy, 2)}</b> accuracy; latency reduction ${latency.figure} (${latency.words}).`;
  const all = cal.crossfit;
  $('tradeoff-caption').textContent = `Calibration split: ${cal.split}, ${fmtInt(cal.images)} images, each run once to T_max = ${cal.t_max}. `
    + `Held-out figures: ${all.k}-fold cross-fitting (folds stratified by class, seed ${all.seed}); on each fold the decoder's parameters and θ `
    + `are chosen on the other ${all.k - 1} folds (tolerance ${(100 * cal.tolerance).toFixed(1)} points below T_max) and scored on it. `
    + `Cross-fitting the whole calibration, the choice among the families included, gives ${pct(all.accuracy, 2)} at ${all.mean_steps.toFixed(2)} mean steps `
    + `(on all images it chooses ${cal.decoder}). `
    + `Each front is in-sample: every point is a threshold replayed on the whole split; thresholds between points do no better. `
    + `Oracle (stop each image at its first correct step): ${pct(cal.oracle.accuracy, 2)} at ${cal.oracle.mean_steps.toFixed(2)} mean steps.`;
}

/** The slider was dragged: θ follows (the run restarts when it is released, onThresholdChange). */
export function onThresholdInput(app) {
  if (app.cal) setFrontPoint(app, frontIndexAt(app, Number($('threshold').value)), { fromSlider: true });
}

/** The slider was released: the run restarts under the new θ. */
export function onThresholdChange(app) {
  if (!app.cal) return;
  setFrontPoint(app, app.frontIndex);
  if (app.run) startRun(app);
}

/**
 * Arrow keys step one front point at a time (the track itself is in mean steps), Page Up and
 * Page Down a tenth of the front, Home and End go to its ends.
 */
export function onThresholdKey(app, event) {
  if (!app.cal) return;
  const points = selectedDecoder(app).front.length;
  const page = Math.max(1, Math.round(points / 10));
  const delta = {
    ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: page, PageDown: -page, Home: -points, End: points,
  }[event.key];
  if (!delta) return;
  event.preventDefault();
  setFrontPoint(app, app.frontIndex + delta); // kept within the front
  if (app.run) startRun(app);
}

/** "Calibrated θ": back to the selected decoder's calibrated front point. */
export function resetThreshold(app) {
  if (!app.cal) return;
  setFrontPoint(app, calibratedIndex(selectedDecoder(app)));
  if (app.run) startRun(app);
}
