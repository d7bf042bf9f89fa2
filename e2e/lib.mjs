// What the end-to-end tests share: building the page with Trunk, a tiny static server for
// dist/, and Chromium through playwright-core.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = resolve(ROOT, process.env.E2E_DIST || 'dist');
// target/ by default, so a test run leaves the checkout clean; E2E_SCREENSHOT=docs/screenshot.png
// refreshes the README's picture.
export const SCREENSHOT = resolve(ROOT, process.env.E2E_SCREENSHOT || 'target/e2e/screenshot.png');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const TIMEOUT = 120_000;
export const MODEL = process.env.E2E_MODEL || 'dynconf-cifar10-v7';

const require = createRequire(join(ROOT, '.tools', 'package.json'));
export const { chromium } = require('playwright-core');

let stepNo = 0;
export const step = (text) => console.log(`[e2e ${++stepNo}] ${text}`);

// ------------------------------------------------------------------ build

export function build() {
  if (process.env.E2E_SKIP_BUILD) {
    step('using the existing dist/ (E2E_SKIP_BUILD)');
    return;
  }
  step('trunk build');
  const env = {
    ...process.env,
    TRUNK_OFFLINE: 'true',
    PATH: [join(process.env.HOME, '.cargo', 'bin'), join(ROOT, '.tools', 'node_modules', '.bin'), process.env.PATH].join(':'),
  };
  const result = spawnSync('trunk', ['build'], { cwd: ROOT, env, stdio: 'inherit' });
  assert.equal(result.status, 0, 'trunk build failed');
}

// ------------------------------------------------------------------ a tiny static server

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.safetensors': 'application/octet-stream',
  '.jpg': 'image/jpeg', '.md': 'text/markdown; charset=utf-8',
};

/** Serves `dir`, and each `extra` URL path (e.g. `/bench/x.bin`) from the file it names. */
export function serve(dir, extra = {}) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    let file = extra[path] || normalize(join(dir, path));
    if (!extra[path] && !file.startsWith(dir + sep) && file !== dir) { res.writeHead(403).end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404).end('not found'); return; }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** Chromium as the tests run it; `args` are added to the usual flags. */
export function launch(args = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...args],
  });
}

// ------------------------------------------------------------------ accessibility (axe-core)

const AXE_SOURCE = join(ROOT, '.tools', 'node_modules', 'axe-core', 'axe.min.js');

/**
 * The accessibility violations axe-core finds on `page` (its default rules: WCAG 2.x A and AA
 * and the best practices), within `context` (a selector or axe context; the whole page by
 * default): [{id, impact, help, nodes: [{target, summary}]}]. axe is injected as an inline
 * script (the page's CSP allows 'unsafe-inline'), or evaluated if that is refused.
 */
export async function axeViolations(page, context = undefined) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    const source = readFileSync(AXE_SOURCE, 'utf8');
    try {
      await page.addScriptTag({ content: source });
    } catch { /* refused: evaluated below */ }
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(source);
  }
  const { violations } = await page.evaluate((context) => window.axe.run(context ?? document), context);
  return violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
  }));
}

