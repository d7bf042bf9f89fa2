// Image pixels as the browsers decode them: the CLI's decoder (cli/src/image_file.rs) against
// Chromium's and Firefox's. Generated images (cli/examples/jpeg_fixtures.rs) are decoded by the
// page's own code (www/js/image-input.js: createImageBitmap, drawn 1:1 into a 2D canvas, read
// with getImageData) and must match the CLI's RGBA: untagged JPEGs exactly, the rest within ±1:
// - JPEGs, baseline and progressive, 4:4:4, 4:2:2 and 4:2:0 chroma, even and odd sizes. Both
//   browsers decode with libjpeg-turbo, and so does the CLI (mozjpeg): measured 0 difference.
//   (With the image crate's zune-jpeg it was up to 3 at 4:4:4, 10 at 4:2:0, 14 at 4:2:2.)
// - PNG, WebP and JPEG tagged with an Adobe RGB (1998) ICC profile, and a grey PNG with a
//   linear grey profile: converted to sRGB by qcms in the CLI and in Firefox (0 difference),
//   by skcms in Chromium (1).
// - Files browsers read their own way (issue 27): a JPEG with stray bytes before a marker, an
//   APNG whose default image is not a frame (its first frame), a GIF frame larger than its
//   logical screen (the whole frame): 0 in both; PNGs with gAMA (and cHRM) but no ICC profile,
//   converted as Chromium does: 1 against Chromium, 0 against Firefox with cHRM, up to 10
//   against Firefox without it (a plain power there).
//
//   node e2e/jpeg-match.test.mjs         (scripts/test-web.sh runs it)
//   JPEG_MATCH_BROWSERS=chromium|firefox  one browser only (default: both)
//   JPEG_MATCH_TOLERANCE=n                the largest difference allowed but on untagged JPEGs (default 1)
//   JPEG_FIXTURES=dir                     use the images already written there
//
// Chromium is driven with playwright-core, as e2e/demo.test.mjs does. Firefox ESR is driven
// through geckodriver (WebDriver): playwright-core's own Firefox protocol needs Playwright's
// patched build, and its WebDriver BiDi channel sends commands that Firefox ESR lacks.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const BROWSERS = (process.env.JPEG_MATCH_BROWSERS || 'chromium,firefox').split(',');
const TOLERANCE = Number(process.env.JPEG_MATCH_TOLERANCE ?? 1);
/**
 * The largest difference allowed for a case in a browser, as the README states it: none on
 * untagged JPEGs (libjpeg-turbo in the CLI and both browsers: "baseline 4:2:0", "progressive
 * 4:4:4", …) and on the files browsers read their own way but without colour conversion (a
 * JPEG with stray bytes, an APNG's first frame, a GIF frame larger than its screen); TOLERANCE
 * (1) on the rest (ICC-tagged images and PNG gAMA/cHRM: qcms in the CLI, skcms in Chromium);
 * Firefox applies a gAMA without cHRM as a plain power (`png_set_gamma`), which the CLI does not
 * follow (it follows Chromium): measured 10 levels apart in the darkest tones.
 */
const allowed = (kind, browser) => {
  if (/^(baseline|progressive) |^JPEG, stray|^APNG|^GIF/.test(kind)) return 0;
  if (kind === 'PNG gAMA only' && browser.startsWith('Firefox')) return 10;
  return TOLERANCE;
};

const require = createRequire(join(ROOT, '.tools', 'package.json'));
const { chromium } = require('playwright-core');

const say = (text) => console.log(`[jpeg-match] ${text}`);

// ------------------------------------------------------------------ fixtures

function fixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'dynconf-jpeg-'));
  say(`cargo run --release -p dynconf-cli --example jpeg_fixtures -- ${dir}`);
  const result = spawnSync('cargo', ['run', '--quiet', '--release', '-p', 'dynconf-cli', '--example', 'jpeg_fixtures', '--', dir],
    { cwd: ROOT, stdio: 'inherit' });
  assert.equal(result.status, 0, 'the jpeg_fixtures example failed');
  return dir;
}

// ------------------------------------------------------------------ a tiny static server

// `/` is an empty page, `/js/…` the page's scripts (www/js), `/fixtures/…` the JPEGs.
function serve(fixtureDir) {
  const www = join(ROOT, 'www');
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<!doctype html><title>jpeg-match</title>');
      return;
    }
    const [base, rest] = path.startsWith('/fixtures/') ? [fixtureDir, path.slice(10)] : [www, path];
    const file = normalize(join(base, rest));
    if (!file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) { res.writeHead(404).end(); return; }
    const type = { '.js': 'text/javascript', '.jpg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif' }[extname(file)] || 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type }).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

// ------------------------------------------------------------------ in the browser

