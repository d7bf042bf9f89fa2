#!/usr/bin/env bash
# Builds the browser demo and serves it on http://127.0.0.1:8080 (Trunk, rebuilt on change).
# Usage: scripts/serve.sh [extra trunk serve arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh web
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"
export TRUNK_OFFLINE=true
for f in models/dynconf-cifar10-v7.safetensors models/dynconf-cifar10-v7.calibration.json; do
  [ -f "$f" ] || { echo "missing $f: train and calibrate the model first (README)" >&2; exit 1; }
done
echo "serving the demo on http://127.0.0.1:8080 (Ctrl+C to stop)" >&2
exec trunk serve "$@"
