//! The command line itself (native only; `main.rs` is the entry point).
//!
//! Thin by design: parse arguments, read files, fan images out over threads, print. All the
//! method lives in the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use dynconf::ann::QuantizedAnn;
use dynconf::calibrate::{
    self, crossfit, Calibration, CalibrationSettings, Candidate, CrossFit, Figures,
};
use dynconf::cifar::{self, Batch};
use dynconf::crop::Crop;
use dynconf::decode::{check_threshold, is_confident};
use dynconf::eval::report::{self, DynamicRule, EvalReport};
use dynconf::eval::{self, Confusion, CrossFitSettings, ImageRun, Summary};
use dynconf::image_file::{self, ColourProfile};
use dynconf::{preprocess, Decoder, Engine, Model, Simulation, StopRule};

const DEFAULT_MODEL: &str = "models/dynconf-cifar10-v7.safetensors";
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
    /// Choose the decoder and threshold on a validation split; writes <model>.calibration.json.
    Calibrate(CalibrateArgs),
    /// Compare the decoders (max softmax, margin, entropy, stability, learned) on a split:
    /// each family's cross-fitted accuracy, mean steps and latency reduction.
    Decoders(DecodersArgs),
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

/// Threshold and decoder overrides; by default both come from the calibration file.
#[derive(Args)]
struct ThresholdArgs {
    /// Threshold θ on the decoder's score: stop at the first step whose score is above it
    /// (for max softmax the score is −log10(1 − c): θ = 2 stops once c > 0.99).
    #[arg(long, allow_hyphen_values = true)]
    threshold: Option<f64>,
    /// Decoder: max_softmax:kappa=K, divide_by_t, margin:kappa=K, entropy:kappa=K or
    /// stability:kappa=K,k=N (`kappa=K` is max_softmax:kappa=K).
    #[arg(long, alias = "decoding")]
    decoder: Option<Decoder>,
}

/// Cross-fitting of the calibration rule.
#[derive(Args)]
struct CrossFitArgs {
    /// Folds of the cross-fitting (stratified by class).
    #[arg(long, default_value_t = crossfit::DEFAULT_FOLDS as u32, value_parser = clap::value_parser!(u32).range(2..=100))]
    folds: u32,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = crossfit::DEFAULT_SEED)]
    seed: u64,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    stop: ThresholdArgs,
    #[command(flatten)]
    crossfit: CrossFitArgs,
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
    #[command(flatten)]
    compare: CompareArgs,
    /// Where to write the calibration (default: next to the model).
    #[arg(long)]
    output: Option<PathBuf>,
}

/// What is compared and how.
#[derive(Args)]
struct CompareArgs {
    /// Accepted accuracy loss against the full-length run, as a fraction.
    #[arg(long, default_value_t = calibrate::DEFAULT_TOLERANCE, value_parser = parse_tolerance)]
    tolerance: f64,
    /// Decoders to compare, separated by `;` (e.g. "max_softmax:kappa=4;learned");
    /// default: every family over κ ∈ {1, 2, 4, 8, 16, 30}, stability k ∈ {2, 3, 4, 6},
    /// divide_by_t and learned.
    #[arg(long, value_delimiter = ';', value_parser = parse_candidate)]
    decoders: Vec<Candidate>,
    #[command(flatten)]
    crossfit: CrossFitArgs,
}

#[derive(Args)]
struct DecodersArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    compare: CompareArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_tolerance(text: &str) -> Result<f64, String> {
    let tolerance: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !(0.0..=1.0).contains(&tolerance) {
        return Err(format!(
            "the tolerance is a fraction in [0, 1], found {tolerance}"
        ));
    }
    Ok(tolerance)
}

fn parse_candidate(text: &str) -> Result<Candidate, String> {
    match text.trim() {
        "learned" => Ok(Candidate::Learned),
        other => other.parse().map(Candidate::Fixed),
    }
}

