// Canvas drawing. Each function draws one chart from plain data and keeps no state.

const COLORS = {
  ink: '#1b1f24', muted: '#5f6b7a', grid: '#e9ecef', axis: '#c2c8d0',
  accent: '#2563eb', accentSoft: '#a9c1f5', fixed: '#6b7280', oracle: '#059669', threshold: '#d97706',
};
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';
const FONT_BOLD = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';

/** Sizes the backing store for the device pixel ratio; returns {ctx, w, h} in CSS pixels. */
export function prepare(canvas) {
  if (!canvas.dataset.w) {
    canvas.dataset.w = canvas.width;
    canvas.dataset.h = canvas.height;
  }
  const w = Number(canvas.dataset.w);
  const h = Number(canvas.dataset.h);
  const dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  if (canvas.width !== Math.round(w * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = `${w}px`;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = FONT;
  ctx.textBaseline = 'middle';
  return { ctx, w, h };
}

function placeholder(ctx, w, h, text) {
  ctx.fillStyle = COLORS.muted;
  ctx.textAlign = 'center';
  ctx.fillText(text, w / 2, h / 2);
}

/** Confidence axis: u(c) = -log10(1 - c) spreads 0.9, 0.99, 0.999, … evenly. */
export const confidenceToU = (c) => -Math.log10(Math.max(1 - c, 1e-7));
export const uToConfidence = (u) => 1 - 10 ** -u;

export function formatConfidence(c) {
  if (c >= 1 - 1e-7) return '≈1';
  if (c < 0.9) return c.toFixed(2);
  const digits = Math.min(7, Math.max(2, Math.ceil(-Math.log10(1 - c)) + 1));
  return c.toFixed(digits);
}

/** Ten horizontal bars: p_k(t) for each class; the predicted class in the accent colour. */
export function drawBars(canvas, { classes, probabilities, prediction, final }) {
  const { ctx, w, h } = prepare(canvas);
  if (!probabilities) return placeholder(ctx, w, h, 'no run yet');
  const rowH = h / classes.length;
  const left = 84;
  const right = w - 58;
  classes.forEach((name, k) => {
    const y = k * rowH + rowH / 2;
    const p = probabilities[k];
    const chosen = k === prediction;
    ctx.textAlign = 'right';
    ctx.font = chosen ? FONT_BOLD : FONT;
    ctx.fillStyle = chosen ? COLORS.ink : COLORS.muted;
    ctx.fillText(name, left - 8, y);
    ctx.fillStyle = '#f0f2f5';
    ctx.fillRect(left, y - rowH * 0.3, right - left, rowH * 0.6);
    ctx.fillStyle = chosen ? (final ? COLORS.accent : '#4b7cf0') : COLORS.accentSoft;
    ctx.fillRect(left, y - rowH * 0.3, Math.max(1, (right - left) * p), rowH * 0.6);
    ctx.textAlign = 'left';
    ctx.fillStyle = chosen ? COLORS.ink : COLORS.muted;
    ctx.fillText(`${(100 * p).toFixed(1)}%`, right + 6, y);
  });
  ctx.font = FONT;
}

function niceTicks(max, count) {
  const raw = max / count;
  const step = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100].find((s) => s >= raw) || Math.ceil(raw);
  const ticks = [];
  for (let t = step; t <= max; t += step) ticks.push(t);
  if (ticks[0] !== 1) ticks.unshift(1);
  return ticks;
}

/**
 * c(t) for the Dynamic Confidence run (solid), the rest of the full-length run (dashed, what
 * stopping saved), the threshold θ and the stop step.
 */
export function drawConfidence(canvas, { tMax, run, full, threshold, stopT }) {
  const { ctx, w, h } = prepare(canvas);
  const m = { l: 52, r: 14, t: 14, b: 32 };
  const uMax = Math.min(7, Math.max(4, Math.ceil(confidenceToU(threshold) + 1)));
  const x = (t) => m.l + ((t - 0.5) / tMax) * (w - m.l - m.r);
  const y = (c) => h - m.b - (Math.min(confidenceToU(c), uMax) / uMax) * (h - m.t - m.b);

  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.muted;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  const yTicks = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999, 0.9999999].filter((c) => confidenceToU(c) <= uMax);
  for (const c of yTicks) {
    ctx.beginPath(); ctx.moveTo(m.l, y(c)); ctx.lineTo(w - m.r, y(c)); ctx.stroke();
    ctx.fillText(String(c), m.l - 6, y(c));
  }
  ctx.textAlign = 'center';
  for (const t of niceTicks(tMax, 8)) ctx.fillText(String(t), x(t), h - m.b + 12);
  ctx.fillText('time step t', (m.l + w - m.r) / 2, h - 6);

  // θ
  ctx.strokeStyle = COLORS.threshold;
  ctx.setLineDash([6, 4]);
  ctx.beginPath(); ctx.moveTo(m.l, y(threshold)); ctx.lineTo(w - m.r, y(threshold)); ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = COLORS.threshold;
  ctx.textAlign = 'right';
  ctx.fillText(`θ = ${formatConfidence(threshold)}`, w - m.r - 2, y(threshold) - 9);

  const line = (values, from, color, dashed) => {
    if (values.length <= from) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = dashed ? 1.5 : 2;
    ctx.setLineDash(dashed ? [4, 4] : []);
    ctx.beginPath();
    for (let i = Math.max(0, from - 1); i < values.length; i++) {
      const px = x(i + 1), py = y(values[i]);
      if (i === Math.max(0, from - 1)) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineWidth = 1;
  };
  // The full-length run beyond where the DC run is now: what stopping leaves out.
  line(full, run.length, COLORS.axis, true);
  line(run, 0, COLORS.accent, false);
  ctx.fillStyle = COLORS.accent;
  run.forEach((c, i) => { ctx.beginPath(); ctx.arc(x(i + 1), y(c), 2.5, 0, 2 * Math.PI); ctx.fill(); });

  if (stopT) {
    const sx = x(stopT);
    ctx.strokeStyle = COLORS.accent;
    ctx.beginPath(); ctx.moveTo(sx, m.t); ctx.lineTo(sx, h - m.b); ctx.stroke();
    ctx.beginPath(); ctx.arc(sx, y(run[stopT - 1]), 5, 0, 2 * Math.PI); ctx.fill();
    ctx.font = FONT_BOLD;
    ctx.textAlign = sx > w * 0.7 ? 'right' : 'left';
    ctx.fillText(`stop at t = ${stopT}`, sx + (sx > w * 0.7 ? -6 : 6), m.t + 8);
    ctx.font = FONT;
  }
  ctx.strokeStyle = COLORS.axis;
  ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, h - m.b); ctx.lineTo(w - m.r, h - m.b); ctx.stroke();
}

