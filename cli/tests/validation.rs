//! The committed model and calibration on the validation split (records 5000..9999 of
//! data_batch_5.bin), through the `dynconf eval` command. The engines are deterministic, so the
//! figures are pinned exactly (as counts of images and steps): a change that moves any of
//! them must update this test and the README's table. Skipped without CIFAR-10, saying how
//! to get it; fails under CI (tests/common).

mod common;

use std::process::Command;

use serde_json::Value;

#[test]
fn snn_and_dynamic_confidence_on_the_validation_split() {
    let Some(dir) = common::cifar_dir() else {
        return;
    };
    let output = Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(common::repo_root())
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
    let images = get(&["images"]);
    assert_eq!(images, 5000.0);
    let count = |fraction: f64| (fraction * images).round() as u64;
    let ann = get(&["ann_accuracy"]);
    let full = get(&["fixed_full", "accuracy"]);
    let dynamic = get(&["dynamic", "accuracy"]);
    let mean_steps = get(&["dynamic", "mean_steps"]);
    let crossfit = get(&["dynamic_crossfit", "accuracy"]);
    let crossfit_steps = get(&["dynamic_crossfit", "mean_steps"]);
    eprintln!(
        "validation: ANN {ann:.4}, SNN T=32 {full:.4}, DC {dynamic:.4} in {mean_steps:.2} mean steps \
         (in-sample), cross-fitted {crossfit:.4} in {crossfit_steps:.2}"
    );
    // The method's requirements. Issue 14: the SNN at T_max at most 0.3 points under its
    // quantized ANN. It may pass it, since an IF neuron run for T > L steps quantizes its rate
    // to T levels rather than L (the GPU sweeps' L = 4 student: +0.76 points), but more than
    // a point above would mean the conversion is wrong.
    assert!(full >= ann - 0.003, "SNN T=32 {full} vs ANN {ann}");
    assert!(full <= ann + 0.01, "SNN T=32 {full} vs ANN {ann}");
    assert!(
        crossfit >= full - 0.003,
        "cross-fitted DC {crossfit} vs T=32 {full}"
    );
    assert!(crossfit_steps < 32.0);
    // The exact figures of the committed model and calibration (README, "Results").
    assert_eq!(count(ann), 4487, "quantized ANN");
    assert_eq!(count(full), 4509, "SNN T = 32");
    assert_eq!(count(dynamic), 4499, "DC in-sample");
    assert_eq!(
        (mean_steps * images).round() as u64,
        35101,
        "DC in-sample steps"
    );
    assert_eq!(get(&["dynamic", "latency_reference_steps"]), 23.0);
    assert_eq!(get(&["dynamic_crossfit", "correct"]), 4497.0);
    assert_eq!(get(&["dynamic_crossfit", "total_steps"]), 35546.0);
    assert_eq!(get(&["dynamic_crossfit", "latency_reference_steps"]), 21.0);
    assert_eq!(
        report["dynamic_crossfit"]["folds"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(count(get(&["oracle", "accuracy"])), 4648, "oracle");
    assert_eq!(
        (get(&["oracle", "mean_steps"]) * images).round() as u64,
        20226,
        "oracle steps"
    );
}
