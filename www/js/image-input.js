// Image input: file dialog, drag-and-drop and paste; checks and decodes with the browser.
// Nothing is uploaded: the bytes go from the File to createImageBitmap, and from there, strip by
// strip, to the engine (sendImage).

/** The largest file the page decodes (the page's own limit; the CLI has none). */

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

/**
 * The file's first bytes as `dynconf classify` shows them: up to 16 as quoted text (then "…"
 * if there is more, and "(text)") when they read as text, else the first 8 in hex.
 */
export function describeStart(head, size = head.length) {
  const bytes = head.subarray(0, 16);
  const printable = bytes.length > 0 && [...bytes].every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
  if (printable) {
    const text = String.fromCharCode(...bytes).replace(/\s/g, ' ');
    return `${JSON.stringify(text)}${size > bytes.length ? '…' : ''} (text)`;
  }
  return `the bytes ${[...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

function checkPixels(width, height, maxPixels) {
  if (width === 0 || height === 0) throw new InputError('This image has no pixels (width or height is 0).');
  if (width * height > maxPixels) {
    throw new InputError(`This image is too large: ${width}×${height} is ${(width * height / 1e6).toFixed(1)} megapixels; the limit is ${maxPixels / 1e6}.`);
  }
}

/**
 * Checks and decodes a File or Blob. Resolves to {bitmap, width, height, format, name} (the
 * pixels stay in the ImageBitmap: sendImage hands them to the engine); rejects with an
 * InputError whose message explains what went wrong. `maxPixels` and `maxBytes` are the
 * largest image and file accepted: the page passes the engine's maxImagePixels() and
 * maxImageFileBytes(), the limits of `dynconf classify` (without them, any size is decoded).
 */
export async function decodeImage(file, { maxPixels = Infinity, maxBytes = Infinity } = {}) {
  const name = file.name || 'pasted image';
  if (file.size === 0) throw new InputError(`“${name}” is empty.`);
  if (file.size > maxBytes) {
    throw new InputError(`“${name}” is ${mb(file.size)}; the limit is ${mb(maxBytes)}. Try a smaller image.`);
  }
  const head = new Uint8Array(await file.slice(0, 64 * 1024).arrayBuffer());
  const sniffed = sniffImage(head);
  const claimsImage = (file.type || '').startsWith('image/');
  // As `dynconf classify` says it (cli/src/image_file.rs): what was expected and what the file holds.
  const notImage = (what) => new InputError(`“${name}” is ${what}: expected a PNG, JPEG, WebP or GIF image, but the file starts with ${describeStart(head, file.size)}.`);
  if (!sniffed && !claimsImage) throw notImage('not an image');
  if (sniffed && sniffed.width !== null) checkPixels(sniffed.width, sniffed.height, maxPixels);

  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch {
    if (!sniffed) throw notImage('not an image this browser can decode');
    throw new InputError(`“${name}” is a ${sniffed.format} file, but it could not be decoded (damaged or cut short).`);
  }
  try {
    checkPixels(bitmap.width, bitmap.height, maxPixels);
  } catch (error) {
    bitmap.close();
    throw error;
  }
  return { width: bitmap.width, height: bitmap.height, bitmap, format: sniffed ? sniffed.format : file.type, name };
}

/** Bytes of RGBA per strip handed to the engine: wasm memory grows by about this much at most. */
export const STRIP_BYTES = 1 << 20;

/**
 * Reads exact, unpremultiplied RGBA from an ImageBitmap with WebGL2: a strip (a sub-rectangle
 * of the bitmap, chosen with UNPACK_SKIP_PIXELS/UNPACK_SKIP_ROWS) is uploaded to an RGBA8
 * texture with UNPACK_PREMULTIPLY_ALPHA_WEBGL and UNPACK_FLIP_Y_WEBGL off, and read back with
 * readPixels from a framebuffer holding that texture. Unlike a 2D canvas, which stores pixels
 * premultiplied by alpha (a semi-transparent pixel comes back up to a few levels off), this
 * gives the file's own bytes, as `dynconf classify` reads them. Colour handling is the 2D
 * canvas's (UNPACK_COLORSPACE_CONVERSION_WEBGL left at BROWSER_DEFAULT_WEBGL; an ImageBitmap
 * is already converted when it is created). Strips wider than MAX_TEXTURE_SIZE are read in
 * columns (PACK_ROW_LENGTH/PACK_SKIP_PIXELS place each into the strip's rows).
 */
class ExactReader {
  /** A reader, or null when this browser gives no WebGL2 context (or an unusable one). */
  static create() {
    try {
      const canvas = document.createElement('canvas');
      canvas.width = 1;
      canvas.height = 1;
      const gl = canvas.getContext('webgl2', { alpha: true, antialias: false, depth: false, stencil: false, premultipliedAlpha: false, powerPreference: 'low-power' });
      if (!gl || gl.isContextLost()) return null;
      const reader = new ExactReader(gl);
      return reader.maxSize >= 1 ? reader : null; // a lost context answers null
    } catch {
      return null;
    }
  }

  constructor(gl) {
    this.gl = gl;
    this.maxSize = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    this.texture = gl.createTexture();
    this.framebuffer = gl.createFramebuffer();
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
  }

  get lost() {
    return this.gl.isContextLost();
  }

  /**
   * The pixels of the bitmap's rectangle (x, y, w, h) as RGBA rows into `out` (at least
   * w·h·4 bytes). Throws texImage2D's exception when it refuses the bitmap (closed, say), a
   * WebGLFailure when the framebuffer is unusable (checked when `first`). WebGL's own errors
   * are only seen by `check()`: asking after every strip would wait for the GPU each time.
   */
  read(bitmap, x, y, w, h, out, first) {
    const gl = this.gl;
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.pixelStorei(gl.UNPACK_ROW_LENGTH, 0);
    gl.pixelStorei(gl.UNPACK_SKIP_ROWS, y);
    gl.pixelStorei(gl.PACK_ALIGNMENT, 1);
    gl.pixelStorei(gl.PACK_ROW_LENGTH, w);
    gl.pixelStorei(gl.PACK_SKIP_ROWS, 0);
    for (let cx = 0; cx < w; cx += this.maxSize) {
      const cw = Math.min(this.maxSize, w - cx);
      gl.pixelStorei(gl.UNPACK_SKIP_PIXELS, x + cx);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, cw, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.texture, 0);
      if (first && cx === 0) {
        const status = gl.checkFramebufferStatus(gl.FRAMEBUFFER);
        if (status !== gl.FRAMEBUFFER_COMPLETE) throw new WebGLFailure(`framebuffer incomplete (0x${status.toString(16)})`);
      }
      gl.pixelStorei(gl.PACK_SKIP_PIXELS, cx);
      gl.readPixels(0, 0, cw, h, gl.RGBA, gl.UNSIGNED_BYTE, out);
    }
  }

  /** Throws a WebGLFailure if any read since the last check failed. */
  check() {
    const gl = this.gl;
    const error = gl.getError();
    if (error !== gl.NO_ERROR) throw new WebGLFailure(`error 0x${error.toString(16)}`);
    // readPixels on a context lost meanwhile does nothing and raises no error.
    if (gl.isContextLost()) throw new WebGLFailure('the context was lost');
  }
}

/** WebGL itself failed (not the bitmap): the page stops using WebGL2 for pixels. */
class WebGLFailure extends Error {}

let exactReader; // undefined: not tried yet; null: WebGL2 is not available here
let fallbackNoted = false;

/** The page's one ExactReader (browsers cap live WebGL contexts), or null; made on first use. */
function getExactReader() {
  if (exactReader === undefined || exactReader?.lost) exactReader = ExactReader.create();
  return exactReader;
}

/** Says once, in the console only, that semi-transparent pixels are read through a 2D canvas. */
function noteFallback(why) {
  if (fallbackNoted) return;
  fallbackNoted = true;
  console.warn(`dynconf: ${why}; pixels are read through a 2D canvas instead, so semi-transparent pixels may differ `
    + 'from `dynconf classify` by a level (a 2D canvas stores them premultiplied by alpha). Opaque images are not affected.');
}

/**
 * Hands the pixels of `rect` ({x, y, w, h}, in the bitmap's pixels; default: the whole
 * bitmap) to a Simulation strip by strip (begin_image(w, h), push_rows, end_image), so no
 * JavaScript array and no wasm memory ever holds the whole image's pixels (a 24 MP photo
 * would be 96 MB; only the ImageBitmap does), and a crop reads only its own pixels. The
 * engine accumulates the exact area average of the rectangle as the strips arrive: the input
 * of `dynconf classify --crop` for the same rectangle.
 *
 * Each strip is read with WebGL2 (ExactReader: the bitmap's exact, unpremultiplied bytes, as
 * the CLI reads the file, semi-transparent pixels included). Where WebGL2 is not available
 * (no context, or it fails), the strip is drawn 1:1 into a 2D canvas one strip high and read
 * with getImageData instead ('2d'; said once in the console): the same bytes for opaque
 * pixels, but semi-transparent ones come back premultiplied and unpremultiplied, up to a few
 * levels off. `reader: '2d'` forces that path (tests). Returns the reader used: 'webgl2' or
 * '2d'. Throws an InputError if the pixels cannot be read, the engine's Error if it refuses
 * the image (the simulation's input is then unchanged).
 */
export function sendImage(simulation, bitmap, { name = 'the image', stripBytes = STRIP_BYTES, rect = null, reader = 'webgl2' } = {}) {
  const area = rect || { x: 0, y: 0, w: bitmap.width, h: bitmap.height };
  const exact = reader === 'webgl2' ? getExactReader() : null;
  if (reader === 'webgl2' && !exact) noteFallback('WebGL2 is not available in this browser');
  if (exact) {
    const rows = Math.min(stripRows(area, stripBytes), exact.maxSize);
    const buffer = new Uint8Array(area.w * rows * 4);
    const failed = (error) => {
      noteFallback(`reading pixels with WebGL2 failed (${error.message})`);
      if (error instanceof WebGLFailure) exactReader = null; // for good: WebGL is unreliable here
      return false; // begin again with the 2D canvas: its begin_image drops this image
    };
    const read = (x, y, w, h) => {
      const data = buffer.subarray(0, w * h * 4);
      try {
        exact.read(bitmap, x, y, w, h, data, y === area.y);
      } catch (error) {
        return failed(error);
      }
      return data;
    };
    const check = () => {
      try {
        exact.check();
        return true;
      } catch (error) {
        return failed(error);
      }
    };
    if (sendStrips(simulation, area, rows, read, check)) return 'webgl2';
  }
  const rows = stripRows(area, stripBytes);
  let ctx;
  try {
    const canvas = document.createElement('canvas');
    canvas.width = area.w;
    canvas.height = rows;
    ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error(`no 2D canvas of ${area.w}×${rows} pixels`);
    ctx.imageSmoothingEnabled = false; // a 1:1 copy: no resampling
  } catch (error) {
    throw new InputError(`“${name}” could not be read into pixels: ${error.message}`);
  }
  sendStrips(simulation, area, rows, (x, y, w, h) => {
    try {
      ctx.clearRect(0, 0, w, rows);
      ctx.drawImage(bitmap, x, y, w, h, 0, 0, w, h);
      return ctx.getImageData(0, 0, w, h).data;
    } catch (error) {
      // The unfinished image is dropped by the next begin_image; the input is unchanged.
      throw new InputError(`“${name}” could not be read into pixels: ${error.message}`);
    }
  });
  return '2d';
}

const MAX_STRIP_ROWS = 4096;

/**
 * Rows per strip: about `stripBytes` of RGBA, at least one row, at most MAX_STRIP_ROWS (a tall,
 * narrow image, 1×100000 say, would otherwise ask for a canvas taller than browsers allow:
 * 32,767 pixels in Firefox).
 */
function stripRows({ w, h }, stripBytes) {
  return Math.max(1, Math.min(h, MAX_STRIP_ROWS, Math.floor(stripBytes / (4 * w))));
}

/**
 * begin_image, then push_rows of read(x, y, w, h) for each strip of `rows` rows of `area`
 * top to bottom, then end_image. Returns false, leaving the image unfinished (the input is
 * unchanged), when read returns false or check(), before end_image, does.
 */
function sendStrips(simulation, { x, y: top, w: width, h: height }, rows, read, check = () => true) {
  simulation.begin_image(width, height);
  for (let y = 0; y < height; y += rows) {
    const data = read(x, top + y, width, Math.min(rows, height - y));
    if (!data) return false;
    simulation.push_rows(data);
  }
  if (!check()) return false;
  simulation.end_image();
  return true;
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
 * With `onFiles`, chosen and dropped files go to onFiles(files) instead, all of them (the
 * page sorts them by kind: images, a batch, a model and its calibration).
 */
export function attachImageInput({ dropzone, fileInput, onFile, onDrop, onFiles = (files) => onFile(files[0]) }) {
  fileInput.addEventListener('change', () => {
    if (fileInput.files.length) onFiles([...fileInput.files]);
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
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length) onFiles(files);
    else if (event.dataTransfer) onDrop(event.dataTransfer);
  });
  document.addEventListener('paste', (event) => {
    const items = [...(event.clipboardData?.items || [])];
    const item = items.find((i) => i.kind === 'file');
    if (item) { event.preventDefault(); onFile(item.getAsFile()); }
  });
}
