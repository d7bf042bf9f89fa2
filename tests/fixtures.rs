//! The Rust engine against PyTorch (training/reference.py) on the committed model's stored
//! fixtures: synthetic inputs, the quantized-ANN logits, and the SNN's accumulated output and
//! spike counts at every step. Both engines must reproduce the spikes bit for bit.
#![cfg(not(target_arch = "wasm32"))] // reads files / runs the native CLI

use std::path::Path;
use std::sync::Arc;

use dynconf::model::Model;
use dynconf::preprocess::normalize_u8;
use dynconf::snn::{Engine, Simulation};
use dynconf::{ann, decode};
use serde::Deserialize;

const MODEL: &str = "models/dynconf-cifar10-v7.safetensors";
const FIXTURES: &str = "tests/fixtures/dynconf-cifar10-v7.json";

#[derive(Deserialize)]
struct Fixtures {
    model: String,
    /// SHA-256 of the model file the fixtures were made from.
    model_sha256: String,
    steps: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    pixels_chw: Vec<u8>,
    ann_logits: Vec<f32>,
    snn_outputs: Vec<Vec<f32>>,
    snn_spikes_per_layer: Vec<Vec<u32>>,
}

fn load() -> (Arc<Model>, Fixtures) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(root.join(MODEL)).expect("the committed model");
    let model = Model::from_bytes(&bytes).expect("a valid model");
    let text = std::fs::read_to_string(root.join(FIXTURES)).expect("the committed fixtures");
    let fixtures: Fixtures = serde_json::from_str(&text).expect("valid fixture JSON");
    assert_eq!(
        Path::new(MODEL).file_name().unwrap(),
        fixtures.model.as_str()
    );
    assert_eq!(
        dynconf::calibrate::sha256_hex(&bytes),
        fixtures.model_sha256,
        "the fixtures were made from another version of {MODEL}: rerun training/train.py --export-from"
    );
    (Arc::new(model), fixtures)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn ann_logits_match_pytorch() {
    let (model, fixtures) = load();
    for case in &fixtures.cases {
        let input = normalize_u8(model.input(), &case.pixels_chw);
        let logits = ann::logits(&model, &input).unwrap();
        let scale = case
            .ann_logits
            .iter()
            .fold(0f32, |m, x| m.max(x.abs()))
            .max(1.0);
        let diff = max_abs_diff(&logits, &case.ann_logits);
        assert!(
            diff <= 1e-4 * scale,
            "{}: max |Δlogit| = {diff} > 1e-4 × {scale}",
            case.name
        );
    }
}

#[test]
fn snn_matches_pytorch_at_every_step_in_both_engines() {
    let (model, fixtures) = load();
    // The event-driven engine sums every spike-fed convolution's int8 weights in integers.
    assert_eq!(model.integer_event_stages(), [0, 1, 2, 3, 4, 5]);
    for engine in [Engine::Dense, Engine::EventDriven] {
        let mut simulation = Simulation::new(model.clone(), engine);
        for case in &fixtures.cases {
            let input = normalize_u8(model.input(), &case.pixels_chw);
            simulation.set_input_f64(&input).unwrap();
            for t in 0..fixtures.steps {
                let report = simulation.step();
                let expected = &case.snn_outputs[t];
                assert_eq!(
                    report.spikes_per_layer,
                    case.snn_spikes_per_layer[t].as_slice(),
                    "{} ({engine:?}), step {}: spikes per layer",
                    case.name,
                    t + 1
                );
                let diff = max_abs_diff(report.output, expected);
                assert!(
                    diff <= 1e-3,
                    "{} ({engine:?}), step {}: max |ΔO(t)| = {diff}",
                    case.name,
                    t + 1
                );
                assert_eq!(
                    decode::argmax(report.output),
                    decode::argmax(expected),
                    "{} ({engine:?}), step {}: prediction",
                    case.name,
                    t + 1
                );
            }
        }
    }
}
