//! The SNN on random models: engines agree, costs add up, and it converges to the quantized ANN.
#![cfg(not(target_arch = "wasm32"))] // native; the browser suite is tests/wasm.rs

mod common;

use std::sync::Arc;

use common::{random_input, random_model, ModelBuilder};
use dynconf::ann;
use dynconf::decode::argmax;
use dynconf::{Engine, Model, Simulation};

fn model(seed: u64) -> Arc<Model> {
    Arc::new(Model::from_bytes(&random_model(seed).build()).expect("valid model"))
}

#[test]
fn dense_and_event_driven_engines_give_identical_spikes() {
    for seed in 1..4 {
        assert_engines_agree(seed, model(seed));
    }
}

/// Int8 weights: the event-driven engine sums the spike-fed convolutions in integers (spikes,
/// spikes averaged by a pool, a convolution fused with its pool) and must still match the
/// dense engine's f32 sums bit for bit.
#[test]
fn integer_event_convolutions_give_identical_spikes() {
    for seed in 1..4 {
        let bytes = common::random_int8_model(seed).build();
        let model = Arc::new(Model::from_bytes(&bytes).expect("valid model"));
        assert_eq!(model.integer_event_stages(), [0, 1, 2], "every convolution");
        assert_engines_agree(seed, model);
    }
}

/// Int8 weights off the exporter's grid (a row scale of 0.1): the engine keeps the f32 sums.
#[test]
fn int8_weights_off_the_grid_keep_the_f32_event_path() {
    let mut builder = common::random_int8_model(1);
    let scale = &mut builder.tensors.get_mut("conv2.weight_scale").unwrap().bytes;
    scale[..4].copy_from_slice(&0.1f32.to_le_bytes());
    let model = Model::from_bytes(&builder.build()).expect("valid model");
    assert_eq!(model.integer_event_stages(), [0, 2]);
}

fn assert_engines_agree(seed: u64, model: Arc<Model>) {
    let mut dense = Simulation::new(Arc::clone(&model), Engine::Dense);
    let mut events = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    for image in 0..3 {
        let input = random_input(seed * 100 + image, model.input().len());
        dense.set_input_f64(&input).unwrap();
        events.set_input_f64(&input).unwrap();
        let mut total_spikes = 0;
        for t in 1..=24 {
            let a = dense.step();
            let (a_spikes, a_synops, a_output) = (a.spikes, a.synaptic_ops, a.output.to_vec());
            let b = events.step();
            assert_eq!(a_spikes, b.spikes, "seed {seed} image {image} t {t}");
            assert_eq!(a_synops, b.synaptic_ops);
            assert_eq!(a_output, b.output, "accumulated output");
            for layer in 0..dense.if_layer_count() {
                assert_eq!(
                    dense.spikes(layer),
                    events.spikes(layer),
                    "layer {layer} spikes at t {t}"
                );
                assert_eq!(
                    dense.membrane(layer),
                    events.membrane(layer),
                    "layer {layer} potentials at t {t}"
                );
            }
            total_spikes += a_spikes;
        }
        assert!(total_spikes > 0, "the random model should spike");
    }
}

/// The same at the real network's widths (24 to 256 channels, 31×31 down to 3×3 maps),
/// where the engine's full register tiles and the fused convolution + pooling run.
#[test]
fn engines_agree_at_the_real_network_size() {
    let model =
        Arc::new(Model::from_bytes(&common::random_full_size_model(3).build()).expect("valid"));
    assert_full_size_engines_agree(model);
}

/// The same with int8 weights in the v5–v7 layout (pooled spikes feed every other convolution;
/// 160 channels leave a partial register tile), the convolutions summed in integers.
#[test]
fn integer_engines_agree_at_the_real_network_size() {
    let bytes = common::random_full_size_int8_model(3).build();
    let model = Arc::new(Model::from_bytes(&bytes).expect("valid"));
    assert_eq!(model.integer_event_stages(), [0, 1, 2, 3, 4, 5]);
    assert_full_size_engines_agree(model);
}

