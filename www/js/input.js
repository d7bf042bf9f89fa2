// The input the runs classify: files routed by kind (image, batch, model), images chosen,
// dropped or pasted, the crop square and its text, batch records opened from the gallery; the
// chosen pixels go to the engine and the 32×32 view shows what it received.
import { decodeImage, fileFromDroppedLink, InputError, sendImage } from './image-input.js';
import * as charts from './charts.js';
import { record, recordImageData } from './gallery.js';
import { $, clearError, showError } from './ui.js';
import { endCamera } from './camera.js';
import { render, restartRuns } from './run-view.js';
import { onBatchFile } from './batch.js';
import { onModelFiles } from './loading.js';

// ---------------------------------------------------------------- files: images, batches, models

const isBatchFile = (file) => /\.bin$/i.test(file.name);
const isModelFile = (file) => /\.(safetensors|json)$/i.test(file.name);

/** Chosen or dropped files, by kind: a `.bin` batch, a model and/or calibration, an image. */
export function onFiles(app, files) {
  const batch = files.find(isBatchFile);
  const model = files.filter(isModelFile);
  const images = files.filter((f) => !isBatchFile(f) && !isModelFile(f));
  if (batch) onBatchFile(app, batch);
  if (model.length) onModelFiles(app, model);
  if (images.length) onFile(app, images[0]);
}

// ---------------------------------------------------------------- images

/** The formats that `dynconf classify` reads too (cli/src/image_file.rs), as decodeImage names them. */
const FORMATS = ['PNG', 'JPEG', 'WebP', 'GIF'];

/** `message`, starting with the file's name unless it already names the file. */
function naming(file, message) {
  const quoted = `“${file.name || 'pasted image'}”`;
  return message.includes(quoted) ? message : `${quoted}: ${message}`;
}

/**
 * An image file (chosen, dropped or pasted, or a sample photo): decoded by the browser, then
 * classified. `caption` replaces the name and size under the photo (a sample's credit).
 */
