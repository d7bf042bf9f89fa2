// Small helpers the page's modules share: element lookup, number and text formatting, the
// error boxes and the screen's media queries. No state, no engine.

export const $ = (id) => document.getElementById(id);

// Phones: the fixed-steps table's shorter Run label (style.css leaves columns out at this width).
export const NARROW = matchMedia('(max-width: 600px)');
// Touch screens: no dragging or pasting; the file dialog offers the camera too.
export const COARSE = matchMedia('(pointer: coarse)');

export const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
export const fmtOps = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));
export const pct = (x, digits = 1) => `${(100 * x).toFixed(digits)}%`;
export const ordinal = (n) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th')}`;

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Shows `message` in an error box: the image's (#error), the batch's or the model's. */
export function showError(message, id = 'error') {
  const box = $(id);
  box.textContent = message;
  box.hidden = false;
}

export function clearError(id = 'error') {
  $(id).hidden = true;
  $(id).textContent = '';
}

/** Resolves in a later task: lets the browser draw and handle input in between. */
export const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
