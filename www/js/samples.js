// The sample photos row ("No photo at hand? Try one of these"): the photos that
// samples/samples.json lists, as thumbnail buttons (lazy-loaded: none is fetched before the page
// has loaded its model and shows the row). A click fetches the photo and hands it to onFile as a
// File, so it runs exactly as the same file chosen with the file dialog does (and as
// `dynconf classify www/samples/FILE` does). Under the photo, its caption names what it shows
// (its CIFAR-10 class) and whose work it is, under which licence (samples.json's "credit").
import { onFile } from './input.js';
import { $, clearError, escapeHtml, showError } from './ui.js';

const DIR = 'samples/';

/** Fills the row from samples.json; the row stays hidden if the list cannot be read. */
export async function createSamples(app) {
  let samples;
  try {
    const response = await fetch(`${DIR}samples.json`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    samples = await response.json();
    if (!Array.isArray(samples)) throw new Error('not a list');
  } catch (error) {
    console.warn(`dynconf: no sample photos (${DIR}samples.json: ${error.message})`);
    return;
  }
  const list = $('sample-list');
  list.innerHTML = samples.filter((s) => typeof s?.file === 'string' && /^[\w.-]+$/.test(s.file)).map((s) => {
    const caption = escapeHtml(s.caption || s.file);
    const title = escapeHtml(`${s.caption || s.file}${s.class ? ` · CIFAR-10 class: ${s.class}` : ''}`);
    const shown = [`${s.caption || s.file}${s.class ? ` (CIFAR-10 class: ${s.class})` : ''}`, s.credit].filter(Boolean).join(' · ');
    return `<button type="button" class="sample" data-file="${escapeHtml(s.file)}" data-class="${escapeHtml(s.class || '')}" data-caption="${escapeHtml(shown)}" title="${title}">`
      + `<img src="${DIR}${escapeHtml(s.file)}" alt="${caption}" loading="lazy" decoding="async" width="44" height="44"></button>`;
  }).join('');
  list.addEventListener('click', (event) => {
    const button = event.target.closest('button.sample');
    if (button) runSample(app, button);
  });
  $('samples').hidden = list.childElementCount === 0;
}

/** Fetches a sample photo and runs it as a chosen file. */
async function runSample(app, button) {
  const file = button.dataset.file;
  clearError();
  const ticket = ++app.imageTicket; // a file chosen meanwhile wins
  let blob;
  try {
    const response = await fetch(`${DIR}${file}`);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    blob = await response.blob();
  } catch (error) {
    if (ticket === app.imageTicket) showError(`The sample photo “${file}” could not be loaded: ${error.message}`);
    return;
  }
  if (ticket !== app.imageTicket) return;
  // The type the file dialog would give (a server may send JPEGs as octet-stream); decodeImage
  // reads the format from the bytes anyway.
  const type = /\.jpe?g$/i.test(file) ? 'image/jpeg' : /\.png$/i.test(file) ? 'image/png' : blob.type;
  await onFile(app, new File([blob], file, { type }), { caption: button.dataset.caption });
}