// Decodes /fixtures/FILE as the page does and returns its RGBA pixels in base64.
async function decodeInPage(file) {
  const { decodeImage } = await import('/js/image-input.js');
  const blob = await (await fetch(`/fixtures/${file}`)).blob();
  const image = await decodeImage(new File([blob], file, { type: blob.type }));
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image.bitmap, 0, 0);
  image.bitmap.close();
  const data = ctx.getImageData(0, 0, image.width, image.height).data;
  let text = '';
  for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return { width: image.width, height: image.height, rgba: btoa(text) };
}

async function withChromium(origin, run) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(origin);
    const version = browser.version();
    return await run(`Chromium ${version}`, (name) => page.evaluate(decodeInPage, name));
  } finally {
    await browser.close();
  }
}

// A minimal WebDriver client for geckodriver.
async function withFirefox(origin, run) {
  // A free port, then geckodriver on it (it announces its port only in its log).
  const port = await new Promise((ok) => {
    const probe = createServer().listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => ok(port)); });
  });
  const driver = spawn(process.env.GECKODRIVER || 'geckodriver', ['--port', String(port), '--log', 'fatal'], { stdio: 'ignore' });
  try {
    const started = Date.now();
    for (;;) {
      const up = await fetch(`http://127.0.0.1:${port}/status`).then(() => true, () => false);
      if (up) break;
      assert.ok(Date.now() - started < 30_000 && driver.exitCode === null, 'geckodriver did not start');
      await new Promise((ok) => setTimeout(ok, 100));
    }
    const call = async (method, path, body) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
      });
      const json = await response.json();
      if (!response.ok) throw new Error(`WebDriver ${path}: ${json.value?.message || response.status}`);
      return json.value;
    };
    const session = await call('POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'firefox', 'moz:firefoxOptions': { binary: FIREFOX, args: ['-headless'] } } },
    });
    const id = session.sessionId;
    try {
      await call('POST', `/session/${id}/timeouts`, { script: 60_000 });
      await call('POST', `/session/${id}/url`, { url: origin });
      const script = `const decode = ${decodeInPage.toString()};
        decode(arguments[0]).then(arguments[1], (e) => arguments[1]({ error: String(e) }));`;
      const decode = async (name) => {
        const result = await call('POST', `/session/${id}/execute/async`, { script, args: [name] });
        if (result.error) throw new Error(result.error);
        return result;
      };
      return await run(`Firefox ${session.capabilities.browserVersion}`, decode);
    } finally {
      await call('DELETE', `/session/${id}`).catch(() => {});
    }
  } finally {
    driver.kill();
  }
}

// ------------------------------------------------------------------ comparison

async function compare(label, decode, dir, cases) {
  const worst = new Map(); // "baseline 4:2:0", "Adobe RGB PNG" → largest difference
  let failures = 0;
  for (const c of cases) {
    const ours = readFileSync(join(dir, `${c.name}.rgba`));
    const theirs = await decode(c.file);
    assert.deepEqual([theirs.width, theirs.height], [c.width, c.height], `${label}: ${c.file} size`);
    const pixels = Buffer.from(theirs.rgba, 'base64');
    assert.equal(pixels.length, ours.length, `${label}: ${c.file} byte count`);
    const limit = allowed(c.kind, label);
    let max = 0;
    let over = 0;
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i] - pixels[i]);
      if (d > max) max = d;
      if (d > limit) over++;
    }
    worst.set(c.kind, Math.max(worst.get(c.kind) ?? 0, max));
    if (max > limit) {
      failures++;
      say(`${label}: ${c.file} (${c.kind}): max difference ${max} (${over} of ${ours.length} channel values over ${limit})`);
    }
  }
  say(`${label}: largest difference per kind: ${[...worst].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  return failures;
}

async function main() {
  const dir = process.env.JPEG_FIXTURES || fixtures();
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  const server = await serve(dir);
  const origin = `http://127.0.0.1:${server.address().port}/`;
  let failures = 0;
  try {
    for (const name of BROWSERS) {
      const launch = { chromium: withChromium, firefox: withFirefox }[name];
      assert.ok(launch, `unknown browser ${name} (chromium, firefox)`);
      failures += await launch(origin, (label, decode) => compare(label, decode, dir, cases));
    }
  } finally {
    server.close();
    if (!process.env.JPEG_FIXTURES) rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(failures, 0, `${failures} decodings differ from the CLI's by more than allowed`);
  say(`${cases.length} images match in ${BROWSERS.join(" and ")}: untagged JPEGs and the stray-byte JPEG, APNG and GIF exactly, the others within ±${TOLERANCE} (Firefox's plain-power gAMA within 10)`);
}

await main();
