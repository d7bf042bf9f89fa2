//! The committed calibration file against the committed model, without any data: it belongs
//! to the model (SHA-256), its fixed-length curve is the one the training run measured with the
//! PyTorch reference SNN (stored in the model's metadata), and its figures are consistent.
#![cfg(not(target_arch = "wasm32"))] // reads files

use std::path::Path;

use dynconf::calibrate::{self, Calibration};

const MODEL: &str = "models/dynconf-cifar10-v7.safetensors";
const CALIBRATION: &str = "models/dynconf-cifar10-v7.calibration.json";

fn load() -> (Vec<u8>, Calibration) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = std::fs::read(root.join(MODEL)).expect("the committed model");
    let calibration = Calibration::from_json(&std::fs::read(root.join(CALIBRATION)).unwrap())
        .expect("the committed calibration parses");
    (model, calibration)
}

#[test]
fn calibration_belongs_to_the_committed_model() {
    let (model, calibration) = load();
    calibration
        .check_model(&calibrate::sha256_hex(&model))
        .expect("calibrated on this very model file");
}

#[test]
fn fixed_curve_equals_the_training_runs_reference_snn() {
    let (bytes, calibration) = load();
    let model = dynconf::Model::from_bytes(&bytes).unwrap();
    let metadata: serde_json::Value = serde_json::from_str(model.metadata_json()).unwrap();
    let validation = &metadata["validation"];
    let curve = validation["snn_accuracy_per_step"].as_array().unwrap();
    assert_eq!(
        validation["images"].as_u64().unwrap() as usize,
        calibration.images
    );
    assert_eq!(curve.len(), calibration.fixed.len());
    for (reference, fixed) in curve.iter().zip(&calibration.fixed) {
        // PyTorch stored the accuracy as an f32 fraction: compare as image counts.
        let correct = (reference.as_f64().unwrap() * calibration.images as f64).round() as u64;
        assert_eq!(correct, fixed.correct, "T = {}", fixed.steps);
    }
}

#[test]
fn figures_are_consistent() {
    let (_, c) = load();
    // The chosen decoder is the family member with the fewest steps, and its threshold is
    // a point of that member's front.
    let chosen = c.decoders.iter().find(|d| d.decoder == c.decoder).unwrap();
    assert_eq!(chosen.threshold, c.threshold);
    assert!(c
        .decoders
        .iter()
        .all(|d| d.in_sample.total_steps >= c.in_sample.total_steps));
    for family in &c.decoders {
        let point = family
            .front
            .iter()
            .find(|p| p.threshold == family.threshold)
            .expect("threshold on the front");
        assert_eq!(point.correct, family.in_sample.correct);
        // Within the tolerance of T_max, counted in images.
        let full = c.fixed.last().unwrap().correct;
        assert!(point.correct + calibrate::allowed_misses(c.tolerance, c.images) >= full);
        // Cross-fitting scored every image once.
        let fit = &family.crossfit;
        assert_eq!(fit.folds.iter().map(|f| f.images).sum::<usize>(), c.images);
        let correct: f64 = fit.folds.iter().map(|f| f.accuracy * f.images as f64).sum();
        assert_eq!(correct.round() as u64, fit.correct);
    }
}

#[test]
fn thresholds_beyond_f32_or_not_numbers_are_refused_by_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join(CALIBRATION)).unwrap()).unwrap();
    // Scores may be negative, so may thresholds.
    json["threshold"] = serde_json::json!(-2.5);
    Calibration::from_json(json.to_string().as_bytes()).expect("a negative threshold is fine");
    json["threshold"] = serde_json::json!(1e39);
    let Err(message) = Calibration::from_json(json.to_string().as_bytes()) else {
        panic!("accepted");
    };
    assert!(
        message.contains("calibration file: threshold 1e39 is out of range"),
        "{message}"
    );
}

/// The one validator of calibration files (`Calibration::from_json`, which the CLI and the
/// page both call) refuses what cannot drive a run, saying what: a κ of 0 or below (the CLI
/// used to stop at t = 1 with a score of 3.4e38), T_max 0 or beyond the limit, an empty front,
/// no decoders, no images.
#[test]
fn crafted_calibrations_are_refused_with_what_is_wrong() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join(CALIBRATION)).unwrap()).unwrap();
    let refused = |edit: &dyn Fn(&mut serde_json::Value), expected: &str| {
        let mut json = original.clone();
        edit(&mut json);
        let Err(message) = Calibration::from_json(json.to_string().as_bytes()) else {
            panic!("accepted");
        };
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    };
    use serde_json::json;
    refused(
        &|j| j["decoder"]["kappa"] = json!(0.0),
        "kappa must be finite and positive, found 0",
    );
    refused(
        &|j| j["decoder"]["kappa"] = json!(-30.0),
        "kappa must be finite and positive",
    );
    refused(
        &|j| j["decoders"][1]["decoder"]["kappa"] = json!(-1.0),
        "kappa must be",
    );
    refused(
        &|j| j["candidates"][3]["decoder"]["kappa"] = json!(0.0),
        "kappa must be",
    );
    refused(
        &|j| j["max_steps"] = json!(0),
        "max_steps (T_max) must be between 1 and 4096",
    );
    refused(&|j| j["max_steps"] = json!(5000), "found 5000");
    refused(
        &|j| j["decoders"][0]["front"] = json!([]),
        "has an empty Pareto front",
    );
    refused(&|j| j["decoders"] = json!([]), "it compares no decoders");
    refused(&|j| j["images"] = json!(0), "it was made on no images");
}
