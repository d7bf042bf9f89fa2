#!/usr/bin/env bash
# The project's one test command (README "Tests", and .ci/run): installs whatever is
# missing (scripts/install-tools.sh), then runs every test suite in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh all
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "Rust: formatting and lints"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
cargo clippy --workspace --all-targets -- -D warnings
# The library alone for the page (no command line), as Trunk builds it.
cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
cargo clippy --manifest-path fuzz/Cargo.toml --bins -- -D warnings

section "Rust: unit, fixture and validation-split tests (release build)"
cargo test --release --workspace

section "Fuzz smoke: every parser of outside input, 10 s each (scripts/fuzz.sh)"
scripts/fuzz.sh 10

section "Training pipeline smoke test (PyTorch, CPU)"
(cd training && .venv/bin/python -m unittest discover -p 'test_*.py' -v)

section "Browser: wasm bindings in Chromium and Firefox, end-to-end page test, CLI decoding vs browsers"
scripts/test-web.sh