#[derive(Args)]
struct ClassifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    stop: ThresholdArgs,
    /// Image files (PNG, JPEG, WebP, GIF). A file that cannot be read is reported and
    /// skipped; the exit status is then 1.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print one JSON object per image, one per line (an unreadable file gives
    /// `{"file", "error"}`).
    #[arg(long)]
    json: bool,
    /// The part of each image the network sees: `center` (the largest centred square),
    /// `full` (the whole image, squashed to 32×32) or `X,Y,SIZE` (a square, in pixels of the
    /// image after its EXIF orientation; the page shows the crop you chose this way).
    #[arg(long, default_value = "center", value_parser = parse_crop, allow_hyphen_values = true)]
    crop: Crop,
}

fn parse_crop(text: &str) -> Result<Crop, String> {
    text.parse()
        .map_err(|e: dynconf::crop::CropError| e.to_string())
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

/// Set once stdout is closed (`dynconf classify x.png | head -2`): output stops, quietly.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// `println!` that does not panic on a closed pipe: a reader that has gone away has what it
/// wanted, so the rest of the output is dropped and the command finishes its work (a
/// calibration is still written) and exits as it would have.
macro_rules! say {
    ($($arg:tt)*) => { print_line(format_args!($($arg)*)) };
}

fn print_line(line: std::fmt::Arguments) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to standard output: {e}");
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => {
            // Flushes stdout here, where a closed pipe is ignored, rather than at exit.
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
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
        Command::Decoders(args) => decoders_command(args),
        Command::Classify(args) => classify_command(args),
        Command::BenchStep(args) => bench_step_command(args),
    }
}

// ---------------------------------------------------------------- files

/// A model and the SHA-256 of its file.
struct LoadedModel {
    model: Arc<Model>,
    sha256: String,
}

fn load_model(path: &Path) -> CliResult<LoadedModel> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read model {}: {e}\n  (train and export one with training/, or pass --model PATH)",
            path.display()
        )
    })?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(LoadedModel {
        model: Arc::new(model),
        sha256: calibrate::sha256_hex(&bytes),
    })
}

/// `models/x.safetensors` → `models/x.calibration.json`.
fn calibration_path(model: &Path) -> PathBuf {
    model.with_extension("calibration.json")
}

/// The calibration file next to the model, checked to belong to it.
fn read_calibration(model_path: &Path, model: &LoadedModel) -> CliResult<Option<Calibration>> {
    let path = calibration_path(model_path);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let again = format!(
        "calibrate the model again with `dynconf calibrate --model {} --split validation`",
        model_path.display()
    );
    let calibration =
        Calibration::from_json(&bytes).map_err(|e| format!("{}: {e}; {again}", path.display()))?;
    calibration.check_model(&model.sha256).map_err(|e| {
        format!(
            "{} does not belong to {}: {e}; {again}",
            path.display(),
            model_path.display()
        )
    })?;
    Ok(Some(calibration))
}

/// The calibration for a command with these flags: when `--decoder` and `--threshold` both
/// are given nothing is taken from it, so a calibration that cannot be used is only noted.
fn calibration_for(
    stop: &ThresholdArgs,
    model_path: &Path,
    model: &LoadedModel,
) -> CliResult<Option<Calibration>> {
    match read_calibration(model_path, model) {
        Err(e) if stop.threshold.is_some() && stop.decoder.is_some() => {
            eprintln!("note: not using the calibration: {e}");
            Ok(None)
        }
        other => other,
    }
}

