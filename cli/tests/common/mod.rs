//! The library's test helpers (tests/common/mod.rs: random models, batches and inputs), the
//! image generators only the command line's tests need (the bad-input corpus, ICC profiles)
//! and the working directory the command runs in.
#![allow(dead_code, unused_imports)]

#[path = "../../../tests/common/mod.rs"]
mod library;

pub mod corpus;
pub mod icc;

pub use library::*;

use std::path::{Path, PathBuf};

/// The flags naming the model [`model_workspace`] writes.
pub const MODEL_FLAGS: [&str; 2] = ["--model", "models/m.safetensors"];

/// A stop rule given on the command line (the workspaces have no calibration file).
pub const STOP_FLAGS: [&str; 6] = [
    "--decoder",
    "max_softmax:kappa=2",
    "--threshold",
    "1.0",
    "--max-steps",
    "6",
];

/// A fresh directory `name` under the tests' temporary folder with a random CIFAR-shaped model
/// of `seed` at `models/m.safetensors` ([`MODEL_FLAGS`]; classes `class0` … `class9`).
pub fn model_workspace(name: &str, seed: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::write(
        dir.join("models/m.safetensors"),
        random_cifar_model(seed).build(),
    )
    .unwrap();
    dir
}
