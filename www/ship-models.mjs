// Trunk's post_build hook (Trunk.toml): copies the models that www/models.json lists into the
// build (dist/models/NAME.safetensors and NAME.calibration.json) and writes the list the page's
// Model picker shows, dist/models/models.json, naming only the models it copied. The default
// model must exist (the build fails, naming the missing file); another model whose two files are
// not both there yet is left out of the build and of the picker, with a note, so that Trunk does
// not fail on it (as a copy-file link to a missing file would) and the page never offers a model
// it does not have.
//
//   TRUNK_STAGING_DIR=dist/.stage node www/ship-models.mjs      (Trunk sets the variable)
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MANIFEST = join(ROOT, 'www', 'models.json');
const NAME = /^[\w.-]+$/; // what the page's ?model=NAME accepts

function fail(message) {
  console.error(`ship-models: ${message}`);
  process.exit(1);
}

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) fail('TRUNK_STAGING_DIR is not set (Trunk runs this script as a post_build hook, see Trunk.toml)');

let manifest;
try {
  manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
} catch (error) {
  fail(`cannot read ${MANIFEST}: ${error.message}`);
}
const models = Array.isArray(manifest.models) ? manifest.models : [];
for (const m of models) {
  if (typeof m?.name !== 'string' || !NAME.test(m.name)) fail(`${MANIFEST}: model name ${JSON.stringify(m?.name)} is not letters, digits, '_', '-' or '.'`);
  if (typeof m.label !== 'string' || !m.label) fail(`${MANIFEST}: model ${m.name} has no label`);
}
if (!models.some((m) => m.name === manifest.default)) fail(`${MANIFEST}: the default ${JSON.stringify(manifest.default)} is not one of its models`);

const out = join(staging, 'models');
mkdirSync(out, { recursive: true });
const shipped = [];
for (const m of models) {
  const files = [`${m.name}.safetensors`, `${m.name}.calibration.json`];
  const missing = files.filter((f) => !existsSync(join(ROOT, 'models', f)));
  if (missing.length) {
    const list = missing.map((f) => `models/${f}`).join(' and ');
    if (m.name === manifest.default) fail(`the default model's ${list} ${missing.length > 1 ? 'do' : 'does'} not exist: train and calibrate it first (README)`);
    console.error(`ship-models: ${m.name} left out of this build (no ${list})`);
    continue;
  }
  for (const f of files) copyFileSync(join(ROOT, 'models', f), join(out, f));
  shipped.push({ name: m.name, label: m.label, bytes: statSync(join(ROOT, 'models', files[0])).size });
}
writeFileSync(join(out, 'models.json'), `${JSON.stringify({ default: manifest.default, models: shipped }, null, 2)}\n`);
console.error(`ship-models: ${shipped.map((m) => m.name).join(', ')} copied to dist/models/`);
