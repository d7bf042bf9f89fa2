#!/usr/bin/env bash
# Installs every tool the build, demo and tests need, skipping what is already present.
# Works offline from GitHub: only crates.io, npm, PyPI and Debian packages are used
# (see ../shared/docs/toolchain.md). Usage: scripts/install-tools.sh [rust|web|browsers|python|all]...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen version in Cargo.lock
TRUNK_VERSION=0.21.14          # trunk 0.22 needs a newer rustc
BINARYEN_VERSION=132.0.0
CARGO_FUZZ_VERSION=0.13.2
TOOLS=$ROOT/.tools             # npm packages (wasm-opt, playwright-core, axe-core)
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }
have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }

install_rust() {
  rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  # scripts/fuzz.sh (libFuzzer on stable Rust with --sanitizer none; libFuzzer itself is
  # built from source by the libfuzzer-sys crate with the system's C++ compiler).
  command -v c++ >/dev/null || { log "installing g++ (libFuzzer is C++)"; apt-get install -y -qq g++ >/dev/null; }
  have_version cargo-fuzz "$CARGO_FUZZ_VERSION" || { log "building cargo-fuzz $CARGO_FUZZ_VERSION (~3 min)"; cargo install --locked cargo-fuzz --version "=$CARGO_FUZZ_VERSION"; }
}

install_browsers() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v firefox-esr >/dev/null; then
    log "installing Chromium, ChromeDriver and Firefox ESR from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver firefox-esr >/dev/null
  fi
  have_version geckodriver 'geckodriver' || { log "building geckodriver (~3 min)"; cargo install --locked geckodriver; }
}

install_web() {
  install_rust
  have_version wasm-bindgen "$WASM_BINDGEN_VERSION" || {
    log "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (~4 min)"
    # no --locked: its lock file wants a webpki-roots release the registry lacks
    cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
  }
  # `wasm-pack test --headless --chrome|--firefox` runs the wasm tests (scripts/test-web.sh);
  # it finds wasm-bindgen-test-runner and the drivers on PATH instead of downloading them.
  have_version wasm-pack 'wasm-pack' || { log "building wasm-pack (~6 min)"; cargo install --locked wasm-pack; }
  have_version trunk "$TRUNK_VERSION" || { log "building trunk $TRUNK_VERSION (~11 min)"; cargo install --locked trunk --version "=$TRUNK_VERSION"; }
  # axe-core: the accessibility rules e2e/a11y.test.mjs runs on the page.
  if ! have_version wasm-opt "version 132" || [ ! -d "$TOOLS/node_modules/playwright-core" ] || [ ! -f "$TOOLS/node_modules/axe-core/axe.min.js" ]; then
    log "installing wasm-opt (binaryen $BINARYEN_VERSION), playwright-core and axe-core from npm"
    mkdir -p "$TOOLS"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION" playwright-core@1 axe-core@4 >/dev/null
  fi
}

install_python() {
  if [ ! -x training/.venv/bin/python ] || ! training/.venv/bin/python -c 'import torch, safetensors, numpy' 2>/dev/null; then
    log "creating training/.venv with PyTorch (~3 GB download, ~2 min)"
    python3 -m venv training/.venv
    training/.venv/bin/pip install -q -r training/requirements.txt
  fi
}

targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    rust) install_rust ;;
    web) install_web ;;
    browsers) install_browsers ;;
    python) install_python ;;
    all) install_rust; install_python; install_browsers; install_web ;;
    *) echo "unknown target: $t" >&2; exit 2 ;;
  esac
done
