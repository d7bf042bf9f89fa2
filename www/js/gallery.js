// The gallery of a CIFAR-10 binary batch: every record's image and its label, in a
// scrolling grid that draws only what is visible. A small pool of buttons (one per visible
// cell, plus a row above and below) is moved and redrawn as the grid scrolls, so 10,000
// images cost what about a hundred cost, and a scroll frame redraws only the cells that came
// into view. The records were checked by the engine (checkBatch); this module only reads
// their label byte and pixels to draw them, with the record layout the engine gives.

/**
 * The CIFAR-10 record layout, from the engine: `recordBytes` per record (a label byte, then
 * the pixels) and the image's `side` (the red, green and blue planes are side × side bytes).
 */
export const recordLayout = (wasm) => ({ recordBytes: wasm.cifarRecordBytes(), side: wasm.cifarImageSide() });

/** The record's pixels (CHW) and label, as views into the batch (no copy). */
export function record(bytes, index, { recordBytes }) {
  const offset = index * recordBytes;
  return { label: bytes[offset], chw: bytes.subarray(offset + 1, offset + recordBytes) };
}

/** The record's pixels as a side × side ImageData (RGBA), for drawing. */
export function recordImageData(bytes, index, layout) {
  const { chw } = record(bytes, index, layout);
  const plane = layout.side * layout.side;
  const image = new ImageData(layout.side, layout.side);
  const px = image.data;
  for (let i = 0, o = 0; i < plane; i++, o += 4) {
    px[o] = chw[i];
    px[o + 1] = chw[plane + i];
    px[o + 2] = chw[2 * plane + i];
    px[o + 3] = 255;
  }
  return image;
}

/** Thumbnail drawing per animation frame (ms): the rest is drawn in the next frames. */
const DRAW_BUDGET_MS = 8;
const CELL_W = 76; // CSS pixels per cell: a 64×64 thumbnail (style.css) and its caption
const CELL_H = 90;

export class Gallery {
  /**
   * @param {object} o
   * @param {HTMLElement} o.root   the scrolling element (a fixed height, overflow-y: auto)
   * @param {(index: number) => void} o.onOpen  an image was clicked or chosen with Enter/Space
   */
  constructor({ root, onOpen }) {
    this.root = root;
    this.onOpen = onOpen;
    this.space = document.createElement('div'); // as tall as all the rows: the scroll range
    this.space.className = 'gallery-space';
    root.replaceChildren(this.space);
    this.cells = new Map(); // index → button shown
    this.free = []; // buttons out of view, to be reused
    this.batch = null;
    this.active = 0; // the image that Tab reaches (roving tabindex)
    this.selected = -1; // the image running in the Dynamic Confidence panel
    this.frame = null;
    this.cols = 1;
    this.quiet = false; // the grid takes the focus itself (a focused cell scrolled away)
    this.undrawn = new Set(); // cells placed whose thumbnail is still to be drawn
    root.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(root);
    root.addEventListener('click', (event) => {
      const cell = event.target.closest('[data-index]');
      if (cell) this.open(Number(cell.dataset.index));
    });
    root.addEventListener('focusin', (event) => {
      const cell = event.target.closest('[data-index]');
      if (cell) this.setActive(Number(cell.dataset.index));
      else if (event.target === root && this.batch && !this.quiet) this.focusIndex(this.active); // Tab onto the grid itself
    });
    root.addEventListener('keydown', (event) => this.key(event));
  }

  /**
   * Shows a batch: `bytes` (whole records), `count` images, `classes` (label names), `name`,
   * `layout` (recordLayout).
   */
  setBatch(batch) {
    this.batch = batch;
    this.active = 0;
    this.selected = -1;
    for (const [, cell] of this.cells) this.recycle(cell);
    this.cells.clear();
    this.root.scrollTop = 0;
    this.root.hidden = !batch;
    this.root.dataset.count = batch ? String(batch.count) : '0';
    this.render();
  }

  /** Marks the image running in the Dynamic Confidence panel (-1: none). */
  setSelected(index) {
    this.selected = index;
    for (const [i, cell] of this.cells) cell.setAttribute('aria-pressed', String(i === index));
  }

  open(index) {
    this.setActive(index);
    this.setSelected(index);
    this.onOpen(index);
  }

  setActive(index) {
    this.active = index;
    for (const [i, cell] of this.cells) cell.tabIndex = i === index ? 0 : -1;
    // When the active cell is out of view (recycled), Tab reaches the grid itself.
    this.root.tabIndex = this.cells.has(index) ? -1 : 0;
  }

  /** Scrolls `index` into view, draws it and focuses it. */
  focusIndex(index) {
    if (!this.batch) return;
    const i = Math.max(0, Math.min(this.batch.count - 1, index));
    const top = Math.floor(i / this.cols) * CELL_H;
    if (top < this.root.scrollTop) this.root.scrollTop = top;
    else if (top + CELL_H > this.root.scrollTop + this.root.clientHeight) this.root.scrollTop = top + CELL_H - this.root.clientHeight;
    this.render();
    this.setActive(i);
    this.cells.get(i)?.focus({ preventScroll: true });
  }

