// A CIFAR-10 batch on the page: the file checked by the engine and shown in the gallery, and
// "Evaluate all" (evaluation.js's workers) wired to its button, its progress bar and its
// results (results.js); a calibration the evaluation makes becomes the model's.
import { Gallery, recordLayout } from './gallery.js';
import { hideResults, showResults } from './results.js';
import { $, clearError, escapeHtml, fmtInt, nextTask, showError } from './ui.js';
import { openRecord } from './input.js';
import { adoptCalibration, showModelInfo } from './loading.js';

const showBatchError = (message) => showError(message, 'batch-error');
const clearBatchError = () => clearError('batch-error');

/** The gallery, empty until a batch is chosen; a click runs the record (input.js). */
export function createGallery(app) {
  app.gallery = new Gallery({ root: $('gallery'), onOpen: (index) => openRecord(app, index) });
}

/** The batch in the gallery, labelled with the model's class names. */
export function showGallery(app) {
  const { bytes, count, fileName, layout } = app.batch;
  app.gallery.setBatch({ bytes, count, classes: app.info.classes, name: fileName, layout });
}

/**
 * A CIFAR-10 binary batch: checked by the engine (checkBatch, the CLI's messages), then shown
 * in the gallery. A refused file leaves the current batch as it was.
 */
export async function onBatchFile(app, file) {
  clearBatchError();
  const ticket = app.batchTicket = (app.batchTicket || 0) + 1;
  let bytes;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (error) {
    if (ticket === app.batchTicket) showBatchError(`${file.name}: cannot read the file: ${error.message}`);
    return;
  }
  if (ticket !== app.batchTicket) return;
  let count;
  try {
    count = app.wasm.checkBatch(bytes, file.name);
  } catch (error) {
    const message = error?.message || String(error);
    showBatchError(message.includes(file.name) ? message : `${file.name}: ${message}`);
    return;
  }
  await nextTask(); // checking 30 MB and laying out the gallery: two tasks, not one long one
  if (ticket !== app.batchTicket) return;
  cancelEvaluation(app, 'another batch was chosen');
  hideResults();
  app.batch = { fileName: file.name, split: file.name.replace(/\.bin$/i, ''), bytes, count, layout: recordLayout(app.wasm) };
  showGallery(app);
  renderBatch(app);
}

/** The batch's line: its name, images and the CLI's split name; the buttons' state. */
export function renderBatch(app) {
  const batch = app.batch;
  const status = $('batch-status');
  if (batch) {
    // The official test batch is never calibrated on (the engine refuses as `dynconf calibrate` does).
    const testSplit = app.wasm.isTestSplit(batch.split, batch.fileName);
    status.innerHTML = `<b>${escapeHtml(batch.fileName)}</b>: ${fmtInt(batch.count)} image${batch.count === 1 ? '' : 's'} `
      + `(<span class="mono">dynconf eval --split ${escapeHtml(batch.split)}</span> reads the same file). Click an image, or focus it and press Enter, to run it above; `
      + `"Evaluate all" runs every image to T<sub>max</sub> with ${escapeHtml(app.model.name)} in ${navigator.hardwareConcurrency || 1} Web Workers`
      + `${app.cal ? '' : testSplit ? ', but not with this model: it has no calibration, and the test split is never calibrated on (give the page its calibration file, or calibrate on another batch)' : ', and calibrates the model on this batch first (it has no calibration)'}.`;
    Object.assign(status.dataset, { file: batch.fileName, split: batch.split, count: String(batch.count) });
  }
  $('evaluate').disabled = !batch || !!app.evaluation;
  $('evaluate-cancel').hidden = !app.evaluation;
}

// ---------------------------------------------------------------- Evaluate all

/**
 * Runs every image of the batch to T_max (the simulation's: the calibration's, or the
 * engine's default without one) in Web Workers (evaluation.js; one engine each) and shows
 * the figures `dynconf eval --split NAME --json` gives on the same batch and model. Without a
 * calibration, the evaluation calibrates the model on the batch first; the page then uses that
 * calibration. Progress is drawn once per animation frame.
 */