/**
 * Accuracy against mean time steps on the calibration split: the fixed-length curve, the
 * Dynamic Confidence Pareto front, the current threshold's point and the oracle.
 */
export function drawTradeoff(canvas, { tMax, fixed, front, current, oracle }) {
  const { ctx, w, h } = prepare(canvas);
  const m = { l: 50, r: 16, t: 14, b: 36 };
  const accs = [...fixed.map((p) => p.accuracy), ...front.map((p) => p.accuracy), oracle.accuracy, current.accuracy];
  let lo = Math.min(...accs);
  let hi = Math.max(...accs);
  const pad = Math.max(0.005, (hi - lo) * 0.08);
  lo = Math.max(0, Math.floor((lo - pad) * 100) / 100);
  hi = Math.min(1, Math.ceil((hi + pad) * 100) / 100);
  const x = (s) => m.l + (s / tMax) * (w - m.l - m.r);
  const y = (a) => h - m.b - ((a - lo) / (hi - lo)) * (h - m.t - m.b);

  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.muted;
  ctx.textAlign = 'right';
  const step = [0.005, 0.01, 0.02, 0.05, 0.1].find((s) => (hi - lo) / s <= 8) || 0.1;
  for (let a = Math.ceil(lo / step) * step; a <= hi + 1e-9; a += step) {
    ctx.beginPath(); ctx.moveTo(m.l, y(a)); ctx.lineTo(w - m.r, y(a)); ctx.stroke();
    ctx.fillText(`${(100 * a).toFixed(step < 0.01 ? 1 : 0)}%`, m.l - 6, y(a));
  }
  ctx.textAlign = 'center';
  for (const t of [0, ...niceTicks(tMax, 8)]) ctx.fillText(String(t), x(t), h - m.b + 12);
  ctx.fillText('mean time steps per image', (m.l + w - m.r) / 2, h - 8);
  ctx.save();
  ctx.translate(12, (m.t + h - m.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('accuracy', 0, 0);
  ctx.restore();

  const polyline = (points, color, width, dash = []) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.s), y(p.a)) : ctx.moveTo(x(p.s), y(p.a))));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineWidth = 1;
  };
  polyline(fixed.map((p) => ({ s: p.steps, a: p.accuracy })), COLORS.fixed, 1.5);
  ctx.fillStyle = COLORS.fixed;
  for (const p of fixed) { ctx.beginPath(); ctx.arc(x(p.steps), y(p.accuracy), 2, 0, 2 * Math.PI); ctx.fill(); }
  const sorted = [...front].sort((a, b) => a.mean_steps - b.mean_steps);
  polyline(sorted.map((p) => ({ s: p.mean_steps, a: p.accuracy })), COLORS.accent, 2);

  // oracle: a diamond
  ctx.fillStyle = COLORS.oracle;
  const ox = x(oracle.mean_steps), oy = y(oracle.accuracy);
  ctx.beginPath(); ctx.moveTo(ox, oy - 6); ctx.lineTo(ox + 6, oy); ctx.lineTo(ox, oy + 6); ctx.lineTo(ox - 6, oy); ctx.closePath(); ctx.fill();

  // the current threshold
  const cx = x(current.mean_steps), cy = y(current.accuracy);
  ctx.fillStyle = '#fff';
  ctx.strokeStyle = COLORS.threshold;
  ctx.lineWidth = 3;
  ctx.beginPath(); ctx.arc(cx, cy, 6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
  ctx.lineWidth = 1;

  // legend
  const items = [
    ['line', COLORS.fixed, 'fixed length T'],
    ['line', COLORS.accent, 'Dynamic Confidence (Pareto front)'],
    ['ring', COLORS.threshold, 'current θ'],
    ['diamond', COLORS.oracle, 'oracle (upper bound)'],
  ];
  const boxW = 30 + Math.max(...items.map(([, , label]) => ctx.measureText(label).width));
  const lx = w - m.r - boxW;
  let ly = h - m.b - 14 - 17 * (items.length - 1);
  ctx.fillStyle = 'rgba(255,255,255,0.9)';
  ctx.fillRect(lx - 8, ly - 11, boxW + 4, 17 * items.length + 4);
  ctx.textAlign = 'left';
  for (const [kind, color, label] of items) {
    ctx.strokeStyle = color; ctx.fillStyle = color;
    if (kind === 'line') { ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(lx, ly); ctx.lineTo(lx + 16, ly); ctx.stroke(); ctx.lineWidth = 1; }
    if (kind === 'ring') { ctx.lineWidth = 2.5; ctx.beginPath(); ctx.arc(lx + 8, ly, 4.5, 0, 2 * Math.PI); ctx.stroke(); ctx.lineWidth = 1; }
    if (kind === 'diamond') { ctx.beginPath(); ctx.moveTo(lx + 8, ly - 5); ctx.lineTo(lx + 13, ly); ctx.lineTo(lx + 8, ly + 5); ctx.lineTo(lx + 3, ly); ctx.fill(); }
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(label, lx + 22, ly);
    ly += 17;
  }
  ctx.strokeStyle = COLORS.axis;
  ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, h - m.b); ctx.lineTo(w - m.r, h - m.b); ctx.stroke();
  return { x: cx, y: cy };
}

