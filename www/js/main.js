// The page's entry point: creates the shared state, loads the engine and the first model, and
// wires every control to the module that does its job. All computation happens in Rust
// (src/wasm/); the modules below only draw and wire events:
//   loading.js          the engine, the models (manifest, picker, dropped files), calibration
//   input.js            files routed by kind, images, the crop, batch records
//   camera.js           the camera and its frames
//   run-view.js         the Dynamic Confidence run, the fixed-length runs, the animation loop
//   threshold-panel.js  the decoder, the threshold and the accuracy–latency trade-off
//   batch.js            a CIFAR-10 batch: gallery.js, "Evaluate all" (evaluation.js), results.js
//   samples.js          the sample photos row: each runs as a chosen file
import { attachImageInput } from './image-input.js';
import { CropBox } from './crop.js';
import { redrawResults } from './results.js';
import { $, COARSE, escapeHtml, NARROW } from './ui.js';
import { chooseModel, loadFirstModel, onModelFiles, renderModelPicker } from './loading.js';
import { onCropChange, onCropInput, onDrop, onFile, onFiles } from './input.js';
import { classifyFrame, endCamera, onCameraStart, onKeepClassifying } from './camera.js';
import {
  addFixedLength, removeFixedLength, render, renderFixed, renderRun, replay, showSpeed, stepOnce, togglePlay,
} from './run-view.js';
import {
  configureCalibration, onThresholdChange, onThresholdInput, onThresholdKey, renderTradeoff, resetThreshold, selectDecoder,
} from './threshold-panel.js';
import { cancelEvaluation, createGallery, evaluateAll, renderBatch } from './batch.js';
import { createSamples } from './samples.js';

/** The page's state, shared by the modules (each function takes it as `app`). */
const app = {
  wasm: null,        // the wasm-bindgen module (classes Simulation, Calibration; the core's rules)
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
  batch: null,       // the CIFAR-10 batch: {fileName, split, bytes, count, layout}
  gallery: null,     // its gallery (gallery.js)
  evaluation: null,  // the running "Evaluate all" (evaluation.js's BatchEvaluation)
  progress: null,    // its latest progress report, drawn at the next animation frame
  progressFrame: null,
};

function wireEvents() {
  // The engine's limits in the page's words.
  $('max-megapixels').textContent = String(app.wasm.maxImagePixels() / 1e6);
  $('record-bytes').textContent = String(app.wasm.cifarRecordBytes());

  attachImageInput({
    dropzone: $('dropzone'), fileInput: $('file'),
    onFile: (file) => onFile(app, file), onDrop: (dataTransfer) => onDrop(app, dataTransfer), onFiles: (files) => onFiles(app, files),
  });
  createGallery(app);
  createSamples(app); // the row appears once samples/samples.json is read
  // The batch button sorts files by type as a drop does; the model button takes them as a model.
  for (const [id, take] of [['batch-file', onFiles], ['model-file', onModelFiles]]) {
    const input = $(id);
    input.addEventListener('change', () => {
      if (input.files.length) take(app, [...input.files]);
      input.value = ''; // choosing the same file again fires change again
    });
    const label = input.closest('label');
    label.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); input.click(); }
    });
  }
  $('model-select').addEventListener('change', () => {
    const name = $('model-select').value;
    if (name) chooseModel(app, name);
  });
  $('evaluate').addEventListener('click', () => evaluateAll(app));
  $('evaluate-cancel').addEventListener('click', () => cancelEvaluation(app));
  addEventListener('pagehide', () => cancelEvaluation(app, 'the page was left')); // no worker outlives the page
  const touch = () => {
    // On a phone there is nothing to drop or paste: the file dialog offers photos and the camera.
    $('dropzone-choose').textContent = COARSE.matches ? 'Choose an image or take a photo' : 'Choose an image';
    $('dropzone-drop').hidden = COARSE.matches;
    $('dropzone').dataset.pointer = COARSE.matches ? 'coarse' : 'fine';
  };
  touch();
  COARSE.addEventListener?.('change', () => { touch(); renderRun(app); });
  NARROW.addEventListener?.('change', () => renderFixed(app));
  app.cropBox = new CropBox({
    frame: $('crop-frame'), box: $('crop-box'), cropRect: app.wasm.cropRect, cropText: app.wasm.cropText,
    networkSide: () => app.info.input.width, onChange: () => onCropChange(app),
  });
  $('crop-input').addEventListener('change', () => onCropInput(app));
  $('crop-input').addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); onCropInput(app); } });
  $('crop-full').addEventListener('change', () => app.cropBox.setFull($('crop-full').checked));
  $('camera-start').addEventListener('click', () => onCameraStart(app));
  $('camera-grab').addEventListener('click', () => classifyFrame(app));
  $('camera-keep').addEventListener('change', () => onKeepClassifying(app));
  $('camera-stop').addEventListener('click', () => endCamera(app));
  $('play').addEventListener('click', () => togglePlay(app));
  $('step').addEventListener('click', () => stepOnce(app));
  $('replay').addEventListener('click', () => replay(app));
  $('speed').addEventListener('input', showSpeed);
  showSpeed();
  $('decoder').addEventListener('change', () => app.cal && selectDecoder(app, Number($('decoder').value)));
  $('threshold').addEventListener('input', () => onThresholdInput(app));
  $('threshold').addEventListener('change', () => onThresholdChange(app));
  $('threshold').addEventListener('keydown', (event) => onThresholdKey(app, event));
  $('threshold-reset').addEventListener('click', () => resetThreshold(app));
  $('fixed-form').addEventListener('submit', (event) => addFixedLength(app, event));
  $('fixed-table').addEventListener('click', (event) => {
    const t = event.target.dataset?.remove;
    if (t) removeFixedLength(app, Number(t));
  });
  addEventListener('resize', () => { render(app); renderTradeoff(app); redrawResults(); });
  renderBatch(app);
}

async function start() {
  await loadFirstModel(app);
  configureCalibration(app);
  wireEvents();
  renderModelPicker(app);
  render(app);
}

start().catch((error) => {
  console.error(error);
  const box = $('loading');
  box.insertAdjacentHTML('beforeend', `<div class="error">The demo could not start: ${escapeHtml(error.message || String(error))}</div>`);
});