  key(event) {
    if (!this.batch || !event.target.closest('[data-index]')) return;
    const rows = Math.max(1, Math.floor(this.root.clientHeight / CELL_H));
    const delta = {
      ArrowRight: 1, ArrowLeft: -1, ArrowDown: this.cols, ArrowUp: -this.cols,
      PageDown: rows * this.cols, PageUp: -rows * this.cols,
    }[event.key];
    if (delta != null) {
      event.preventDefault();
      this.focusIndex(this.active + delta);
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      this.focusIndex(event.key === 'Home' ? 0 : this.batch.count - 1);
    }
  }

  schedule() {
    if (this.frame == null) this.frame = requestAnimationFrame(() => { this.frame = null; this.render(); });
  }

  /** Places the cells of the visible rows (and one row either side); draws only new ones. */
  render() {
    const batch = this.batch;
    if (!batch) return;
    const width = this.root.clientWidth || CELL_W;
    this.cols = Math.max(1, Math.floor(width / CELL_W));
    const rows = Math.ceil(batch.count / this.cols);
    this.space.style.height = `${rows * CELL_H}px`;
    const firstRow = Math.max(0, Math.floor(this.root.scrollTop / CELL_H) - 1);
    const lastRow = Math.min(rows - 1, Math.ceil((this.root.scrollTop + (this.root.clientHeight || CELL_H)) / CELL_H));
    const first = firstRow * this.cols;
    const last = Math.min(batch.count - 1, (lastRow + 1) * this.cols - 1);
    for (const [i, cell] of this.cells) {
      if (i < first || i > last) {
        if (cell === document.activeElement) { // keep the focus in the grid
          this.quiet = true;
          this.root.focus({ preventScroll: true });
          this.quiet = false;
        }
        this.cells.delete(i);
        this.recycle(cell);
      }
    }
    for (let i = first; i <= last; i++) {
      let cell = this.cells.get(i);
      if (!cell) {
        cell = this.free.pop() || this.makeCell();
        this.fill(cell, i);
        this.cells.set(i, cell);
      }
      const col = i % this.cols;
      cell.style.transform = `translate(${col * CELL_W}px, ${Math.floor(i / this.cols) * CELL_H}px)`;
    }
    this.setActive(this.active);
    this.root.dataset.rendered = String(this.cells.size);
    this.drawThumbnails();
  }

  /** Draws waiting thumbnails for at most DRAW_BUDGET_MS, then goes on in the next frame. */
  drawThumbnails() {
    const deadline = performance.now() + DRAW_BUDGET_MS;
    for (const cell of this.undrawn) {
      if (performance.now() > deadline) { this.schedule(); break; }
      this.undrawn.delete(cell);
      cell.drawn = true;
      cell.firstChild.getContext('2d').putImageData(recordImageData(this.batch.bytes, Number(cell.dataset.index), this.batch.layout), 0, 0);
    }
    this.root.dataset.undrawn = String(this.undrawn.size);
  }

  /** A cell out of view: hidden, unnamed, kept for reuse. */
  recycle(cell) {
    cell.hidden = true;
    this.undrawn.delete(cell);
    delete cell.dataset.index;
    delete cell.dataset.label;
    this.free.push(cell);
  }

  makeCell() {
    const cell = document.createElement('button');
    cell.type = 'button';
    cell.className = 'gallery-item';
    const canvas = document.createElement('canvas');
    const caption = document.createElement('span');
    cell.append(canvas, caption);
    this.space.append(cell);
    return cell;
  }

  fill(cell, index) {
    const { bytes, classes, name, layout } = this.batch;
    const { label } = record(bytes, index, layout);
    const className = classes[label] ?? `class ${label}`;
    cell.hidden = false;
    cell.dataset.index = String(index);
    cell.dataset.label = className;
    cell.tabIndex = index === this.active ? 0 : -1;
    cell.setAttribute('aria-pressed', String(index === this.selected));
    // Starts with the visible text, so that speech input can name the button by what it shows.
    cell.setAttribute('aria-label', `#${index} ${className}: ${name}, run it`);
    cell.title = `${name} #${index} (label: ${className})`;
    cell.lastChild.textContent = `#${index} ${className}`;
    const canvas = cell.firstChild;
    if (canvas.width !== layout.side || canvas.height !== layout.side) {
      canvas.width = layout.side; // (also clears it)
      canvas.height = layout.side;
    } else if (cell.drawn) {
      canvas.getContext('2d').clearRect(0, 0, layout.side, layout.side); // a recycled cell's old image
    }
    this.undrawn.add(cell); // drawn by drawThumbnails, within its time budget
  }
}
