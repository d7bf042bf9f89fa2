//! The README's and training/README.md's tables against the files the commands wrote: every
//! figure of the decoders table, of the settings table's committed models and of v7's figures
//! in training/README.md is rendered here from the committed calibration files (`dynconf
//! calibrate`'s output) and the models' metadata (the exporter's validation run), and must
//! appear in the text as rendered. The results table, which needs a run over the validation
//! split, is checked the same way by cli/tests/validation.rs; the settings rows of models no
//! longer committed are printed by scripts/settings-table.sh; timings (README "Performance",
//! docs/performance.md) name the command and date that measured them.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use dynconf::calibrate::{Calibration, CrossFit, Figures};
use dynconf::{Decoder, Model};

fn readme() -> String {
    std::fs::read_to_string(common::repo_root().join("README.md")).expect("README.md")
}

fn calibration(name: &str) -> Calibration {
    let path = common::repo_root().join(format!("models/{name}.calibration.json"));
    Calibration::from_json(&std::fs::read(&path).expect("calibration file")).unwrap()
}

/// The quantized ANN's validation accuracy, from the model's metadata.
fn ann_accuracy(name: &str) -> f64 {
    let path = common::repo_root().join(format!("models/{name}.safetensors"));
    let model = Model::from_bytes(&std::fs::read(&path).expect("model file")).unwrap();
    let metadata: serde_json::Value = serde_json::from_str(model.metadata_json()).unwrap();
    metadata["validation"]["ann_accuracy"]
        .as_f64()
        .expect("validation.ann_accuracy in the model's metadata")
}

fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn latency(c: &CrossFit) -> String {
    match (c.latency.reduction, c.latency.reference_steps) {
        (Some(r), Some(t)) => format!("{:.1}% vs T = {t}", 100.0 * r),
        _ => "none".into(),
    }
}

fn assert_in_readme(readme: &str, row: &str) {
    assert!(
        readme.contains(row),
        "README.md does not have this row (rendered from the committed files):\n{row}\n\
         Update the README's table, or the files that give it."
    );
}

/// How the decoders table names a family's member.
fn decoder_label(decoder: &Decoder) -> String {
    let kappa = |k: f64| format!("κ = {k}");
    match *decoder {
        Decoder::MaxSoftmax { kappa: k } => {
            format!("max softmax(O(t)/κ), the paper's: {}", kappa(k))
        }
        Decoder::Margin { kappa: k } => format!("margin p₁ − p₂ (SNNCutoff): {}", kappa(k)),
        Decoder::Entropy { kappa: k } => format!("negative entropy (DT-SNN): {}", kappa(k)),
        Decoder::Stability {
            kappa: k,
            k: patience,
        } => format!(
            "stability (PABEE-style, argmax unchanged for k steps): {}, k = {patience}",
            kappa(k)
        ),
        Decoder::Learned { .. } => {
            "learned halting (logistic regression on 6 features of O(t))".into()
        }
        Decoder::DivideByT => "max softmax(O(t)/t)".into(),
    }
}

fn decoder_row(label: &str, in_sample: &Figures, crossfit: &CrossFit) -> String {
    format!(
        "| {label} | {}, {:.2} | {}, {:.2} | {} |",
        percent(in_sample.accuracy),
        in_sample.mean_steps,
        percent(crossfit.accuracy),
        crossfit.mean_steps,
        latency(crossfit)
    )
}

#[test]
fn the_decoders_table_is_the_committed_calibration() {
    let readme = readme();
    let c = calibration("dynconf-cifar10-v7");
    for family in &c.decoders {
        let row = decoder_row(
            &decoder_label(&family.decoder),
            &family.in_sample,
            &family.crossfit,
        );
        assert_in_readme(&readme, &row);
    }
    let whole = decoder_row(
        "the whole choice (any decoder; the calibrated default)",
        &c.in_sample,
        &c.crossfit,
    );
    assert_in_readme(&readme, &whole);
}

#[test]
fn the_settings_table_rows_of_the_committed_models_are_their_files() {
    let readme = readme();
    for name in [
        "dynconf-cifar10-v7",
        "dynconf-cifar10-res-l4",
        "dynconf-cifar10-res-l8",
    ] {
        let c = calibration(name);
        assert_eq!(c.max_steps, 32, "{name}: the table is at T_max = 32");
        let full = c.fixed.last().expect("fixed points").accuracy;
        let figures = format!(
            "| {} | {} | {} in {:.2} steps | {} | {} at {:.2} |",
            percent(ann_accuracy(name)),
            percent(full),
            percent(c.crossfit.accuracy),
            c.crossfit.mean_steps,
            latency(&c.crossfit),
            percent(c.oracle.accuracy),
            c.oracle.mean_steps
        );
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("README.md has no settings row for {name}"));
        assert!(
            row.ends_with(&figures),
            "{name}: the README's settings row\n{row}\ndoes not end with the committed files' figures\n{figures}"
        );
    }
}

#[test]
fn the_committed_models_figures_in_training_readme_are_its_files() {
    let text = std::fs::read_to_string(common::repo_root().join("training/README.md")).unwrap();
    let name = "dynconf-cifar10-v7";
    let path = common::repo_root().join(format!("models/{name}.safetensors"));
    let model = Model::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    let metadata: serde_json::Value = serde_json::from_str(model.metadata_json()).unwrap();
    let per_step: Vec<f64> = metadata["validation"]["snn_accuracy_per_step"]
        .as_array()
        .expect("validation.snn_accuracy_per_step in the model's metadata")
        .iter()
        .map(|a| a.as_f64().unwrap())
        .collect();
    let c = calibration(name);
    let ann = ann_accuracy(name);
    let steps = [1usize, 2, 4, 8, 12, 16, 24, 32];
    let row = format!(
        "| SNN accuracy at T = {} | {}% |",
        steps.map(|t| t.to_string()).join(" / "),
        steps
            .map(|t| format!("{:.2}", 100.0 * per_step[t - 1]))
            .join(" / ")
    );
    let full = c.fixed.last().unwrap().accuracy;
    for row in [
        row,
        format!("| **{}** |", percent(ann)),
        format!("| SNN T = 32 − ANN | {:+.2} points |", 100.0 * (full - ann)),
        format!(
            "| {} in {:.2} mean steps ({:.2} under T = 32) |",
            percent(c.crossfit.accuracy),
            c.crossfit.mean_steps,
            100.0 * (full - c.crossfit.accuracy)
        ),
    ] {
        assert!(
            text.contains(&row),
            "training/README.md's figures of {name} lack this row (from its files):\n{row}"
        );
    }
    // The exporter's per-step figures are the calibration's fixed-length ones.
    for (t, point) in c.fixed.iter().enumerate() {
        assert_eq!(
            format!("{:.4}", per_step[t]),
            format!("{:.4}", point.accuracy),
            "T = {}",
            t + 1
        );
    }
}
