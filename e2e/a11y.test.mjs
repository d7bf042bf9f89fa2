// Accessibility and the phone layout of the demo page (issue 28): axe-core's default rules
// (WCAG 2.x A and AA, and the best practices) on the page as a visitor meets it, at desktop
// size (1440×1000) and on a phone (390×844, touch, 3× pixels): the loading screen, the page
// loaded with no image (the samples row shown), the page after a generated image has run to
// its stop, a sample photo that gets the note "Unlike the pictures it learnt from" (and the
// Details popover that explains it), and a refused typed crop. On the phone also: the loading
// screen's progress bars are wide enough to read, and choosing an image (or a sample photo with
// the note) brings the run's result into the first screen.
// At desktop size also the threshold slider's keys (Page Up/Down: a tenth of the front).
//
//   node e2e/a11y.test.mjs            (scripts/test-web.sh e2e runs it after demo.test.mjs)
//   E2E_SKIP_BUILD=1                  use the existing dist/ (E2E_DIST=dir: another folder)
//   E2E_MODEL=NAME                    as in demo.test.mjs
//
// Every check runs and each failure is listed before the test fails.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticScene } from './png.mjs';
import { axeViolations, build, DIST, formatViolations, launch, maxSpeed, QUERY, runSample, SAMPLES, serve, step, TIMEOUT } from './lib.mjs';

const SCREENS = [
  { name: 'desktop', options: { viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 } },
  { name: 'phone', options: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true } },
];
// The narrowest a loading screen's progress bar may be on the phone, in CSS pixels.
const MIN_BAR_PX = 200;

