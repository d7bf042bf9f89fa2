// The crop square drawn over the original image (or the live camera view): which square of
// the image the network sees. Mouse, touch and pen drag it (pointer events; the corner handle
// resizes), the keyboard moves it (arrow keys) and resizes it (+/−, or Shift+arrow keys).
// Coordinates are whole pixels of the image as decoded (EXIF orientation applied), whatever
// the display scale; the crop is written as `dynconf classify --crop` takes it (`center`,
// `full`, `X,Y,SIZE`), typed crops are read by the engine's cropText and every rectangle
// comes from its cropRect, so the page and the CLI read crops alike and cut the same pixels
// (src/crop.rs).

/** How far from the square's bottom-right corner a press still resizes, in CSS pixels (touch: twice). */
const CORNER_SLOP = 8;

/**
 * @param {object} o
 * @param {HTMLElement} o.frame   the element the image is drawn in, fitted and centred
 * @param {HTMLElement} o.box     the focusable square (a child of frame)
 * @param {(crop: string, width: number, height: number) => Uint32Array} o.cropRect  the wasm export
 * @param {(crop: string) => string} o.cropText  the wasm export: a crop's text as the CLI writes it
 * @param {() => number} o.networkSide  the width of the network's input, in pixels (the keys' step)
 * @param {() => void} o.onChange called at most once per animation frame after a change
 */
export class CropBox {
  constructor({ frame, box, cropRect, cropText, networkSide, onChange }) {
    Object.assign(this, { frame, box, cropRect, cropText, networkSide, onChange });
    this.width = 0;
    this.height = 0;
    this.mode = 'center'; // 'center' | 'square' (the user's square) | 'full'
    this.square = { x: 0, y: 0, size: 0 };
    this.full = false; // "whole image" chosen: the square is kept for when it is unchosen
    this.pending = null; // requestAnimationFrame handle of the next onChange
    this.drag = null;
    this.wire();
  }

  /** A new image (or camera) of `width × height` pixels: back to the centre square. */
  setImage(width, height) {
    this.width = width;
    this.height = height;
    this.mode = 'center';
    this.square = { x: 0, y: 0, size: 0 };
    if (width && height) this.setSquare(this.rectOf('center'));
    this.layout();
  }

  /** The crop and the image size it is for, to be put back with restore (no onChange). */
  state() {
    const { width, height, mode, square, full } = this;
    return { width, height, mode, square: { ...square }, full };
  }

  restore(state) {
    Object.assign(this, state, { square: { ...state.square } });
    this.layout();
  }

  /** The crop as the CLI takes it: `center`, `full` or `X,Y,SIZE`. */
  get text() {
    if (this.full) return 'full';
    if (this.mode === 'center') return 'center';
    const { x, y, size } = this.square;
    return `${x},${y},${size}`;
  }

  /** The pixels taken, {x, y, w, h}, from the engine's cropRect. */
  get rect() {
    return this.rectOf(this.text);
  }

  rectOf(text) {
    const [x, y, w, h] = this.cropRect(text, this.width, this.height);
    return { x, y, w, h };
  }

  /** Sets the crop from its text; throws the engine's message when it cannot be read or does not fit. */
  set(text) {
    const crop = this.cropText(text.trim().toLowerCase()); // `center`, `full` or `X,Y,SIZE`; throws when it cannot be read
    const rect = this.rectOf(crop); // throws: e.g. "the crop 9,0,300 does not fit in this 160×120 image …"
    if (crop === 'full') {
      this.full = true;
    } else {
      this.full = false;
      this.mode = crop === 'center' ? 'center' : 'square';
      this.setSquare(rect);
    }
    this.layout();
    this.changed();
  }

  setFull(full) {
    this.full = full;
    this.layout();
    this.changed();
  }

  setSquare({ x, y, w }) {
    this.square = { x, y, size: w };
  }

  /** Moves/resizes the user's square, kept inside the image (then checked by cropRect). */
  moveTo(x, y, size) {
    const max = Math.min(this.width, this.height);
    const s = Math.max(1, Math.min(max, Math.round(size)));
    const nx = Math.max(0, Math.min(this.width - s, Math.round(x)));
    const ny = Math.max(0, Math.min(this.height - s, Math.round(y)));
    const { x: ox, y: oy, size: os } = this.square;
    if (nx === ox && ny === oy && s === os && this.mode === 'square') return;
    this.full = false;
    this.mode = 'square';
    this.setSquare(this.rectOf(`${nx},${ny},${s}`));
    this.layout();
    this.changed();
  }