/** Firing rate of each IF layer at the current step (spikes per neuron). */
export function drawRates(canvas, layers) {
  const { ctx, w, h } = prepare(canvas);
  if (!layers || !layers.length) return placeholder(ctx, w, h, 'no run yet');
  const max = Math.max(0.25, ...layers.map((l) => l.rate)) > 0.5 ? 1 : 0.5;
  const top = 6;
  const rowH = Math.min(26, (h - top - 18) / layers.length);
  const left = 118;
  const right = w - 54;
  layers.forEach((layer, i) => {
    const y = top + i * rowH + rowH / 2;
    ctx.textAlign = 'left';
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(layer.name, 0, y);
    ctx.textAlign = 'right';
    ctx.fillStyle = COLORS.muted;
    ctx.fillText(layer.shape, left - 6, y);
    ctx.fillStyle = '#f0f2f5';
    ctx.fillRect(left, y - rowH * 0.3, right - left, rowH * 0.6);
    ctx.fillStyle = COLORS.accent;
    ctx.fillRect(left, y - rowH * 0.3, ((right - left) * layer.rate) / max, rowH * 0.6);
    ctx.textAlign = 'left';
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(layer.rate.toFixed(3), right + 6, y);
  });
  const axisY = top + layers.length * rowH + 8;
  ctx.fillStyle = COLORS.muted;
  ctx.textAlign = 'left';
  ctx.fillText('0', left, axisY);
  ctx.textAlign = 'right';
  ctx.fillText(String(max), right, axisY);
}

