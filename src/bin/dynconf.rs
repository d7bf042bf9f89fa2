//! `dynconf`: evaluate, calibrate and try out a Dynamic Confidence SNN from the command line.
//!
//! Thin by design: parse arguments, read files, fan images out over threads, print. All the
//! method lives in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use dynconf::ann::QuantizedAnn;
use dynconf::calibrate::{self, Calibration, DecodingComparison};
use dynconf::cifar::{self, Batch};
use dynconf::eval::{self, ImageRun, Summary};
use dynconf::{preprocess, Decoding, Engine, Model, Simulation, StopRule};

const DEFAULT_MODEL: &str = "models/dynconf-cifar10-v6.safetensors";
const DEFAULT_DATA: &str = "../shared/cifar10/cifar-10-batches-bin";

#[derive(Parser)]
#[command(
    name = "dynconf",
    version,
    about = "Dynamic Confidence for spiking neural networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Accuracy and cost of fixed-length runs, Dynamic Confidence and the oracle on a split.
    Eval(EvalArgs),
    /// Choose the decoding and threshold on a validation split; writes <model>.calibration.json.
    Calibrate(CalibrateArgs),
    /// Run images (PNG, JPEG, WebP, GIF) step by step and show where Dynamic Confidence stops.
    Classify(ClassifyArgs),
    /// Time per SNN step on one thread (median of several rounds over the same images), for
    /// comparing builds and engines (benches/wasm_vs_native.mjs runs the same loop in a browser).
    BenchStep(BenchStepArgs),
}

#[derive(Args)]
struct ModelArgs {
    /// Model file (dynconf-snn safetensors).
    #[arg(long, default_value = DEFAULT_MODEL)]
    model: PathBuf,
    /// Time steps per input (T_max).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_steps: u32,
}

#[derive(Args)]
struct DataArgs {
    /// Directory of CIFAR-10 binary batches.
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// `validation` (records 5000.. of data_batch_5), `test` (test_batch.bin) or NAME (NAME.bin).
    #[arg(long, default_value = "validation")]
    split: String,
    /// Use only the first N images.
    #[arg(long)]
    limit: Option<usize>,
}

/// Threshold and decoding overrides; by default both come from the calibration file.
#[derive(Args)]
struct ThresholdArgs {
    /// Confidence threshold: stop at the first step with confidence above it.
    #[arg(long)]
    threshold: Option<f64>,
    /// Decoding: `kappa=K` (softmax of O(t)/K) or `divide-by-t` (softmax of O(t)/t).
    #[arg(long)]
    decoding: Option<Decoding>,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    stop: ThresholdArgs,
    /// Propagation engine (both give identical spikes).
    #[arg(long, value_enum, default_value_t = EngineArg::Event)]
    engine: EngineArg,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Skip the quantized-ANN pass (no ANN accuracy), e.g. to time the SNN alone.
    #[arg(long)]
    no_ann: bool,
}

#[derive(Args)]
struct CalibrateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Accepted accuracy loss against the full-length run, as a fraction.
    #[arg(long, default_value_t = calibrate::DEFAULT_TOLERANCE)]
    tolerance: f64,
    /// Decodings to compare, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kappa=1,kappa=2,kappa=4,kappa=8,kappa=16,kappa=30,divide-by-t"
    )]
    decodings: Vec<Decoding>,
    /// Where to write the calibration (default: next to the model).
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct ClassifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    stop: ThresholdArgs,
    /// Image files.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

#[derive(Args)]
struct BenchStepArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Propagation engine.
    #[arg(long, value_enum, default_value_t = EngineArg::Event)]
    engine: EngineArg,
    /// Timed passes over the images; the median pass is reported.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum EngineArg {
    Dense,
    Event,
}

impl From<EngineArg> for Engine {
    fn from(arg: EngineArg) -> Engine {
        match arg {
            EngineArg::Dense => Engine::Dense,
            EngineArg::Event => Engine::EventDriven,
        }
    }
}

type CliResult<T> = Result<T, String>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> CliResult<()> {
    if let Some(threads) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    match cli.command {
        Command::Eval(args) => eval_command(args),
        Command::Calibrate(args) => calibrate_command(args),
        Command::Classify(args) => classify_command(args),
        Command::BenchStep(args) => bench_step_command(args),
    }
}