export async function evaluateAll(app) {
  const batch = app.batch;
  const model = app.model;
  if (!batch || app.evaluation || app.evaluationStarting) return;
  clearBatchError();
  $('batch-status').dataset.evaluationStarted = String(performance.now()); // (for the end-to-end test)
  setEvaluationState('starting');
  let BatchEvaluation;
  app.evaluationStarting = true;
  try {
    ({ BatchEvaluation } = await import('./evaluation.js'));
  } catch (error) {
    showBatchError(`The evaluation could not start: ${error.message}`);
    setEvaluationState('failed');
    return;
  } finally {
    app.evaluationStarting = false;
  }
  if (app.batch !== batch || app.model !== model || app.evaluation) { setEvaluationState('cancelled'); return; }
  let evaluation;
  try {
    evaluation = new BatchEvaluation({
      fileName: batch.fileName,
      modelBytes: model.bytes,
      calibrationBytes: model.calibrationBytes ?? null,
      batchBytes: batch.bytes,
      recordBytes: batch.layout.recordBytes,
      split: batch.split,
      maxSteps: app.dc.max_steps, // T_max of the running simulation, as `dynconf eval --max-steps` gets it
      onProgress: (p) => { if (app.evaluation === evaluation) { app.progress = p; scheduleProgress(app); } },
    });
  } catch (error) {
    showBatchError(`The evaluation could not start: ${error.message}`);
    setEvaluationState('failed');
    return;
  }
  app.evaluation = evaluation;
  window.dynconfEvaluation = evaluation; // the end-to-end test reads liveWorkers
  app.progress = { phase: 'starting', done: 0, total: batch.count, imagesPerSecond: 0, etaSeconds: null };
  setEvaluationState('running');
  hideResults();
  renderBatch(app);
  drawProgress(app);
  try {
    const out = await evaluation.run();
    if (app.evaluation !== evaluation) return;
    // In separate tasks (each well under 50 ms): the figures, the tables, the charts, the new
    // calibration. The evaluation stays the page's until then (a model or batch change still
    // cancels it).
    await showResults({ ...out, batch, model, classes: app.info.classes, wasm: app.wasm });
    if (app.evaluation !== evaluation) return;
    if (out.calibrationJson) {
      await nextTask();
      if (app.evaluation !== evaluation) return;
      // Produced on this batch for a model without one: the page uses it from now on.
      try {
        adoptCalibration(app, new TextEncoder().encode(out.calibrationJson), `${model.name}.calibration.json`);
        model.calibrationMadeOn = batch.fileName;
        showModelInfo(app);
      } catch (error) {
        showBatchError(`The calibration produced on ${batch.fileName} could not be used: ${error.message}`);
      }
    }
    app.evaluation = null;
    app.progress = null;
    setEvaluationState('done');
  } catch (error) {
    if (app.evaluation !== evaluation) return; // cancelled by a new batch or model
    app.evaluation = null;
    app.progress = null;
    if (error?.name === 'AbortError') {
      setEvaluationState('cancelled');
    } else {
      showBatchError(error?.message || String(error));
      setEvaluationState('failed');
    }
  } finally {
    renderBatch(app);
    drawProgress(app);
  }
}

/** Stops a running evaluation at once (every worker is terminated). */
export function cancelEvaluation(app, reason = 'cancelled') {
  const evaluation = app.evaluation;
  if (!evaluation) return;
  app.evaluation = null;
  app.progress = null;
  evaluation.cancel();
  setEvaluationState('cancelled', reason);
  renderBatch(app);
  drawProgress(app);
}

function setEvaluationState(state, reason = null) {
  const text = $('eval-progress-text');
  $('batch-status').dataset.evaluation = state;
  // When it ended, on the page's clock (the end-to-end test measures long tasks up to here).
  $('batch-status').dataset.evaluationEnded = ['done', 'failed', 'cancelled'].includes(state) ? String(performance.now()) : '';
  if (state === 'cancelled') text.textContent = `Evaluation cancelled${reason && reason !== 'cancelled' ? ` (${reason})` : ''}.`;
  if (state === 'done' || state === 'failed') text.textContent = '';
}

function scheduleProgress(app) {
  if (app.progressFrame == null) app.progressFrame = requestAnimationFrame(() => { app.progressFrame = null; drawProgress(app); });
}

const clock = (seconds) => {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** The progress bar, images/s and ETA of the running evaluation (once per frame at most). */
function drawProgress(app) {
  const p = app.progress;
  const box = $('eval-progress');
  const state = $('batch-status').dataset.evaluation;
  box.hidden = !p && state !== 'cancelled';
  const bar = $('eval-bar');
  bar.hidden = !p;
  if (!p) return;
  bar.max = Math.max(1, p.total);
  bar.value = p.done;
  const rate = p.imagesPerSecond ? `${fmtInt(p.imagesPerSecond)} images/s` : '';
  let text;
  if (p.phase === 'starting') text = `starting ${navigator.hardwareConcurrency || 1} workers…`;
  else if (p.phase === 'summarizing') text = `${fmtInt(p.total)} images run${rate ? ` (${rate})` : ''} · summarizing: fronts, cross-fitting${app.cal ? '' : ', calibration'}…`;
  else text = `${fmtInt(p.done)} / ${fmtInt(p.total)} images · ${rate || '… images/s'} · ETA ${Number.isFinite(p.etaSeconds) ? clock(p.etaSeconds) : '…'}`;
  $('eval-progress-text').textContent = text;
  Object.assign(box.dataset, { phase: p.phase, done: String(p.done), total: String(p.total) });
}
