// The camera: getUserMedia video shown live under the crop square; a frame is grabbed as an
// ImageBitmap and classified like an image. Nothing leaves the browser.
import { InputError } from './image-input.js';

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
