//! The committed model and calibration on the validation split (records 5000..9999 of
//! data_batch_5.bin), through the `dynconf eval` command: the method's requirements, and the
//! README's results table rendered from the run's JSON (the engines are deterministic, so a
//! change that moves any figure must update the README). Skipped without CIFAR-10, saying how
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
    // The README's results table, every figure rendered from this run's JSON: a change that
    // moves any of them must update the README (the engines are deterministic).
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let pct = |x: f64| format!("{:.2}", 100.0 * x);
    let fixed = |t: u64| {
        report["fixed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["steps"] == t)
            .map(|p| pct(p["accuracy"].as_f64().unwrap()))
            .unwrap()
    };
    let reference = get(&["dynamic_crossfit", "latency_reference_steps"]) as u64;
    let lengths = [4, 8, 16, reference];
    let names: Vec<String> = lengths.iter().map(u64::to_string).collect();
    let accuracies: Vec<String> = lengths.iter().map(|&t| fixed(t)).collect();
    let decoder = &report["dynamic"]["decoder"];
    let rows = [
        format!("| quantized ANN | {}% | – | – | – |", pct(ann)),
        format!(
            "| SNN, fixed T = {0} | {1}% | {0} | | |",
            names.join(" / "),
            accuracies.join(" / ")
        ),
        format!(
            "| SNN, fixed T = 32 | {}% | 32 | {:.2} | {} |",
            pct(full),
            get(&["fixed_full", "spikes_per_neuron"]),
            scientific(get(&["fixed_full", "synops"]))
        ),
        format!(
            "| **Dynamic Confidence, cross-fitted** ({} folds; spread over folds) | **{}%** (± {:.2}) | **{crossfit_steps:.2}** (± {:.2}) | | |",
            get(&["dynamic_crossfit", "k"]),
            pct(crossfit),
            100.0 * get(&["dynamic_crossfit", "accuracy_sd"]),
            get(&["dynamic_crossfit", "mean_steps_sd"])
        ),
        format!(
            "| Dynamic Confidence, in-sample (calibrated: {} decoder, κ = {}, θ = {:.4}) | {}% | {mean_steps:.2} | {:.2} | {} |",
            decoder["kind"].as_str().unwrap().replace('_', " "),
            decoder["kappa"].as_f64().unwrap(),
            get(&["dynamic", "threshold"]),
            pct(dynamic),
            get(&["dynamic", "spikes_per_neuron"]),
            scientific(get(&["dynamic", "synops"]))
        ),
        format!(
            "| oracle (stop at the first correct step) | {}% | {:.2} | | |",
            pct(get(&["oracle", "accuracy"])),
            get(&["oracle", "mean_steps"])
        ),
        format!(
            "Cross-fitted latency reduction: **{:.1}%** against T = {reference},",
            100.0 * get(&["dynamic_crossfit", "latency_reduction"])
        ),
    ];
    for row in rows {
        assert!(
            readme.contains(&row),
            "README.md's results table lacks this row of the run:\n{row}"
        );
    }
}

/// `x` as the README writes large counts: `3.06 × 10⁸`.
fn scientific(x: f64) -> String {
    let exponent = x.log10().floor() as i32;
    let digits: String = exponent
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => {
                ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'][d.to_digit(10).unwrap() as usize]
            }
        })
        .collect();
    format!("{:.2} × 10{digits}", x / 10f64.powi(exponent))
}
