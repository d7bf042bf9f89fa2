// The page: loads the engine, the model and its calibration, then wires events and draws.
// All computation happens in Rust (src/wasm/): one Simulation.step() per time step; the
// decoders' fronts, figures and latency reductions come precomputed from Calibration.summary();
// a CIFAR-10 batch is checked by checkBatch and evaluated in Web Workers (evaluation.js), each
// running the engine, and its figures come back as `dynconf eval --json` prints them.
import { fetchWithProgress, formatBytes } from './loader.js';
import { attachImageInput, decodeImage, fileFromDroppedLink, InputError, sendImage } from './image-input.js';
import { CropBox } from './crop.js';
import { cameraErrorMessage, grabFrame, startCamera, stopCamera } from './camera.js';
import * as charts from './charts.js';
import { Gallery, record, recordImageData, RECORD_BYTES } from './gallery.js';
import { hideResults, redrawResults, showResults } from './results.js';

const params = new URLSearchParams(location.search);
// The models that come with the page: models/models.json, written by the build from
// www/models.json ({default, models: [{name, label, bytes}]}, only the models the build has).
// ?model=NAME loads models/NAME.safetensors and models/NAME.calibration.json instead of the
// default; the Model picker loads the one chosen the same way (chooseModel) and sets ?model=.
const MANIFEST_URL = 'models/models.json';
const MODEL_NAME_PATTERN = /^[\w.-]+$/;
const REQUESTED_MODEL = MODEL_NAME_PATTERN.test(params.get('model') || '') ? params.get('model') : null;
const SPEEDS = [1, 2, 4, 8, 16, 32, Infinity]; // steps per second; Infinity: as fast as frames allow
const FIXED_LENGTHS = [4, 8, 16, 32];
const MAX_FIXED_T = 256;
const SPIKE_MAP_LAYERS = 3; // the early IF layers drawn as spike maps
const FRAME_BUDGET_MS = 12; // simulation time per animation frame
// While "Evaluate all" keeps every core busy, a frame does less (its tasks stay far under 50 ms
// even when the workers slow the main thread down, and the workers get the cores).
const FRAME_BUDGET_EVALUATING_MS = 3;

const $ = (id) => document.getElementById(id);
// Phones: the fixed-steps table's shorter Run label (style.css leaves columns out at this width).
const NARROW = matchMedia('(max-width: 600px)');
// Touch screens: no dragging or pasting; the file dialog offers the camera too.
const COARSE = matchMedia('(pointer: coarse)');
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtOps = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n));
const pct = (x, digits = 1) => `${(100 * x).toFixed(digits)}%`;
const ordinal = (n) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th')}`;

