//! `dynconf`: evaluate, calibrate and try out a Dynamic Confidence SNN from the command line.
//!
//! Thin by design: each command's module parses its arguments, reads its files, fans images
//! out over threads and prints; the method (the run, the stop rule, calibration, evaluation)
//! lives in the `dynconf` library.

#[macro_use]
mod output;
mod args;
mod batch;
mod calibrate;
mod classify;
mod eval;
mod files;
mod photos;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Eval(eval::EvalArgs),
    /// Choose the decoder and threshold on a validation split; writes <model>.calibration.json.
    Calibrate(calibrate::CalibrateArgs),
    /// Compare the decoders (max softmax, margin, entropy, stability, learned) on a split:
    /// each family's cross-fitted accuracy, mean steps and latency reduction.
    Decoders(calibrate::DecodersArgs),
    /// Run images (PNG, JPEG, WebP, GIF) step by step and show where Dynamic Confidence stops.
    Classify(classify::ClassifyArgs),
    /// A folder of photos, one sub-folder per class (and `other`): accuracy at the stop, per
    /// class, confusions, mean stop step, how often photos of other things stop sure.
    Photos(photos::PhotosArgs),
}

/// A command's outcome: an error is one message, printed after `error: `.
type CliResult<T> = Result<T, String>;

fn main() -> ExitCode {
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
        Command::Eval(args) => eval::run(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Decoders(args) => calibrate::run_decoders(args),
        Command::Classify(args) => classify::run(args),
        Command::Photos(args) => photos::run(args),
    }
}
