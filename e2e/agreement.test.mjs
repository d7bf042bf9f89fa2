// Page–CLI agreement (issue 12 item 6): for generated images (non-square opaque RGBA PNGs, a
// JPEG, PNGs with alpha, a 1×1 and a 550×5 PNG) and the crops `center`, `full` and one
// `X,Y,SIZE` each, the page's final prediction and Dynamic Confidence stop step (and the
// pixels it cropped) must equal `dynconf classify --json --crop … --max-steps T_max` on the
// same file, with the same model and calibration: the CLI reads the files the page loads,
// from dist/models/.
//
// Alpha: the page reads the exact, unpremultiplied bytes with WebGL2 (sendImage), so the PNGs
// with alpha must agree too: a cut-out (transparent and opaque pixels), per-pixel varying
// semi-transparency (through a 2D canvas, premultiplied, these came back up to 1 level off
// once composited over white and a 32-pixel crop's stop step moved by two), a gradient alpha
// over a textured scene and a palette PNG with tRNS. The page must have read them with WebGL2
// (#crop-text data-reader); without WebGL2 it falls back to the canvas (docs/demo.md).
//
// JPEG: a 4:4:4 and a 4:2:0 file (what most cameras write). Both must agree: the CLI decodes
// JPEG with libjpeg-turbo's decoder (mozjpeg crate), as both browsers do; with the image
// crate's zune-jpeg, 4:2:0 chroma upsampling differed by up to 4 levels and moved a stop step.
//
//   node e2e/agreement.test.mjs       (scripts/test-web.sh e2e runs it after demo.test.mjs)
//   E2E_SKIP_BUILD=1                  use the existing dist/
//   E2E_DYNCONF=path                  use this dynconf binary instead of `cargo build --release`
//   E2E_MODEL=NAME                    as in demo.test.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePalettePng, encodePng, syntheticScene } from './png.mjs';
import { build, DIST, dynconfBinary, launch, MODEL, openDemo, ROOT, serve, step } from './lib.mjs';

/** `dynconf classify --json` on files: one object per file, by path. */
function classify(binary, model, maxSteps, crop, files) {
  const args = ['classify', '--json', '--model', model, '--max-steps', String(maxSteps), '--crop', crop, ...files];
  const result = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, `dynconf ${args.join(' ')}: ${result.stderr}`);
  return Object.fromEntries(result.stdout.trim().split('\n').map((line) => JSON.parse(line)).map((r) => [r.file, r]));
}

/** The crop as `dynconf classify` (without --json) words it: "crop center (600×600 pixels at 100,0)". */
function cliCropWords(binary, model, maxSteps, crop, file) {
  const args = ['classify', '--model', model, '--max-steps', String(maxSteps), '--crop', crop, file];
  const result = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, `dynconf ${args.join(' ')}: ${result.stderr}`);
  const words = /crop \S+ \(\d+×\d+ pixels at \d+,\d+\)/.exec(result.stdout);
  assert.ok(words, `dynconf ${args.join(' ')} names no crop: ${result.stdout}`);
  return words[0];
}

