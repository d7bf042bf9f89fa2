//! Time per SNN step for one image, dense vs event-driven, on the same inputs in one run.
//!
//! `cargo bench --bench step` (plain harness, prints a table and the ratio).
//!
//! - Model: `$DYNCONF_BENCH_MODEL`, else `models/dynconf-cifar10-v7.safetensors`, else
//!   `models/dev-smoke.safetensors`, else a random network of the same shape. A ResNet-18-shaped
//!   network with realistic firing rates: `training/make_test_models.py` writes
//!   `/tmp/graph-models/resnet18-shape.safetensors`.
//! - Inputs: the first `$DYNCONF_BENCH_IMAGES` (default 8) validation images (records
//!   5000.. of `data_batch_5.bin` in `../shared/cifar10/cifar-10-batches-bin`), so the layers
//!   fire at the model's real rates; random inputs without the data.
//! - Each image runs `$DYNCONF_BENCH_STEPS` (default 32) steps from t = 1, as evaluation
//!   does. A round times every image with each engine in turn; the figure is the median
//!   round of `$DYNCONF_BENCH_ROUNDS` (default 7), which rejects the noise of a shared
//!   machine.
//! - `DYNCONF_SIMD=baseline` runs the SSE2 kernels instead of AVX2, for comparison.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use dynconf::ann::QuantizedAnn;
use dynconf::layers::Op;
use dynconf::{cifar, preprocess, Engine, Model, Simulation};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_model() -> (String, Arc<Model>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates: Vec<PathBuf> = match std::env::var_os("DYNCONF_BENCH_MODEL") {
        Some(path) => vec![PathBuf::from(path)],
        None => vec![
            root.join("models/dynconf-cifar10-v7.safetensors"),
            root.join("models/dev-smoke.safetensors"),
        ],
    };
    for path in candidates {
        if let Ok(bytes) = std::fs::read(&path) {
            let model = Model::from_bytes(&bytes).expect("a valid model");
            return (path.display().to_string(), Arc::new(model));
        }
    }
    let bytes = common::random_full_size_model(1).build();
    let model = Model::from_bytes(&bytes).expect("valid model");
    ("random full-size network".into(), Arc::new(model))
}

fn load_inputs(model: &Model, count: usize) -> (String, Vec<Vec<f64>>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cifar10/cifar-10-batches-bin");
    match cifar::load_split(&dir, "validation") {
        Ok(batch) if model.input().len() == cifar::IMAGE_BYTES => {
            let inputs = (0..count.min(batch.len()))
                .map(|i| preprocess::normalize_u8(model.input(), batch.image(i)))
                .collect();
            (format!("the first {count} validation images"), inputs)
        }
        _ => {
            let inputs = (0..count as u64)
                .map(|i| common::random_input(i, model.input().len()))
                .collect();
            (format!("{count} random inputs (no CIFAR-10 data)"), inputs)
        }
    }
}

