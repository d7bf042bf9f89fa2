// The camera: getUserMedia video shown live under the crop square; a frame is grabbed as an
// ImageBitmap and classified like an image, and the camera's controls and per-frame log are
// drawn here. Nothing leaves the browser.
import { InputError } from './image-input.js';
import { $, clearError, escapeHtml, showError } from './ui.js';
import { loadSource } from './input.js';

/** Why the camera could not start, for the user. */
export function cameraErrorMessage(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'The camera is not allowed: permission was denied (by you, the browser or a policy). '
        + 'Allow the camera for this page in the browser\'s site settings and try again, or choose an image file.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Connect one and try again, or choose an image file.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera could not be started: another application may be using it. Close it and try again, or choose an image file.';
    default:
      return `The camera could not be started: ${error?.message || error}. You can still choose an image file.`;
  }
}

/**
 * Starts the camera into `video` (the rear one on phones, when there is one). Resolves once
 * the first frame is there; rejects with an InputError whose message says what to do.
 */
export async function startCamera(video) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw new InputError('The camera needs a secure page: open the demo over https:// or from http://localhost '
      + `(this page is ${location.protocol}//${location.host}, where the browser offers no camera). You can still choose an image file.`);
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (error) {
    throw new InputError(cameraErrorMessage(error));
  }
  video.srcObject = stream;
  try {
    if (video.readyState < 2) await new Promise((ok, fail) => {
      video.addEventListener('loadeddata', ok, { once: true });
      video.addEventListener('error', () => fail(new Error('the video did not start')), { once: true });
    });
    await video.play();
  } catch (error) {
    stopCamera(video);
    throw new InputError(cameraErrorMessage(error));
  }
  return stream;
}

/** Stops every track (the browser's camera indicator goes off) and empties `video`. */
export function stopCamera(video) {
  const stream = video.srcObject;
  if (stream) for (const track of stream.getTracks()) track.stop();
  video.srcObject = null;
}

/** The current frame as {bitmap, width, height, name, format}, like decodeImage's result. */
export async function grabFrame(video, name) {
  const bitmap = await createImageBitmap(video);
  return { bitmap, width: bitmap.width, height: bitmap.height, name, format: 'camera frame' };
}

// ---------------------------------------------------------------- the camera's controls

/** "Use camera": the video replaces the image under the crop square. */
export async function onCameraStart(app) {
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
  track?.addEventListener('ended', () => endCamera(app, 'The camera stopped (it was unplugged, or another application took it).'));
  video.hidden = false;
  $('original').hidden = true;
  for (const id of ['camera-grab', 'camera-keep-label', 'camera-stop']) $(id).hidden = false;
  $('camera-start').hidden = true;
  $('camera-keep').checked = false;
  app.cropBox.setImage(video.videoWidth, video.videoHeight); // the same crop square, over the video
  video.onresize = () => app.camera && app.cropBox.setImage(video.videoWidth, video.videoHeight);
  renderCamera(app, 'Camera on: put the object in the square, then “Classify this frame”.');
}

/** Grabs the current frame and runs it like an image (one Dynamic Confidence run). */
export async function classifyFrame(app) {
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
    loadSource(app, frame, { caption: `camera frame ${number} · ${frame.width}×${frame.height}`, keepCrop: true });
  } catch (error) {
    showError(`The camera frame could not be read: ${error.message}`);
  } finally {
    camera.busy = false;
  }
}

/** "keep classifying" was ticked: the next frame now, if no run is going. */
export function onKeepClassifying(app) {
  if ($('camera-keep').checked && (!app.run || app.run.stopT)) classifyFrame(app);
}

/** Stop camera: the tracks are released; the last classified frame stays on the page. */
export function endCamera(app, message = null) {
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
  renderCamera(app, message || 'Camera stopped.');
}

/** One line per classified frame (the latest first): how many steps each frame needed. */
function renderCamera(app, note) {
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
export function onRunStopped(app, report) {
  const camera = app.camera;
  if (!camera || !camera.current || app.source?.frame !== camera.current) return;
  camera.history.push({ frame: camera.current, t: report.t, prediction: app.info.classes[report.prediction] });
  camera.current = null;
  renderCamera(app, null);
  if ($('camera-keep').checked) setTimeout(() => classifyFrame(app), 0);
}
