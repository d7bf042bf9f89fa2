//! Time per SNN step for one image, dense vs event-driven, on the same inputs in one run.
//!
//! `cargo bench --bench step [-- OPTIONS]` (plain harness, prints a table and the ratios):
//!
//! - `--model PATH`: the network (default `models/dynconf-cifar10-v7.safetensors`). A
//!   ResNet-18-shaped network with realistic firing rates: `training/make_test_models.py`
//!   writes `/tmp/graph-models/resnet18-shape.safetensors`.
//! - `--images N` (default 8): the first N validation images (records 5000.. of
//!   `data_batch_5.bin` in `../shared/cifar10/cifar-10-batches-bin`), so the layers fire at
//!   the model's real rates; random inputs without the data (said in the output).
//! - `--steps T` (default 32): steps per image from t = 1, as evaluation runs them. Only the
//!   steps are timed, not setting the input (the analog first layer, once per image).
//! - `--rounds R` (default 7): a round times every image with each engine in turn; the figure
//!   is the median round, which rejects the noise of a shared machine.
//! - `--baseline-simd`: the kernels use the build's baseline vectors (SSE2, as wide as wasm's
//!   simd128) instead of AVX2, for comparison.
//! - `--event-only`: skip the dense engine and the ANN (slow on big networks).
//! - `--json`: one JSON object (`benches/wasm_vs_native.mjs` reads it) instead of the table.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use dynconf::ann::QuantizedAnn;
use dynconf::layers::Op;
use dynconf::{cifar, preprocess, Engine, Model, Simulation};

/// What the command line asks for.
struct Options {
    model: PathBuf,
    images: usize,
    steps: usize,
    rounds: usize,
    baseline_simd: bool,
    event_only: bool,
    json: bool,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut options = Options {
            model: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("models/dynconf-cifar10-v7.safetensors"),
            images: 8,
            steps: 32,
            rounds: 7,
            baseline_simd: false,
            event_only: false,
            json: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut count = |name: &str| -> Result<usize, String> {
                let value = args.next().ok_or(format!("{name} needs a value"))?;
                value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("{name} takes a whole number ≥ 1, found {value:?}"))
            };
            match arg.as_str() {
                "--model" => options.model = args.next().ok_or("--model needs a path")?.into(),
                "--images" => options.images = count("--images")?,
                "--steps" => options.steps = count("--steps")?,
                "--rounds" => options.rounds = count("--rounds")?,
                "--baseline-simd" => options.baseline_simd = true,
                "--event-only" => options.event_only = true,
                "--json" => options.json = true,
                "--bench" => {} // added by `cargo bench`
                other => return Err(format!("unknown option {other:?} (see benches/step.rs)")),
            }
        }
        Ok(options)
    }
}

fn load_model(path: &Path) -> Result<Arc<Model>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Arc::new(model))
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

/// Seconds per step for one pass over every input (the steps only, not setting the input).
fn time_steps(sim: &mut Simulation, inputs: &[Vec<f64>], steps: usize) -> f64 {
    let mut seconds = 0.0;
    for input in inputs {
        sim.set_input_f64(input).unwrap();
        let start = Instant::now();
        for _ in 0..steps {
            std::hint::black_box(sim.step().spikes);
        }
        seconds += start.elapsed().as_secs_f64();
    }
    seconds / (inputs.len() * steps) as f64
}

/// A simulation with the benchmark's vector width.
fn simulation(model: &Arc<Model>, engine: Engine, options: &Options) -> Simulation {
    let mut sim = Simulation::new(Arc::clone(model), engine);
    sim.set_widest_vectors(!options.baseline_simd);
    sim
}

