#!/usr/bin/env bash
# Fuzzes every parser of outside input (fuzz/: model files, calibration files, CIFAR-10
# batches, the Web Workers' encoded runs, image files) for SECONDS each, with cargo-fuzz
# (libFuzzer) on stable Rust (`--sanitizer none`: the code is safe Rust, so the fuzzers look
# for panics, hangs over 10 s and allocations over 2 GB). The seeds come from the test
# generators (cli/examples/fuzz_seeds.rs); the corpus each run grows is kept in
# target/fuzz-corpus/ for the next run. A crash stops the script with libFuzzer's report and
# the input in fuzz/artifacts/TARGET/ (reproduce: cargo fuzz run --sanitizer none TARGET FILE).
# `scripts/test.sh` runs it for 10 s per target; docs/fuzzing.md has longer runs.
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]     (default: 10 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
seconds=${1:-10}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(model_file calibration_json cifar_batch worker_transfer image_file)

seeds=target/fuzz-seeds
rm -rf "$seeds"
cargo run --release --quiet -p dynconf-cli --example fuzz_seeds -- "$seeds"
for target in "${targets[@]}"; do
  corpus=target/fuzz-corpus/$target
  mkdir -p "$corpus"
  echo "== fuzz $target for ${seconds} s" >&2
  cargo fuzz run --sanitizer none "$target" "$corpus" "$seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
