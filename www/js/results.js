// The results of "Evaluate all": draws the object `dynconf eval --json` prints (computed in
// Rust, in the workers of evaluation.js) as figures, charts and tables. The decoder's text
// and the per-class accuracies come from the engine (decoderText, perClassAccuracy); nothing
// is computed here but shares and ratios of the figures shown.
import * as charts from './charts.js';
import { $, escapeHtml, fmtInt, fmtOps, pct as percent } from './ui.js';

const pct = (x, digits = 2) => percent(x, digits);

/** Whether the Dynamic Confidence point is in-sample, in words. */
export function ruleText(rule) {
  if (rule?.in_sample === true) return `in-sample: its threshold was calibrated on these images (${rule.calibrated_on})`;
  if (rule?.in_sample === false) return `held out: calibrated on ${rule.calibrated_on}`;
  return 'threshold given, not calibrated';
}

const latency = (reduction, reference) => (reduction == null ? '— (no fixed T ≤ T_max is as accurate)'
  : `${pct(reduction, 1).replace('-', '−')} vs T = ${reference}`);

/**
 * After the next frame has been drawn (lets the browser lay out and paint in between), or
 * after 100 ms in a hidden tab, where frames wait.
 */
const afterFrame = () => new Promise((resolve) => {
  const timer = setTimeout(resolve, 100);
  requestAnimationFrame(() => setTimeout(() => { clearTimeout(timer); resolve(); }, 0));
});

let showing = 0; // counts showResults calls: a later call (or hideResults) stops an earlier one

/**
 * Shows `result` (the eval JSON) with `evalJson` (its text, for download) for batch `batch`
 * ({fileName, split, count}) and model `model` ({name}); `calibrationJson` when the
 * evaluation produced the model's calibration; `wasm`, the engine's bindings. In steps, each
 * its own task with a frame between them (the figures, the tables, the charts), so that no
 * task is long; resolves once all is drawn, or false if hideResults or another showResults
 * came first.
 */
