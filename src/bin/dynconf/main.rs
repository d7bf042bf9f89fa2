//! `dynconf`: evaluate, calibrate and try out a Dynamic Confidence SNN from the command line.
//!
//! The tool is native only (threads, files, the `image` decoders). `wasm-pack test` and
//! `cargo test --target wasm32-unknown-unknown` build every target with default features,
//! this one included, so on wasm32 it compiles to an empty program instead of failing on
//! the native-only dependencies (Cargo.toml gates them by target).

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