// ---------------------------------------------------------------- files

fn load_model(path: &Path) -> CliResult<Arc<Model>> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read model {}: {e}\n  (train and export one with training/, or pass --model PATH)",
            path.display()
        )
    })?;
    Model::from_bytes(&bytes)
        .map(Arc::new)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `models/x.safetensors` → `models/x.calibration.json`.
fn calibration_path(model: &Path) -> PathBuf {
    model.with_extension("calibration.json")
}

fn read_calibration(model: &Path) -> CliResult<Option<Calibration>> {
    let path = calibration_path(model);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn load_data(args: &DataArgs, model: &Model) -> CliResult<Batch> {
    if model.input().len() != cifar::IMAGE_BYTES {
        return Err(format!(
            "the model expects {} input values; CIFAR-10 images have 3×32×32",
            model.input().len()
        ));
    }
    let mut batch = cifar::load_split(&args.data, &args.split).map_err(|e| {
        format!("{e}\n  (CIFAR-10 binary batches: see ../shared/cifar10/README.md, or the official cifar-10-binary.tar.gz)")
    })?;
    if let Some(limit) = args.limit {
        batch.truncate(limit);
    }
    if batch.is_empty() {
        return Err("no images to run".into());
    }
    Ok(batch)
}

/// The decoding and threshold to use: flags first, then the calibration file.
fn resolve_stop(args: &ThresholdArgs, model_path: &Path) -> CliResult<Option<(Decoding, f64)>> {
    let calibration = read_calibration(model_path)?;
    let calibrated = calibration.as_ref().map(|c| (c.decoding, c.threshold));
    Ok(match (args.threshold, args.decoding, calibrated) {
        (Some(t), Some(d), _) => Some((d, t)),
        (Some(t), None, Some((d, _))) => Some((d, t)),
        (Some(t), None, None) => Some((Decoding::default(), t)),
        (None, Some(d), Some((cd, ct))) if d == cd => Some((d, ct)),
        (None, Some(d), Some((cd, _))) => {
            return Err(format!(
                "the calibrated threshold belongs to decoding {cd}; pass --threshold to use {d}"
            ))
        }
        (None, _, Some(pair)) => Some(pair),
        (None, _, None) => None,
    })
}

// ---------------------------------------------------------------- running

/// Runs every image to `max_steps` in parallel, one simulation per worker thread.
fn run_batch(
    model: &Arc<Model>,
    batch: &Batch,
    max_steps: u32,
    engine: Engine,
    with_ann: bool,
) -> CliResult<Vec<ImageRun>> {
    let progress = ProgressBar::new(batch.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  eta {eta}")
            .expect("valid template"),
    );
    let runs = (0..batch.len())
        .into_par_iter()
        .map_init(
            || {
                (
                    Simulation::new(Arc::clone(model), engine),
                    with_ann.then(|| QuantizedAnn::new(model)),
                )
            },
            |(simulation, ann), i| {
                let input = preprocess::normalize_u8(model.input(), batch.image(i));
                let run =
                    eval::run_image(simulation, ann.as_mut(), &input, batch.label(i), max_steps);
                progress.inc(1);
                run
            },
        )
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string());
    progress.finish_and_clear();
    runs
}

// ---------------------------------------------------------------- eval

#[derive(Serialize)]
struct EvalJson<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    seconds: f64,
}