/** The generated images: name → {bytes, width, height, mime}. No dataset pixels. */
async function images(page) {
  const withAlpha = syntheticScene(64, 48);
  // A cut-out: the scene inside an ellipse, transparent (with stray colours) outside.
  const cutout = Uint8Array.from(withAlpha.rgba);
  // Semi-transparent everywhere, varying from pixel to pixel.
  const soft = Uint8Array.from(withAlpha.rgba);
  for (let i = 0; i < 64 * 48; i++) {
    const [x, y] = [i % 64, Math.floor(i / 64)];
    if (((x - 32) / 30) ** 2 + ((y - 24) / 20) ** 2 > 1) {
      cutout.set([(i * 53) % 256, (i * 101) % 256, (i * 7) % 256, 0], 4 * i);
    }
    soft[4 * i + 3] = 30 + ((i * 37) % 226);
  }
  // A gradient alpha (0 at the left to 255 at the right, waving down the rows) over the scene
  // with photo-like noise.
  const [gw, gh] = [120, 90];
  const gradient = Uint8Array.from(syntheticScene(gw, gh).rgba);
  for (let i = 0; i < gw * gh; i++) {
    const [x, y] = [i % gw, Math.floor(i / gw)];
    for (let c = 0; c < 3; c++) gradient[4 * i + c] = Math.max(0, Math.min(255, gradient[4 * i + c] + ((i * 7919 + c * 104729) % 41) - 20));
    gradient[4 * i + 3] = Math.round(255 * Math.max(0, Math.min(1, 1.2 * (x / (gw - 1)) - 0.1 + 0.15 * Math.sin(y / 6))));
  }
  // A palette PNG with tRNS: the scene in 64 colours (4 levels a channel), each in 4 alphas
  // (0, 85, 170, 255) by 8×8 block.
  const [pw, ph] = [80, 60];
  const paletteScene = syntheticScene(pw, ph).rgba;
  const palette = Array.from({ length: 256 }, (_, k) => [85 * ((k >> 4) & 3), 85 * ((k >> 2) & 3), 85 * (k & 3), 85 * (k >> 6)]);
  const indices = new Uint8Array(pw * ph).map((_, i) => {
    const level = (c) => Math.round(paletteScene[4 * i + c] / 85);
    const [x, y] = [i % pw, Math.floor(i / pw)];
    return (((x >> 3) + (y >> 3)) % 4 << 6) | (level(0) << 4) | (level(1) << 2) | level(2);
  });
  const jpegScene = syntheticScene(200, 150);
  // JPEGs encoded by Chromium's canvas (generated, not photographs); quality 1 is 4:4:4.
  const jpeg = async (quality) => Buffer.from(await page.evaluate(async ({ w, h, rgba, quality }) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), w, h), 0, 0);
    const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/jpeg', quality));
    return [...new Uint8Array(await blob.arrayBuffer())];
  }, { w: 200, h: 150, rgba: [...jpegScene.rgba], quality }));
  const [jpeg444, jpeg420] = [await jpeg(1), await jpeg(0.92)];
  assert.equal(jpegSampling(jpeg444), '11,11,11', 'Chromium wrote the quality-1 JPEG with chroma subsampling');
  assert.equal(jpegSampling(jpeg420), '22,11,11');
  const png = (s) => ({ bytes: s.png, width: s.width, height: s.height, mime: 'image/png' });
  return {
    // The scenes are RGBA PNGs (colour type 6) that are fully opaque (α = 255 everywhere).
    'scene-160x120.png': png(syntheticScene(160, 120)),
    'scene-90x200.png': png(syntheticScene(90, 200)),
    'scene-200x150-444.jpg': { bytes: jpeg444, width: 200, height: 150, mime: 'image/jpeg' },
    'scene-200x150-420.jpg': { bytes: jpeg420, width: 200, height: 150, mime: 'image/jpeg' },
    'cutout-64x48.png': { bytes: encodePng(64, 48, cutout), width: 64, height: 48, mime: 'image/png' },
    'soft-alpha-64x48.png': { bytes: encodePng(64, 48, soft), width: 64, height: 48, mime: 'image/png' },
    'gradient-alpha-120x90.png': { bytes: encodePng(gw, gh, gradient), width: gw, height: gh, mime: 'image/png' },
    'palette-trns-80x60.png': { bytes: encodePalettePng(pw, ph, indices, palette), width: pw, height: ph, mime: 'image/png' },
    'pixel-1x1.png': { bytes: encodePng(1, 1, Uint8Array.from([200, 60, 40, 255])), width: 1, height: 1, mime: 'image/png' },
    'strip-550x5.png': png(syntheticScene(550, 5)),
  };
}

/** The sampling factors of a baseline JPEG's components ("22,11,11": 4:2:0). */
function jpegSampling(bytes) {
  for (let i = 2; i + 4 < bytes.length; i += 2 + bytes.readUInt16BE(i + 2)) {
    if (bytes[i + 1] === 0xc0) return [0, 1, 2].map((c) => bytes[i + 11 + 3 * c].toString(16)).join();
  }
  return null;
}

/** A square inside the image, away from the centre: X,Y,SIZE. */
function squareOf(width, height) {
  const size = Math.max(1, Math.floor((2 * Math.min(width, height)) / 3));
  return `${Math.floor((width - size) / 3)},${Math.floor((height - size) / 4)},${size}`;
}

/** Waits for a run after `after` on crop `crop` to stop; returns what the page shows. */
async function pageResult(page, crop, after) {
  await page.waitForFunction(({ crop, after }) => {
    const s = document.querySelector('#run-status');
    return s.dataset.crop === crop && Number(s.dataset.run) > after && s.dataset.state === 'stopped';
  }, { crop, after });
  return page.evaluate(() => {
    const s = document.querySelector('#run-status').dataset;
    return {
      run: Number(s.run), stop: Number(s.stopT), prediction: s.prediction, decoder: s.decoder,
      rect: document.querySelector('#crop-text').dataset.rect, text: document.querySelector('#crop-text').textContent, reader: document.querySelector('#crop-text').dataset.reader, threshold: Number(document.querySelector('#tradeoff').dataset.threshold),
    };
  });
}