/** `violations` (from axeViolations) as readable lines. */
export const formatViolations = (violations) => violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n`
  + v.nodes.map((n) => `    ${n.target}: ${(n.summary || '').replace(/\s+/g, ' ').slice(0, 240)}`).join('\n')).join('\n');

/** The page's query string for E2E_MODEL (?model=NAME), else ''. */
export const QUERY = process.env.E2E_MODEL ? `?model=${encodeURIComponent(process.env.E2E_MODEL)}` : '';

/** Sets the speed slider to its maximum (steps as fast as frames allow). */
export const maxSpeed = (page) => page.evaluate(() => { const s = document.querySelector('#speed'); s.value = s.max; s.dispatchEvent(new Event('input')); });

/** The dynconf binary: E2E_DYNCONF, or built here (quick when it is up to date). */
export function dynconfBinary() {
  if (process.env.E2E_DYNCONF) return resolve(process.env.E2E_DYNCONF);
  step('cargo build --release -p dynconf-cli');
  const PATH = [join(process.env.HOME, '.cargo', 'bin'), process.env.PATH].join(':');
  const result = spawnSync('cargo', ['build', '--release', '-p', 'dynconf-cli'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PATH } });
  assert.equal(result.status, 0, 'cargo build --release -p dynconf-cli failed');
  return resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target', 'release', 'dynconf');
}

/**
 * A 1440×1000 page of the demo at `origin`, loaded, at full speed; page errors and console
 * errors are pushed onto `problems`.
 */
export async function openDemo(browser, origin, problems) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  step(`open ${origin}/${QUERY}`);
  await page.goto(`${origin}/${QUERY}`);
  await page.waitForSelector('#app:not([hidden])');
  await maxSpeed(page);
  return page;
}

// ------------------------------------------------------------------ generated data and models

/** Bytes per record of a CIFAR-10 binary batch: a label and 3×32×32 pixels (CHW). */
export const RECORD = 3073;

/** `count` records, seeded: per class a colour gradient, a shape (disc or square) and noise. */
export function syntheticBatch(count, seed) {
  let state = seed >>> 0 || 1;
  const random = () => { // xorshift32
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state / 2 ** 32;
  };
  const bytes = new Uint8Array(count * RECORD);
  for (let i = 0; i < count; i++) {
    const label = i % 10;
    const o = i * RECORD;
    bytes[o] = label;
    const base = [random() * 255, random() * 255, random() * 255];
    const ink = [(label * 71) % 256, (label * 151 + 40) % 256, (label * 37 + 90) % 256];
    const [cx, cy, r] = [8 + random() * 16, 8 + random() * 16, 4 + random() * 8];
    const disc = label % 2 === 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = disc ? (x - cx) ** 2 + (y - cy) ** 2 < r * r : Math.abs(x - cx) < r && Math.abs(y - cy) < r;
        for (let c = 0; c < 3; c++) {
          const gradient = base[c] * (0.5 + (c === 0 ? x : c === 1 ? y : x + y) / 128);
          const v = (inside ? ink[c] : gradient) + (random() - 0.5) * 40;
          bytes[o + 1 + c * 1024 + y * 32 + x] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  }
  return bytes;
}

/** The `dynconf` metadata of a dynconf-snn safetensors file (its header), parsed. */
export function modelSpec(path) {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  return JSON.parse(header.__metadata__.dynconf);
}

/**
 * Drops files on the page as a drag from the desktop would (a `drop` event on the body with
 * the files in its DataTransfer): `files` are {name, bytes, type}.
 */
export function dropFiles(page, files) {
  return page.evaluate((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.type }));
    document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files.map((f) => ({ name: f.name, bytes: [...f.bytes], type: f.type || 'application/octet-stream' })));
}

// ------------------------------------------------------------------ the sample photos row

/** www/samples/samples.json: the sample photos in display order, [{file, class, caption}]. */
export const SAMPLES = JSON.parse(readFileSync(join(ROOT, 'www', 'samples', 'samples.json'), 'utf8'));

/** The line the page shows under a sample photo once it runs (samples.js): what it shows, its class, its credit. */
export const sampleCaption = (sample) => `${sample.caption} (CIFAR-10 class: ${sample.class}) · ${sample.credit}`;

/**
 * Runs sample photo `file` from the samples row (a click on its thumbnail, or Enter on it when
 * `key`) and waits until that run has stopped; returns #run-status's data (run, stopT, …).
 */
export async function runSample(page, file, { key = false } = {}) {
  await page.waitForSelector('#samples:not([hidden])');
  const before = Number(await page.getAttribute('#run-status', 'data-run'));
  const button = `#sample-list button[data-file="${file}"]`;
  if (key) {
    await page.focus(button);
    await page.keyboard.press('Enter');
  } else {
    await page.click(button);
  }
  // The line under the photo names the sample: this sample's run, not the last one's.
  const caption = sampleCaption(SAMPLES.find((s) => s.file === file));
  await page.waitForFunction(({ caption, before }) => {
    const s = document.querySelector('#run-status').dataset;
    return Number(s.run) > before && s.state === 'stopped' && document.querySelector('#original-caption').textContent === caption;
  }, { caption, before });
  return page.$eval('#run-status', (e) => ({ ...e.dataset }));
}
