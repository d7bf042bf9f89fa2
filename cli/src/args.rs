//! Arguments several commands share, and how the stop flags combine with a calibration.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use dynconf::calibrate::{self, crossfit, Calibration, Candidate};
use dynconf::decode::{check_threshold, MAX_STEPS_LIMIT};
use dynconf::{Decoder, Engine, StopRule};

use crate::CliResult;

pub const DEFAULT_MODEL: &str = "models/dynconf-cifar10-v7.safetensors";
pub const DEFAULT_DATA: &str = "../shared/cifar10/cifar-10-batches-bin";

#[derive(Args)]
pub struct ModelArgs {
    /// Model file (dynconf-snn safetensors).
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Time steps per input (T_max); default: the calibration's T_max, else 32.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_STEPS_LIMIT as i64))]
    pub max_steps: Option<u32>,
}

impl ModelArgs {
    /// T_max for a run with this calibration (the core's rule, [`StopRule::max_steps_for`]).
    pub fn max_steps(&self, calibration: Option<&Calibration>) -> u32 {
        StopRule::max_steps_for(self.max_steps, calibration.map(|c| c.max_steps))
    }
}

#[derive(Args)]
pub struct DataArgs {
    /// Directory of CIFAR-10 binary batches.
    #[arg(long, default_value = DEFAULT_DATA)]
    pub data: PathBuf,
    /// `validation` (records 5000.. of data_batch_5), `test` (test_batch.bin) or NAME (NAME.bin).
    #[arg(long, default_value = "validation")]
    pub split: String,
    /// Use only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Threshold and decoder overrides; by default both come from the calibration file.
#[derive(Args)]
pub struct ThresholdArgs {
    /// Threshold θ on the decoder's score: stop at the first step whose score is above it
    /// (for max softmax the score is −log10(1 − c): θ = 2 stops once c > 0.99).
    #[arg(long, allow_hyphen_values = true)]
    pub threshold: Option<f64>,
    /// Decoder: max_softmax:kappa=K, divide_by_t, margin:kappa=K, entropy:kappa=K or
    /// stability:kappa=K,k=N.
    #[arg(long)]
    pub decoder: Option<Decoder>,
}

impl ThresholdArgs {
    /// The decoder and threshold to use: flags first, then the calibration; `None` when
    /// neither gives a threshold.
    pub fn resolve(&self, calibration: Option<&Calibration>) -> CliResult<Option<(Decoder, f64)>> {
        if let Some(t) = self.threshold {
            check_threshold("--threshold", t)?;
        }
        let calibrated = calibration.map(|c| (c.decoder, c.threshold));
        Ok(match (self.threshold, self.decoder, calibrated) {
            (Some(t), Some(d), _) => Some((d, t)),
            (Some(t), None, Some((d, _))) => Some((d, t)),
            (Some(_), None, None) => {
                return Err(
                    "--threshold needs a decoder: pass --decoder, or calibrate the model first"
                        .into(),
                )
            }
            (None, Some(d), Some((cd, _))) => match calibration.and_then(|c| c.threshold_of(&d)) {
                Some(t) => Some((d, t)),
                None => {
                    return Err(format!(
                        "the calibration did not compare decoder {d} (it chose {cd}); pass \
                         --threshold to use {d}, or a compared one (`dynconf calibrate` lists them)"
                    ))
                }
            },
            (None, _, Some(pair)) => Some(pair),
            (None, _, None) => None,
        })
    }
}

/// Cross-fitting of the calibration rule.
#[derive(Args)]
pub struct CrossFitArgs {
    /// Folds of the cross-fitting (stratified by class).
    #[arg(long, default_value_t = crossfit::DEFAULT_FOLDS as u32, value_parser = clap::value_parser!(u32).range(2..=100))]
    pub folds: u32,
    /// Seed of the fold assignment.
    #[arg(long, default_value_t = crossfit::DEFAULT_SEED)]
    pub seed: u64,
}

/// What is compared and how.
#[derive(Args)]
pub struct CompareArgs {
    /// Accepted accuracy loss against the full-length run, as a fraction.
    #[arg(long, default_value_t = calibrate::DEFAULT_TOLERANCE, value_parser = parse_tolerance)]
    pub tolerance: f64,
    /// Decoders to compare, separated by `;` (e.g. "max_softmax:kappa=4;learned");
    /// default: every family over κ ∈ {1, 2, 4, 8, 16, 30}, stability k ∈ {2, 3, 4, 6},
    /// divide_by_t and learned.
    #[arg(long, value_delimiter = ';', value_parser = parse_candidate)]
    pub decoders: Vec<Candidate>,
    #[command(flatten)]
    pub crossfit: CrossFitArgs,
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

/// Propagation engine (both give identical spikes).
#[derive(Clone, Copy, ValueEnum)]
pub enum EngineArg {
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
