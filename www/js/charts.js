// Canvas drawing. Each function draws one chart from plain data and keeps no state.

const COLORS = {
  ink: '#1b1f24', muted: '#5f6b7a', grid: '#e9ecef', axis: '#c2c8d0',
  accent: '#2563eb', accentSoft: '#a9c1f5', fixed: '#6b7280', oracle: '#059669', threshold: '#d97706',
  // Text in those colours, dark enough to read (4.5:1 on white): the marks' colours are 3.2–3.8:1.
  thresholdText: '#b45309', oracleText: '#047857',
};
const FONT_PX = 12;
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';
const FONT_BOLD = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';

/** The smallest drawn height of a chart that shrinks with its column (narrow screens). */
const MIN_HEIGHT = 220;

/**
 * The size, in CSS pixels, a chart is drawn at: its declared width and height (the canvas's
 * width and height attributes) or, when its column is narrower, the column's width and a
 * height scaled with it but at least MIN_HEIGHT. Text is drawn at its own size (12 CSS px)
 * rather than shrunk with the chart, so it stays readable on a phone.
 */
export function chartSize(canvas) {
  if (!canvas.dataset.w) {
    canvas.dataset.w = canvas.width;
    canvas.dataset.h = canvas.height;
  }
  const w0 = Number(canvas.dataset.w);
  const h0 = Number(canvas.dataset.h);
  // Only canvases whose parent's width does not follow its content (blocks in grid tracks).
  const avail = canvas.dataset.fluid !== undefined ? canvas.parentElement?.clientWidth || 0 : 0;
  if (!avail || avail >= w0) return { w: w0, h: h0 };
  const w = Math.max(160, Math.floor(avail));
  return { w, h: Math.max(Math.min(h0, MIN_HEIGHT), Math.round((h0 * w) / w0)) };
}

/**
 * Sizes the backing store for the device pixel ratio (and the chart for its column, see
 * chartSize; `extraHeight` CSS pixels below it, for a legend); returns {ctx, w, h} in CSS pixels.
 */
export function prepare(canvas, { extraHeight = 0 } = {}) {
  const size = chartSize(canvas);
  const w = size.w;
  const h = size.h + extraHeight;
  const dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  if (canvas.style.width !== `${w}px`) canvas.style.width = `${w}px`;
  // A fluid chart's height is its own; the others keep their aspect ratio when max-width shrinks them.
  if (canvas.dataset.fluid !== undefined && canvas.style.height !== `${h}px`) canvas.style.height = `${h}px`;
  // What the page draws with (the end-to-end test checks the text's size on screen).
  canvas.dataset.drawnWidth = String(w);
  canvas.dataset.fontPx = String(FONT_PX);
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

/** Decoder families in the trade-off chart (others get the spare colours in turn). */
const DECODER_COLORS = {
  max_softmax: '#2563eb', margin: '#9333ea', entropy: '#dc2626', stability: '#0891b2', learned: '#92400e',
};
const SPARE_COLORS = ['#db2777', '#4f46e5', '#0f766e', '#a16207'];

export function decoderColor(family, index) {
  return DECODER_COLORS[family] || SPARE_COLORS[index % SPARE_COLORS.length];
}

const SUPERSCRIPT = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };
const superscript = (n) => String(n).replace(/[-0-9]/g, (d) => SUPERSCRIPT[d]);

/** A decoder score s(t) or threshold θ (score units; −∞: the decoder cannot stop there). */
export function formatScore(s) {
  if (s === -Infinity) return '−∞';
  if (s === Infinity) return '∞';
  const a = Math.abs(s);
  const text = a === 0 ? '0' : a >= 100 ? s.toFixed(0) : a >= 1 ? s.toFixed(2) : a >= 0.01 ? s.toFixed(3) : s.toExponential(1);
  return text.replace('-', '−');
}

/**
 * The max softmax probability c = 1 − 10^(−s) of a score s (for the decoders whose score is
 * −log10(1 − c)). Past four nines c rounds towards 1, so it is written 1 − m·10⁻ᵉ. With
 * `bound`, the text is a lower bound (for "c > …" of a threshold): rounded down, never up.
 */
