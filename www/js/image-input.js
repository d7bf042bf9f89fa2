// Image input: file dialog, drag-and-drop and paste; checks and decodes with the browser.
// Nothing is uploaded: the bytes go from the File to createImageBitmap to a canvas.

export const MAX_BYTES = 20 * 1024 * 1024;
export const MAX_PIXELS = 40e6;

/** An error whose message is meant for the user. */
export class InputError extends Error {}

const mb = (n) => `${(n / 1048576).toFixed(1)} MB`;

/**
 * Recognises PNG, JPEG, GIF and WebP by their first bytes and reads the image size from the
 * header, so that a huge image is refused before it is decoded. Returns null for other data.
 */
export function sniffImage(bytes) {
  const b = bytes;
  const u16be = (i) => (b[i] << 8) | b[i + 1];
  const u16le = (i) => b[i] | (b[i + 1] << 8);
  const u24le = (i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  const u32be = (i) => ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
  const ascii = (i, n) => String.fromCharCode(...b.subarray(i, i + n));
  if (b.length >= 24 && b[0] === 0x89 && ascii(1, 3) === 'PNG') {
    return { format: 'PNG', width: u32be(16), height: u32be(20) };
  }
  if (b.length >= 10 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) {
    return { format: 'GIF', width: u16le(6), height: u16le(8) };
  }
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const chunk = ascii(12, 4);
    if (chunk === 'VP8 ' && b.length >= 30) return { format: 'WebP', width: u16le(26) & 0x3fff, height: u16le(28) & 0x3fff };
    if (chunk === 'VP8L' && b.length >= 25) {
      const width = 1 + (((b[22] & 0x3f) << 8) | b[21]);
      const height = 1 + (((b[24] & 0x0f) << 10) | (b[23] << 2) | ((b[22] & 0xc0) >> 6));
      return { format: 'WebP', width, height };
    }
    if (chunk === 'VP8X' && b.length >= 30) return { format: 'WebP', width: 1 + u24le(24), height: 1 + u24le(27) };
    return { format: 'WebP', width: null, height: null };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    // Walk the marker segments up to the first start-of-frame, which holds the size.
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) break;
      const marker = b[i + 1];
      if (marker === 0xff) { i += 1; continue; }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
      const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) return { format: 'JPEG', width: u16be(i + 7), height: u16be(i + 5) };
      i += 2 + u16be(i + 2);
    }
    return { format: 'JPEG', width: null, height: null };
  }
  return null;
}

function checkPixels(width, height) {
  if (width === 0 || height === 0) throw new InputError('This image has no pixels (width or height is 0).');
  if (width * height > MAX_PIXELS) {
    throw new InputError(`This image is too large: ${width}×${height} is ${(width * height / 1e6).toFixed(1)} megapixels; the limit is ${MAX_PIXELS / 1e6}.`);
  }
}

/**
 * Checks and decodes a File or Blob. Resolves to {bitmap, width, height, format, name} (the
 * pixels stay in the ImageBitmap: sendImage hands them to the engine); rejects with an
 * InputError whose message explains what went wrong.
 */
export async function decodeImage(file) {
  const name = file.name || 'pasted image';
  if (file.size === 0) throw new InputError(`“${name}” is empty.`);
  if (file.size > MAX_BYTES) {
    throw new InputError(`“${name}” is ${mb(file.size)}; the limit is ${mb(MAX_BYTES)}. Try a smaller image.`);
  }
  const head = new Uint8Array(await file.slice(0, 64 * 1024).arrayBuffer());
  const sniffed = sniffImage(head);
  const claimsImage = (file.type || '').startsWith('image/');
  if (!sniffed && !claimsImage) {
    throw new InputError(`“${name}” is not an image. Choose a PNG, JPEG, WebP or GIF file.`);
  }
  if (sniffed && sniffed.width !== null) checkPixels(sniffed.width, sniffed.height);

  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch {
    const what = sniffed ? `a ${sniffed.format} file, but it could not be decoded (damaged or unsupported)` : 'not an image this browser can decode';
    throw new InputError(`“${name}” is ${what}.`);
  }
  try {
    checkPixels(bitmap.width, bitmap.height);
  } catch (error) {
    bitmap.close();
    throw error;
  }
  return { width: bitmap.width, height: bitmap.height, bitmap, format: sniffed ? sniffed.format : file.type, name };
}

/** Bytes of RGBA per strip handed to the engine: wasm memory grows by about this much at most. */
export const STRIP_BYTES = 1 << 20;

/**
 * Hands the pixels of `rect` ({x, y, w, h}, in the bitmap's pixels; default: the whole
 * bitmap) to a Simulation strip by strip (begin_image(w, h), push_rows, end_image): each
 * strip of rows of the rectangle is drawn 1:1 into a canvas one strip high and read with
 * getImageData, so no JavaScript array and no wasm memory ever holds the whole image's pixels
 * (a 24 MP photo would be 96 MB; only the ImageBitmap does), and a crop reads only its own
 * pixels. The engine accumulates the exact area average of the rectangle as the strips
 * arrive: the input of `dynconf classify --crop` for the same rectangle. Throws an InputError
 * if the pixels cannot be read, the engine's Error if it refuses the image (the simulation's
 * input is then unchanged).
 */