/// Multiply-accumulates of one dense step: every weighted layer after the analog ones.
fn dense_macs_per_step(model: &Model) -> u64 {
    model.layers()[model.spiking_layers()]
        .iter()
        .map(|layer| match &layer.op {
            Op::Conv2d(conv) => {
                (layer.output_shape.len() * conv.in_channels * conv.kernel * conv.kernel) as u64
            }
            Op::Linear(linear) => (linear.in_features * linear.out_features) as u64,
            _ => 0,
        })
        .sum()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Seconds per step for one pass over every input.
fn time_steps(sim: &mut Simulation, inputs: &[Vec<f64>], steps: usize) -> f64 {
    let start = Instant::now();
    for input in inputs {
        sim.set_input_f64(input).unwrap();
        for _ in 0..steps {
            std::hint::black_box(sim.step().spikes);
        }
    }
    start.elapsed().as_secs_f64() / (inputs.len() * steps) as f64
}

fn main() {
    let (model_name, model) = load_model();
    let images = env_or("DYNCONF_BENCH_IMAGES", 8);
    let steps = env_or("DYNCONF_BENCH_STEPS", 32);
    let rounds = env_or("DYNCONF_BENCH_ROUNDS", 7).max(1);
    let (input_name, inputs) = load_inputs(&model, images);
    let macs = dense_macs_per_step(&model);
    println!("model: {model_name}");
    println!(
        "inputs: {input_name}, {steps} steps each; {} IF neurons; {:.1} M MAC per dense step",
        model.neuron_count(),
        macs as f64 / 1e6
    );

    // Firing rates over the same runs (spikes per neuron per step, each IF layer).
    let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let stages = model.stages();
    let mut per_layer = vec![0u64; stages.len()];
    let mut synops = 0u64;
    for input in &inputs {
        sim.set_input_f64(input).unwrap();
        for _ in 0..steps {
            let report = sim.step();
            synops += report.synaptic_ops;
            for (total, &s) in per_layer.iter_mut().zip(report.spikes_per_layer) {
                *total += s as u64;
            }
        }
    }
    let runs = (inputs.len() * steps) as f64;
    let rates: Vec<String> = stages
        .iter()
        .zip(&per_layer)
        .map(|(s, &n)| format!("{} {:.3}", s.name, n as f64 / runs / s.neurons() as f64))
        .collect();
    let overall = per_layer.iter().sum::<u64>() as f64 / runs / model.neuron_count() as f64;
    println!(
        "firing rate per neuron per step: {overall:.3} ({})",
        rates.join(", ")
    );
    println!(
        "synaptic ops per step: {:.2} M ({:.1}% of the dense MACs)",
        synops as f64 / runs / 1e6,
        100.0 * synops as f64 / runs / macs as f64
    );

    let mut dense = Simulation::new(Arc::clone(&model), Engine::Dense);
    let mut events = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    // The event-driven engine adding f32 weight rows instead of summing int8 weights.
    let mut f32_events = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    f32_events.set_integer_weights(false);
    let (mut dense_times, mut event_times, mut f32_times) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        dense_times.push(time_steps(&mut dense, &inputs, steps));
        event_times.push(time_steps(&mut events, &inputs, steps));
        f32_times.push(time_steps(&mut f32_events, &inputs, steps));
    }
    let (dense_step, event_step) = (median(&mut dense_times), median(&mut event_times));
    let f32_step = median(&mut f32_times);
    // After sorting (in `median`), the first round is the fastest: the least disturbed by
    // other work on a shared machine.
    let (dense_best, event_best) = (dense_times[0], event_times[0]);
    let mut ann = QuantizedAnn::new(&model);
    let mut ann_times: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for input in &inputs {
                std::hint::black_box(ann.logits(&model, input).unwrap());
            }
            start.elapsed().as_secs_f64() / inputs.len() as f64
        })
        .collect();

    let gflops = |seconds: f64| 2.0 * macs as f64 / seconds / 1e9;
    let spike_fed_convolutions = model
        .spiking_layers()
        .filter(|&i| matches!(model.layers()[i].op, Op::Conv2d(_)))
        .count();
    println!("per step (median of {rounds} rounds; fastest round in brackets):");
    println!(
        "dense:        {:8.3} ms  [{:.3}]  {:.1} GFLOP/s [{:.1}] (2 × MAC / time)",
        dense_step * 1e3,
        dense_best * 1e3,
        gflops(dense_step),
        gflops(dense_best)
    );
    let synops_rate = |seconds: f64| synops as f64 / runs / seconds / 1e9;
    println!(
        "event-driven: {:8.3} ms  [{:.3}]  {:.1} images/s at T = {steps}; {:.2} G synaptic ops/s",
        event_step * 1e3,
        event_best * 1e3,
        1.0 / (event_step * steps as f64),
        synops_rate(event_step)
    );
    println!(
        "  f32 weights: {:7.3} ms  [{:.3}]  {:.2} G synaptic ops/s (integer sums on {} of {} spike-fed convolutions: {:.2}× faster)",
        f32_step * 1e3,
        f32_times[0] * 1e3,
        synops_rate(f32_step),
        model.integer_event_stages().len(),
        spike_fed_convolutions,
        f32_step / event_step
    );
    println!(
        "quantized ANN: {:7.3} ms per image",
        median(&mut ann_times) * 1e3
    );
    println!(
        "ratio: event-driven is {:.2}× faster than dense per step ({:.2}× between the fastest rounds)",
        dense_step / event_step,
        dense_best / event_best
    );
}
