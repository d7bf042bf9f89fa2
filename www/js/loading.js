// The model in use: starts the engine, reads the manifest (models/models.json), downloads
// and builds a model with its calibration, and switches the page to another one (the Model
// picker, dropped or chosen files, a calibration made by "Evaluate all"); draws the model line.
import { fetchWithProgress, formatBytes } from './loader.js';
import * as charts from './charts.js';
import { hideResults } from './results.js';
import { $, clearError, escapeHtml, fmtInt, fmtOps, pct, showError } from './ui.js';
import { calibratedIndex, configureCalibration, selectedDecoder } from './threshold-panel.js';
import { cancelEvaluation, renderBatch, showGallery } from './batch.js';
import { reloadInput } from './input.js';

// The models that come with the page: models/models.json, written by the build from
// www/models.json ({default, models: [{name, label, bytes}]}, only the models the build has).
// ?model=NAME loads models/NAME.safetensors and models/NAME.calibration.json instead of the
// default; the Model picker loads the one chosen the same way (chooseModel) and sets ?model=.
const MANIFEST_URL = 'models/models.json';
const MODEL_NAME_PATTERN = /^[\w.-]+$/;

/** ?model=NAME of the address, when it names a model (else null: the default). */
function requestedModel() {
  const name = new URLSearchParams(location.search).get('model') || '';
  return MODEL_NAME_PATTERN.test(name) ? name : null;
}

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

/** models/models.json: the default model's name and the models the page offers. */
async function fetchManifest() {
  const response = await fetch(MANIFEST_URL);
  if (!response.ok) throw new Error(`${MANIFEST_URL}: HTTP ${response.status} ${response.statusText}`);
  const manifest = await response.json();
  if (!Array.isArray(manifest?.models) || !MODEL_NAME_PATTERN.test(manifest.default || '')) {
    throw new Error(`${MANIFEST_URL} does not list the page's models ({default, models: [{name, label}]})`);
  }
  manifest.models = manifest.models.filter((m) => MODEL_NAME_PATTERN.test(m?.name || ''));
  return manifest;
}

/**
 * Downloads model NAME that comes with the page: [model bytes, calibration bytes], each
 * download reporting to its progress callback. The page's first model and the Model picker's
 * choices both come through here.
 */
function fetchModelFiles(name, { onModel = () => {}, onCalibration = () => {}, signal } = {}) {
  return Promise.all([
    fetchWithProgress(`models/${name}.safetensors`, onModel, { signal }),
    fetchWithProgress(`models/${name}.calibration.json`, onCalibration, { signal }),
  ]);
}

/** The record of app.model for model NAME that comes with the page. */
const shippedModel = (name, bytes, calibrationBytes) => ({
  name, fileName: `${name}.safetensors`, bytes, calibrationBytes, calibrationFileName: `${name}.calibration.json`, dropped: false,
});

/**
 * Starts the engine and loads the first model (?model=NAME, or the manifest's default) with
 * its calibration, the loading panel showing each download; then shows the page. Throws
 * (the caller shows the message) when any of them fails. The loading panel is aria-busy until
 * then, so that screen readers do not read out every byte count; its end (or the error shown in
 * it) is read.
 */
export async function loadFirstModel(app) {
  try {
    await loadFirst(app);
  } finally {
    $('loading').setAttribute('aria-busy', 'false');
  }
}

async function loadFirst(app) {
  const wasmDone = wasmModule().then((wasm) => {
    $('load-wasm').max = 1; $('load-wasm').value = 1; $('load-wasm-text').textContent = 'ready';
    return wasm;
  });
  const manifestDone = fetchManifest();
  // Without ?model=NAME the list names the default: the model's download waits for it.
  const name = requestedModel() ?? (await manifestDone).default;
  const files = fetchModelFiles(name, {
    onModel: progressTo($('load-model'), $('load-model-text')),
    onCalibration: progressTo($('load-cal'), $('load-cal-text')),
  });
  const [wasm, [model, calibration], manifest] = await Promise.all([wasmDone, files, manifestDone]);
  app.wasm = wasm;
  app.manifest = manifest;
  let built;
  try {
    built = buildModel(app, model, calibration);
  } catch (error) {
    if (error.part === 'match') $('load-cal-text').textContent = 'refused';
    throw error;
  }
  app.model = shippedModel(name, model, calibration);
  installModel(app, built);
  $('loading').hidden = true;
  $('app').hidden = false;
}