export function sendImage(simulation, bitmap, { name = 'the image', stripBytes = STRIP_BYTES, rect = null } = {}) {
  const { x, y: top, w: width, h: height } = rect || { x: 0, y: 0, w: bitmap.width, h: bitmap.height };
  const rows = Math.max(1, Math.min(height, Math.floor(stripBytes / (4 * width))));
  let ctx;
  try {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = rows;
    ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error(`no 2D canvas of ${width}×${rows} pixels`);
    ctx.imageSmoothingEnabled = false; // a 1:1 copy: no resampling
  } catch (error) {
    throw new InputError(`“${name}” could not be read into pixels: ${error.message}`);
  }
  simulation.begin_image(width, height);
  for (let y = 0; y < height; y += rows) {
    const h = Math.min(rows, height - y);
    let data;
    try {
      ctx.clearRect(0, 0, width, rows);
      ctx.drawImage(bitmap, x, top + y, width, h, 0, 0, width, h);
      data = ctx.getImageData(0, 0, width, h).data;
    } catch (error) {
      // The unfinished image is dropped by the next begin_image; the input is unchanged.
      throw new InputError(`“${name}” could not be read into pixels: ${error.message}`);
    }
    simulation.push_rows(data);
  }
  simulation.end_image();
}

/**
 * What was dropped when it held no file: a link dragged from a tab, or text. Resolves to a
 * File when the page may read it (a data: or blob: URL, or a URL of this page's own origin),
 * else rejects with an InputError that says what to do instead. Browsers do not let a page
 * read another site's pixels, and this page makes no requests to other hosts.
 */
export async function fileFromDroppedLink(dataTransfer, origin = location.origin) {
  const uriList = dataTransfer.getData('text/uri-list') || '';
  const plain = dataTransfer.getData('text/plain') || '';
  // text/uri-list: one URL a line, lines starting with # are comments.
  const text = uriList.split(/\r?\n/).map((l) => l.trim()).find((l) => l && !l.startsWith('#')) || plain.trim();
  if (!text) throw new InputError('Nothing that this page can read was dropped: drop an image file (PNG, JPEG, WebP or GIF), or paste one (Ctrl/⌘+V).');
  let url;
  try {
    url = new URL(text);
  } catch {
    const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    throw new InputError(`What was dropped is text (“${shown}”), not an image file: drop an image file, or paste an image (Ctrl/⌘+V).`);
  }
  const readable = url.protocol === 'data:' || url.protocol === 'blob:' || url.origin === origin;
  if (!readable) {
    throw new InputError(`A link to an image on ${url.host || url.protocol} was dropped, but this page cannot read images from other sites. `
      + 'Save the image to your computer and drop the file here, or copy the image (not its address) and paste it here (Ctrl/⌘+V).');
  }
  const name = decodeURIComponent(url.protocol === 'data:' ? 'dropped image' : url.pathname.split('/').pop() || 'dropped image');
  let blob;
  try {
    const response = await fetch(url.href);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    blob = await response.blob();
  } catch (error) {
    throw new InputError(`The dropped link could not be read (${error.message}). Save the image and drop the file instead.`);
  }
  return new File([blob], name, { type: blob.type });
}

/**
 * Calls onFile(file) for a chosen, dropped or pasted file, and onDrop(dataTransfer) for a
 * drop that holds no file (a link or text dragged from another tab). Drops anywhere on the
 * page count: the browser must not navigate away, and a drop must never be silently ignored.
 */
export function attachImageInput({ dropzone, fileInput, onFile, onDrop }) {
  fileInput.addEventListener('change', () => {
    if (fileInput.files.length) onFile(fileInput.files[0]);
    fileInput.value = ''; // choosing the same file again fires change again
  });
  dropzone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); fileInput.click(); }
  });
  for (const type of ['dragenter', 'dragover']) {
    dropzone.addEventListener(type, (event) => { event.preventDefault(); dropzone.classList.add('over'); });
  }
  for (const type of ['dragleave', 'drop']) {
    dropzone.addEventListener(type, () => dropzone.classList.remove('over'));
  }
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => {
    event.preventDefault();
    const file = event.dataTransfer?.files[0];
    if (file) onFile(file);
    else if (event.dataTransfer) onDrop(event.dataTransfer);
  });
  document.addEventListener('paste', (event) => {
    const items = [...(event.clipboardData?.items || [])];
    const item = items.find((i) => i.kind === 'file');
    if (item) { event.preventDefault(); onFile(item.getAsFile()); }
  });
}