const app = {
  wasm: null,        // the wasm-bindgen module (classes Simulation, Calibration; wasm_memory())
  model: null,       // the model in use: {name, fileName, bytes, calibrationBytes, calibrationFileName, dropped}
  manifest: null,    // models/models.json: the models the Model picker offers
  modelLoading: null, // the picker's download in progress: an AbortController
  info: null,        // model description from Simulation.info()
  calibration: null, // wasm Calibration; null for a model without one (runs go to T_max)
  cal: null,         // its summary: split, t_max, fixed curve, oracle, decoders (fronts, figures)
  decoderIndex: 0,   // the selected decoder family: index into cal.decoders
  frontIndex: 0,     // the slider's point on that decoder's Pareto front
  threshold: 0,      // θ in score units: the threshold of that front point
  dc: null,          // Simulation animated under Dynamic Confidence
  full: null,        // Simulation run to the longest fixed length, for the fixed-length runs
  image: null,       // {name, width, height, format}
  source: null,      // the image being classified: {bitmap, width, height, name, format}, kept for re-cropping
  cropBox: null,     // the crop square (crop.js)
  camera: null,      // the live camera: {stream, frames, busy, history}; null when off
  run: null,         // the Dynamic Confidence run: per-step reports, stop step, play state
  fixed: null,       // the fixed-length runs: per-step summaries of `full`, wanted lengths
  stepMs: null,      // moving average of one step's time
  imageTicket: 0,    // counts image loads
  frame: null,
  batch: null,       // the CIFAR-10 batch: {fileName, split, bytes, count}
  gallery: null,     // its gallery (gallery.js)
  evaluation: null,  // the running "Evaluate all" (evaluation.js's BatchEvaluation)
  progress: null,    // its latest progress report, drawn at the next animation frame
  progressFrame: null,
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

async function load() {
  const wasmDone = wasmModule().then((wasm) => {
    $('load-wasm').max = 1; $('load-wasm').value = 1; $('load-wasm-text').textContent = 'ready';
    return wasm;
  });
  const manifestDone = fetchManifest();
  // Without ?model=NAME the list names the default: the model's download waits for it.
  const name = REQUESTED_MODEL ?? (await manifestDone).default;
  const files = fetchModelFiles(name, {
    onModel: progressTo($('load-model'), $('load-model-text')),
    onCalibration: progressTo($('load-cal'), $('load-cal-text')),
  });
  const [wasm, [model, calibration], manifest] = await Promise.all([wasmDone, files, manifestDone]);
  app.wasm = wasm;
  app.manifest = manifest;
  let built;
  try {
    built = buildModel(model, calibration);
  } catch (error) {
    if (error.part === 'match') $('load-cal-text').textContent = 'refused';
    throw error;
  }
  app.model = shippedModel(name, model, calibration);
  installModel(built);
  $('loading').hidden = true;
  $('app').hidden = false;
  configureCalibration();
  wireEvents();
  renderModelPicker();
  render();
}

/**
 * Loads a model (safetensors bytes) and, if given, its calibration (JSON bytes), checked to
 * belong to it. Throws the engine's message (error.part: 'model', 'calibration' or 'match');
 * nothing of the page changes.
 */
function buildModel(modelBytes, calibrationBytes) {
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
function installModel({ sim, info, calibration, cal }) {
  app.full?.free();
  app.full = null;
  app.dc?.free();
  app.calibration?.free();
  Object.assign(app, { dc: sim, info, calibration, cal, decoderIndex: 0, frontIndex: 0 });
  warmUp(app.dc);
}

/**
 * The decoder list, the threshold panel and the run's stop rule for the current calibration;
 * without one (a dropped model alone) the runs go to T_max = 32 with no threshold, and the
 * panel says how to get one.
 */
function configureCalibration() {
  const none = !app.cal;
  $('decoder').innerHTML = none ? '<option>no calibration</option>'
    : app.cal.decoders.map((d, k) => `<option value="${k}">${escapeHtml(decoderLabel(k))}</option>`).join('');
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
    showModelInfo();
    renderRun();
    if (app.run) startRun();
  } else {
    selectDecoder(app.cal.chosen);
  }
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
  const file = app.model.dropped ? ` (${escapeHtml(app.model.fileName)}, dropped)` : '';
  const rule = cal
    ? `decoder <b>${escapeHtml(app.dc.decoder)}</b> · T<sub>max</sub> = ${cal.t_max} · θ = ${charts.formatScore(app.threshold)}${app.frontIndex === calibratedIndex(selectedDecoder()) ? ' (calibrated)' : ''}`
      + (app.model.calibrationMadeOn ? ` · calibrated here on ${escapeHtml(app.model.calibrationMadeOn)}`
        : app.model.calibrationDropped ? ` · calibration ${escapeHtml(app.model.calibrationFileName)}` : '')
    : `<b>no calibration</b>: runs to T<sub>max</sub> = ${app.dc.max_steps}, no threshold`;
  $('model-info').innerHTML = `<b>${escapeHtml(info.name)}</b>${file} · ${info.layers.length} IF layers · ${fmtInt(info.neurons)} neurons · ${fmtOps(info.synapses)} synapses · L = ${info.levels}${ann}<br>${rule}`;
  Object.assign($('model-info').dataset, { model: app.model.name, calibrated: String(!!cal) });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// ---------------------------------------------------------------- errors

/** Shows `message` in an error box: the image's (#error), the batch's or the model's. */
function showError(message, id = 'error') {
  const box = $(id);
  box.textContent = message;
  box.hidden = false;
}

function clearError(id = 'error') {
  $(id).hidden = true;
  $(id).textContent = '';
}

// ---------------------------------------------------------------- image

/** The formats that `dynconf classify` reads too (src/image_file.rs), as decodeImage names them. */
const FORMATS = ['PNG', 'JPEG', 'WebP', 'GIF'];

/** `message`, starting with the file's name unless it already names the file. */
function naming(file, message) {
  const quoted = `“${file.name || 'pasted image'}”`;
  return message.includes(quoted) ? message : `${quoted}: ${message}`;
}

async function onFile(file) {
  clearError();
  const ticket = ++app.imageTicket; // a later file wins if decoding overlaps
  let decoded;
  try {
    decoded = await decodeImage(file);
    // The browser decodes more than the CLI reads (BMP, ICO, AVIF in Chromium): refused here
    // as the CLI refuses them, so that the page and `dynconf classify` take the same files.
    if (!FORMATS.includes(decoded.format)) {
      decoded.bitmap.close();
      const kind = String(decoded.format || '').replace(/^image\//, '').toUpperCase();
      throw new InputError(`${kind ? `${kind} images are` : 'This format is'} not supported: convert it to JPEG or PNG (this page reads PNG, JPEG, WebP or GIF, as dynconf classify does).`);
    }
  } catch (error) {
    if (ticket === app.imageTicket) showError(naming(file, error instanceof InputError ? error.message : `Could not read this file: ${error.message}`));
    return;
  }
  if (ticket !== app.imageTicket) {
    decoded.bitmap.close();
    return;
  }
  if (app.camera) endCamera(); // a file replaces the camera
  loadSource(decoded);
}

/** A drop with no file in it: a link (read when allowed) or a message; never nothing. */
async function onDrop(dataTransfer) {
  clearError();
  const ticket = ++app.imageTicket;
  try {
    const file = await fileFromDroppedLink(dataTransfer);
    if (ticket === app.imageTicket) await onFile(file);
  } catch (error) {
    if (ticket === app.imageTicket) showError(error instanceof InputError ? error.message : `Could not use what was dropped: ${error.message}`);
  }
}

/**
 * Makes a decoded image (or camera frame) the input: the crop goes back to the centre square
 * (or stays "whole image"; with `keepCrop`, a camera frame keeps the square drawn over the
 * video), its pixels go to the engine and the runs restart. The previous image and its crop
 * stay if the engine refuses this one.
 */
function loadSource(decoded, { caption = null, keepCrop = false } = {}) {
  const previous = app.source;
  if (decoded.record) { // a batch record: 32×32 as it is, no crop
    if (!sendRecord(decoded)) return;
    if (previous?.bitmap) previous.bitmap.close();
    app.source = decoded;
    app.cropBox.setImage(0, 0); // no square
    drawRecord(decoded);
    app.image = { name: decoded.name, width: decoded.width, height: decoded.height };
    restartRuns();
    return;
  }
  const box = app.cropBox;
  const saved = box.state();
  const newCrop = !(keepCrop && box.width === decoded.width && box.height === decoded.height);
  if (newCrop) box.setImage(decoded.width, decoded.height);
  const input = $('crop-input');
  const applied = input.dataset.applied;
  if (newCrop) input.dataset.applied = ''; // a new image: its crop replaces what was typed
  if (!sendCrop(decoded)) {
    decoded.bitmap.close();
    box.restore(saved);
    input.dataset.applied = applied;
    return;
  }
  if (previous?.bitmap && previous.bitmap !== decoded.bitmap) previous.bitmap.close();
  app.source = decoded;
  $('original').classList.remove('pixelated');
  charts.drawFitted($('original'), decoded.bitmap, decoded.width, decoded.height); // under the video while the camera is on
  $('original-caption').textContent = caption || `${decoded.name} · ${decoded.width}×${decoded.height} ${decoded.format}`;
  delete $('original-caption').dataset.record;
  app.gallery?.setSelected(-1);
  app.image = { name: decoded.name, width: decoded.width, height: decoded.height };
  restartRuns();
}

/**
 * Sends the crop's pixels of `source` to the engine (only those pixels are read: a crop of a
 * big photo costs what the crop costs) and shows the 32×32 view and the crop's text. Returns
 * false, with the message shown, when the engine refuses them.
 */
function sendCrop(source) {
  let rect;
  let reader;
  try {
    rect = app.cropBox.rect;
    reader = sendImage(app.dc, source.bitmap, { name: source.name, rect }); // in strips: bounded memory
  } catch (error) {
    showError(error instanceof InputError ? error.message : `The engine could not use this image: ${error.message}`);
    return false;
  }
  drawPreview();
  for (const id of ['crop-input', 'crop-full']) $(id).disabled = false;
  showCrop(rect);
  $('crop-text').dataset.reader = reader; // 'webgl2' (exact bytes) or '2d' (the fallback)
  return true;
}

/**
 * Sends a batch record's pixels to the engine as `dynconf eval` runs them (CHW, no resizing
 * or crop) and shows the 32×32 view. Returns false, with the message shown, when refused
 * (a model whose input is not 3×32×32).
 */
function sendRecord(source) {
  try {
    app.dc.set_pixels_chw(source.record.chw);
  } catch (error) {
    showError(`${source.name}: ${error.message}`);
    return false;
  }
  drawPreview();
  const input = $('crop-input');
  input.value = '';
  input.dataset.applied = '';
  markCropInput(null);
  for (const id of ['crop-input', 'crop-full']) $(id).disabled = true;
  $('crop-full').checked = false;
  const out = $('crop-text');
  out.textContent = 'no crop: the record\'s 32×32 pixels, as dynconf eval runs them';
  Object.assign(out.dataset, { crop: '', rect: '0,0,32,32', reader: 'record' });
  return true;
}

/** A batch record on the "Original" canvas: its 32×32 pixels scaled up, pixelated. */
function drawRecord(source) {
  const small = document.createElement('canvas');
  small.width = 32;
  small.height = 32;
  small.getContext('2d').putImageData(recordImageData(app.batch.bytes, source.record.index), 0, 0);
  $('original').classList.add('pixelated');
  charts.drawFitted($('original'), small, 32, 32, { smooth: false });
  $('original-caption').textContent = source.name;
  $('original-caption').dataset.record = String(source.record.index);
}

/** Runs record `index` of the batch in the Dynamic Confidence panel, as an uploaded image. */
function openRecord(index) {
  const batch = app.batch;
  if (!batch) return;
  const { chw, label } = record(batch.bytes, index);
  clearError();
  ++app.imageTicket; // a file still decoding does not replace the record
  if (app.camera) endCamera();
  const className = app.info.classes[label] ?? `class ${label}`;
  loadSource({ record: { chw, label, index }, name: `${batch.fileName} #${index} (label: ${className})`, width: 32, height: 32 });
  app.gallery.setSelected(index);
}

/** The same input on another model (or calibration): sent again and run from t = 0. */
function reloadInput() {
  const source = app.source;
  const ok = source && (source.record ? sendRecord(source) : sendCrop(source));
  if (ok) {
    restartRuns();
  } else {
    app.run = null;
    app.fixed = null;
    render();
  }
}

// ---------------------------------------------------------------- files: images, batches, models

const isBatchFile = (file) => /\.bin$/i.test(file.name);
const isModelFile = (file) => /\.(safetensors|json)$/i.test(file.name);

/** Chosen or dropped files, by kind: a `.bin` batch, a model and/or calibration, an image. */
function onFiles(files) {
  const batch = files.find(isBatchFile);
  const model = files.filter(isModelFile);
  const images = files.filter((f) => !isBatchFile(f) && !isModelFile(f));
  if (batch) onBatchFile(batch);
  if (model.length) onModelFiles(model);
  if (images.length) onFile(images[0]);
}

const showBatchError = (message) => showError(message, 'batch-error');
const clearBatchError = () => clearError('batch-error');

/**
 * A CIFAR-10 binary batch: checked by the engine (checkBatch, the CLI's messages), then shown
 * in the gallery. A refused file leaves the current batch as it was.
 */
async function onBatchFile(file) {
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
  cancelEvaluation('another batch was chosen');
  hideResults();
  app.batch = { fileName: file.name, split: file.name.replace(/\.bin$/i, ''), bytes, count };
  app.gallery.setBatch({ bytes, count, classes: app.info.classes, name: file.name });
  renderBatch();
}

/** The official test batch (never calibrated on; the engine refuses as `dynconf calibrate` does). */
const isTestSplit = (batch) => batch.split === 'test' || batch.fileName === 'test_batch.bin';

/** The batch's line: its name, images and the CLI's split name; the buttons' state. */
function renderBatch() {
  const batch = app.batch;
  const status = $('batch-status');
  if (batch) {
    status.innerHTML = `<b>${escapeHtml(batch.fileName)}</b>: ${fmtInt(batch.count)} image${batch.count === 1 ? '' : 's'} `
      + `(<span class="mono">dynconf eval --split ${escapeHtml(batch.split)}</span> reads the same file). Click an image, or focus it and press Enter, to run it above; `
      + `"Evaluate all" runs every image to T<sub>max</sub> with ${escapeHtml(app.model.name)} in ${navigator.hardwareConcurrency || 1} Web Workers`
      + `${app.cal ? '' : isTestSplit(batch) ? ', but not with this model: it has no calibration, and the test split is never calibrated on (give the page its calibration file, or calibrate on another batch)' : ', and calibrates the model on this batch first (it has no calibration)'}.`;
    Object.assign(status.dataset, { file: batch.fileName, split: batch.split, count: String(batch.count) });
  }
  $('evaluate').disabled = !batch || !!app.evaluation;
  $('evaluate-cancel').hidden = !app.evaluation;
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
async function onModelFiles(files) {
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
      const bytes = await read(modelFile);
      const calibrationBytes = calibrationFile ? await read(calibrationFile) : null;
      let built;
      try {
        built = buildModel(bytes, calibrationBytes);
      } catch (error) {
        throw new Error(modelMessage(error, modelFile.name, calibrationFile?.name));
      }
      abortModelChoice(); // a dropped model wins over one the picker is still downloading
      switchModel(built, {
        name: modelFile.name.replace(/\.safetensors$/i, ''), fileName: modelFile.name, bytes,
        calibrationBytes, calibrationFileName: calibrationFile?.name ?? null, dropped: true, calibrationDropped: !!calibrationFile,
      });
    } else if (calibrationFile) {
      const bytes = await read(calibrationFile);
      try {
        adoptCalibration(bytes, calibrationFile.name);
      } catch (error) {
        throw new Error(modelMessage(error, app.model.fileName, calibrationFile.name));
      }
      Object.assign(app.model, { calibrationDropped: true, calibrationMadeOn: null });
      showModelInfo();
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
function switchModel(built, model) {
  cancelEvaluation('the model changed');
  hideResults();
  app.model = model;
  installModel(built);
  configureCalibration();
  if (app.batch) app.gallery.setBatch({ bytes: app.batch.bytes, count: app.batch.count, classes: app.info.classes, name: app.batch.fileName });
  renderBatch();
  reloadInput();
  renderModelPicker();
}

// ---------------------------------------------------------------- the Model picker

/**
 * The Model picker: the models that come with the page (models.json), the one in use selected.
 * A dropped model, or one loaded with ?model=NAME that the list does not name, is shown as an
 * option of its own.
 */
function renderModelPicker() {
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
function abortModelChoice() {
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
async function chooseModel(name) {
  abortModelChoice();
  clearModelError();
  if (!app.model.dropped && name === app.model.name) return renderModelPicker();
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
      built = buildModel(bytes, calibrationBytes);
    } catch (error) {
      throw new Error(modelMessage(error, `${name}.safetensors`, `${name}.calibration.json`));
    }
    app.modelLoading = null;
    setModelLoad('');
    switchModel(built, shippedModel(name, bytes, calibrationBytes));
    const url = new URL(location.href);
    if (name === app.manifest?.default) url.searchParams.delete('model'); else url.searchParams.set('model', name);
    history.replaceState(history.state, '', url);
  } catch (error) {
    if (app.modelLoading !== loading) return; // another choice, or a dropped model, took over
    app.modelLoading = null;
    loading.abort(); // the other file's download, if it is still going
    setModelLoad('');
    showModelError(`The model “${label}” could not be loaded: ${error.message}`);
    renderModelPicker(); // back to the model in use
  }
}

/**
 * Makes `bytes` (a calibration file) the model's calibration: checked to belong to the model
 * in use (throws the engine's message, error.part 'calibration' or 'match'), then the
 * Dynamic Confidence panel and the threshold panel use it.
 */
function adoptCalibration(bytes, fileName) {
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
  configureCalibration(); // restarts the run under the calibrated decoder
  renderBatch();
}

// ---------------------------------------------------------------- Evaluate all

/**
 * Runs every image of the batch to T_max in Web Workers (evaluation.js; one engine each) and
 * shows the figures `dynconf eval --split NAME --json` gives on the same batch and model.
 * Without a calibration, the evaluation calibrates the model on the batch first; the page
 * then uses that calibration. Progress is drawn once per animation frame.
 */
async function evaluateAll() {
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
      split: batch.split,
      onProgress: (p) => { if (app.evaluation === evaluation) { app.progress = p; scheduleProgress(); } },
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
  renderBatch();
  drawProgress();
  try {
    const out = await evaluation.run();
    if (app.evaluation !== evaluation) return;
    // In separate tasks (each well under 50 ms): the figures, the tables, the charts, the new
    // calibration. The evaluation stays the page's until then (a model or batch change still
    // cancels it).
    await showResults({ ...out, batch, model, classes: app.info.classes });
    if (app.evaluation !== evaluation) return;
    if (out.calibrationJson) {
      await nextTask();
      if (app.evaluation !== evaluation) return;
      // Produced on this batch for a model without one: the page uses it from now on.
      try {
        adoptCalibration(new TextEncoder().encode(out.calibrationJson), `${model.name}.calibration.json`);
        model.calibrationMadeOn = batch.fileName;
        showModelInfo();
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
    renderBatch();
    drawProgress();
  }
}

/** Resolves in a later task: lets the browser draw and handle input in between. */
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Stops a running evaluation at once (every worker is terminated). */
function cancelEvaluation(reason = 'cancelled') {
  const evaluation = app.evaluation;
  if (!evaluation) return;
  app.evaluation = null;
  app.progress = null;
  evaluation.cancel();
  setEvaluationState('cancelled', reason);
  renderBatch();
  drawProgress();
}

function setEvaluationState(state, reason = null) {
  const text = $('eval-progress-text');
  $('batch-status').dataset.evaluation = state;
  // When it ended, on the page's clock (the end-to-end test measures long tasks up to here).
  $('batch-status').dataset.evaluationEnded = ['done', 'failed', 'cancelled'].includes(state) ? String(performance.now()) : '';
  if (state === 'cancelled') text.textContent = `Evaluation cancelled${reason && reason !== 'cancelled' ? ` (${reason})` : ''}.`;
  if (state === 'done' || state === 'failed') text.textContent = '';
}

function scheduleProgress() {
  if (app.progressFrame == null) app.progressFrame = requestAnimationFrame(() => { app.progressFrame = null; drawProgress(); });
}

const clock = (seconds) => {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** The progress bar, images/s and ETA of the running evaluation (once per frame at most). */
function drawProgress() {
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
  else text = `${fmtInt(p.done)} / ${fmtInt(p.total)} images · ${rate || '… images/s'} · ETA ${p.etaSeconds == null ? '…' : clock(p.etaSeconds)}`;
  $('eval-progress-text').textContent = text;
  Object.assign(box.dataset, { phase: p.phase, done: String(p.done), total: String(p.total) });
}

/** The crop in the words of the CLI: the text field, and the command that cuts the same pixels. */
function showCrop(rect) {
  const text = app.cropBox.text;
  const input = $('crop-input');
  // A typed crop the engine refused stays in the field (marked) until it is fixed or the crop
  // changes by other means; otherwise the field shows the crop, unless it is being typed in.
  const changed = input.dataset.applied !== text;
  const invalid = input.getAttribute('aria-invalid') === 'true';
  if (changed || (document.activeElement !== input && !invalid)) {
    input.value = text;
    markCropInput(null);
  }
  input.dataset.applied = text;
  $('crop-full').checked = text === 'full';
  const out = $('crop-text');
  // As `dynconf classify` words it: "crop center (600×600 pixels at 100,0)".
  out.textContent = `crop ${text} (${rect.w}×${rect.h} pixels at ${rect.x},${rect.y}) · dynconf classify --crop ${text}`;
  Object.assign(out.dataset, { crop: text, rect: [rect.x, rect.y, rect.w, rect.h].join(',') });
}

/** The crop changed (dragged, keys, typed, "whole image"): re-send the crop and restart. */
function onCropChange() {
  const source = app.source;
  if (!source) $('crop-input').value = app.cropBox.text;
  // Over the live video with a file still loaded, the square is for the next frame only.
  if (!source || (app.camera && !source.frame)) return;
  if (source.width !== app.cropBox.width || source.height !== app.cropBox.height) return;
  clearError();
  if (!sendCrop(source)) return;
  if (app.camera && source.frame) app.camera.current = source.frame; // the frame's run is noted again
  restartRuns();
}

/** Typed crops (`center`, `full`, `X,Y,SIZE`) are checked by the engine's cropRect. */
function onCropInput() {
  const input = $('crop-input');
  if (!app.cropBox.width) { input.value = app.cropBox.text; return; }
  if (input.value.trim().toLowerCase() === app.cropBox.text) { // Enter, then the change on blur
    if (input.getAttribute('aria-invalid') === 'true') { markCropInput(null); clearError(); }
    return;
  }
  try {
    app.cropBox.set(input.value);
  } catch (error) {
    // The typed text stays, to be corrected rather than typed again.
    const message = `Crop “${input.value.trim()}”: ${error.message}`;
    showError(message);
    markCropInput(message);
  }
}

/** Marks the crop field invalid, with the engine's `message`, or (null) valid. */
function markCropInput(message) {
  const input = $('crop-input');
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', 'error');
    input.dataset.error = message;
  } else {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-errormessage');
    delete input.dataset.error;
  }
}

/** The Dynamic Confidence run and the fixed-length runs start over on the current input. */
function restartRuns() {
  app.full?.free();
  app.full = app.dc.fork();
  app.fixed = { lengths: [...(app.fixed?.lengths || FIXED_LENGTHS)], steps: [] };
  startRun();
}

// ---------------------------------------------------------------- camera

async function onCameraStart() {
  clearError();
  if (app.camera) return;
  const video = $('camera-video');
  $('camera-start').disabled = true;
  let stream;
  try {
    stream = await startCamera(video);
  } catch (error) {
    $('camera-start').disabled = false;
    showError(error instanceof InputError ? error.message : cameraErrorMessage(error));
    return;
  }
  app.camera = { stream, frames: 0, current: null, busy: false, history: [], saved: app.cropBox.state() };
  const [track] = stream.getVideoTracks();
  track?.addEventListener('ended', () => endCamera('The camera stopped (it was unplugged, or another application took it).'));
  video.hidden = false;
  $('original').hidden = true;
  for (const id of ['camera-grab', 'camera-keep-label', 'camera-stop']) $(id).hidden = false;
  $('camera-start').hidden = true;
  $('camera-keep').checked = false;
  app.cropBox.setImage(video.videoWidth, video.videoHeight); // the same crop square, over the video
  video.onresize = () => app.camera && app.cropBox.setImage(video.videoWidth, video.videoHeight);
  renderCamera('Camera on: put the object in the square, then “Classify this frame”.');
}

/** Grabs the current frame and runs it like an image (one Dynamic Confidence run). */
async function classifyFrame() {
  const camera = app.camera;
  if (!camera || camera.busy) return;
  camera.busy = true;
  try {
    const number = camera.frames + 1;
    const frame = await grabFrame($('camera-video'), `camera frame ${number}`);
    if (app.camera !== camera) { frame.bitmap.close(); return; }
    camera.frames = number;
    frame.frame = number;
    camera.current = number; // onRunStopped notes this frame's steps
    ++app.imageTicket; // a file still decoding does not replace the frame
    clearError();
    loadSource(frame, { caption: `camera frame ${number} · ${frame.width}×${frame.height}`, keepCrop: true });
  } catch (error) {
    showError(`The camera frame could not be read: ${error.message}`);
  } finally {
    camera.busy = false;
  }
}

/** Stop camera: the tracks are released; the last classified frame stays on the page. */
function endCamera(message = null) {
  const camera = app.camera;
  if (!camera) return;
  stopCamera($('camera-video'));
  app.camera = null;
  $('camera-video').hidden = true;
  $('original').hidden = false;
  for (const id of ['camera-grab', 'camera-keep-label', 'camera-stop']) $(id).hidden = true;
  $('camera-start').hidden = false;
  $('camera-start').disabled = false;
  // The square goes back over the image being classified: the last frame (same size as the
  // video, crop as drawn) or, when no frame was classified, the image from before.
  if (!app.source?.frame) app.cropBox.restore(camera.saved);
  renderCamera(message || 'Camera stopped.');
}

/** One line per classified frame (the latest first): how many steps each frame needed. */
function renderCamera(note) {
  const status = $('camera-status');
  status.hidden = false;
  const camera = app.camera;
  const lines = (camera?.history || []).slice(-4).reverse()
    .map((h) => `frame ${h.frame}: ${escapeHtml(h.prediction)} after ${h.t} step${h.t === 1 ? '' : 's'}`);
  status.innerHTML = [note && escapeHtml(note), ...lines].filter(Boolean).join('<br>');
  status.dataset.state = camera ? 'on' : 'stopped';
  status.dataset.frames = String(camera?.history.length || 0);
  status.dataset.lastSteps = camera?.history.length ? String(camera.history.at(-1).t) : '';
}

/** After a camera frame's run stopped: note its steps; with "keep classifying", the next frame. */
function onRunStopped(report) {
  const camera = app.camera;
  if (!camera || !camera.current || app.source?.frame !== camera.current) return;
  camera.history.push({ frame: camera.current, t: report.t, prediction: app.info.classes[report.prediction] });
  camera.current = null;
  renderCamera(null);
  if ($('camera-keep').checked) setTimeout(classifyFrame, 0);
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
  app.run = { reports: [], stopT: null, playing: play, debt: 0, last: null, id: (app.run?.id || 0) + 1, crop: app.cropBox?.text };
  for (const id of ['play', 'step', 'replay']) $(id).disabled = false;
  renderRun(); // the status shows the restart at once (the end-to-end test waits on it)
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
    onRunStopped(report);
  }
}

/** Runs the steps that are due at the chosen speed. */
function advanceRun(now, budget = FRAME_BUDGET_MS) {
  const run = app.run;
  if (!run || !run.playing) return;
  const speed = SPEEDS[Number($('speed').value)];
  if (run.last == null) { run.last = now; run.debt = 1; } // the first step right away
  // Steps due since the last frame; at most 3 behind (e.g. after the tab was hidden).
  run.debt = speed === Infinity ? Infinity : Math.min(run.debt + ((now - run.last) / 1000) * speed, 3);
  run.last = now;
  const deadline = performance.now() + budget;
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
    fixed.steps.push({ t: r.t, prediction: r.prediction, score: r.score, spikes: r.cumulative_spikes, ops: r.cumulative_synaptic_ops });
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

// ---------------------------------------------------------------- decoder and threshold

const selectedDecoder = () => app.cal.decoders[app.decoderIndex];
/** Whether the run's decoder scores −log10(1 − c) of the max softmax probability c. */
const maxProbability = () => (app.cal ? selectedDecoder().max_probability : /^(max_softmax|kappa)/.test(app.dc.decoder));

function decoderLabel(k) {
  return `${app.cal.decoders[k].name}${k === app.cal.chosen ? ' (calibrated choice)' : ''}`;
}

/** The front point of a decoder's calibrated threshold (the calibration stores it on the front). */
function calibratedIndex(decoder) {
  const exact = decoder.front.findIndex((p) => p.threshold === decoder.threshold);
  if (exact >= 0) return exact;
  const below = decoder.front.findLastIndex((p) => p.threshold <= decoder.threshold);
  return Math.max(0, below);
}

/**
 * Makes decoder family `index` the one the Dynamic Confidence run uses (with its calibrated
 * threshold) and restarts the run; the fixed-length runs are re-run for their score column.
 */
function selectDecoder(index) {
  app.decoderIndex = index;
  app.dc.use_decoder(app.calibration, index);
  app.full?.use_decoder(app.calibration, index);
  const decoder = selectedDecoder();
  const select = $('decoder');
  select.value = String(index);
  select.dataset.decoder = decoder.name;
  // The slider's track is mean steps (front points are dense where accuracy is low).
  $('threshold').min = String(decoder.front[0].mean_steps);
  $('threshold').max = String(decoder.front.at(-1).mean_steps);
  renderCrossfit();
  setFrontPoint(calibratedIndex(decoder));
  if (app.fixed && app.full) {
    app.full.reset();
    app.fixed.steps = [];
  }
  if (app.run) startRun();
}

/** The most accurate point of the selected front with at most `steps` mean steps. */
function frontIndexAt(steps) {
  const front = selectedDecoder().front; // sorted by mean steps (and accuracy)
  let lo = 0;
  let hi = front.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (front[mid].mean_steps <= steps) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** Moves θ to point `index` of the selected decoder's Pareto front. */
function setFrontPoint(index, { fromSlider = false } = {}) {
  const decoder = selectedDecoder();
  app.frontIndex = Math.max(0, Math.min(decoder.front.length - 1, index));
  app.threshold = decoder.front[app.frontIndex].threshold;
  if (!fromSlider) $('threshold').value = String(decoder.front[app.frontIndex].mean_steps);
  const text = thresholdText(app.threshold);
  $('threshold-text').textContent = text;
  $('threshold').setAttribute('aria-valuetext', text);
  app.dc.threshold = app.threshold;
  showModelInfo();
  renderTradeoff();
  renderRun();
}

/** θ, and for max-probability decoders the confidence it stands for. */
function thresholdText(theta) {
  if (!app.cal) return 'no threshold';
  const c = selectedDecoder().max_probability ? ` (c > ${charts.formatProbabilityOfScore(theta, { bound: true })})` : '';
  return `θ = ${charts.formatScore(theta)}${c}`;
}

/** A score s(t), and for max-probability decoders c = 1 − 10^(−s). */
function scoreText(score) {
  const c = maxProbability() && Number.isFinite(score) ? ` (c = ${charts.formatProbabilityOfScore(score)})` : '';
  return `s = ${charts.formatScore(score)}${c}`;
}

/**
 * A latency reduction as Rust computed it (1 − mean steps / T_ref, T_ref the shortest fixed
 * length at least as accurate): {figure, words}.
 */
function latencyText(reduction, reference) {
  if (reduction == null) return { figure: '—', words: `no fixed length up to T = ${app.cal.t_max} is as accurate` };
  if (reduction < 0) {
    return { figure: pct(reduction, 1).replace('-', '−'), words: `negative: ${pct(-reduction, 0)} more steps than T = ${reference}, the shortest fixed run as accurate` };
  }
  return { figure: pct(reduction, 1), words: `fewer steps than T = ${reference}, the shortest fixed run as accurate` };
}

// ---------------------------------------------------------------- the animation loop

function schedule() {
  if (app.frame == null) app.frame = requestAnimationFrame(frame);
}

function frame(now) {
  app.frame = null;
  const budget = app.evaluation ? FRAME_BUDGET_EVALUATING_MS : FRAME_BUDGET_MS;
  advanceRun(now, budget);
  advanceFixed(app.run?.playing ? budget / 2 : budget);
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
  const tMax = app.cal?.t_max ?? app.dc.max_steps;
  charts.drawBars($('bars'), { classes: app.info.classes, probabilities: last?.probabilities, prediction: last?.prediction, final: !!run?.stopT });
  const decoder = app.dc.decoder;
  const kappa = /kappa=([^,]+)/.exec(decoder);
  $('bars-formula').textContent = kappa ? `softmax(O(t) / κ), κ = ${kappa[1]}` : 'softmax(O(t) / t)';
  $('score-formula').textContent = `s(t) of ${decoder}: larger = surer`;
  charts.drawScore($('score'), {
    tMax,
    run: run ? run.reports.map((r) => r.score) : [],
    full: app.fixed ? app.fixed.steps.slice(0, tMax).map((s) => s.score) : [],
    threshold: app.threshold,
    stopT: run?.stopT,
    maxProbability: maxProbability(),
  });
  const status = $('run-status');
  const theta = thresholdText(app.threshold);
  if (!run) {
    status.textContent = COARSE.matches ? 'Choose an image or take a photo to start.' : 'Choose, drop or paste an image to start.';
  } else if (!last) {
    status.textContent = 'Starting…';
  } else {
    const name = app.info.classes[last.prediction];
    const score = scoreText(last.score);
    const waiting = last.score === -Infinity ? ` (cannot stop yet: argmax unchanged for ${last.unchanged} step${last.unchanged === 1 ? '' : 's'})` : '';
    if (run.stopT && last.confident) {
      status.innerHTML = `<b>Stopped at t = ${run.stopT}</b> of at most ${tMax}: <b>${escapeHtml(name)}</b>, score ${score} &gt; ${theta} · decoder ${escapeHtml(decoder)}.`;
    } else if (run.stopT && !app.cal) {
      status.innerHTML = `<b>Ran to T<sub>max</sub> = ${tMax}</b> (no threshold: this model has no calibration); answer: <b>${escapeHtml(name)}</b> (score ${score}) · decoder ${escapeHtml(decoder)}.`;
    } else if (run.stopT) {
      status.innerHTML = `<b>Reached T<sub>max</sub> = ${tMax}</b> without exceeding ${theta}; answer: <b>${escapeHtml(name)}</b> (score ${score}) · decoder ${escapeHtml(decoder)}.`;
    } else {
      status.innerHTML = `t = ${last.t}: <b>${escapeHtml(name)}</b>, score ${score}${waiting} ≤ ${theta}${run.playing ? ' · running' : ' · paused'}`;
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
  status.dataset.run = run ? String(run.id) : '0'; // counts restarts
  status.dataset.crop = run?.crop || '';
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
    const fewerSteps = 1 - dcDone.t / longest;
    const fewerOps = 1 - dcDone.cumulative_synaptic_ops / ref.ops;
    const same = dcDone.prediction === ref.prediction;
    summary.innerHTML = `Dynamic Confidence used <b>${dcDone.t}</b> step${dcDone.t === 1 ? '' : 's'} instead of ${longest} (<b>${pct(fewerSteps, 0)} fewer</b>) `
      + `and ${fmtOps(dcDone.cumulative_synaptic_ops)} instead of ${fmtOps(ref.ops)} synaptic ops (${pct(fewerOps, 0)} fewer); `
      + (same ? `<span class="good">same prediction as T = ${longest}</span>.` : `T = ${longest} predicts ${escapeHtml(app.info.classes[ref.prediction])} instead.`);
  } else {
    summary.textContent = run ? '' : 'The same image run for a fixed number of steps, for comparison.';
  }
}

function renderSpikes() {
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
    maps.innerHTML = layers.slice(0, count).map((l) => `<figure><canvas></canvas><figcaption>${escapeHtml(l.name)}: ${l.shape.join('×')} (channels tiled)</figcaption></figure>`).join('');
  }
  const memory = app.wasm.wasm_memory();
  [...maps.querySelectorAll('canvas')].forEach((canvas, k) => {
    // A view into the engine's memory, as in the Game of Life: no copy, valid until the next call.
    const spikes = last ? new Uint8Array(memory.buffer, app.dc.spikes_ptr(k), app.dc.spikes_len(k)) : null;
    charts.drawSpikeMap(canvas, spikes, layers[k].shape);
  });
}

/** The selected decoder's cross-fitted (held-out) figures: what the panel leads with. */
function renderCrossfit() {
  const { cal } = app;
  const decoder = selectedDecoder();
  const cf = decoder.crossfit;
  $('crossfit-how').textContent = `(${decoder.name}: calibrated on ${cf.k - 1} of ${cf.k} folds, scored on the ${ordinal(cf.k)}; ± sd over folds)`;
  $('crossfit-accuracy').textContent = pct(cf.accuracy, 2);
  $('crossfit-accuracy-sd').textContent = `accuracy ± ${(100 * cf.accuracy_sd).toFixed(2)} pts (T = ${cal.t_max}: ${pct(cf.full_accuracy, 2)})`;
  $('crossfit-steps').textContent = cf.mean_steps.toFixed(2);
  $('crossfit-steps-sd').textContent = `mean steps ± ${cf.mean_steps_sd.toFixed(2)} (of at most ${cal.t_max})`;
  const latency = latencyText(cf.latency_reduction, cf.latency_reference_steps);
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

function renderTradeoff() {
  if (!app.cal) return;
  const cal = app.cal;
  const decoder = selectedDecoder();
  const current = decoder.front[app.frontIndex];
  const fronts = cal.decoders.map((d, k) => ({
    label: decoderLabel(k), color: charts.decoderColor(d.family, k), points: d.front, selected: k === app.decoderIndex,
  }));
  const point = charts.drawTradeoff($('tradeoff'), { tMax: cal.t_max, fixed: cal.fixed, fronts, current, oracle: cal.oracle });
  // Where the current threshold's point is drawn (the end-to-end test reads it).
  Object.assign($('tradeoff').dataset, {
    decoder: decoder.name, frontIndex: String(app.frontIndex), threshold: String(current.threshold),
    meanSteps: current.mean_steps, accuracy: current.accuracy, x: point.x.toFixed(1), y: point.y.toFixed(1),
  });
  const latency = latencyText(current.latency_reduction, current.latency_reference_steps);
  const calibrated = app.frontIndex === calibratedIndex(decoder) ? ', the calibrated one' : '';
  $('tradeoff-readout').innerHTML = `<b>In-sample</b>, on the calibration split itself, at ${thresholdText(current.threshold)} `
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

// ---------------------------------------------------------------- events

function wireEvents() {
  attachImageInput({ dropzone: $('dropzone'), fileInput: $('file'), onFile, onDrop, onFiles });
  app.gallery = new Gallery({ root: $('gallery'), onOpen: openRecord });
  // The batch button sorts files by type as a drop does; the model button takes them as a model.
  for (const [id, take] of [['batch-file', onFiles], ['model-file', onModelFiles]]) {
    const input = $(id);
    input.addEventListener('change', () => {
      if (input.files.length) take([...input.files]);
      input.value = ''; // choosing the same file again fires change again
    });
    const label = input.closest('label');
    label.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); input.click(); }
    });
  }
  $('model-select').addEventListener('change', () => {
    const name = $('model-select').value;
    if (name) chooseModel(name);
  });
  $('evaluate').addEventListener('click', evaluateAll);
  $('evaluate-cancel').addEventListener('click', () => cancelEvaluation());
  addEventListener('pagehide', () => cancelEvaluation('the page was left')); // no worker outlives the page
  const touch = () => {
    // On a phone there is nothing to drop or paste: the file dialog offers photos and the camera.
    $('dropzone-choose').textContent = COARSE.matches ? 'Choose an image or take a photo' : 'Choose an image';
    $('dropzone-drop').hidden = COARSE.matches;
    $('dropzone').dataset.pointer = COARSE.matches ? 'coarse' : 'fine';
  };
  touch();
  COARSE.addEventListener?.('change', () => { touch(); renderRun(); });
  NARROW.addEventListener?.('change', () => renderFixed());
  app.cropBox = new CropBox({ frame: $('crop-frame'), box: $('crop-box'), cropRect: app.wasm.cropRect, onChange: onCropChange });
  $('crop-input').addEventListener('change', onCropInput);
  $('crop-input').addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); onCropInput(); } });
  $('crop-full').addEventListener('change', () => app.cropBox.setFull($('crop-full').checked));
  $('camera-start').addEventListener('click', onCameraStart);
  $('camera-grab').addEventListener('click', classifyFrame);
  $('camera-keep').addEventListener('change', () => { if ($('camera-keep').checked && (!app.run || app.run.stopT)) classifyFrame(); });
  $('camera-stop').addEventListener('click', () => endCamera());
  $('play').addEventListener('click', togglePlay);
  $('step').addEventListener('click', stepOnce);
  $('replay').addEventListener('click', () => app.run && startRun());
  const speed = () => { const s = SPEEDS[Number($('speed').value)]; $('speed-text').textContent = s === Infinity ? 'max' : `${s} steps/s`; };
  $('speed').addEventListener('input', speed);
  speed();
  $('decoder').addEventListener('change', () => app.cal && selectDecoder(Number($('decoder').value)));
  $('threshold').addEventListener('input', () => app.cal && setFrontPoint(frontIndexAt(Number($('threshold').value)), { fromSlider: true }));
  $('threshold').addEventListener('change', () => { if (!app.cal) return; setFrontPoint(app.frontIndex); if (app.run) startRun(); });
  $('threshold').addEventListener('keydown', (event) => {
    if (!app.cal) return;
    // Arrow keys step one front point at a time (the track itself is in mean steps).
    const delta = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[event.key];
    if (!delta) return;
    event.preventDefault();
    setFrontPoint(app.frontIndex + delta);
    if (app.run) startRun();
  });
  $('threshold-reset').addEventListener('click', () => { if (!app.cal) return; setFrontPoint(calibratedIndex(selectedDecoder())); if (app.run) startRun(); });
  $('fixed-form').addEventListener('submit', addFixedLength);
  $('fixed-table').addEventListener('click', (event) => {
    const t = event.target.dataset?.remove;
    if (t) removeFixedLength(Number(t));
  });
  addEventListener('resize', () => { render(); renderTradeoff(); redrawResults(); });
  renderBatch();
}

load().catch((error) => {
  console.error(error);
  const box = $('loading');
  box.insertAdjacentHTML('beforeend', `<div class="error">The demo could not start: ${escapeHtml(error.message || String(error))}</div>`);
});
