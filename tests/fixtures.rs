//! The Rust engine against PyTorch (training/reference.py) on stored fixtures: synthetic
//! inputs, the quantized-ANN logits, and the SNN's accumulated output and spike maps (a hash
//! of each IF layer's map) at every step. Both engines must reproduce the spikes bit for bit.
//! The models: the committed chain (v7), and a residual and a VGG-shaped network built by
//! someone else's PyTorch code (training/zoo.py, random weights) and converted by
//! training/export_torch.py (training/make_test_models.py writes them).
#![cfg(not(target_arch = "wasm32"))] // reads files / runs the native CLI

use std::path::Path;
use std::sync::Arc;

use dynconf::model::Model;
use dynconf::preprocess::normalize_u8;
use dynconf::snn::{Engine, Simulation};
use dynconf::{ann, decode};
use serde::Deserialize;

/// (model file, its fixtures), relative to the repository root.
const MODELS: [(&str, &str); 3] = [
    (
        "models/dynconf-cifar10-v7.safetensors",
        "tests/fixtures/dynconf-cifar10-v7.json",
    ),
    (
        "tests/fixtures/resnet-tiny.safetensors",
        "tests/fixtures/resnet-tiny.json",
    ),
    (
        "tests/fixtures/vgg-tiny.safetensors",
        "tests/fixtures/vgg-tiny.json",
    ),
];

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
    /// Per step, per IF layer: the first 16 hex digits of the SHA-256 of its spike map, one
    /// byte (0 or 1) per neuron in CHW order.
    snn_spike_maps: Vec<Vec<String>>,
}

fn load(model_path: &str, fixtures_path: &str) -> (Arc<Model>, Fixtures) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(root.join(model_path)).expect("the committed model");
    let model = Model::from_bytes(&bytes).expect("a valid model");
    let text = std::fs::read_to_string(root.join(fixtures_path)).expect("the committed fixtures");
    let fixtures: Fixtures = serde_json::from_str(&text).expect("valid fixture JSON");
    assert_eq!(
        Path::new(model_path).file_name().unwrap(),
        fixtures.model.as_str()
    );
    assert_eq!(
        dynconf::calibrate::sha256_hex(&bytes),
        fixtures.model_sha256,
        "the fixtures were made from another version of {model_path}: rerun training/train.py --export-from \
         (the committed model) or training/make_test_models.py (the test networks)"
    );
    (Arc::new(model), fixtures)
}

/// The fixtures' hash of one spike map: SHA-256 of one byte per neuron, CHW, 16 hex digits.
fn spike_map_hash<'a>(spikes: impl IntoIterator<Item = &'a f32>) -> String {
    let bytes: Vec<u8> = spikes.into_iter().map(|&s| s as u8).collect();
    dynconf::calibrate::sha256_hex(&bytes)[..16].to_string()
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
    for (model_path, fixtures_path) in MODELS {
        let (model, fixtures) = load(model_path, fixtures_path);
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
                "{model_path} {}: max |Δlogit| = {diff} > 1e-4 × {scale}",
                case.name
            );
        }
    }
}

#[test]
fn snn_spike_maps_match_pytorch_at_every_step_in_both_engines() {
    for (model_path, fixtures_path) in MODELS {
        let (model, fixtures) = load(model_path, fixtures_path);
        // The event-driven engine sums every spike-fed convolution's int8 weights in integers.
        let convolutions = model
            .spiking_layers()
            .filter(|&i| matches!(model.layers()[i].op, dynconf::layers::Op::Conv2d(_)))
            .count();
        assert_eq!(
            model.integer_event_stages(),
            (0..convolutions).collect::<Vec<_>>(),
            "{model_path}"
        );
        for engine in [Engine::Dense, Engine::EventDriven] {
            let mut simulation = Simulation::new(model.clone(), engine);
            for case in &fixtures.cases {
                let input = normalize_u8(model.input(), &case.pixels_chw);
                simulation.set_input_f64(&input).unwrap();
                let mut fired = 0;
                for t in 0..fixtures.steps {
                    let report = simulation.step();
                    let step = format!("{model_path} {} ({engine:?}), step {}", case.name, t + 1);
                    assert_eq!(
                        report.spikes_per_layer,
                        case.snn_spikes_per_layer[t].as_slice(),
                        "{step}: spikes per layer"
                    );
                    fired += report.spikes;
                    let expected = &case.snn_outputs[t];
                    let diff = max_abs_diff(report.output, expected);
                    assert!(diff <= 1e-3, "{step}: max |ΔO(t)| = {diff}");
                    assert_eq!(
                        decode::argmax(report.output),
                        decode::argmax(expected),
                        "{step}: prediction"
                    );
                    for (layer, hash) in case.snn_spike_maps[t].iter().enumerate() {
                        assert_eq!(
                            &spike_map_hash(simulation.spikes(layer)),
                            hash,
                            "{step}: spike map of IF layer {layer} (`{}`)",
                            model.stages()[layer].name
                        );
                    }
                }
                assert!(fired > 0, "{model_path} {}: the network spikes", case.name);
            }
        }
    }
}

/// The hash compares the maps themselves: a spike that moves to another neuron changes it,
/// though the count per layer stays.
#[test]
fn the_spike_map_hash_sees_a_moved_spike() {
    let a = [0.0f32, 1.0, 0.0, 0.0];
    let b = [1.0f32, 0.0, 0.0, 0.0];
    let hash = |m: &[f32]| spike_map_hash(m);
    assert_ne!(hash(&a), hash(&b));
    assert_eq!(hash(&a), hash(&a));
}