fn assert_full_size_engines_agree(model: Arc<Model>) {
    let mut dense = Simulation::new(Arc::clone(&model), Engine::Dense);
    let mut events = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let input = random_input(17, model.input().len());
    dense.set_input_f64(&input).unwrap();
    events.set_input_f64(&input).unwrap();
    for t in 1..=6 {
        let a = dense.step();
        let (a_layers, a_output) = (a.spikes_per_layer.to_vec(), a.output.to_vec());
        let b = events.step();
        assert_eq!(a_layers, b.spikes_per_layer, "spikes per layer at t {t}");
        assert_eq!(a_output, b.output, "accumulated output at t {t}");
        assert!(a_layers.iter().all(|&s| s > 0), "every layer fires");
        for layer in 0..dense.if_layer_count() {
            assert_eq!(
                dense.membrane(layer),
                events.membrane(layer),
                "layer {layer}"
            );
        }
    }
}

#[test]
fn random_model_fires_at_moderate_rates_in_every_layer() {
    let model = model(7);
    let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    sim.set_input_f64(&random_input(3, model.input().len()))
        .unwrap();
    let mut per_layer = vec![0u64; sim.if_layer_count()];
    let steps = 32;
    for _ in 0..steps {
        let report = sim.step();
        for (total, &s) in per_layer.iter_mut().zip(report.spikes_per_layer) {
            *total += s as u64;
        }
    }
    for (stage, &spikes) in model.stages().iter().zip(&per_layer) {
        let rate = spikes as f64 / (stage.neurons() * steps) as f64;
        assert!(rate > 0.01 && rate < 0.9, "{}: rate {rate}", stage.name);
    }
}

