//! The committed model and calibration on the validation split (records 5000..9999 of
//! data_batch_5.bin), through the `dynconf eval` command: the SNN at T = 32 must be within
//! 0.5 points of the quantized ANN, and Dynamic Confidence must reach the T = 32 accuracy
//! within 0.3 points in fewer mean steps. Skipped, saying how to get the data, without CIFAR-10.
#![cfg(not(target_arch = "wasm32"))] // reads files / runs the native CLI

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cifar10/cifar-10-batches-bin");
    if dir.join("data_batch_5.bin").exists() {
        return Some(dir);
    }
    eprintln!(
        "skipped: CIFAR-10 not found at {}. Put the CIFAR-10 binary batches there \
         (data_batch_1.bin .. data_batch_5.bin from the official cifar-10-binary.tar.gz) \
         to run this test.",
        dir.display()
    );
    None
}

#[test]
fn snn_and_dynamic_confidence_on_the_validation_split() {
    let Some(dir) = data_dir() else { return };
    let output = Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "eval",
            "--split",
            "validation",
            "--max-steps",
            "32",
            "--json",
            "--data",
        ])
        .arg(&dir)
        .output()
        .expect("run dynconf eval");
    assert!(
        output.status.success(),
        "dynconf eval failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let get = |path: &[&str]| -> f64 {
        path.iter()
            .fold(&report, |v, key| &v[*key])
            .as_f64()
            .unwrap_or_else(|| panic!("missing {path:?} in {report}"))
    };
    assert_eq!(get(&["images"]), 5000.0);
    let ann = get(&["ann_accuracy"]);
    let full = get(&["fixed_full", "accuracy"]);
    let dynamic = get(&["dynamic", "accuracy"]);
    let mean_steps = get(&["dynamic", "mean_steps"]);
    eprintln!("validation: ANN {ann:.4}, SNN T=32 {full:.4}, DC {dynamic:.4} in {mean_steps:.2} mean steps");
    assert!((full - ann).abs() <= 0.005, "SNN T=32 {full} vs ANN {ann}");
    assert!(dynamic >= full - 0.003, "DC {dynamic} vs T=32 {full}");
    assert!(mean_steps < 32.0, "DC mean steps {mean_steps}");
}
