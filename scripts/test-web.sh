#!/usr/bin/env bash
# Browser tests: the wasm-bindgen tests (tests/wasm.rs) in headless Chrome and Firefox through
# `wasm-pack test`, then
# the end-to-end tests of the demo page: e2e/demo.test.mjs (builds with Trunk, writes
# a screenshot to target/e2e/), then e2e/agreement.test.mjs on the same dist/ (the page's stop step and
# prediction against `dynconf classify --json --crop`, which it builds with
# `cargo build --release -p dynconf-cli`; format-2 models from tests/fixtures/ dropped on the page,
# step by step; the Model picker, dynconf-cifar10-res-l4 included once its files exist), then e2e/inputs.test.mjs (the bad-input corpus of
# cli/tests/bad_inputs.rs uploaded to the page: refusals by name, the CLI's class and stop step on
# the valid files), then e2e/batch.test.mjs (a generated CIFAR-10 batch: gallery, "Evaluate
# all" against `dynconf eval --json`, dropped models), then e2e/a11y.test.mjs (axe-core's
# WCAG 2.x A/AA and best-practice rules on the loading screen, the page and a finished run, at
# desktop size and on a phone; the phone's loading bars and its result in view); then the CLI's image decoding against Chromium's and
# Firefox's (e2e/jpeg-match.test.mjs: JPEG and ICC-tagged images, within ±1 level).
# Assumes `scripts/install-tools.sh web browsers` has run.
# Usage: scripts/test-web.sh [chrome] [firefox] [e2e] [decode]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"
export TRUNK_OFFLINE=true
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
JOBS=${JOBS:-2}

# The wasm tests as people type them: `wasm-pack test --headless --chrome|--firefox`, with
# --release for speed. wasm-pack builds every test target for wasm32 (default features
# included: the native CLI compiles to an empty program there) and runs each in the browser
# through wasm-bindgen-test-runner: tests/wasm.rs holds the browser tests; the native-only
# targets are `#![cfg(not(target_arch = "wasm32"))]` and report no tests. wasm-pack uses
# the wasm-bindgen-test-runner, chromedriver and geckodriver on PATH (it would otherwise
# download them), so each suite sees only its own driver.
wasm_tests() {
  local driver
  if [ "$1" = chrome ]; then driver=(CHROMEDRIVER="$(command -v chromedriver)"); else driver=(GECKODRIVER="$(command -v geckodriver)"); fi
  env -u CHROMEDRIVER -u GECKODRIVER "${driver[@]}" CARGO_BUILD_JOBS="$JOBS" \
    wasm-pack test --headless "--$1" --release
}

suites=("$@"); [ ${#suites[@]} -eq 0 ] && suites=(chrome firefox e2e decode)
for suite in "${suites[@]}"; do
  echo "== $suite" >&2
  case "$suite" in
    chrome|firefox) wasm_tests "$suite" ;;
    # One command a line: in an `a && b` list, set -e would not stop at a failing `a`.
    e2e)
      node e2e/demo.test.mjs
      E2E_SKIP_BUILD=1 node e2e/agreement.test.mjs
      E2E_SKIP_BUILD=1 node e2e/inputs.test.mjs
      E2E_SKIP_BUILD=1 node e2e/batch.test.mjs
      E2E_SKIP_BUILD=1 node e2e/a11y.test.mjs ;;
    decode) CARGO_BUILD_JOBS="$JOBS" node e2e/jpeg-match.test.mjs ;;
    *) echo "unknown suite: $suite (chrome, firefox, e2e, decode)" >&2; exit 2 ;;
  esac
done
echo "web tests passed: ${suites[*]}" >&2
