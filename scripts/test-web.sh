#!/usr/bin/env bash
# Browser tests: the wasm-bindgen tests (tests/wasm.rs) in headless Chrome and Firefox, then
# the end-to-end test of the demo page (e2e/demo.test.mjs, which also writes
# docs/screenshot.png). Assumes `scripts/install-tools.sh web browsers` has run.
# Usage: scripts/test-web.sh [chrome] [firefox] [e2e]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"
export TRUNK_OFFLINE=true
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
JOBS=${JOBS:-2}

# tests/wasm.rs through wasm-bindgen-test-runner in a headless browser. This is what
# `wasm-pack test --headless --chrome|--firefox --release --no-default-features --test wasm`
# runs, without building the other test targets for wasm32 (wasm-pack adds `--tests`).
# --no-default-features: only the library is built for wasm32, not the native CLI.
wasm_tests() {
  local driver
  if [ "$1" = chrome ]; then driver=(CHROMEDRIVER="$(command -v chromedriver)"); else driver=(GECKODRIVER="$(command -v geckodriver)"); fi
  env -u CHROMEDRIVER -u GECKODRIVER "${driver[@]}" \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner WASM_BINDGEN_TEST_ONLY_WEB=1 \
    cargo test --target wasm32-unknown-unknown --release --no-default-features -j "$JOBS" --test wasm
}

suites=("$@"); [ ${#suites[@]} -eq 0 ] && suites=(chrome firefox e2e)
for suite in "${suites[@]}"; do
  echo "== $suite" >&2
  case "$suite" in
    chrome|firefox) wasm_tests "$suite" ;;
    e2e) node e2e/demo.test.mjs ;;
    *) echo "unknown suite: $suite (chrome, firefox, e2e)" >&2; exit 2 ;;
  esac
done
echo "web tests passed: ${suites[*]}" >&2