#[test]
fn step_reports_add_up() {
    let model = model(2);
    let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    sim.set_input_f64(&random_input(9, model.input().len()))
        .unwrap();
    let (mut spikes, mut synops) = (0u64, 0u64);
    for t in 1..=10 {
        let report = sim.step();
        assert_eq!(report.t, t);
        assert_eq!(
            report.spikes,
            report
                .spikes_per_layer
                .iter()
                .map(|&s| s as u64)
                .sum::<u64>()
        );
        spikes += report.spikes;
        synops += report.synaptic_ops;
        assert_eq!(report.cumulative_spikes, spikes);
        assert_eq!(report.cumulative_synaptic_ops, synops);
        assert_eq!(report.decision.prediction, argmax(report.output));
        assert!((report.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // The paper's score is −log10(1 − max p) of the probabilities shown.
        let max_p = report.probabilities[report.decision.prediction] as f64;
        let from_score = 1.0 - 10f64.powf(-(report.decision.score as f64));
        assert!((max_p - from_score).abs() < 1e-4, "{max_p} vs {from_score}");
    }
    // Synaptic ops are this step's spikes weighted by their fan-out.
    let last = sim.step().synaptic_ops;
    let expected: u64 = (0..sim.if_layer_count())
        .map(|k| model.stages()[k].synaptic_ops(&sim.spikes(k).to_vec()))
        .sum();
    assert_eq!(last, expected);
}

#[test]
fn reset_and_set_input_replay_the_same_run() {
    let model = model(4);
    let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let input = random_input(5, model.input().len());
    sim.set_input_f64(&input).unwrap();
    let first: Vec<Vec<f32>> = (0..8).map(|_| sim.step().output.to_vec()).collect();
    sim.reset();
    let second: Vec<Vec<f32>> = (0..8).map(|_| sim.step().output.to_vec()).collect();
    assert_eq!(first, second);
    // f32 inputs are widened exactly, so the f32 entry point gives the same run.
    let narrow: Vec<f32> = input.iter().map(|&x| x as f32).collect();
    let widened: Vec<f64> = narrow.iter().map(|&x| x as f64).collect();
    sim.set_input(&narrow).unwrap();
    let third: Vec<Vec<f32>> = (0..8).map(|_| sim.step().output.to_vec()).collect();
    sim.set_input_f64(&widened).unwrap();
    let fourth: Vec<Vec<f32>> = (0..8).map(|_| sim.step().output.to_vec()).collect();
    assert_eq!(third, fourth);
    assert_eq!(sim.time_step(), 8);
    let err = sim.set_input_f64(&input[1..]).unwrap_err();
    assert!(err.to_string().contains(&format!("{}", input.len())));
}

#[test]
fn one_if_layer_reproduces_the_quantized_ann_at_t_equals_l() {
    // With a constant current, an IF neuron started at θ/2 fires floor(T·I/θ + 1/2) times
    // (clipped to 0..T) in T steps, which at T = L is exactly the QCFS level k.
    let levels = 4;
    for seed in 0..5 {
        let builder = ModelBuilder::new(seed, 3, 8, levels)
            .conv("conv0", 6, 3, 1, 1, 2.0)
            .if_layer("if0", 1.0)
            .global_avgpool()
            .linear("fc", 10, 2.0);
        let model = Arc::new(Model::from_bytes(&builder.build()).unwrap());
        let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
        for image in 0..4 {
            let input = random_input(seed * 10 + image, model.input().len());
            let logits = ann::logits(&model, &input).unwrap();
            sim.set_input_f64(&input).unwrap();
            let mut output = Vec::new();
            for _ in 0..levels {
                output = sim.step().output.to_vec();
            }
            for (o, z) in output.iter().zip(&logits) {
                assert!(
                    (o / levels as f32 - z).abs() < 1e-5,
                    "O(L)/L {o} vs ANN {z}"
                );
            }
        }
    }
}

/// Deeper networks do not reproduce the ANN exactly (spikes arrive unevenly), but the rate
/// O(t)/t settles close to the quantized ANN's logits and picks the same class.
#[test]
fn deep_snn_approaches_the_quantized_ann_as_t_grows() {
    let model = model(11);
    let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let checkpoints = [4usize, 32, 128];
    let images = 16;
    let mut error = [0.0f64; 3];
    let mut agree = [0usize; 3];
    let mut magnitude = 0.0f64;
    for image in 0..images {
        let input = random_input(1000 + image, model.input().len());
        let logits = ann::logits(&model, &input).unwrap();
        magnitude += logits.iter().map(|z| z.abs() as f64).sum::<f64>();
        sim.set_input_f64(&input).unwrap();
        for t in 1..=checkpoints[2] {
            let report = sim.step();
            if let Some(c) = checkpoints.iter().position(|&k| k == t) {
                let rate: Vec<f32> = report.output.iter().map(|o| o / t as f32).collect();
                error[c] += rate
                    .iter()
                    .zip(&logits)
                    .map(|(r, z)| (r - z).abs() as f64)
                    .sum::<f64>();
                agree[c] += (argmax(&rate) == argmax(&logits)) as usize;
            }
        }
    }
    assert!(
        error[1] < 0.8 * error[0] && error[2] < 0.8 * error[0],
        "|O(t)/t − ANN| should shrink: {error:?}"
    );
    assert!(
        error[2] < 0.1 * magnitude,
        "relative error at T=128: {}",
        error[2] / magnitude
    );
    assert!(
        agree[2] as f64 >= 0.75 * images as f64,
        "argmax agreement at T=128: {agree:?} of {images}"
    );
}

/// The quantized ANN, written out layer by layer with the dense forms only.
fn plain_ann(model: &Model, input: &[f64]) -> Vec<f32> {
    let analog = model.analog_layers();
    let mut x64 = input.to_vec();
    for layer in analog {
        let mut y = vec![0.0f64; layer.output_shape.len()];
        layer.forward_dense(&x64, &mut y);
        x64 = y;
    }
    let mut x: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
    for layer in &model.layers()[analog.len()..] {
        x = match layer.op {
            dynconf::layers::Op::If { threshold } => x
                .iter()
                .map(|&z| ann::qcfs(z, model.levels(), threshold))
                .collect(),
            _ => {
                let mut y = vec![0.0f32; layer.output_shape.len()];
                layer.forward_dense(&x, &mut y);
                y
            }
        };
    }
    x
}

#[test]
fn quantized_ann_matches_a_plain_dense_forward_pass() {
    for seed in 1..4 {
        let model = model(seed);
        let mut ann = ann::QuantizedAnn::new(&model);
        for image in 0..3 {
            let input = random_input(seed * 7 + image, model.input().len());
            assert_eq!(
                ann.logits(&model, &input).unwrap(),
                plain_ann(&model, &input).as_slice()
            );
        }
    }
}

/// Residual graphs (format version 2): identity shortcuts of spikes and of pooled spikes, a
/// strided 1×1 convolution shortcut, pools before and after IF layers. Both engines, and the
/// integer and f32 event paths, give the same spikes, potentials and outputs bit for bit.
#[test]
fn engines_agree_on_residual_graphs() {
    for seed in 1..4 {
        let model =
            Arc::new(Model::from_bytes(&common::random_residual_model(seed).build()).unwrap());
        assert_engines_agree(seed, Arc::clone(&model));
        let int8 = common::random_residual_int8_model(seed);
        let model = Arc::new(Model::from_bytes(&int8.build()).unwrap());
        assert_eq!(
            model.integer_event_stages(),
            [0, 1, 2, 3, 4, 5, 6, 7],
            "every spike-fed convolution"
        );
        assert_engines_agree(seed, Arc::clone(&model));
        assert_integer_and_f32_event_paths_agree(seed, model);
    }
}

fn assert_integer_and_f32_event_paths_agree(seed: u64, model: Arc<Model>) {
    let mut integer = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let mut float = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    float.set_integer_weights(false);
    let input = random_input(seed, model.input().len());
    integer.set_input_f64(&input).unwrap();
    float.set_input_f64(&input).unwrap();
    for t in 1..=16 {
        let a = integer.step().output.to_vec();
        assert_eq!(a, float.step().output, "seed {seed} t {t}");
        for layer in 0..integer.if_layer_count() {
            assert_eq!(integer.spikes(layer), float.spikes(layer), "t {t}");
        }
    }
}

/// The quantized ANN on a residual graph equals a direct channels-first evaluation of the
/// graph (the layers' reference forms, an add summing its inputs with spiking ones times
/// their IF layer's θ), and the SNN's O(T)/T approaches it.
#[test]
fn quantized_ann_follows_the_graph() {
    use dynconf::layers::Op;
    use dynconf::model::Signal;
    for seed in 1..4 {
        let model =
            Arc::new(Model::from_bytes(&common::random_residual_model(seed).build()).unwrap());
        let input = random_input(seed, model.input().len());
        let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
        sim.set_input_f64(&input).unwrap();
        let layers = model.layers();
        let mut values: Vec<Vec<f32>> = vec![Vec::new(); layers.len()];
        let last_analog = model.spiking_layers().start - 1;
        values[last_analog] = sim.input_current().to_vec();
        for i in model.spiking_layers() {
            let layer = &layers[i];
            let x = |k: usize| values[layer.inputs[k]].as_slice();
            let mut y = vec![0.0f32; layer.output_shape.len()];
            match &layer.op {
                Op::If { threshold } => {
                    for (o, &z) in y.iter_mut().zip(x(0)) {
                        *o = ann::qcfs(z, model.levels(), *threshold);
                    }
                }
                Op::Add => {
                    for k in 0..layer.inputs.len() {
                        let scale = match model.signal(layer.inputs[k]) {
                            Signal::Spikes { source } => match layers[source].op {
                                Op::If { threshold } => threshold,
                                _ => unreachable!(),
                            },
                            _ => 1.0,
                        };
                        for (o, &v) in y.iter_mut().zip(x(k)) {
                            *o += v * scale;
                        }
                    }
                }
                _ => layer.forward_dense(x(0), &mut y),
            }
            values[i] = y;
        }
        let expected = values.last().unwrap();
        let logits = ann::logits(&model, &input).unwrap();
        for (a, b) in logits.iter().zip(expected) {
            assert!(
                (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                "{logits:?} vs {expected:?}"
            );
        }
        let steps = 64;
        for _ in 0..steps {
            sim.step();
        }
        let rate: Vec<f32> = sim.output().iter().map(|o| o / steps as f32).collect();
        let spread = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
        let gap = rate
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(gap < 0.25 * spread, "O(T)/T {rate:?} vs ANN {expected:?}");
    }
}

/// The shapes of the field's networks load and run, both engines agreeing: the CIFAR
/// ResNet-18 (identity and 1×1 convolution shortcuts) and VGG-16 (a linear classifier with IF
/// layers between its layers).
#[test]
fn resnet18_and_vgg16_shapes_load_and_run() {
    for (name, builder, if_layers) in [
        ("ResNet-18", common::random_resnet18_shape(1), 17),
        ("VGG-16", common::random_vgg16_shape(1), 15),
    ] {
        let model =
            Arc::new(Model::from_bytes(&builder.build()).unwrap_or_else(|e| panic!("{name}: {e}")));
        assert_eq!(model.stages().len(), if_layers, "{name}");
        let mut dense = Simulation::new(Arc::clone(&model), Engine::Dense);
        let mut events = Simulation::new(Arc::clone(&model), Engine::EventDriven);
        let input = random_input(5, model.input().len());
        dense.set_input_f64(&input).unwrap();
        events.set_input_f64(&input).unwrap();
        for t in 1..=3 {
            let a = dense.step();
            let (spikes, output) = (a.spikes_per_layer.to_vec(), a.output.to_vec());
            let b = events.step();
            assert_eq!(spikes, b.spikes_per_layer, "{name} t {t}");
            assert_eq!(output, b.output, "{name} t {t}");
        }
        assert!(events.cumulative_spikes() > 0, "{name} spikes");
    }
}

/// `Simulation::run` is the stop rule of Dynamic Confidence applied step by step: it stops at
/// the first step whose score is above θ, or at T_max, and shows every step on the way.
#[test]
fn run_stops_at_the_first_confident_step_or_at_t_max() {
    use dynconf::decode::DEFAULT_MAX_STEPS;
    use dynconf::{Decoder, StopRule};
    let model = model(2);
    let input = random_input(7, model.input().len());
    let mut reference = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    reference.set_decoder(Decoder::MaxSoftmax { kappa: 2.0 });
    reference.set_input_f64(&input).unwrap();
    let scores: Vec<f32> = (0..20).map(|_| reference.step().decision.score).collect();
    let mut sorted = scores.clone();
    sorted.sort_by(f32::total_cmp);
    // θ between two scores (some step is above it), and θ above them all.
    for threshold in [sorted[10] as f64, f64::INFINITY] {
        let rule = StopRule {
            threshold,
            max_steps: 20,
        };
        let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
        sim.set_decoder(Decoder::MaxSoftmax { kappa: 2.0 });
        sim.set_input_f64(&input).unwrap();
        let mut seen = Vec::new();
        let stop = sim.run(&rule, |report| seen.push(report.decision.score));
        let expected = dynconf::decode::stop_step(&scores, threshold) as u32;
        assert_eq!(stop.t, expected, "θ = {threshold}");
        assert_eq!(stop.confident, threshold.is_finite());
        assert_eq!(seen, scores[..expected as usize]);
        assert_eq!(sim.report().t, expected);
        assert_eq!(sim.report().decision.score, scores[expected as usize - 1]);
        // The rest of a fixed-length run continues from there.
        let rest = sim.run(&StopRule::fixed(20), |_| {});
        assert_eq!((rest.t, rest.confident), (20, false));
    }
    assert_eq!(StopRule::max_steps_for(None, None), DEFAULT_MAX_STEPS);
    assert_eq!(StopRule::max_steps_for(None, Some(12)), 12);
    assert_eq!(StopRule::max_steps_for(Some(5), Some(12)), 5);
}