  /** One onChange per animation frame, however many pointer or key events came in it. */
  changed() {
    if (this.pending != null) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.onChange();
    });
  }

  /** How the image is drawn in the frame: scale and offsets in CSS pixels (as drawFitted). */
  geometry() {
    const fw = this.frame.clientWidth;
    const fh = this.frame.clientHeight;
    const scale = Math.min(fw / this.width, fh / this.height);
    return { scale, ox: (fw - this.width * scale) / 2, oy: (fh - this.height * scale) / 2 };
  }

  /** Places the square over the image; hidden without an image and for the whole image. */
  layout() {
    const box = this.box;
    box.hidden = !this.width || this.full;
    if (box.hidden) return;
    const { scale, ox, oy } = this.geometry();
    const { x, y, size } = this.square;
    Object.assign(box.style, {
      left: `${ox + x * scale}px`, top: `${oy + y * scale}px`, width: `${size * scale}px`, height: `${size * scale}px`,
    });
    box.dataset.crop = this.text;
    // Its size and place are read from #crop-text (aria-describedby): "crop X,Y,SIZE (S×S pixels at X,Y) …".
  }

  /**
   * Whether a press takes the resize handle: the handle itself (inside the square's corner),
   * or within CORNER_SLOP CSS pixels of the corner outside the square (where the frame may
   * clip), or inside it up to a quarter of the square (a small square can still be moved).
   */
  onCorner(event) {
    if (event.target.classList.contains('crop-handle')) return true;
    const r = this.box.getBoundingClientRect();
    const slop = event.pointerType === 'mouse' ? CORNER_SLOP : 2 * CORNER_SLOP;
    const inside = Math.min(slop, r.width / 4);
    const near = (d) => d >= -inside && d <= slop;
    return near(event.clientX - r.right) && near(event.clientY - r.bottom);
  }

  wire() {
    const { box, frame } = this;
    box.addEventListener('keydown', (event) => this.key(event));
    frame.addEventListener('pointerdown', (event) => {
      if (!this.width || this.full || event.button > 0) return;
      event.preventDefault();
      const { scale, ox, oy } = this.geometry();
      let { x, y, size } = this.square;
      const resize = this.onCorner(event);
      if (!resize && !box.contains(event.target)) {
        // A press on the image outside the square centres the square there, then drags it.
        const r = frame.getBoundingClientRect();
        x = (event.clientX - r.left - ox) / scale - size / 2;
        y = (event.clientY - r.top - oy) / scale - size / 2;
        this.moveTo(x, y, size);
        ({ x, y, size } = this.square);
      }
      box.focus({ preventScroll: true });
      frame.setPointerCapture(event.pointerId);
      this.drag = { id: event.pointerId, resize, px: event.clientX, py: event.clientY, x, y, size, scale };
    });
    frame.addEventListener('pointermove', (event) => {
      const d = this.drag;
      if (!d || event.pointerId !== d.id) return;
      const dx = (event.clientX - d.px) / d.scale;
      const dy = (event.clientY - d.py) / d.scale;
      if (d.resize) {
        // The top-left corner stays; the square grows towards the pointer, inside the image.
        const size = Math.min(d.size + Math.max(dx, dy), this.width - d.x, this.height - d.y);
        this.moveTo(d.x, d.y, size);
      } else {
        this.moveTo(d.x + dx, d.y + dy, d.size);
      }
    });
    const end = (event) => {
      if (this.drag && event.pointerId === this.drag.id) this.drag = null;
    };
    frame.addEventListener('pointerup', end);
    frame.addEventListener('pointercancel', end);
    addEventListener('resize', () => this.layout());
  }

  /** Arrow keys move by one pixel of the network's view; +/− and Shift+arrows resize. */
  key(event) {
    if (!this.width || this.full) return;
    const { x, y, size } = this.square;
    const step = Math.max(1, Math.round(size / this.networkSide()));
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const grow = (by) => this.moveTo(x - by / 2, y - by / 2, size + by); // about the centre
    if (event.key in arrows && event.shiftKey) {
      const [dx, dy] = arrows[event.key];
      grow((dx + dy) * 2 * step);
    } else if (event.key in arrows) {
      const [dx, dy] = arrows[event.key];
      this.moveTo(x + dx * step, y + dy * step, size);
    } else if (event.key === '+' || event.key === '=') {
      grow(2 * step);
    } else if (event.key === '-' || event.key === '_') {
      grow(-2 * step);
    } else {
      return;
    }
    event.preventDefault();
  }
}