export async function showResults({ result, evalJson, calibrationJson, seconds, batch, model, classes, wasm }) {
  const ticket = ++showing;
  const card = $('results');
  card.hidden = false;
  const r = result;
  const dc = r.dynamic;
  const cf = r.dynamic_crossfit;
  const rule = r.dynamic_rule;
  const full = r.fixed_full;
  const names = r.classes || classes;
  const decoder = wasm.decoderText(dc.decoder); // as `dynconf` writes it

  $('results-caption').innerHTML = `<b>${escapeHtml(batch.fileName)}</b> (split <span class="mono">${escapeHtml(r.split)}</span>), `
    + `${fmtInt(r.images)} images · model <b>${escapeHtml(model.name)}</b> · each image run to T<sub>max</sub> = ${r.max_steps} · `
    + `${seconds.toFixed(1)} s in this browser (${fmtInt(r.images / Math.max(seconds, 1e-9))} images/s). `
    + `Dynamic Confidence: decoder <span class="mono">${escapeHtml(decoder)}</span>, θ = ${charts.formatScore(dc.threshold)}, `
    + `<b>${escapeHtml(ruleText(rule))}</b>. The same figures as <span class="mono">dynconf eval --split ${escapeHtml(r.split)} --json</span> on this batch and model.`;

  const figure = (value, words) => `<div><span class="figure mono">${value}</span><span class="muted">${words}</span></div>`;
  $('results-figures').innerHTML = [
    figure(pct(full.accuracy), `accuracy at T<sub>max</sub> = ${r.max_steps}`),
    figure(pct(dc.accuracy), `Dynamic Confidence (${rule?.in_sample === false ? 'held out' : rule?.in_sample ? 'in-sample' : 'given θ'}) at ${dc.mean_steps.toFixed(2)} mean steps; latency reduction ${latency(dc.latency_reduction, dc.latency_reference_steps)}`),
    cf ? figure(pct(cf.accuracy), `cross-fitted (${cf.k} folds, held out) at ${cf.mean_steps.toFixed(2)} ± ${cf.mean_steps_sd.toFixed(2)} mean steps; ± ${(100 * cf.accuracy_sd).toFixed(2)} pts; ${latency(cf.latency_reduction, cf.latency_reference_steps)}`)
      : figure('—', 'cross-fitted: fewer images than folds'),
    figure(pct(r.oracle.accuracy), `oracle (stop each image at its first correct step) at ${r.oracle.mean_steps.toFixed(2)} mean steps`),
    figure(r.ann_accuracy == null ? '—' : pct(r.ann_accuracy), 'the quantized ANN the SNN approximates'),
  ].join('');
  Object.assign(card.dataset, {
    split: r.split, images: String(r.images), model: model.name, inSample: String(rule?.in_sample ?? ''),
    accuracy: String(full.accuracy), dynamicAccuracy: String(dc.accuracy), dynamicMeanSteps: String(dc.mean_steps),
  });

  card.resultForCharts = null; // drawn below, then again on resize

  // Spikes and synaptic operations: the fixed runs to T_max against Dynamic Confidence.
  const saved = (a, b) => (b > 0 ? ` (${pct(1 - a / b, 0)} fewer)` : '');
  $('results-cost').innerHTML = '<thead><tr><th>Run</th><th class="num">Accuracy</th><th class="num">Mean steps</th><th class="num">Spikes per neuron</th><th class="num">Synaptic ops per image</th></tr></thead><tbody>'
    + `<tr><td>Fixed T = ${r.max_steps}</td><td class="num">${pct(full.accuracy)}</td><td class="num">${r.max_steps}</td><td class="num">${full.spikes_per_neuron.toFixed(3)}</td><td class="num">${fmtOps(full.synops)}</td></tr>`
    + `<tr class="dc"><td>Dynamic Confidence</td><td class="num">${pct(dc.accuracy)}</td><td class="num">${dc.mean_steps.toFixed(2)}</td>`
    + `<td class="num">${dc.spikes_per_neuron.toFixed(3)}${saved(dc.spikes_per_neuron, full.spikes_per_neuron)}</td><td class="num">${fmtOps(dc.synops)}${saved(dc.synops, full.synops)}</td></tr>`
    + (cf ? `<tr><td>Cross-fitted DC</td><td class="num">${pct(cf.accuracy)}</td><td class="num">${cf.mean_steps.toFixed(2)}</td><td class="num">—</td><td class="num">—</td></tr>` : '')
    + `<tr><td>Oracle</td><td class="num">${pct(r.oracle.accuracy)}</td><td class="num">${r.oracle.mean_steps.toFixed(2)}</td><td class="num">—</td><td class="num">—</td></tr></tbody>`;

  // Downloads: exactly the evaluation's JSON text, and the calibration it produced.
  setDownload($('download-eval'), evalJson, `${batch.split}.eval.json`);
  const calLink = $('download-calibration');
  calLink.hidden = !calibrationJson;
  if (calibrationJson) setDownload(calLink, calibrationJson, `${model.name}.calibration.json`);

  await afterFrame();
  if (ticket !== showing) return false;
  // Per class: the images of each (the confusion matrix's row, true label) and the engine's
  // per-class accuracies (null for a class with no images).
  const confusion = r.confusion;
  const table = $('results-classes');
  if (confusion?.t_max && confusion?.dynamic) {
    const images = confusion.t_max.map((row) => row.reduce((a, b) => a + b, 0));
    const tMax = wasm.perClassAccuracy(confusion.t_max);
    const dynamic = wasm.perClassAccuracy(confusion.dynamic);
    const accuracy = (a) => (a == null ? '—' : pct(a, 1));
    table.innerHTML = `<thead><tr><th>Class</th><th class="num">Images</th><th class="num">Accuracy, T = ${r.max_steps}</th><th class="num">Accuracy, DC</th></tr></thead><tbody>`
      + names.map((name, k) => `<tr data-class="${escapeHtml(name)}"><td>${escapeHtml(name)}</td><td class="num">${fmtInt(images[k])}</td>`
        + `<td class="num">${accuracy(tMax[k])}</td><td class="num">${accuracy(dynamic[k])}</td></tr>`).join('')
      + '</tbody>';
    drawConfusion($('confusion-tmax'), confusion.t_max, names);
    drawConfusion($('confusion-dynamic'), confusion.dynamic, names);
  } else {
    table.innerHTML = '<tbody><tr><td>No per-class figures in this result.</td></tr></tbody>';
    $('confusion-tmax').innerHTML = '';
    $('confusion-dynamic').innerHTML = '';
  }

  await afterFrame(); // laid out: the charts' columns have their widths
  if (ticket !== showing) return false;
  card.resultForCharts = { r, decoder };
  drawCharts(r, decoder);
  return true;
}