fn eval_command(args: EvalArgs) -> CliResult<()> {
    let model = load_model(&args.model.model)?;
    let (decoding, threshold) = resolve_stop(&args.stop, &args.model.model)?.ok_or_else(|| {
        format!(
            "no threshold: run `dynconf calibrate --model {}` first (it writes {}), or pass --threshold",
            args.model.model.display(),
            calibration_path(&args.model.model).display()
        )
    })?;
    let batch = load_data(&args.data, &model)?;
    let start = Instant::now();
    let runs = run_batch(
        &model,
        &batch,
        args.model.max_steps,
        args.engine.into(),
        !args.no_ann,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let summary = eval::summarize(&runs, model.neuron_count(), decoding, threshold);
    if args.json {
        let json = serde_json::to_string(&EvalJson {
            summary: &summary,
            seconds,
        })
        .map_err(|e| e.to_string())?;
        println!("{json}");
    } else {
        print_eval(&summary, &args, seconds);
    }
    Ok(())
}

fn percent(fraction: f64) -> String {
    format!("{:.2}%", 100.0 * fraction)
}

fn print_eval(s: &Summary, args: &EvalArgs, seconds: f64) {
    println!(
        "model {}  split {} ({} images)  T_max {}",
        args.model.model.display(),
        args.data.split,
        s.images,
        s.max_steps
    );
    if let Some(ann) = s.ann_accuracy {
        println!("quantized ANN accuracy   {}", percent(ann));
    }
    println!("\nfixed length\n   T  accuracy");
    for f in &s.fixed {
        println!("{:>4}  {:>8}", f.steps, percent(f.accuracy));
    }
    let d = &s.dynamic;
    println!(
        "\nDynamic Confidence ({}, threshold {:.6})",
        s.decoding, d.threshold
    );
    println!(
        "  accuracy {}  mean steps {:.2}",
        percent(d.accuracy),
        d.mean_steps
    );
    println!(
        "  latency reduction {:.1}% (vs T={}, the shortest fixed length at least as accurate)",
        100.0 * s.latency_reduction,
        s.latency_reference_steps
    );
    println!(
        "oracle (stop at first correct step)  accuracy {}  mean steps {:.2}",
        percent(s.oracle.accuracy),
        s.oracle.mean_steps
    );
    println!("\ncost per inference        DC     T={}", s.max_steps);
    println!(
        "  spikes per neuron {:>8.3} {:>8.3}",
        d.spikes_per_neuron, s.fixed_full.spikes_per_neuron
    );
    println!(
        "  synaptic ops      {:>8.3e} {:>8.3e}",
        d.synops, s.fixed_full.synops
    );
    println!(
        "\n{:.1} images/s ({seconds:.1} s)",
        s.images as f64 / seconds.max(1e-9)
    );
}

// ---------------------------------------------------------------- calibrate

fn calibrate_command(args: CalibrateArgs) -> CliResult<()> {
    if args.data.split == "test" {
        return Err("calibrating on the test split would tune the threshold on test data; use --split validation".into());
    }
    if args.decodings.is_empty() {
        return Err("no decodings to compare".into());
    }
    let model = load_model(&args.model.model)?;
    let batch = load_data(&args.data, &model)?;
    let runs = run_batch(
        &model,
        &batch,
        args.model.max_steps,
        Engine::EventDriven,
        false,
    )?;

    let traces: Vec<_> = args
        .decodings
        .iter()
        .map(|&d| eval::traces(&runs, d))
        .collect();
    let calibrations: Vec<_> = args
        .decodings
        .iter()
        .zip(&traces)
        .map(|(&d, t)| calibrate::calibrate(d, t, args.tolerance))
        .collect();
    let best = calibrate::best_decoding(&calibrations).expect("at least one decoding");
    let chosen = &calibrations[best];
    let fixed = calibrate::fixed_accuracy(&traces[best]);
    let calibration = Calibration {
        split: format!(
            "{} ({})",
            args.data.split,
            cifar::split_path(&args.data.data, &args.data.split).describe()
        ),
        images: runs.len(),
        max_steps: args.model.max_steps,
        decoding: chosen.decoding,
        threshold: chosen.chosen.threshold,
        tolerance: args.tolerance,
        front: chosen.front.clone(),
        oracle: calibrate::oracle(&traces[best]),
        decodings_compared: calibrations.iter().map(DecodingComparison::from).collect(),
        trace: traces[best].encode(),
        fixed,
    };

    let full = calibration.fixed.last().map_or(0.0, |f| f.accuracy);
    println!(
        "calibration on {}, {} images, T_max {}: full-length accuracy {}, target ≥ {}",
        calibration.split,
        calibration.images,
        calibration.max_steps,
        percent(full),
        percent(full - args.tolerance)
    );
    println!("\n  decoding        threshold  mean steps  accuracy  front points");
    for (i, row) in calibration.decodings_compared.iter().enumerate() {
        let mark = if i == best { "  ← chosen" } else { "" };
        println!(
            "  {:<14} {:>10.6} {:>11.2} {:>9}  {:>12}{mark}",
            row.decoding.to_string(),
            row.threshold,
            row.mean_steps,
            percent(row.accuracy),
            row.front_points
        );
    }
    println!(
        "\noracle: accuracy {}  mean steps {:.2}",
        percent(calibration.oracle.accuracy),
        calibration.oracle.mean_steps
    );

    let path = args
        .output
        .clone()
        .unwrap_or_else(|| calibration_path(&args.model.model));
    let json = serde_json::to_string_pretty(&calibration).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------- classify

fn classify_command(args: ClassifyArgs) -> CliResult<()> {
    let model = load_model(&args.model.model)?;
    let stop = resolve_stop(&args.stop, &args.model.model)?;
    if stop.is_none() {
        eprintln!("note: no calibration file and no --threshold; showing every step without a stop decision");
    }
    let (decoding, threshold) = stop.unwrap_or((Decoding::default(), f64::INFINITY));
    let rule = StopRule {
        threshold,
        max_steps: args.model.max_steps,
    };
    let mut simulation = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    simulation.set_decoding(decoding);
    for path in &args.images {
        let image = image::open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .to_rgba8();
        let (width, height) = (image.width() as usize, image.height() as usize);
        let input = preprocess::prepare_image(model.input(), image.as_raw(), width, height, 4)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        simulation
            .set_input_f64(&input)
            .map_err(|e| e.to_string())?;
        println!("{} ({width}×{height}), decoding {decoding}", path.display());
        println!("     t  prediction    confidence");
        let mut stopped = None;
        for _ in 0..args.model.max_steps {
            let report = simulation.step();
            let decision = report.decision;
            let class = &model.classes()[decision.prediction];
            let stops_here =
                stopped.is_none() && rule.should_stop(&decision, report.t) && threshold.is_finite();
            let mark = if stops_here {
                "  ← Dynamic Confidence stops"
            } else {
                ""
            };
            println!(
                "  {:>4}  {:<12} {:>10.4}{mark}",
                report.t, class, decision.confidence
            );
            if stops_here {
                stopped = Some((report.t, class.clone()));
            }
        }
        match stopped {
            Some((t, class)) => println!(
                "  → {class} after {t} of {} steps (threshold {threshold:.6})\n",
                args.model.max_steps
            ),
            None => println!(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- bench-step

fn bench_step_command(args: BenchStepArgs) -> CliResult<()> {
    let model = load_model(&args.model.model)?;
    let batch = load_data(&args.data, &model)?;
    let inputs: Vec<Vec<f64>> = (0..batch.len())
        .map(|i| preprocess::normalize_u8(model.input(), batch.image(i)))
        .collect();
    let steps = args.model.max_steps;
    let mut simulation = Simulation::new(Arc::clone(&model), args.engine.into());
    let mut pass = || -> CliResult<f64> {
        let start = Instant::now();
        for input in &inputs {
            simulation.set_input_f64(input).map_err(|e| e.to_string())?;
            for _ in 0..steps {
                std::hint::black_box(simulation.step().spikes);
            }
        }
        Ok(start.elapsed().as_secs_f64() * 1e3 / (inputs.len() as f64 * steps as f64))
    };
    pass()?; // warm-up
    let mut per_step = (0..args.rounds)
        .map(|_| pass())
        .collect::<CliResult<Vec<f64>>>()?;
    per_step.sort_by(f64::total_cmp);
    let median = per_step[per_step.len() / 2];
    if args.json {
        let json = serde_json::json!({
            "images": inputs.len(),
            "steps": steps,
            "rounds": args.rounds,
            "ms_per_step": median,
            "ms_per_step_min": per_step[0],
        });
        println!("{json}");
    } else {
        println!(
            "{median:.4} ms per step (median of {} rounds; fastest {:.4}) over {} images × {steps} steps",
            args.rounds,
            per_step[0],
            inputs.len()
        );
    }
    Ok(())
}