/**
 * One IF layer's spikes at this step, channels tiled in a grid (1 pixel per neuron, scaled by
 * CSS). `spikes` holds C·H·W bytes, 0 or 1, in CHW order.
 */
export function drawSpikeMap(canvas, spikes, [channels, height, width], maxTiles = 64) {
  const tiles = Math.min(channels, maxTiles);
  const cols = Math.ceil(Math.sqrt(tiles * 1.5));
  const rows = Math.ceil(tiles / cols);
  const cw = cols * (width + 1) - 1;
  const ch = rows * (height + 1) - 1;
  if (canvas.width !== cw || canvas.height !== ch) {
    canvas.width = cw;
    canvas.height = ch;
    const scale = Math.max(1, Math.floor(Math.min(290 / cw, 210 / ch) * 4) / 4);
    canvas.style.width = `${cw * scale}px`;
    canvas.style.height = `${ch * scale}px`;
  }
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(cw, ch);
  const px = image.data;
  for (let i = 0; i < px.length; i += 4) { px[i] = 30; px[i + 1] = 41; px[i + 2] = 59; px[i + 3] = 255; }
  const plane = height * width;
  for (let c = 0; c < tiles; c++) {
    const ox = (c % cols) * (width + 1);
    const oy = Math.floor(c / cols) * (height + 1);
    for (let yy = 0; yy < height; yy++) {
      let o = ((oy + yy) * cw + ox) * 4;
      const row = c * plane + yy * width;
      for (let xx = 0; xx < width; xx++, o += 4) {
        if (spikes && spikes[row + xx]) { px[o] = 251; px[o + 1] = 191; px[o + 2] = 36; } else { px[o] = 15; px[o + 1] = 23; px[o + 2] = 42; }
      }
    }
  }
  ctx.putImageData(image, 0, 0);
}

/** Draws an image into a canvas, fitted and centred. */
export function drawFitted(canvas, source, sw, sh, { smooth = true } = {}) {
  const { ctx, w, h } = prepare(canvas);
  const scale = Math.min(w / sw, h / sh);
  const dw = sw * scale, dh = sh * scale;
  ctx.imageSmoothingEnabled = smooth;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, (w - dw) / 2, (h - dh) / 2, dw, dh);
}
