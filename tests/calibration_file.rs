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
    let message = Calibration::from_json(json.to_string().as_bytes()).unwrap_err();
    assert!(
        message.contains("calibration file: threshold 1e39 is out of range"),
        "{message}"
    );
}