export async function onFile(app, file, { caption = null } = {}) {
  clearError();
  const ticket = ++app.imageTicket; // a later file wins if decoding overlaps
  let decoded;
  try {
    decoded = await decodeImage(file, { maxPixels: app.wasm.maxImagePixels(), maxBytes: app.wasm.maxImageFileBytes() });
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
  if (app.camera) endCamera(app); // a file replaces the camera
  loadSource(app, decoded, { caption });
}

/** A drop with no file in it: a link (read when allowed) or a message; never nothing. */
export async function onDrop(app, dataTransfer) {
  clearError();
  const ticket = ++app.imageTicket;
  try {
    const file = await fileFromDroppedLink(dataTransfer);
    if (ticket === app.imageTicket) await onFile(app, file);
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
export function loadSource(app, decoded, { caption = null, keepCrop = false } = {}) {
  const previous = app.source;
  if (decoded.record) { // a batch record: 32×32 as it is, no crop
    if (!sendRecord(app, decoded)) return;
    if (previous?.bitmap) previous.bitmap.close();
    app.source = decoded;
    app.cropBox.setImage(0, 0); // no square
    drawRecord(app, decoded);
    app.image = { name: decoded.name, width: decoded.width, height: decoded.height };
    restartRuns(app);
    return;
  }
  const box = app.cropBox;
  const saved = box.state();
  const newCrop = !(keepCrop && box.width === decoded.width && box.height === decoded.height);
  if (newCrop) box.setImage(decoded.width, decoded.height);
  const input = $('crop-input');
  const applied = input.dataset.applied;
  if (newCrop) input.dataset.applied = ''; // a new image: its crop replaces what was typed
  if (!sendCrop(app, decoded)) {
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
  restartRuns(app);
}

/**
 * Sends the crop's pixels of `source` to the engine (only those pixels are read: a crop of a
 * big photo costs what the crop costs) and shows the 32×32 view and the crop's text. Returns
 * false, with the message shown, when the engine refuses them.
 */
function sendCrop(app, source) {
  let rect;
  let reader;
  try {
    rect = app.cropBox.rect;
    reader = sendImage(app.dc, source.bitmap, { name: source.name, rect }); // in strips: bounded memory
  } catch (error) {
    showError(error instanceof InputError ? error.message : `The engine could not use this image: ${error.message}`);
    return false;
  }
  drawPreview(app);
  for (const id of ['crop-input', 'crop-full']) $(id).disabled = false;
  showCrop(app, rect);
  $('crop-text').dataset.reader = reader; // 'webgl2' (exact bytes) or '2d' (the fallback)
  return true;
}

/** The same input on another model (or calibration): sent again and run from t = 0. */
export function reloadInput(app) {
  const source = app.source;
  const ok = source && (source.record ? sendRecord(app, source) : sendCrop(app, source));
  if (ok) {
    restartRuns(app);
  } else {
    app.run = null;
    app.fixed = null;
    render(app);
  }
}

/** What the network receives (Simulation.preview()), on the 32×32 view. */
function drawPreview(app) {
  const rgba = app.dc.preview();
  const { width, height } = app.info.input;
  const small = document.createElement('canvas');
  small.width = width;
  small.height = height;
  small.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  charts.drawFitted($('preview'), small, width, height, { smooth: false });
}

// ---------------------------------------------------------------- batch records

/** Runs record `index` of the batch in the Dynamic Confidence panel, as an uploaded image. */
export function openRecord(app, index) {
  const batch = app.batch;
  if (!batch) return;
  const { chw, label } = record(batch.bytes, index, batch.layout);
  clearError();
  ++app.imageTicket; // a file still decoding does not replace the record
  if (app.camera) endCamera(app);
  const className = app.info.classes[label] ?? `class ${label}`;
  const side = batch.layout.side;
  loadSource(app, { record: { chw, label, index }, name: `${batch.fileName} #${index} (label: ${className})`, width: side, height: side });
  app.gallery.setSelected(index);
}

/**
 * Sends a batch record's pixels to the engine as `dynconf eval` runs them (CHW, no resizing
 * or crop) and shows the 32×32 view. Returns false, with the message shown, when refused
 * (a model whose input is not 3×32×32).
 */
function sendRecord(app, source) {
  try {
    app.dc.set_pixels_chw(source.record.chw);
  } catch (error) {
    showError(`${source.name}: ${error.message}`);
    return false;
  }
  drawPreview(app);
  const input = $('crop-input');
  input.value = '';
  input.dataset.applied = '';
  markCropInput(null);
  for (const id of ['crop-input', 'crop-full']) $(id).disabled = true;
  $('crop-full').checked = false;
  const out = $('crop-text');
  out.textContent = `no crop: the record's ${source.width}×${source.height} pixels, as dynconf eval runs them`;
  Object.assign(out.dataset, { crop: '', rect: `0,0,${source.width},${source.height}`, reader: 'record' });
  return true;
}

/** A batch record on the "Original" canvas: its pixels scaled up, pixelated. */
function drawRecord(app, source) {
  const { layout } = app.batch;
  const small = document.createElement('canvas');
  small.width = layout.side;
  small.height = layout.side;
  small.getContext('2d').putImageData(recordImageData(app.batch.bytes, source.record.index, layout), 0, 0);
  $('original').classList.add('pixelated');
  charts.drawFitted($('original'), small, layout.side, layout.side, { smooth: false });
  $('original-caption').textContent = source.name;
  $('original-caption').dataset.record = String(source.record.index);
}

// ---------------------------------------------------------------- the crop

/** The crop in the words of the CLI: the text field, and the command that cuts the same pixels. */
function showCrop(app, rect) {
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
export function onCropChange(app) {
  const source = app.source;
  if (!source) $('crop-input').value = app.cropBox.text;
  // Over the live video with a file still loaded, the square is for the next frame only.
  if (!source || (app.camera && !source.frame)) return;
  if (source.width !== app.cropBox.width || source.height !== app.cropBox.height) return;
  clearError();
  if (!sendCrop(app, source)) return;
  if (app.camera && source.frame) app.camera.current = source.frame; // the frame's run is noted again
  restartRuns(app);
}

/** Typed crops (`center`, `full`, `X,Y,SIZE`) are checked by the engine's cropRect. */
export function onCropInput(app) {
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

/**
 * Marks the crop field invalid, with the engine's `message`, or (null) valid. The message is
 * also kept in #crop-error (for screen readers: the error box shows it too, but may be
 * cleared by other inputs while the field stays marked).
 */
function markCropInput(message) {
  const input = $('crop-input');
  $('crop-error').textContent = message || '';
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', 'crop-error');
    input.dataset.error = message;
  } else {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-errormessage');
    delete input.dataset.error;
  }
}