fn main() {
    let options = Options::parse().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let model = load_model(&options.model).unwrap_or_else(|e| {
        eprintln!("error: cannot load the model: {e}");
        std::process::exit(1)
    });
    let (images, steps, rounds) = (options.images, options.steps, options.rounds);
    let (input_name, inputs) = load_inputs(&model, images);
    if options.json {
        return print_json(&model, &inputs, &options);
    }
    let macs = dense_macs_per_step(&model);
    println!("model: {}", options.model.display());
    println!(
        "inputs: {input_name}, {steps} steps each; {} IF neurons; {:.1} M MAC per dense step",
        model.neuron_count(),
        macs as f64 / 1e6
    );

    // Firing rates over the same runs (spikes per neuron per step, each IF layer).
    let mut sim = simulation(&model, Engine::EventDriven, &options);
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

    let mut dense = simulation(&model, Engine::Dense, &options);
    let mut events = simulation(&model, Engine::EventDriven, &options);
    // The event-driven engine adding f32 weight rows instead of summing int8 weights.
    let mut f32_events = simulation(&model, Engine::EventDriven, &options);
    f32_events.set_integer_weights(false);
    let (mut dense_times, mut event_times, mut f32_times) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        if !options.event_only {
            dense_times.push(time_steps(&mut dense, &inputs, steps));
        }
        event_times.push(time_steps(&mut events, &inputs, steps));
        f32_times.push(time_steps(&mut f32_events, &inputs, steps));
    }
    let event_step = median(&mut event_times);
    let f32_step = median(&mut f32_times);
    let synops_rate = |seconds: f64| synops as f64 / runs / seconds / 1e9;
    let spike_fed_convolutions = model
        .spiking_layers()
        .filter(|&i| matches!(model.layers()[i].op, Op::Conv2d(_)))
        .count();
    // After sorting (in `median`), the first round is the fastest: the least disturbed by
    // other work on a shared machine.
    println!("per step (median of {rounds} rounds; fastest round in brackets):");
    if !options.event_only {
        let dense_step = median(&mut dense_times);
        let gflops = |seconds: f64| 2.0 * macs as f64 / seconds / 1e9;
        println!(
            "dense:        {:8.3} ms  [{:.3}]  {:.1} GFLOP/s [{:.1}] (2 × MAC / time)",
            dense_step * 1e3,
            dense_times[0] * 1e3,
            gflops(dense_step),
            gflops(dense_times[0])
        );
        println!(
            "ratio: event-driven is {:.2}× faster than dense per step ({:.2}× between the fastest rounds)",
            dense_step / event_step,
            dense_times[0] / event_times[0]
        );
    }
    println!(
        "event-driven: {:8.3} ms  [{:.3}]  {:.1} images/s at T = {steps}; {:.2} G synaptic ops/s",
        event_step * 1e3,
        event_times[0] * 1e3,
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
    if !options.event_only {
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
        println!(
            "quantized ANN: {:7.3} ms per image",
            median(&mut ann_times) * 1e3
        );
    }
}

/// The event-driven step with int8 and with f32 weight rows, for `benches/wasm_vs_native.mjs`:
/// `{images, steps, rounds, ms_per_step, ms_per_step_min, f32_ms_per_step,
/// f32_ms_per_step_min}` (milliseconds, median and fastest round).
fn print_json(model: &Arc<Model>, inputs: &[Vec<f64>], options: &Options) {
    let mut events = simulation(model, Engine::EventDriven, options);
    let mut f32_events = simulation(model, Engine::EventDriven, options);
    f32_events.set_integer_weights(false);
    let steps = options.steps;
    time_steps(&mut events, inputs, steps); // warm-up
    let (mut times, mut f32_times) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds {
        times.push(time_steps(&mut events, inputs, steps) * 1e3);
        f32_times.push(time_steps(&mut f32_events, inputs, steps) * 1e3);
    }
    let (ms, f32_ms) = (median(&mut times), median(&mut f32_times));
    println!(
        "{{\"images\":{},\"steps\":{steps},\"rounds\":{},\"ms_per_step\":{ms},\"ms_per_step_min\":{},\"f32_ms_per_step\":{f32_ms},\"f32_ms_per_step_min\":{}}}",
        inputs.len(),
        options.rounds,
        times[0],
        f32_times[0]
    );
}