async function main() {
  build();
  const binary = dynconfBinary();
  const model = join(DIST, 'models', `${MODEL}.safetensors`);
  const maxSteps = JSON.parse(readFileSync(join(DIST, 'models', `${MODEL}.calibration.json`), 'utf8')).max_steps;
  const server = await serve(DIST);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const dir = mkdtempSync(join(tmpdir(), 'dynconf-agreement-'));
  const problems = [];
  try {
    const page = await openDemo(browser, origin, problems);

    const files = await images(page);
    const paths = {};
    for (const [name, f] of Object.entries(files)) {
      paths[name] = join(dir, name);
      writeFileSync(paths[name], f.bytes);
    }
    step(`dynconf classify --json --max-steps ${maxSteps} on ${Object.keys(files).length} generated images (center, full, one X,Y,SIZE each)`);
    const started = Date.now();
    const cropWordsChecked = new Set(); // center, full, X,Y,SIZE: the page's words against the CLI's, once each
    const cli = {
      center: classify(binary, model, maxSteps, 'center', Object.values(paths)),
      full: classify(binary, model, maxSteps, 'full', Object.values(paths)),
    };
    for (const [name, f] of Object.entries(files)) {
      const square = squareOf(f.width, f.height);
      cli[square] = { ...cli[square], ...classify(binary, model, maxSteps, square, [paths[name]]) };
    }
    step(`the CLI took ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const rows = [];
    let run = 0;
    for (const [name, f] of Object.entries(files)) {
      await page.setInputFiles('#file', { name, mimeType: f.mime, buffer: f.bytes });
      const square = squareOf(f.width, f.height);
      const results = {};
      results.center = await pageResult(page, 'center', run);
      await page.fill('#crop-input', square);
      await page.press('#crop-input', 'Enter');
      results[square] = await pageResult(page, square, results.center.run);
      await page.check('#crop-full');
      results.full = await pageResult(page, 'full', results[square].run);
      await page.uncheck('#crop-full');
      run = (await pageResult(page, square, results.full.run)).run;
      for (const [crop, shown] of Object.entries(results)) {
        const expected = cli[crop][paths[name]];
        assert.ok(expected && !expected.error, `${name} --crop ${crop}: ${expected?.error}`);
        const agree = shown.stop === expected.stop_step && shown.prediction === expected.prediction;
        rows.push({
          image: name, crop, rect: shown.rect, page_stop: shown.stop, cli_stop: expected.stop_step,
          page_prediction: shown.prediction, cli_prediction: expected.prediction,
          agree: agree ? 'yes' : f.reportOnly ? `no (known: ${f.reportOnly})` : 'NO',
        });
        const what = `${name} --crop ${crop}`;
        assert.equal(shown.rect, expected.crop_rect.join(','), `${what}: the page cropped ${shown.rect}, the CLI ${expected.crop_rect}`);
        assert.equal(expected.width, f.width);
        assert.equal(expected.height, f.height);
        assert.equal(shown.threshold, expected.threshold, `${what}: threshold`);
        const [x, y, w, h] = expected.crop_rect;
        assert.equal(shown.text, `crop ${crop} (${w}×${h} pixels at ${x},${y}) · dynconf classify --crop ${crop}`, `${what}: the page's crop text`);
        if (!cropWordsChecked.has(crop === 'center' || crop === 'full' ? crop : 'square')) {
          cropWordsChecked.add(crop === 'center' || crop === 'full' ? crop : 'square');
          const cliWords = cliCropWords(binary, model, maxSteps, crop, paths[name]);
          assert.ok(shown.text.startsWith(`${cliWords} · `), `${what}: the page says ${JSON.stringify(shown.text)}, the CLI ${JSON.stringify(cliWords)}`);
        }
        assert.equal(shown.reader, 'webgl2', `${what}: the page read the pixels with ${shown.reader}, not WebGL2 (exact bytes)`);
        assert.ok(shown.decoder.startsWith(expected.decoder.kind), `${what}: decoder ${shown.decoder} vs ${JSON.stringify(expected.decoder).slice(0, 80)}`);
        if (f.reportOnly) continue;
        assert.equal(shown.stop, expected.stop_step, `${what}: the page stopped at ${shown.stop}, the CLI at ${expected.stop_step}`);
        assert.equal(shown.prediction, expected.prediction, `${what}: the page predicts ${shown.prediction}, the CLI ${expected.prediction}`);
      }
    }
    console.table(rows);
    assert.deepEqual(problems, [], problems.join('\n'));
    const strict = rows.filter((r) => !files[r.image].reportOnly).length;
    step(`passed: the page and dynconf classify agree on all ${strict} strict runs (${rows.length - strict} reported only)`);
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