async function main() {
  build();
  assert.ok(existsSync(join(DIST, 'index.html')), `${DIST}/index.html missing`);
  const server = await serve(DIST);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const failures = [];
  const problems = [];
  const check = (what, ok, detail = '') => {
    if (ok) return;
    failures.push(`${what}${detail ? `\n  ${detail.replace(/\n/g, '\n  ')}` : ''}`);
    step(`  FAILED: ${what}`);
  };
  const axe = async (screen, page, when, context) => {
    const violations = await axeViolations(page, context);
    step(`  ${screen}, ${when}: ${violations.length} axe violation(s)${violations.length ? `: ${violations.map((v) => v.id).join(', ')}` : ''}`);
    check(`${screen}, ${when}: axe violations`, violations.length === 0, formatViolations(violations));
  };
  try {
    const scene = syntheticScene();
    for (const { name, options } of SCREENS) {
      const phone = name === 'phone';
      step(`${name}: ${options.viewport.width}×${options.viewport.height}`);
      const context = await browser.newContext(options);
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`); });
      const requested = [];
      page.on('request', (r) => requested.push(r.url()));

      // The loading screen, held until it has been looked at: the model's download waits.
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      await page.route(/\.safetensors$/, async (route) => { await held; await route.continue(); });
      step(`${name}: open ${origin}/${QUERY} (the model's download held back)`);
      await page.goto(`${origin}/${QUERY}`);
      await page.waitForSelector('#loading .load-row progress');
      const bars = await page.$$eval('#loading .load-row', (rows) => rows.map((row) => {
        const bar = row.querySelector('progress').getBoundingClientRect();
        return { label: row.firstElementChild.textContent, left: bar.left, right: bar.right, width: bar.width };
      }));
      step(`  loading screen: bars ${bars.map((b) => `${b.label} ${b.width.toFixed(0)} px`).join(', ')}`);
      for (const b of bars) {
        check(`${name}: the loading screen's "${b.label}" bar lies within the screen`, b.left >= 0 && b.right <= options.viewport.width,
          `${b.left.toFixed(0)}–${b.right.toFixed(0)} px of ${options.viewport.width}`);
        if (phone) check(`${name}: the loading screen's "${b.label}" bar is at least ${MIN_BAR_PX} px wide`, b.width >= MIN_BAR_PX, `${b.width.toFixed(1)} px`);
      }
      await axe(name, page, 'the loading screen', '#loading');
      // The sample photos (lazy thumbnails in the hidden app) wait until the page has loaded.
      const early = requested.filter((u) => u.includes('/samples/'));
      check(`${name}: no sample photo is fetched while the page loads`, early.length === 0, early.join('\n'));
      release();
      await page.waitForSelector('#app:not([hidden])');
      await page.unroute(/\.safetensors$/);
      await maxSpeed(page);

      step(`${name}: the page loaded, no image yet (the samples row shown)`);
      await page.waitForSelector('#samples:not([hidden])');
      await axe(name, page, 'loaded, before any image');

      step(`${name}: choose a generated PNG; the run stops`);
      await page.setInputFiles('#file', { name: 'generated-scene.png', mimeType: 'image/png', buffer: scene.png });
      await page.waitForSelector('#run-status[data-state="stopped"]');
      check(`${name}: no error after the image`, await page.isHidden('#error'), await page.textContent('#error'));
      step(`  ${(await page.textContent('#run-status')).trim().slice(0, 120)}`);
      await axe(name, page, 'after the run stopped');

      if (phone) {
        // The headline result: #run-verdict where the page has one, else the run's status line.
        const target = (await page.$('#run-verdict')) ? '#run-verdict' : '#run-status';
        // Within the screen, to a pixel (scrolling may leave a fraction of one). Scrolling may
        // be smooth: it is given a moment to arrive.
        const within = (sel) => {
          const r = document.querySelector(sel).getBoundingClientRect();
          return { top: r.top, bottom: r.bottom, ok: r.top > -1 && r.bottom < innerHeight + 1 && r.height > 0 };
        };
        await page.waitForFunction((sel) => {
          const r = document.querySelector(sel).getBoundingClientRect();
          return r.top > -1 && r.bottom < innerHeight + 1 && r.height > 0;
        }, target, { timeout: 5000 }).catch(() => {});
        const inView = () => page.evaluate(within, target);
        const shown = await inView();
        step(`  ${target} at ${shown.top.toFixed(0)}–${shown.bottom.toFixed(0)} px of ${options.viewport.height}`);
        check(`${name}: after an image is chosen, ${target} is on the first screen`, shown.ok,
          `${target} at ${shown.top.toFixed(0)}–${shown.bottom.toFixed(0)} px; the screen is 0–${options.viewport.height} px`);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        check(`${name}: nothing wider than the screen`, width <= options.viewport.width, `the page is ${width} px wide`);
      }

      if (!phone) {
        step(`${name}: the threshold slider by keyboard: Page Up/Down a tenth of the front, Home/End its ends`);
        const frontIndex = async () => Number(await page.getAttribute('#tradeoff', 'data-front-index'));
        await page.focus('#threshold');
        await page.keyboard.press('End');
        const last = await frontIndex();
        const page10 = Math.max(1, Math.round((last + 1) / 10));
        await page.keyboard.press('PageDown');
        check(`${name}: Page Down moves a tenth of the front (${page10} points)`, (await frontIndex()) === last - page10, `at ${await frontIndex()} of ${last}`);
        await page.keyboard.press('PageUp');
        check(`${name}: Page Up moves back`, (await frontIndex()) === last, `at ${await frontIndex()} of ${last}`);
        await page.keyboard.press('Home');
        check(`${name}: Home goes to the front's first point`, (await frontIndex()) === 0, `at ${await frontIndex()}`);
        await page.keyboard.press('ArrowRight');
        check(`${name}: an arrow key moves one point`, (await frontIndex()) === 1, `at ${await frontIndex()}`);
        step(`  ${last + 1} front points; Page Up/Down: ${page10}`);
        await page.click('#threshold-reset');
      }

      step(`${name}: the sample photos row; a sample photo that gets the note "Unlike the pictures it learnt from"`);
      await page.waitForSelector('#samples:not([hidden])');
      const thumbs = await page.$$eval('#sample-list button.sample', (bs) => bs.map((b) => {
        const r = b.getBoundingClientRect();
        return { file: b.dataset.file, alt: b.querySelector('img').alt, width: r.width, height: r.height };
      }));
      check(`${name}: the samples row lists every sample photo`, thumbs.length === SAMPLES.length, `${thumbs.length} of ${SAMPLES.length}`);
      for (const t of thumbs) {
        check(`${name}: sample ${t.file} is named by its caption`, t.alt.length > 0 && SAMPLES.some((s) => s.file === t.file && s.caption === t.alt), t.alt);
        check(`${name}: sample ${t.file} is at least 24×24 CSS px`, t.width >= 24 && t.height >= 24, `${t.width.toFixed(1)}×${t.height.toFixed(1)}`);
      }
      let flagged = null;
      for (const s of SAMPLES) {
        await runSample(page, s.file);
        if (await page.isVisible('#verdict-ood')) { flagged = s.file; break; }
      }
      check(`${name}: a sample photo gets the note`, flagged !== null, 'none of the sample photos is flagged at its stop');
      if (flagged) {
        const note = await page.$eval('#verdict-ood', (e) => ({ text: e.textContent, inVerdict: !!e.closest('#run-verdict[aria-live="polite"]') }));
        step(`  ${flagged}: ${note.text.trim().slice(0, 70)}…`);
        check(`${name}: the note says it in words, in the headline's live region`, /^!?\s*Unlike the pictures it learnt from\./.test(note.text.trim()) && note.inVerdict, JSON.stringify(note));
        if (phone) {
          await page.waitForFunction(() => {
            const r = document.querySelector('#verdict-ood').getBoundingClientRect();
            return r.top > -1 && r.bottom < innerHeight + 1;
          }, null, { timeout: 5000 }).catch(() => {});
          const r = await page.$eval('#verdict-ood', (e) => { const b = e.getBoundingClientRect(); return { top: b.top, bottom: b.bottom, right: b.right }; });
          check(`${name}: the note is on the first screen with the answer`, r.top > -1 && r.bottom < options.viewport.height + 1 && r.right <= options.viewport.width, JSON.stringify(r));
        }
        await axe(name, page, 'a sample photo with the note');
        await page.click('#model-info summary');
        await axe(name, page, 'the Details popover open');
        await page.click('#model-info summary');
      }

      step(`${name}: a typed crop the engine refuses: the field is marked invalid, with its message`);
      await page.fill('#crop-input', '0,0,9999');
      await page.press('#crop-input', 'Enter');
      await page.waitForSelector('#crop-input[aria-invalid="true"]');
      await axe(name, page, 'a refused crop');
      await context.close();
    }
    check('no page or console errors', problems.length === 0, problems.join('\n'));
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
    step('passed');
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