export function formatProbabilityOfScore(s, { bound = false } = {}) {
  if (s === -Infinity) return '—';
  if (s <= 4) {
    const digits = s < 1 ? 2 : Math.ceil(s) + 1;
    const c = 1 - 10 ** -s;
    return (bound ? Math.floor(c * 10 ** digits) / 10 ** digits : c).toFixed(digits);
  }
  const exponent = Math.floor(-s);
  const mantissa = 10 ** (-s - exponent); // 1 − c = mantissa · 10^exponent
  const shown = bound ? Math.ceil(mantissa * 10 - 1e-9) / 10 : mantissa;
  return `1 − ${shown.toFixed(1)}·10${superscript(exponent)}`;
}

/**
 * One horizontal bar per class: `probabilities[k]` (0..1), the predicted class in the accent
 * colour. Without `probabilities` (no run yet) the class names with empty bars.
 */
export function drawBars(canvas, { classes, probabilities, prediction, final }) {
  const { ctx, w, h } = prepare(canvas);
  const rowH = h / classes.length;
  const left = 84;
  const right = w - 58;
  classes.forEach((name, k) => {
    const y = k * rowH + rowH / 2;
    const p = probabilities?.[k];
    const chosen = probabilities != null && k === prediction;
    ctx.textAlign = 'right';
    ctx.font = chosen ? FONT_BOLD : FONT;
    ctx.fillStyle = chosen || !probabilities ? COLORS.ink : COLORS.muted;
    ctx.fillText(name, left - 8, y);
    ctx.fillStyle = '#f0f2f5';
    ctx.fillRect(left, y - rowH * 0.3, right - left, rowH * 0.6);
    if (p == null) return;
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

/** About `count` round tick values covering [lo, hi], and their labels. */
function valueTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  let digits = 0;
  while (digits < 8 && Math.abs(Math.round(step * 10 ** digits) - step * 10 ** digits) > 1e-6) digits++;
  const ticks = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    const value = k * step;
    ticks.push({ value, label: (k === 0 ? 0 : value).toFixed(digits).replace('-', '−') });
  }
  return ticks;
}

/**
 * The decoder's score s(t) for the Dynamic Confidence run (solid), the rest of the
 * full-length run (dashed, what stopping saved), the threshold θ and, when the run stopped
 * because it was confident (`confident`; not when it merely reached T_max), the stop step. The y
 * axis spans the finite scores and θ; steps with s = −∞ (the decoder cannot stop there) are
 * gaps, marked on the time axis. For max-probability decoders the right axis reads
 * c = 1 − 10^(−s).
 */
export function drawScore(canvas, { tMax, run, full, threshold, stopT, maxProbability, confident = false }) {
  const { ctx, w, h } = prepare(canvas);
  const m = { l: 56, r: maxProbability ? 66 : 14, t: 14, b: 32 };
  const finite = [...run, ...full.slice(run.length)].filter(Number.isFinite);
  if (Number.isFinite(threshold)) finite.push(threshold);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (maxProbability) lo = Math.min(lo, 0); // c = 0.0…: the bottom of the scale
  const pad = Math.max((hi - lo) * 0.08, 0.1);
  lo -= pad; hi += pad;
  const ticks = valueTicks(lo, hi, 5);
  const x = (t) => m.l + ((t - 0.5) / tMax) * (w - m.l - m.r);
  const y = (s) => h - m.b - ((s - lo) / (hi - lo)) * (h - m.t - m.b);

  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.muted;
  ctx.lineWidth = 1;
  for (const { value, label } of ticks) {
    ctx.beginPath(); ctx.moveTo(m.l, y(value)); ctx.lineTo(w - m.r, y(value)); ctx.stroke();
    ctx.textAlign = 'right';
    ctx.fillText(label, m.l - 6, y(value));
  }
  if (maxProbability) {
    // The right axis: c = 1 − 10^(−s) at whole scores (0.9, 0.99, …).
    ctx.textAlign = 'left';
    for (let s = Math.max(1, Math.ceil(lo)); s <= hi; s += Math.max(1, Math.ceil((hi - lo) / 6))) {
      ctx.fillText(s <= 4 ? (1 - 10 ** -s).toFixed(s) : `1−10${superscript(-s)}`, w - m.r + 6, y(s));
    }
    ctx.save();
    ctx.translate(w - 6, (m.t + h - m.b) / 2);
    ctx.rotate(Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText('max softmax c', 0, 0);
    ctx.restore();
  }
  ctx.save();
  ctx.translate(9, (m.t + h - m.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('score s(t)', 0, 0);
  ctx.restore();
  ctx.textAlign = 'center';
  for (const t of niceTicks(tMax, 8)) ctx.fillText(String(t), x(t), h - m.b + 12);
  ctx.fillText('time step t', (m.l + w - m.r) / 2, h - 6);

  // θ
  if (Number.isFinite(threshold)) {
    ctx.strokeStyle = COLORS.threshold;
    ctx.setLineDash([6, 4]);
    ctx.beginPath(); ctx.moveTo(m.l, y(threshold)); ctx.lineTo(w - m.r, y(threshold)); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = COLORS.thresholdText;
    // At the right end, unless a late stop's dot sits there: then at the left end.
    const lateStop = stopT && confident && x(stopT) > m.l + 0.7 * (w - m.l - m.r);
    ctx.textAlign = lateStop ? 'left' : 'right';
    ctx.fillText(`θ = ${formatScore(threshold)}`, lateStop ? m.l + 4 : w - m.r - 2, y(threshold) - 9);
  }

  // A line through the finite scores, broken at −∞ (and the steps before `from`).
  const line = (values, from, color, dashed) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = dashed ? 1.5 : 2;
    ctx.setLineDash(dashed ? [4, 4] : []);
    ctx.beginPath();
    let open = false;
    for (let i = Math.max(0, from - 1); i < values.length; i++) {
      if (!Number.isFinite(values[i])) { open = false; continue; }
      if (open) ctx.lineTo(x(i + 1), y(values[i])); else ctx.moveTo(x(i + 1), y(values[i]));
      open = true;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineWidth = 1;
  };
  // The full-length run beyond where the DC run is now: what stopping leaves out.
  line(full, run.length, COLORS.axis, true);
  line(run, 0, COLORS.accent, false);
  run.forEach((s, i) => {
    if (Number.isFinite(s)) {
      ctx.fillStyle = COLORS.accent;
      ctx.beginPath(); ctx.arc(x(i + 1), y(s), 2.5, 0, 2 * Math.PI); ctx.fill();
    } else { // −∞: a hollow mark on the time axis
      ctx.strokeStyle = COLORS.muted;
      ctx.beginPath(); ctx.arc(x(i + 1), h - m.b - 4, 2.5, 0, 2 * Math.PI); ctx.stroke();
    }
  });
  if (run.some((s) => s === -Infinity)) {
    ctx.fillStyle = COLORS.muted;
    ctx.textAlign = 'right';
    ctx.fillText('○ on the axis: s = −∞ (cannot stop yet)', w - m.r - 6, h - m.b - 12);
  }

  if (stopT && confident) {
    const sx = x(stopT);
    const s = run[stopT - 1];
    ctx.strokeStyle = COLORS.accent;
    ctx.fillStyle = COLORS.accent;
    ctx.beginPath(); ctx.moveTo(sx, m.t); ctx.lineTo(sx, h - m.b); ctx.stroke();
    if (Number.isFinite(s)) { ctx.beginPath(); ctx.arc(sx, y(s), 5, 0, 2 * Math.PI); ctx.fill(); }
    ctx.font = FONT_BOLD;
    ctx.textAlign = sx > w * 0.7 ? 'right' : 'left';
    ctx.fillText(`stop at t = ${stopT}`, sx + (sx > w * 0.7 ? -6 : 6), m.t + 8);
    ctx.font = FONT;
  }
  ctx.strokeStyle = COLORS.axis;
  ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, h - m.b); ctx.lineTo(w - m.r, h - m.b); ctx.stroke();
}

/**
 * Accuracy against mean time steps on the calibration split: the fixed-length curve, each
 * decoder's Pareto front (`fronts`: {label, color, points: [{mean_steps, accuracy}],
 * selected}; the selected one drawn on top, thicker), the current threshold's point and the
 * oracle. The accuracy axis shows the top `window` (where the decoders differ), extended
 * down to the current point. Returns where the current point is drawn.
 */
export function drawTradeoff(canvas, { tMax, fixed, fronts, current, oracle, window = 0.1, currentLabel = 'current θ (in-sample)', extras = [] }) {
  // The legend: inside the plot (lower right) where it fits, else below the plot.
  const items = [
    ['line', COLORS.fixed, 'fixed length T', false],
    ...fronts.map((f) => ['line', f.color, f.label, f.selected]),
    ['ring', COLORS.threshold, currentLabel, false],
    ...extras.map((p) => ['square', p.color, p.label, false]),
    ['diamond', COLORS.oracle, 'oracle (upper bound)', false],
  ];
  const rowH = 16;
  const measure = canvas.getContext('2d');
  const labelWidth = (label, bold) => { measure.font = bold ? FONT_BOLD : FONT; return measure.measureText(label).width; };
  const boxW = 30 + Math.max(...items.map(([, , label, bold]) => labelWidth(label, bold)));
  const below = boxW > (chartSize(canvas).w - 66) * 0.55;
  const legendH = below ? rowH * items.length + 10 : 0;
  const { ctx, w, h: total } = prepare(canvas, { extraHeight: legendH });
  const h = total - legendH;
  canvas.dataset.legend = below ? 'below' : 'inside';
  const m = { l: 50, r: 16, t: 14, b: 36 };
  const accs = [...fixed.map((p) => p.accuracy), ...fronts.flatMap((f) => f.points.map((p) => p.accuracy)), oracle.accuracy, current.accuracy, ...extras.map((p) => p.accuracy)];
  let hi = Math.max(...accs);
  let lo = Math.max(Math.min(...accs), Math.min(hi - window, current.accuracy, ...extras.map((p) => p.accuracy)));
  const pad = Math.max(0.005, (hi - lo) * 0.06);
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
  let lastTick = -Infinity; // on a narrow chart, 0 and 1 would overlap: 1 is left out
  for (const t of [0, ...niceTicks(tMax, 8)]) {
    if (x(t) - lastTick < 16) continue;
    ctx.fillText(String(t), x(t), h - m.b + 12);
    lastTick = x(t);
  }
  ctx.fillText('mean time steps per image', (m.l + w - m.r) / 2, h - 8);
  ctx.save();
  ctx.translate(12, (m.t + h - m.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('accuracy', 0, 0);
  ctx.restore();

  const polyline = (points, color, width, alpha = 1) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.globalAlpha = alpha;
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.s), y(p.a)) : ctx.moveTo(x(p.s), y(p.a))));
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.lineWidth = 1;
  };
  // The curves, clipped to the plot area (the accuracy axis may start above their bottom).
  ctx.save();
  ctx.beginPath(); ctx.rect(m.l, m.t, w - m.l - m.r, h - m.t - m.b); ctx.clip();
  polyline(fixed.map((p) => ({ s: p.steps, a: p.accuracy })), COLORS.fixed, 1.5);
  ctx.fillStyle = COLORS.fixed;
  for (const p of fixed) { ctx.beginPath(); ctx.arc(x(p.steps), y(p.accuracy), 2, 0, 2 * Math.PI); ctx.fill(); }
  const ordered = [...fronts.filter((f) => !f.selected), ...fronts.filter((f) => f.selected)];
  for (const front of ordered) {
    polyline(front.points.map((p) => ({ s: p.mean_steps, a: p.accuracy })), front.color, front.selected ? 2.75 : 1.25, front.selected ? 1 : 0.75);
  }
  ctx.restore();

  // oracle: a diamond
  ctx.fillStyle = COLORS.oracle;
  const ox = x(oracle.mean_steps), oy = y(oracle.accuracy);
  ctx.beginPath(); ctx.moveTo(ox, oy - 6); ctx.lineTo(ox + 6, oy); ctx.lineTo(ox, oy + 6); ctx.lineTo(ox - 6, oy); ctx.closePath(); ctx.fill();

  // further points (e.g. the cross-fitted Dynamic Confidence point): filled squares
  for (const p of extras) {
    ctx.fillStyle = p.color;
    ctx.fillRect(x(p.mean_steps) - 5, y(p.accuracy) - 5, 10, 10);
  }

  // the current threshold
  const cx = x(current.mean_steps), cy = y(current.accuracy);
  ctx.fillStyle = '#fff';
  ctx.strokeStyle = COLORS.threshold;
  ctx.lineWidth = 3;
  ctx.beginPath(); ctx.arc(cx, cy, 6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
  ctx.lineWidth = 1;

  // legend
  const lx = below ? 8 : w - m.r - boxW;
  let ly = below ? h + 10 + rowH / 2 : h - m.b - 12 - rowH * (items.length - 1);
  if (!below) {
    ctx.fillStyle = 'rgba(255,255,255,0.92)';
    ctx.fillRect(lx - 8, ly - 10, boxW + 4, rowH * items.length + 2);
  }
  ctx.textAlign = 'left';
  for (const [kind, color, label, bold] of items) {
    ctx.strokeStyle = color; ctx.fillStyle = color;
    if (kind === 'line') { ctx.lineWidth = bold ? 3 : 2; ctx.beginPath(); ctx.moveTo(lx, ly); ctx.lineTo(lx + 16, ly); ctx.stroke(); ctx.lineWidth = 1; }
    if (kind === 'ring') { ctx.lineWidth = 2.5; ctx.beginPath(); ctx.arc(lx + 8, ly, 4.5, 0, 2 * Math.PI); ctx.stroke(); ctx.lineWidth = 1; }
    if (kind === 'square') ctx.fillRect(lx + 3, ly - 5, 10, 10);
    if (kind === 'diamond') { ctx.beginPath(); ctx.moveTo(lx + 8, ly - 5); ctx.lineTo(lx + 13, ly); ctx.lineTo(lx + 8, ly + 5); ctx.lineTo(lx + 3, ly); ctx.fill(); }
    ctx.fillStyle = COLORS.ink;
    ctx.font = bold ? FONT_BOLD : FONT;
    ctx.fillText(label, lx + 22, ly);
    ctx.font = FONT;
    ly += rowH;
  }
  ctx.strokeStyle = COLORS.axis;
  ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, h - m.b); ctx.lineTo(w - m.r, h - m.b); ctx.stroke();
  return { x: cx, y: cy };
}