export function hideResults() {
  showing += 1;
  const card = $('results');
  card.hidden = true;
  card.resultForCharts = null;
  for (const id of ['download-eval', 'download-calibration']) setDownload($(id), null, '');
}

/** Draws the charts of the results shown at their column's width again (after a resize). */
export function redrawResults() {
  const shown = $('results').resultForCharts;
  if (shown && !$('results').hidden) drawCharts(shown.r, shown.decoder);
}

/** The accuracy curve and the trade-off chart of result `r`; `decoder` is its text form. */
function drawCharts(r, decoder) {
  charts.drawAccuracyCurve($('results-fixed'), { tMax: r.max_steps, fixed: r.fixed, annAccuracy: r.ann_accuracy });
  const dc = r.dynamic;
  const cf = r.dynamic_crossfit;
  // The charts in words (they are canvases); the tables beside them hold the figures too.
  const fixedAt = (t) => r.fixed.find((p) => p.steps === t);
  const marks = [1, 4, 8, 16, r.max_steps].filter((t, k, all) => t <= r.max_steps && all.indexOf(t) === k && fixedAt(t));
  $('results-fixed').setAttribute('aria-label', `Accuracy after a fixed number of steps: ${marks.map((t) => `T = ${t}: ${pct(fixedAt(t).accuracy)}`).join(', ')}`
    + `${r.ann_accuracy == null ? '' : `; the quantized ANN ${pct(r.ann_accuracy)}`}.`);
  $('results-tradeoff').setAttribute('aria-label', `Accuracy against mean steps: Dynamic Confidence ${pct(dc.accuracy)} at ${dc.mean_steps.toFixed(2)} mean steps`
    + `${cf ? `, cross-fitted ${pct(cf.accuracy)} at ${cf.mean_steps.toFixed(2)}` : ''}; oracle ${pct(r.oracle.accuracy)} at ${r.oracle.mean_steps.toFixed(2)}; `
    + `fixed T = ${r.max_steps}: ${pct(r.fixed_full.accuracy)}; the front of ${decoder} has ${r.front?.length ?? 0} points.`);
  const inSample = r.dynamic_rule?.in_sample;
  charts.drawTradeoff($('results-tradeoff'), {
    tMax: r.max_steps,
    fixed: r.fixed,
    fronts: r.front?.length ? [{ label: `front of ${decoder}`, color: charts.decoderColor(dc.decoder?.kind, 0), points: r.front, selected: true }] : [],
    current: dc,
    currentLabel: `Dynamic Confidence (${inSample === true ? 'in-sample' : inSample === false ? 'held out' : 'given θ'})`,
    extras: cf ? [{ mean_steps: cf.mean_steps, accuracy: cf.accuracy, color: '#9333ea', label: `cross-fitted (${cf.k} folds)` }] : [],
    oracle: r.oracle,
    window: 1,
  });
}

function drawConfusion(table, matrix, names) {
  const max = Math.max(1, ...matrix.flat());
  table.innerHTML = `<thead><tr><td></td>${names.map((n) => `<th scope="col">${escapeHtml(n)}</th>`).join('')}</tr></thead><tbody>`
    + matrix.map((row, i) => `<tr><th scope="row">${escapeHtml(names[i])}</th>${row.map((count, j) => {
      const a = count / max;
      return `<td class="${i === j ? 'diag' : ''}" style="background: rgba(37, 99, 235, ${a.toFixed(3)}); color: ${a > 0.55 ? '#fff' : 'inherit'}">${count}</td>`;
    }).join('')}</tr>`).join('')
    + '</tbody>';
}

function setDownload(link, text, name) {
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  if (text == null) { link.removeAttribute('href'); return; }
  link.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  link.download = name;
}
