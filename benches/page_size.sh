#!/usr/bin/env bash
# What the demo page transfers, gzip-compressed (gzip -9, as a server would send it): the
# wasm, its JS glue, the page's HTML/CSS/JS, the model and its calibration; then, apart, the
# sample photos that the page fetches once it has loaded.
#
#   benches/page_size.sh [DIST]     # default: dist/ (from `trunk build`)
#
# Without a Trunk build it measures the same parts from their sources: the wasm as
# benches/wasm_vs_native.mjs builds it (target/wasm-bench/, wasm-opt -O3), www/, models/.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${1:-dist}
MODEL=${MODEL:-models/dynconf-cifar10-v7}   # path without extension
if [ -d "$DIST" ]; then
  mapfile -t files < <(find "$DIST" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' \
    -o -name "$(basename $MODEL).safetensors" -o -name "$(basename $MODEL).calibration.json" \))
else
  [ -f target/wasm-bench/dynconf_bg.wasm ] || { echo "no $DIST/ and no target/wasm-bench/: run trunk build or benches/wasm_vs_native.mjs first" >&2; exit 1; }
  files=(target/wasm-bench/dynconf_bg.wasm target/wasm-bench/dynconf.js www/index.html www/style.css www/js/*.js
    "$MODEL.safetensors" "$MODEL.calibration.json")
fi
total_raw=0; total_gz=0
printf '%10s %10s  %s\n' bytes gzip file
for f in "${files[@]}"; do
  raw=$(stat -c %s "$f"); gz=$(gzip -9 -c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  printf '%10d %10d  %s\n' "$raw" "$gz" "$f"
done
printf '%10d %10d  total (%.2f MB gzip; target 2 MB)\n' "$total_raw" "$total_gz" "$(echo "$total_gz / 1000000" | bc -l)"
# The sample photos row's files: lazy-loaded thumbnails inside the page's app, which stays hidden
# until the engine, model and calibration are in, so they come after the total above.
SAMPLES=$([ -d "$DIST" ] && echo "$DIST/samples" || echo www/samples)
if [ -d "$SAMPLES" ]; then
  raw=0; gz=0
  for f in "$SAMPLES"/*.jpg "$SAMPLES"/samples.json; do
    [ -f "$f" ] || continue
    raw=$((raw + $(stat -c %s "$f"))); gz=$((gz + $(gzip -9 -c "$f" | wc -c)))
  done
  printf '%10d %10d  %s (the sample photos, fetched after the page has loaded; not in the total)\n' "$raw" "$gz" "$SAMPLES"
fi