/** Firing rate of each IF layer at the current step (spikes per neuron). */
export function drawRates(canvas, layers) {
  const top = 6;
  const minRow = FONT_PX + 4; // rows never closer than the text: a deep network makes the chart taller
  const { h: h0 } = chartSize(canvas);
  const extraHeight = layers?.length ? Math.max(0, top + layers.length * minRow + 18 - h0) : 0;
  const { ctx, w, h } = prepare(canvas, { extraHeight });
  if (!layers || !layers.length) return placeholder(ctx, w, h, 'no run yet');
  const max = Math.max(0.25, ...layers.map((l) => l.rate)) > 0.5 ? 1 : 0.5;
  const rowH = Math.min(26, (h - top - 18) / layers.length);
  // Names (e.g. `layers.1.0.act2` in a residual network) and shapes each get the width they
  // need, up to half the chart; a longer name is cut with an ellipsis.
  const gap = 8;
  const shapeW = Math.max(...layers.map((l) => ctx.measureText(l.shape).width));
  const nameW = Math.min(Math.max(...layers.map((l) => ctx.measureText(l.name).width)), w / 2 - shapeW - 2 * gap);
  const left = Math.max(118, Math.ceil(nameW + gap + shapeW + gap));
  const right = w - 54;
  layers.forEach((layer, i) => {
    const y = top + i * rowH + rowH / 2;
    ctx.textAlign = 'left';
    ctx.fillStyle = COLORS.ink;
    ctx.fillText(fitText(ctx, layer.name, Math.max(nameW, 24)), 0, y);
    ctx.textAlign = 'right';
    ctx.fillStyle = COLORS.muted;
    ctx.fillText(layer.shape, left - gap, y);
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

/** `text`, cut with "…" to fit `width` pixels in the context's font. */
function fitText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let n = text.length;
  while (n > 1 && ctx.measureText(`${text.slice(0, n)}…`).width > width) n--;
  return `${text.slice(0, n)}…`;
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

/**
 * Accuracy after a fixed number of steps T = 1..T_max (`fixed`: [{steps, accuracy}]), on an
 * axis from 0, with the quantized ANN's accuracy as a dashed line when known.
 */
export function drawAccuracyCurve(canvas, { tMax, fixed, annAccuracy = null }) {
  const { ctx, w, h } = prepare(canvas);
  if (!fixed.length) return placeholder(ctx, w, h, 'no runs');
  const m = { l: 50, r: 16, t: 14, b: 36 };
  const top = Math.min(1, Math.ceil((Math.max(...fixed.map((p) => p.accuracy), annAccuracy ?? 0) + 0.05) * 10) / 10);
  const x = (t) => m.l + ((t - 1) / Math.max(1, tMax - 1)) * (w - m.l - m.r);
  const y = (a) => h - m.b - (a / top) * (h - m.t - m.b);
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.muted;
  ctx.textAlign = 'right';
  const step = top <= 0.3 ? 0.05 : 0.1;
  for (let a = 0; a <= top + 1e-9; a += step) {
    ctx.beginPath(); ctx.moveTo(m.l, y(a)); ctx.lineTo(w - m.r, y(a)); ctx.stroke();
    ctx.fillText(`${Math.round(100 * a)}%`, m.l - 6, y(a));
  }
  ctx.textAlign = 'center';
  for (const t of niceTicks(tMax, 8)) ctx.fillText(String(t), x(t), h - m.b + 12);
  ctx.fillText('fixed number of time steps T', (m.l + w - m.r) / 2, h - 8);
  ctx.save();
  ctx.translate(12, (m.t + h - m.b) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('accuracy', 0, 0);
  ctx.restore();
  if (annAccuracy != null) {
    ctx.strokeStyle = COLORS.oracle;
    ctx.setLineDash([5, 4]);
    ctx.beginPath(); ctx.moveTo(m.l, y(annAccuracy)); ctx.lineTo(w - m.r, y(annAccuracy)); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = COLORS.oracleText;
    ctx.textAlign = 'left';
    ctx.fillText(`quantized ANN ${(100 * annAccuracy).toFixed(2)}%`, m.l + 6, y(annAccuracy) - 9);
  }
  ctx.strokeStyle = COLORS.fixed;
  ctx.lineWidth = 2;
  ctx.beginPath();
  fixed.forEach((p, i) => (i ? ctx.lineTo(x(p.steps), y(p.accuracy)) : ctx.moveTo(x(p.steps), y(p.accuracy))));
  ctx.stroke();
  ctx.lineWidth = 1;
  ctx.fillStyle = COLORS.fixed;
  for (const p of fixed) { ctx.beginPath(); ctx.arc(x(p.steps), y(p.accuracy), 2, 0, 2 * Math.PI); ctx.fill(); }
  ctx.strokeStyle = COLORS.axis;
  ctx.beginPath(); ctx.moveTo(m.l, m.t); ctx.lineTo(m.l, h - m.b); ctx.lineTo(w - m.r, h - m.b); ctx.stroke();
}