/**
 * Loads a model (safetensors bytes) and, if given, its calibration (JSON bytes), checked to
 * belong to it. Throws the engine's message (error.part: 'model', 'calibration' or 'match');
 * nothing of the page changes.
 */
function buildModel(app, modelBytes, calibrationBytes) {
  const { Simulation, Calibration } = app.wasm;
  const fail = (part, error) => Object.assign(error instanceof Error ? error : new Error(String(error)), { part });
  let sim;
  try {
    sim = new Simulation(modelBytes);
  } catch (error) {
    throw fail('model', error);
  }
  let calibration = null;
  try {
    if (calibrationBytes) {
      try {
        calibration = new Calibration(calibrationBytes);
      } catch (error) {
        throw fail('calibration', error);
      }
      try {
        sim.use_calibration(calibration); // refuses a calibration made for another model
      } catch (error) {
        throw fail('match', error);
      }
    }
    return { sim, info: sim.info(), calibration, cal: calibration?.summary() ?? null };
  } catch (error) {
    sim.free();
    calibration?.free();
    throw error;
  }
}

/** Makes a built model (buildModel) the page's: the runs' simulations and calibration. */
function installModel(app, { sim, info, calibration, cal }) {
  app.full?.free();
  app.full = null;
  app.dc?.free();
  app.calibration?.free();
  Object.assign(app, { dc: sim, info, calibration, cal, decoderIndex: 0, frontIndex: 0 });
  warmUp(app.dc);
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

/** The model line (top right): the model, its size and the stop rule in use. */
export function showModelInfo(app) {
  const { info, cal } = app;
  const validation = info.metadata?.validation;
  const ann = validation?.ann_accuracy != null ? ` · quantized ANN ${pct(validation.ann_accuracy)} on validation` : '';
  const file = app.model.dropped ? ` (${escapeHtml(app.model.fileName)}, dropped)` : '';
  const rule = cal
    ? `decoder <b>${escapeHtml(app.dc.decoder)}</b> · T<sub>max</sub> = ${cal.t_max} · θ = ${charts.formatScore(app.threshold)}${app.frontIndex === calibratedIndex(selectedDecoder(app)) ? ' (calibrated)' : ''}`
      + (app.model.calibrationMadeOn ? ` · calibrated here on ${escapeHtml(app.model.calibrationMadeOn)}`
        : app.model.calibrationDropped ? ` · calibration ${escapeHtml(app.model.calibrationFileName)}` : '')
    : `<b>no calibration</b>: runs to T<sub>max</sub> = ${app.dc.max_steps}, no threshold`;
  // The out-of-distribution rule, when the calibration has one: what the headline's note means.
  const pictures = /^validation\b/.test(cal?.split || '') ? `${fmtInt(cal.images)} validation pictures (CIFAR-10)` : `${fmtInt(cal?.images || 0)} calibration pictures`;
  const ood = cal?.out_of_distribution
    ? `<br><span class="details-ood">“Unlike the pictures it learnt from” appears when the network's spiking activity is unlike its activity on the ${pictures}: for about ${pct(cal.out_of_distribution.crossfit_false_alarm, 0)} of those pictures, and for many ordinary photos, of the ten classes too. It means that the chance measured on those pictures may not hold for this one, not that it shows none of the ten classes.</span>`
    : '';
  // One plain line; the network's and the stop rule's terms in a details area.
  const known = info.classes.length === 10 ? 'knows the ten CIFAR-10 classes' : `knows ${info.classes.length} classes`;
  $('model-info').innerHTML = `<b>${escapeHtml(info.name)}</b>${file} · ${known}`
    + `<details class="model-details"><summary>Details</summary><span class="details-body">${info.layers.length} IF layers · ${fmtInt(info.neurons)} neurons · ${fmtOps(info.synapses)} synapses · L = ${info.levels}${ann}<br>${rule}${ood}</span></details>`;
  Object.assign($('model-info').dataset, { model: app.model.name, calibrated: String(!!cal) });
}

const showModelError = (message) => showError(message, 'model-error');
const clearModelError = () => clearError('model-error');

/** An engine error of buildModel or adoptCalibration, naming the files as the CLI does. */
function modelMessage(error, modelName, calibrationName) {
  const message = error?.message || String(error);
  switch (error?.part) {
    case 'model': return `“${modelName}”: ${message}`;
    case 'calibration': return `“${calibrationName}”: ${message}`;
    case 'match': return `“${calibrationName}” does not belong to “${modelName}”: ${message.replace(/^cannot use the calibration file: /, '')}`;
    default: return message;
  }
}

/**
 * A dropped or chosen model (`.safetensors`, dynconf-snn) with or without its calibration
 * (`.json`), or a calibration alone for the model in use. Checked by the engine; on success the
 * page switches to it (runs, panels, gallery; a running evaluation is cancelled, results go).
 */
export async function onModelFiles(app, files) {
  clearModelError();
  const modelFile = files.find((f) => /\.safetensors$/i.test(f.name));
  const calibrationFile = files.find((f) => /\.json$/i.test(f.name));
  const read = async (f) => new Uint8Array(await f.arrayBuffer());
  if (!modelFile && !calibrationFile) {
    const names = files.map((f) => `“${f.name}”`).join(', ');
    showModelError(`${names}: not a model: expected a dynconf-snn model (.safetensors), its calibration (.calibration.json), or both`);
    return;
  }
  try {
    if (modelFile) {
      const limit = app.wasm.maxModelFileBytes(); // the engine's limit, dynconf's too
      if (modelFile.size > limit) {
        throw new Error(`“${modelFile.name}”: the model file is ${(modelFile.size / 2 ** 20).toFixed(1)} MB; the limit is ${limit / 2 ** 20} MB (a CIFAR-scale QCFS network in int8 is a few MB)`);
      }
      const bytes = await read(modelFile);
      const calibrationBytes = calibrationFile ? await read(calibrationFile) : null;
      let built;
      try {
        built = buildModel(app, bytes, calibrationBytes);
      } catch (error) {
        throw new Error(modelMessage(error, modelFile.name, calibrationFile?.name));
      }
      abortModelChoice(app); // a dropped model wins over one the picker is still downloading
      switchModel(app, built, {
        name: modelFile.name.replace(/\.safetensors$/i, ''), fileName: modelFile.name, bytes,
        calibrationBytes, calibrationFileName: calibrationFile?.name ?? null, dropped: true, calibrationDropped: !!calibrationFile,
      });
    } else if (calibrationFile) {
      const bytes = await read(calibrationFile);
      try {
        adoptCalibration(app, bytes, calibrationFile.name);
      } catch (error) {
        throw new Error(modelMessage(error, app.model.fileName, calibrationFile.name));
      }
      Object.assign(app.model, { calibrationDropped: true, calibrationMadeOn: null });
      showModelInfo(app);
    }
  } catch (error) {
    showModelError(error.message);
  }
}

/**
 * Makes a built model (buildModel) the page's, described by `model` (app.model's form): a
 * running evaluation is cancelled and its results go; the runs, the threshold panel and the
 * gallery's labels follow the new model, and the current image runs again on it.
 */
function switchModel(app, built, model) {
  cancelEvaluation(app, 'the model changed');
  hideResults();
  app.model = model;
  installModel(app, built);
  configureCalibration(app);
  if (app.batch) showGallery(app); // labelled with the new model's classes
  renderBatch(app);
  reloadInput(app);
  renderModelPicker(app);
}

// ---------------------------------------------------------------- the Model picker

/**
 * The Model picker: the models that come with the page (models.json), the one in use selected.
 * A dropped model, or one loaded with ?model=NAME that the list does not name, is shown as an
 * option of its own.
 */
export function renderModelPicker(app) {
  const select = $('model-select');
  const model = app.model;
  const listed = app.manifest?.models ?? [];
  const options = listed.map((m) => ({ value: m.name, text: m.label, title: `models/${m.name}.safetensors` }));
  if (model.dropped) {
    options.push({ value: '', text: `${model.fileName} (dropped)`, title: 'a model given to the page as a file', disabled: true });
  } else if (!listed.some((m) => m.name === model.name)) {
    options.push({ value: model.name, text: model.name, title: `models/${model.name}.safetensors` });
  }
  select.innerHTML = options.map((o) => `<option value="${escapeHtml(o.value)}" title="${escapeHtml(o.title)}"${o.disabled ? ' disabled' : ''}>${escapeHtml(o.text)}</option>`).join('');
  select.value = model.dropped ? '' : model.name;
  select.disabled = false;
  select.dataset.model = model.dropped ? '' : model.name; // the model in use (the end-to-end tests read it)
}

function setModelLoad(text) {
  $('model-load').textContent = text;
  $('model-select').setAttribute('aria-busy', String(!!text));
}

/** Stops the picker's download in progress, if any (a later choice or a dropped model wins). */
function abortModelChoice(app) {
  const loading = app.modelLoading;
  if (!loading) return;
  app.modelLoading = null;
  loading.abort();
  setModelLoad('');
}

/**
 * Loads model NAME that comes with the page, as ?model=NAME does at start, and switches the
 * page to it (the current image runs again on it); ?model= in the address follows, so that a
 * reload keeps the choice. A model that cannot be loaded leaves the page as it was, with the
 * message; choosing again while one downloads abandons that download.
 */
export async function chooseModel(app, name) {
  abortModelChoice(app);
  clearModelError();
  if (!app.model.dropped && name === app.model.name) return renderModelPicker(app);
  const loading = new AbortController();
  app.modelLoading = loading;
  const label = app.manifest?.models.find((m) => m.name === name)?.label ?? name;
  setModelLoad('loading…');
  const onModel = (received, total) => {
    if (app.modelLoading === loading) setModelLoad(`loading ${formatBytes(received)}${total ? ` / ${formatBytes(total)}` : ''}`);
  };
  try {
    const [bytes, calibrationBytes] = await fetchModelFiles(name, { onModel, signal: loading.signal });
    if (app.modelLoading !== loading) return;
    let built;
    try {
      built = buildModel(app, bytes, calibrationBytes);
    } catch (error) {
      throw new Error(modelMessage(error, `${name}.safetensors`, `${name}.calibration.json`));
    }
    app.modelLoading = null;
    setModelLoad('');
    switchModel(app, built, shippedModel(name, bytes, calibrationBytes));
    const url = new URL(location.href);
    if (name === app.manifest?.default) url.searchParams.delete('model'); else url.searchParams.set('model', name);
    history.replaceState(history.state, '', url);
  } catch (error) {
    if (app.modelLoading !== loading) return; // another choice, or a dropped model, took over
    app.modelLoading = null;
    loading.abort(); // the other file's download, if it is still going
    setModelLoad('');
    showModelError(`The model “${label}” could not be loaded: ${error.message}`);
    renderModelPicker(app); // back to the model in use
  }
}

/**
 * Makes `bytes` (a calibration file) the model's calibration: checked to belong to the model
 * in use (throws the engine's message, error.part 'calibration' or 'match'), then the
 * Dynamic Confidence panel and the threshold panel use it.
 */
export function adoptCalibration(app, bytes, fileName) {
  let calibration;
  try {
    calibration = new app.wasm.Calibration(bytes);
  } catch (error) {
    throw Object.assign(error, { part: 'calibration' });
  }
  try {
    app.dc.use_calibration(calibration);
  } catch (error) {
    calibration.free();
    throw Object.assign(error, { part: 'match' });
  }
  app.calibration?.free();
  app.calibration = calibration;
  app.cal = calibration.summary();
  Object.assign(app.model, { calibrationBytes: bytes, calibrationFileName: fileName });
  configureCalibration(app); // restarts the run under the calibrated decoder
  renderBatch(app);
}