fn load_data(args: &DataArgs, model: &Model) -> CliResult<Batch> {
    cifar::check_model_input(model.input().len()).map_err(|e| e.to_string())?;
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

/// The decoder and threshold to use: flags first, then the calibration; `None` when neither
/// gives a threshold.
fn resolve_stop(
    args: &ThresholdArgs,
    calibration: Option<&Calibration>,
) -> CliResult<Option<(Decoder, f64)>> {
    if let Some(t) = args.threshold {
        check_threshold("--threshold", t)?;
    }
    let calibrated = calibration.map(|c| (c.decoder, c.threshold));
    Ok(match (args.threshold, args.decoder, calibrated) {
        (Some(t), Some(d), _) => Some((d, t)),
        (Some(t), None, Some((d, _))) => Some((d, t)),
        (Some(_), None, None) => {
            return Err(
                "--threshold needs a decoder: pass --decoder, or calibrate the model first".into(),
            )
        }
        (None, Some(d), Some((cd, _))) => match calibration.and_then(|c| c.threshold_of(&d)) {
            Some(t) => Some((d, t)),
            None => {
                return Err(format!(
                    "the calibration did not compare decoder {d} (it chose {cd}); pass --threshold \
                     to use {d}, or a compared one (`dynconf calibrate` lists them)"
                ))
            }
        },
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

/// Where `dynamic`'s rule comes from for these flags (see [`DynamicRule`]).
fn dynamic_rule(args: &EvalArgs, calibration: Option<&Calibration>) -> DynamicRule {
    match calibration {
        Some(c) if args.stop.threshold.is_none() => {
            let source = cifar::split_path(&args.data.data, &args.data.split);
            let file = source
                .path
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
            DynamicRule::from_calibration(c, &args.data.split, &file)
        }
        _ => DynamicRule::command_line(),
    }
}

fn eval_command(args: EvalArgs) -> CliResult<()> {
    let loaded = load_model(&args.model.model)?;
    let calibration = calibration_for(&args.stop, &args.model.model, &loaded)?;
    let (decoder, threshold) = resolve_stop(&args.stop, calibration.as_ref())?.ok_or_else(|| {
        format!(
            "no threshold: run `dynconf calibrate --model {}` first (it writes {}), or pass --decoder and --threshold",
            args.model.model.display(),
            calibration_path(&args.model.model).display()
        )
    })?;
    let model = &loaded.model;
    let batch = load_data(&args.data, model)?;
    let start = Instant::now();
    let runs = run_batch(
        model,
        &batch,
        args.model.max_steps,
        args.engine.into(),
        !args.no_ann,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let settings = CrossFitSettings {
        tolerance: calibration
            .as_ref()
            .map_or(calibrate::DEFAULT_TOLERANCE, |c| c.tolerance),
        folds: args.crossfit.folds as usize,
        seed: args.crossfit.seed,
        ..CrossFitSettings::default()
    };
    let summary = eval::summarize(&runs, model, decoder, threshold, &settings);
    let rule = dynamic_rule(&args, calibration.as_ref());
    if args.json {
        let json = serde_json::to_string(&EvalReport {
            split: &args.data.split,
            summary: &summary,
            dynamic_rule: &rule,
            seconds,
        })
        .map_err(|e| e.to_string())?;
        say!("{json}");
    } else {
        print_eval(&summary, &args, &rule, seconds);
    }
    Ok(())
}

fn percent(fraction: f64) -> String {
    format!("{:.2}%", 100.0 * fraction)
}

fn print_eval(s: &Summary, args: &EvalArgs, rule: &DynamicRule, seconds: f64) {
    say!(
        "model {}  split {} ({} images)  T_max {}",
        args.model.model.display(),
        args.data.split,
        s.images,
        s.max_steps
    );
    if let Some(ann) = s.ann_accuracy {
        say!("quantized ANN accuracy   {}", percent(ann));
    }
    say!("\nfixed length\n   T  accuracy");
    for f in &s.fixed {
        say!("{:>4}  {:>8}", f.steps, percent(f.accuracy));
    }
    let d = &s.dynamic;
    let print_rule = || {
        say!(
            "\nDynamic Confidence at {} θ = {} ({})",
            d.decoder,
            threshold_text(d.threshold, None),
            rule.describe()
        );
        say!(
            "  accuracy {}  mean steps {:.2}",
            percent(d.accuracy),
            d.mean_steps
        );
        say!("  latency reduction {}", d.latency);
    };
    // Held-out figures first: the calibrated rule when it was fitted elsewhere, else the
    // cross-fitting.
    let held_out_rule = rule.in_sample == Some(false);
    if held_out_rule {
        print_rule();
    }
    let cross_fitted_label = if held_out_rule {
        "cross-fitted on this split itself, for comparison"
    } else {
        "cross-fitted"
    };
    match &s.dynamic_crossfit {
        Some(c) => {
            say!(
                "\nDynamic Confidence, {cross_fitted_label} ({} folds, seed {}: decoder and threshold chosen on {} of {} folds, scored on the other)",
                c.k,
                c.seed,
                c.k - 1,
                c.k
            );
            say!(
                "  accuracy {} (T_max {})  mean steps {:.2}  (spread over folds: ±{:.2} points, ±{:.2} steps)",
                percent(c.accuracy),
                percent(c.full_accuracy),
                c.mean_steps,
                100.0 * c.accuracy_sd,
                c.mean_steps_sd
            );
            say!("  latency reduction {}", c.latency);
        }
        None => say!(
            "\nDynamic Confidence, cross-fitted: not computed ({} images are fewer than {} folds)",
            s.images,
            args.crossfit.folds
        ),
    }
    if !held_out_rule {
        print_rule();
    }
    say!(
        "oracle (stop at first correct step)  accuracy {}  mean steps {:.2}",
        percent(s.oracle.accuracy),
        s.oracle.mean_steps
    );
    say!("\ncost per inference        DC     T={}", s.max_steps);
    say!(
        "  spikes per neuron {:>8.3} {:>8.3}",
        d.spikes_per_neuron,
        s.fixed_full.spikes_per_neuron
    );
    say!(
        "  synaptic ops      {:>8.3e} {:>8.3e}",
        d.synops,
        s.fixed_full.synops
    );
    say!(
        "\nper class (accuracy)       DC     T={}   images",
        s.max_steps
    );
    let dynamic = Confusion::per_class(&s.confusion.dynamic);
    let full = Confusion::per_class(&s.confusion.t_max);
    for (class, name) in s.classes.iter().enumerate() {
        let cell = |a: Option<f64>| a.map_or_else(|| "-".into(), percent);
        say!(
            "  {name:<20} {:>8} {:>8} {:>7}",
            cell(dynamic[class]),
            cell(full[class]),
            s.confusion.t_max[class].iter().sum::<u64>()
        );
    }
    say!(
        "\n{:.1} images/s ({seconds:.1} s)",
        s.images as f64 / seconds.max(1e-9)
    );
}

// ---------------------------------------------------------------- calibrate and decoders

/// Runs a split to T_max and calibrates every candidate on it (with cross-fitting).
fn run_calibration(
    loaded: &LoadedModel,
    model_args: &ModelArgs,
    data: &DataArgs,
    compare: &CompareArgs,
) -> CliResult<Calibration> {
    let batch = load_data(data, &loaded.model)?;
    let folds = compare.crossfit.folds as usize;
    if batch.len() < folds {
        return Err(format!(
            "cannot cross-fit {} images in {folds} folds: pass --folds {} or use more images",
            batch.len(),
            batch.len().max(2)
        ));
    }
    let runs = run_batch(
        &loaded.model,
        &batch,
        model_args.max_steps,
        Engine::EventDriven,
        false,
    )?;
    let candidates = if compare.decoders.is_empty() {
        calibrate::default_candidates()
    } else {
        compare.decoders.clone()
    };
    eprintln!(
        "comparing {} decoders on {} images, with {}-fold cross-fitting…",
        candidates.len(),
        runs.len(),
        compare.crossfit.folds
    );
    let start = Instant::now();
    let settings = CalibrationSettings {
        split: report::calibration_split(
            &data.split,
            &cifar::split_path(&data.data, &data.split).describe(),
            // --limit N took the first N images (fewer: the whole split).
            data.limit.filter(|&n| n == runs.len()),
        ),
        model_sha256: loaded.sha256.clone(),
        tolerance: compare.tolerance,
        folds: compare.crossfit.folds as usize,
        seed: compare.crossfit.seed,
    };
    let calibration = calibrate::calibrate(&eval::recording(&runs), &candidates, &settings)?;
    eprintln!("compared in {:.1} s", start.elapsed().as_secs_f64());
    Ok(calibration)
}

fn figures(f: &Figures) -> String {
    format!("{:>8} {:>6.2}", percent(f.accuracy), f.mean_steps)
}

fn crossfit_figures(c: &CrossFit) -> String {
    let reduction = match c.latency.reduction {
        Some(r) => format!(
            "{:.1}% vs T={}",
            100.0 * r,
            c.latency.reference_steps.unwrap_or(0)
        ),
        None => "none".into(),
    };
    format!(
        "{:>8} {:>6.2}  ±{:.2} pts ±{:.2} steps  {reduction}",
        percent(c.accuracy),
        c.mean_steps,
        100.0 * c.accuracy_sd,
        c.mean_steps_sd
    )
}

fn print_decoders(calibration: &Calibration) {
    let full = calibration.fixed.last().map_or(0.0, |f| f.accuracy);
    say!(
        "{} images, T_max {}: T_max accuracy {}; each threshold is the cheapest within {} images of it",
        calibration.images,
        calibration.max_steps,
        percent(full),
        calibrate::allowed_misses(calibration.tolerance, calibration.images)
    );
    say!(
        "\n  {:<32} {:>15} | cross-fitted ({} folds): accuracy, mean steps, spread, latency reduction",
        "decoder (chosen on all images)",
        "in-sample",
        calibration.crossfit.k
    );
    for d in &calibration.decoders {
        let mark = chosen_mark(&d.decoder, calibration);
        say!(
            "  {:<32} {} | {}{mark}",
            d.decoder.to_string(),
            figures(&d.in_sample),
            crossfit_figures(&d.crossfit)
        );
    }
    say!(
        "  {:<32} {} | {}",
        "the whole choice (any decoder)",
        figures(&calibration.in_sample),
        crossfit_figures(&calibration.crossfit)
    );
    say!(
        "\noracle: accuracy {}  mean steps {:.2}",
        percent(calibration.oracle.accuracy),
        calibration.oracle.mean_steps
    );
}

/// A threshold as printed, with `decimals` or in full: `-inf` for the sweep's "below every
/// score" point when some image never produced a finite score (`calibrate::sweep` stores
/// -f64::MAX, 309 digits in print).
fn threshold_text(threshold: f64, decimals: Option<usize>) -> String {
    match decimals {
        _ if threshold <= -f64::MAX => "-inf".into(),
        Some(decimals) => format!("{threshold:.decimals$}"),
        None => threshold.to_string(),
    }
}

/// Marks the calibration's chosen decoder in a table row.
fn chosen_mark(decoder: &Decoder, calibration: &Calibration) -> &'static str {
    if *decoder == calibration.decoder {
        "  ← chosen"
    } else {
        ""
    }
}

fn calibrate_command(args: CalibrateArgs) -> CliResult<()> {
    let source = cifar::split_path(&args.data.data, &args.data.split);
    let file = source
        .path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    if cifar::is_test_split(&args.data.split, &file) {
        return Err(format!("calibrating on the test split ({file}) would tune the threshold on test data; use --split validation"));
    }
    let loaded = load_model(&args.model.model)?;
    let calibration = run_calibration(&loaded, &args.model, &args.data, &args.compare)?;
    say!("calibration on {}", calibration.split);
    say!("\n  every candidate, in-sample        threshold  mean steps  accuracy  front points");
    for row in &calibration.candidates {
        let mark = chosen_mark(&row.decoder, &calibration);
        say!(
            "  {:<32} {:>10} {:>11.2} {:>9}  {:>12}{mark}",
            row.decoder.to_string(),
            threshold_text(row.threshold, Some(4)),
            row.mean_steps,
            percent(row.accuracy),
            row.front_points
        );
    }
    say!("");
    print_decoders(&calibration);

    let path = args
        .output
        .clone()
        .unwrap_or_else(|| calibration_path(&args.model.model));
    let json = serde_json::to_string(&calibration).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    say!("wrote {}", path.display());
    Ok(())
}

#[derive(Serialize)]
struct DecoderRow<'a> {
    name: &'a str,
    params: Decoder,
    threshold: f64,
    in_sample: &'a Figures,
    crossfit: &'a CrossFit,
}

fn decoders_command(args: DecodersArgs) -> CliResult<()> {
    if args.data.split == "test" {
        eprintln!("note: the test split's figures are for reporting; choose a decoder on --split validation");
    }
    let loaded = load_model(&args.model.model)?;
    let calibration = run_calibration(&loaded, &args.model, &args.data, &args.compare)?;
    if args.json {
        let rows: Vec<DecoderRow> = calibration
            .decoders
            .iter()
            .map(|d| DecoderRow {
                name: &d.family,
                params: d.decoder,
                threshold: d.threshold,
                in_sample: &d.in_sample,
                crossfit: &d.crossfit,
            })
            .collect();
        let json = serde_json::json!({
            "split": calibration.split,
            "images": calibration.images,
            "max_steps": calibration.max_steps,
            "tolerance": calibration.tolerance,
            "decoders": rows,
            "chosen": {"params": calibration.decoder, "threshold": calibration.threshold,
                       "in_sample": calibration.in_sample, "crossfit": calibration.crossfit},
            "oracle": calibration.oracle,
        });
        say!("{json}");
    } else {
        say!("decoders on {}", calibration.split);
        print_decoders(&calibration);
    }
    Ok(())
}

// ---------------------------------------------------------------- classify

fn classify_command(args: ClassifyArgs) -> CliResult<()> {
    let loaded = load_model(&args.model.model)?;
    let model = &loaded.model;
    let calibration = read_calibration(&args.model.model, &loaded)?;
    let stop = resolve_stop(&args.stop, calibration.as_ref())?;
    if stop.is_none() {
        eprintln!("note: no calibration file and no --threshold; showing every step without a stop decision");
    }
    let (decoder, threshold) =
        stop.unwrap_or((args.stop.decoder.unwrap_or(Decoder::PAPER), f64::INFINITY));
    let mut simulation = Simulation::new(Arc::clone(model), Engine::EventDriven);
    simulation.set_decoder(decoder);
    let mut failures = 0;
    for path in &args.images {
        if STDOUT_CLOSED.load(Ordering::Relaxed) {
            break;
        }
        // A bad file is reported and skipped; the exit status says so at the end.
        let result = classify_file(path, &mut simulation, decoder, threshold, &args);
        match result {
            Ok(run) if args.json => say!(
                "{}",
                serde_json::to_string(&run).map_err(|e| e.to_string())?
            ),
            Ok(run) => print_classification(&run),
            Err(message) => {
                failures += 1;
                eprintln!("error: {}: {message}", path.display());
                if args.json {
                    let json =
                        serde_json::json!({"file": path.display().to_string(), "error": message});
                    say!("{json}");
                }
            }
        }
    }
    match failures {
        0 => Ok(()),
        n => Err(format!(
            "{n} of {} images could not be classified (see above)",
            args.images.len()
        )),
    }
}

/// One image's run, as `classify --json` prints it (one object per line).
#[derive(Serialize)]
struct Classification {
    file: String,
    format: &'static str,
    /// After the EXIF orientation is applied.
    width: u32,
    height: u32,
    /// The EXIF orientation applied (1: none).
    orientation: u8,
    /// The embedded ICC colour profile: `none`, `converted` (the pixels were converted from it
    /// to sRGB, as browsers do) or `ignored` (unreadable or not RGB/grey: taken as sRGB).
    icc_profile: image_file::ColourProfile,
    /// The crop as asked for (`center`, `full` or `X,Y,SIZE`).
    crop: String,
    /// The pixels it took: `[x, y, width, height]`.
    crop_rect: [u32; 4],
    decoder: Decoder,
    /// `null` without a calibration or --threshold (no stop decision).
    threshold: Option<f64>,
    /// At the stop step (at T_max without a threshold).
    prediction: String,
    /// The decoder's score s(t) at that step.
    score: f32,
    /// The largest of the class probabilities softmax(O(t)/d) shown beside the run.
    confidence: f32,
    /// Where Dynamic Confidence stops (`null` without a threshold): the first step whose
    /// score is above θ, or T_max when none is.
    stop_step: Option<u32>,
    /// Whether the score went above θ (`false`: the run stopped at T_max without being
    /// confident; `null` without a threshold).
    threshold_reached: Option<bool>,
    max_steps: u32,
    steps: Vec<StepPoint>,
}

#[derive(Serialize)]
struct StepPoint {
    t: u32,
    prediction: String,
    score: f32,
    confidence: f32,
}

fn classify_file(
    path: &Path,
    simulation: &mut Simulation,
    decoder: Decoder,
    threshold: f64,
    args: &ClassifyArgs,
) -> CliResult<Classification> {
    if path.is_dir() {
        return Err("is a directory; expected an image file (PNG, JPEG, WebP or GIF)".into());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let image = image_file::decode(&bytes).map_err(|e| e.to_string())?;
    let rect = args
        .crop
        .rect(image.width, image.height)
        .map_err(|e| e.to_string())?;
    let model = Arc::clone(simulation.model());
    let input = preprocess::prepare_image(
        model.input(),
        &image.rgba,
        image.width as usize,
        image.height as usize,
        4,
        &args.crop,
    )
    .map_err(|e| e.to_string())?;
    simulation
        .set_input_f64(&input)
        .map_err(|e| e.to_string())?;
    let rule = StopRule {
        threshold,
        max_steps: args.model.max_steps,
    };
    let mut steps = Vec::with_capacity(args.model.max_steps as usize);
    let mut stop_step = None;
    for _ in 0..args.model.max_steps {
        let report = simulation.step();
        let decision = report.decision;
        steps.push(StepPoint {
            t: report.t,
            prediction: model.classes()[decision.prediction].clone(),
            score: decision.score,
            confidence: report.probabilities.iter().copied().fold(0.0, f32::max),
        });
        if stop_step.is_none() && threshold.is_finite() && rule.should_stop(&decision, report.t) {
            stop_step = Some(report.t);
        }
    }
    let shown = &steps[stop_step.map_or(steps.len(), |t| t as usize) - 1];
    Ok(Classification {
        file: path.display().to_string(),
        format: image.format,
        width: image.width,
        height: image.height,
        orientation: image.orientation,
        icc_profile: image.colour,
        crop: args.crop.to_string(),
        crop_rect: [rect.x, rect.y, rect.width, rect.height],
        decoder,
        threshold: threshold.is_finite().then_some(threshold),
        prediction: shown.prediction.clone(),
        score: shown.score,
        confidence: shown.confidence,
        stop_step,
        threshold_reached: threshold
            .is_finite()
            .then(|| is_confident(shown.score, threshold)),
        max_steps: args.model.max_steps,
        steps,
    })
}

fn print_classification(run: &Classification) {
    let rotated = match run.orientation {
        1 => String::new(),
        o => format!(", EXIF orientation {o} applied"),
    };
    let colour = match run.icc_profile {
        ColourProfile::None => "",
        ColourProfile::Converted => ", colour: converted from embedded ICC profile to sRGB",
        ColourProfile::Ignored => {
            ", colour: embedded ICC profile ignored (unreadable or not RGB), taken as sRGB"
        }
    };
    let [x, y, w, h] = run.crop_rect;
    say!(
        "{} ({}×{} {}{rotated}{colour}), crop {} ({w}×{h} pixels at {x},{y}), decoder {}",
        run.file,
        run.width,
        run.height,
        run.format,
        run.crop,
        run.decoder
    );
    say!("     t  prediction         score  confidence");
    for step in &run.steps {
        let mark = if Some(step.t) != run.stop_step {
            ""
        } else if run.threshold_reached == Some(true) {
            "  ← Dynamic Confidence stops"
        } else {
            "  ← T_max reached, θ never exceeded"
        };
        say!(
            "  {:>4}  {:<12} {:>10.4}  {:>10.4}{mark}",
            step.t,
            step.prediction,
            step.score,
            step.confidence
        );
    }
    match (run.stop_step, run.threshold, run.threshold_reached) {
        (Some(t), Some(threshold), Some(true)) => say!(
            "  → {} after {t} of {} steps (score above θ = {threshold:.6})\n",
            run.prediction,
            run.max_steps
        ),
        (Some(t), Some(threshold), _) => say!(
            "  → {} at T_max = {t}: the score never went above θ = {threshold:.6} (not confident)\n",
            run.prediction
        ),
        _ => say!(""),
    }
}

// ---------------------------------------------------------------- bench-step

fn bench_step_command(args: BenchStepArgs) -> CliResult<()> {
    let model = load_model(&args.model.model)?.model;
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
        say!("{json}");
    } else {
        say!(
            "{median:.4} ms per step (median of {} rounds; fastest {:.4}) over {} images × {steps} steps",
            args.rounds,
            per_step[0],
            inputs.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::threshold_text;

    #[test]
    fn the_below_every_score_threshold_prints_as_minus_infinity() {
        assert_eq!(threshold_text(-f64::MAX, Some(4)), "-inf");
        assert_eq!(threshold_text(f64::NEG_INFINITY, None), "-inf");
        assert_eq!(threshold_text(0.25, Some(4)), "0.2500");
        assert_eq!(threshold_text(4.641, None), "4.641");
    }
}
