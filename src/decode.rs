//! Decoding a decision from the accumulated output O(t), and the stop rule (method §2).
//!
//! A [`Decoder`] turns O(t), the time step t and how long argmax O has been unchanged into a
//! **score** s(t): larger means more sure. Dynamic Confidence stops at the first step with
//! s(t) > θ (strictly), or at T_max. Every decoder of the comparison is one of these:
//!
//! | decoder | confidence | score s(t) |
//! | --- | --- | --- |
//! | `max_softmax` (the paper) | c = max softmax(O(t)/κ) | −log₁₀(1 − c) |
//! | `divide_by_t` | c = max softmax(O(t)/t) | −log₁₀(1 − c) |
//! | `margin` | p₁ − p₂ of softmax(O(t)/κ) | −log₁₀(1 − (p₁ − p₂)) |
//! | `entropy` | −H of softmax(O(t)/κ), H in nats | −log₁₀ H |
//! | `stability` | c as `max_softmax`, once argmax O is unchanged for k steps | as `max_softmax`, −∞ before |
//! | `learned` | P(argmax O(t) is final), logistic regression on [`features`] | the logit |
//!
//! Scores are computed in log space from the gaps O_k − max O, so nothing saturates: a
//! confidence of 1 − 10⁻³⁰ has score 30, where the probability itself rounds to 1 in f64.
//! Scores are stored as f32 (what traces keep) and compared with θ in f64; live runs and
//! replays compute the very same f32 (the same code, and `libm` for exp/ln on every target,
//! so native and wasm agree bit for bit).
//!
//! Margin: SNNCutoff (Wu et al., 2024); entropy: DT-SNN (Li et al., 2023); stability:
//! patience-based early exit (PABEE, Zhou et al., 2020).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Number of per-step inputs of the learned decoder (see [`features`]).
pub const FEATURES: usize = 6;

/// How a score s(t) is decoded from the accumulated output (table in the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoder {
    /// The paper's: max softmax(O(t)/κ).
    MaxSoftmax { kappa: f64 },
    /// Max softmax(O(t)/t): the mean output per step (firing-rate decoding).
    DivideByT,
    /// Margin p₁ − p₂ between the two most probable classes of softmax(O(t)/κ).
    Margin { kappa: f64 },
    /// Negative entropy of softmax(O(t)/κ).
    Entropy { kappa: f64 },
    /// Max softmax(O(t)/κ), allowed to stop only when argmax O(t) has been the same for
    /// the last `k` steps (k = 1: always).
    Stability { kappa: f64, k: u32 },
    /// Logistic regression on [`features`]: score = bias + weights · features (the logit of
    /// P(argmax O(t) = argmax O(T_max))), fitted by [`crate::calibrate::halting`].
    Learned { weights: [f64; FEATURES], bias: f64 },
}

impl Decoder {
    /// The paper's decoding with the authors' constant κ = 30.
    pub const PAPER: Decoder = Decoder::MaxSoftmax { kappa: 30.0 };

    /// Checks the parameters of a decoder from outside (a calibration file): κ finite and
    /// positive, k ≥ 1, a learned decoder's weights and bias finite. The text form is parsed,
    /// then checked by this same rule ([`FromStr`]). The caller names the decoder.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Decoder::MaxSoftmax { kappa }
            | Decoder::Margin { kappa }
            | Decoder::Entropy { kappa }
            | Decoder::Stability { kappa, .. }
                if !(kappa.is_finite() && kappa > 0.0) =>
            {
                Err(format!("kappa must be finite and positive, found {kappa}"))
            }
            Decoder::Stability { k: 0, .. } => Err("k must be a whole number ≥ 1, found 0".into()),
            Decoder::Learned { weights, bias }
                if !(weights.iter().all(|w| w.is_finite()) && bias.is_finite()) =>
            {
                Err("its weights and bias must be finite numbers".into())
            }
            _ => Ok(()),
        }
    }

    /// The decoder's family: `max_softmax` (κ or divide by t), `margin`, `entropy`,
    /// `stability` or `learned`.
    pub fn family(&self) -> &'static str {
        match self {
            Decoder::MaxSoftmax { .. } | Decoder::DivideByT => "max_softmax",
            Decoder::Margin { .. } => "margin",
            Decoder::Entropy { .. } => "entropy",
            Decoder::Stability { .. } => "stability",
            Decoder::Learned { .. } => "learned",
        }
    }

    /// The divisor of O(t) for the class probabilities shown beside a run: κ, or t for the
    /// decoders without one.
    pub fn divisor(&self, t: u32) -> f64 {
        match *self {
            Decoder::MaxSoftmax { kappa }
            | Decoder::Margin { kappa }
            | Decoder::Entropy { kappa }
            | Decoder::Stability { kappa, .. } => kappa,
            Decoder::DivideByT | Decoder::Learned { .. } => t.max(1) as f64,
        }
    }

    /// Whether the score is −log₁₀(1 − c) of the max softmax probability c, so that a
    /// threshold θ reads as "c > 1 − 10^−θ".
    pub fn scores_max_probability(&self) -> bool {
        matches!(
            self,
            Decoder::MaxSoftmax { .. } | Decoder::DivideByT | Decoder::Stability { .. }
        )
    }

    /// The score s(t) of the accumulated output `output` = O(t) at step `t` (1-based),
    /// `unchanged` = the number of steps, this one included, that argmax O has kept its
    /// value (≥ 1). Finite, or −∞ for "cannot stop at this step".
    pub fn score(&self, output: &[f32], t: u32, unchanged: u32) -> f32 {
        let score = match *self {
            Decoder::MaxSoftmax { kappa } => doubt_score(&Gaps::new(output, kappa)),
            Decoder::DivideByT => doubt_score(&Gaps::new(output, t.max(1) as f64)),
            Decoder::Margin { kappa } => margin_score(&Gaps::new(output, kappa)),
            Decoder::Entropy { kappa } => entropy_score(&Gaps::new(output, kappa)),
            Decoder::Stability { kappa, k } => {
                if unchanged < k {
                    return f32::NEG_INFINITY;
                }
                doubt_score(&Gaps::new(output, kappa))
            }
            Decoder::Learned { weights, bias } => {
                let x = features(output, t, unchanged);
                bias + weights.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>()
            }
        };
        to_score(score)
    }
}

/// Rounds an f64 score to the stored f32, keeping it finite (NaN counts as −∞: never stop).
fn to_score(score: f64) -> f32 {
    if score.is_nan() {
        f32::NEG_INFINITY
    } else {
        score.clamp(-(f32::MAX as f64), f32::MAX as f64) as f32
    }
}

/// The per-step inputs of the learned decoder, from O(t), t and the steps argmax O has been
/// unchanged (all finite): `[divide_by_t score, (O₁ − O₂)/t, O₁ − O₂, ln t, ln unchanged,
/// entropy score of softmax(O(t)/t)]`, where O₁ ≥ O₂ are the two largest outputs.
pub fn features(output: &[f32], t: u32, unchanged: u32) -> [f64; FEATURES] {
    let t = t.max(1) as f64;
    let per_step = Gaps::new(output, t);
    let margin = Gaps::new(output, 1.0).runner_up_gap();
    [
        doubt_score(&per_step),
        margin / t,
        margin,
        libm::log(t),
        libm::log(unchanged.max(1) as f64),
        entropy_score(&per_step),
    ]
    .map(|x| if x.is_finite() { x } else { 0.0 })
}

/// d_k = (O_k − max O) / divisor for every class, with the quantities every score needs.
struct Gaps<'a> {
    output: &'a [f32],
    max: f64,
    divisor: f64,
    top: usize,
    /// ln Σ_{k ≠ top} e^{d_k} (−∞ for a single class).
    ln_rest: f64,
}

impl<'a> Gaps<'a> {
    fn new(output: &'a [f32], divisor: f64) -> Self {
        let top = argmax(output);
        let max = output.get(top).map_or(0.0, |&o| o as f64);
        let mut gaps = Gaps {
            output,
            max,
            divisor,
            top,
            ln_rest: f64::NEG_INFINITY,
        };
        gaps.ln_rest = log_sum_exp(gaps.rest());
        gaps
    }

    fn d(&self, o: f32) -> f64 {
        (o as f64 - self.max) / self.divisor
    }

    /// d_k of every class but the top one.
    fn rest(&self) -> impl Iterator<Item = f64> + Clone + '_ {
        self.output
            .iter()
            .enumerate()
            .filter(move |&(k, _)| k != self.top)
            .map(move |(_, &o)| self.d(o))
    }

    /// ln Σ_k e^{d_k} = ln(1 + e^{ln_rest}).
    fn ln_total(&self) -> f64 {
        libm::log1p(libm::exp(self.ln_rest))
    }

    /// −d of the runner-up: (O₁ − O₂) / divisor (0 for a single class).
    fn runner_up_gap(&self) -> f64 {
        if self.output.len() < 2 {
            return 0.0;
        }
        -self.rest().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// ln Σ e^{x} without overflow or underflow (−∞ for no terms).
fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if max.is_infinite() {
        return max;
    }
    max + libm::log(values.map(|x| libm::exp(x - max)).sum::<f64>())
}

/// −log₁₀(1 − c), c = max softmax: 1 − c = R / (1 + R) with R = Σ_{k≠top} e^{d_k}.
fn doubt_score(g: &Gaps) -> f64 {
    -(g.ln_rest - g.ln_total()) / std::f64::consts::LN_10
}

/// −log₁₀(1 − (p₁ − p₂)): 1 − p₁ + p₂ = (R + e^{d₂}) / (1 + R).
fn margin_score(g: &Gaps) -> f64 {
    if g.output.len() < 2 {
        return f64::INFINITY;
    }
    let second = -g.runner_up_gap();
    // ln(R + e^{d₂}) = ln Σ_{k≠top} e^{d_k} with the runner-up counted twice.
    let ln_sum = log_sum_exp(g.rest().chain(std::iter::once(second)));
    -(ln_sum - g.ln_total()) / std::f64::consts::LN_10
}

/// −log₁₀ H, H = Σ p_k (L − d_k) with L = ln Σ e^{d}: summed in log space, term by term
/// ln p_k + ln(L − d_k) = d_k − L + ln(L − d_k).
fn entropy_score(g: &Gaps) -> f64 {
    let total = g.ln_total();
    // ln L for the top class (d = 0); ln(ln(1 + e^x)) ≈ x once e^x is negligible.
    let ln_total = if g.ln_rest < -30.0 {
        g.ln_rest
    } else {
        libm::log(total)
    };
    let top = -total + ln_total;
    let terms = g
        .rest()
        .map(move |d: f64| d - total + libm::log(total - d))
        .chain(std::iter::once(top));
    -log_sum_exp(terms) / std::f64::consts::LN_10
}

/// Text forms, as [`FromStr`] parses them: `max_softmax:kappa=K`, `divide_by_t`,
/// `margin:kappa=K`, `entropy:kappa=K`, `stability:kappa=K,k=N`; a learned decoder is
/// written `learned` (its weights live in the calibration file).
impl fmt::Display for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decoder::MaxSoftmax { kappa } => write!(f, "max_softmax:kappa={kappa}"),
            Decoder::DivideByT => f.write_str("divide_by_t"),
            Decoder::Margin { kappa } => write!(f, "margin:kappa={kappa}"),
            Decoder::Entropy { kappa } => write!(f, "entropy:kappa={kappa}"),
            Decoder::Stability { kappa, k } => write!(f, "stability:kappa={kappa},k={k}"),
            Decoder::Learned { .. } => f.write_str("learned"),
        }
    }
}

/// Parses the forms [`fmt::Display`] writes, except `learned` (fitted, not given). κ must be
/// finite and positive, k ≥ 1.
impl FromStr for Decoder {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = "expected max_softmax:kappa=K, divide_by_t, margin:kappa=K, \
                        entropy:kappa=K or stability:kappa=K,k=N";
        if text == "divide_by_t" {
            return Ok(Decoder::DivideByT);
        }
        if text == "learned" {
            return Err(
                "a learned decoder is fitted by `dynconf calibrate`, not given by its \
                        text; leave the decoder out to use the calibrated one"
                    .into(),
            );
        }
        let (family, params) = match text.split_once(':') {
            Some((family, params)) => (family, params),
            None if ["max_softmax", "margin", "entropy", "stability"].contains(&text) => {
                return Err(format!(
                    "decoder {text:?} needs kappa=K (e.g. {text}:kappa=4)"
                ))
            }
            None => return Err(format!("unknown decoder {text:?}: {expected}")),
        };
        if family == "divide_by_t" {
            return Err(format!("decoder {text:?}: divide_by_t takes no parameters"));
        }
        let mut kappa = None;
        let mut k = None;
        for param in params.split(',') {
            let (name, value) = param.split_once('=').ok_or_else(|| {
                format!("decoder {text:?}: parameter {param:?} is not NAME=VALUE")
            })?;
            match name {
                "kappa" => {
                    let value: f64 = value.parse().map_err(|_| {
                        format!("decoder {text:?}: kappa {value:?} is not a number")
                    })?;
                    kappa = Some(value);
                }
                "k" => {
                    let value: u32 = value.parse().map_err(|_| {
                        format!("decoder {text:?}: k must be a whole number ≥ 1, found {value:?}")
                    })?;
                    k = Some(value);
                }
                _ => return Err(format!("decoder {text:?}: unknown parameter {name:?}")),
            }
        }
        let kappa = kappa.ok_or_else(|| format!("decoder {text:?} needs kappa=K"))?;
        let decoder = match (family, k) {
            ("max_softmax", None) => Decoder::MaxSoftmax { kappa },
            ("margin", None) => Decoder::Margin { kappa },
            ("entropy", None) => Decoder::Entropy { kappa },
            ("stability", Some(k)) => Decoder::Stability { kappa, k },
            ("stability", None) => return Err(format!("decoder {text:?} needs k=N")),
            (_, Some(_)) if family != "stability" => {
                return Err(format!("decoder {text:?}: only stability takes k"))
            }
            _ => return Err(format!("unknown decoder {text:?}: {expected}")),
        };
        decoder
            .check()
            .map_err(|e| format!("decoder {text:?}: {e}"))?;
        Ok(decoder)
    }
}

/// What a run carries from step to step to decode: argmax O and how long it has held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderState {
    prediction: Option<usize>,
    unchanged: u32,
}

impl DecoderState {
    /// Decodes step `t` of a run (steps fed in order from t = 1 after a reset).
    pub fn decide(&mut self, decoder: &Decoder, output: &[f32], t: u32) -> Decision {
        let prediction = argmax(output);
        self.unchanged = if self.prediction == Some(prediction) {
            self.unchanged + 1
        } else {
            1
        };
        self.prediction = Some(prediction);
        Decision {
            prediction,
            score: decoder.score(output, t, self.unchanged),
            unchanged: self.unchanged,
        }
    }
}

/// Prediction and score at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// argmax O(t); the lowest index wins a tie.
    pub prediction: usize,
    /// The decoder's score s(t) (module docs); −∞ means "cannot stop here".
    pub score: f32,
    /// Steps, this one included, that `prediction` has been argmax O.
    pub unchanged: u32,
}

impl Decision {
    /// Before the first step: class 0, a score that cannot stop a run.
    pub const NONE: Decision = Decision {
        prediction: 0,
        score: f32::NEG_INFINITY,
        unchanged: 0,
    };
}

/// Writes `softmax(O(t) / d)` into `probabilities` (same length as `output`).
pub fn probabilities(output: &[f32], divisor: f64, probabilities: &mut [f32]) {
    let gaps = Gaps::new(output, divisor);
    let total = gaps.ln_total();
    for (p, &o) in probabilities.iter_mut().zip(output) {
        *p = libm::exp(gaps.d(o) - total) as f32;
    }
}

/// Index of the largest value; the lowest index wins a tie.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Checks a threshold θ on the decoder's score. Scores are any real number (negative too),
/// stored as f32, so θ must be a number within f32's range: NaN would never compare, and a
/// value beyond ±3.4e38 (f32::MAX) cannot be told apart from every score or none.
/// `what` names the threshold in the message (`--threshold`, `calibration threshold`).
pub fn check_threshold(what: &str, threshold: f64) -> Result<f64, String> {
    if threshold.is_nan() {
        return Err(format!("{what} must be a number, found NaN"));
    }
    if threshold.abs() > f32::MAX as f64 {
        return Err(format!(
            "{what} {threshold:e} is out of range: scores are f32, so a threshold must lie within ±{:e}",
            f32::MAX
        ));
    }
    Ok(threshold)
}

/// Whether a score is high enough to stop: strictly above the threshold.
pub fn is_confident(score: f32, threshold: f64) -> bool {
    score as f64 > threshold
}

/// The step (1-based) at which Dynamic Confidence stops on a trace of scores: the first
/// step with score > θ, or the last step of the trace (T_max).
pub fn stop_step(scores: &[f32], threshold: f64) -> usize {
    scores
        .iter()
        .position(|&s| is_confident(s, threshold))
        .map_or(scores.len(), |i| i + 1)
}

/// T_max when neither a calibration nor the user names one: the paper's 32 steps. A
/// calibration's own `max_steps` (the length of the runs it was fitted on) takes precedence
/// wherever one is loaded: the CLI, the page and its batch evaluation all ask
/// [`StopRule::max_steps_for`].
pub const DEFAULT_MAX_STEPS: u32 = 32;

/// The longest run accepted from outside (a `--max-steps` flag, a calibration file, the page):
/// far beyond any QCFS setting (the papers stop at a few hundred steps), and small enough that
/// a run is always seconds, never a hang.
pub const MAX_STEPS_LIMIT: u32 = 4096;

/// Checks a T_max from outside: 1..=[`MAX_STEPS_LIMIT`]. `what` names it in the message.
pub fn check_max_steps(what: &str, max_steps: u32) -> Result<u32, String> {
    if !(1..=MAX_STEPS_LIMIT).contains(&max_steps) {
        return Err(format!(
            "{what} must be between 1 and {MAX_STEPS_LIMIT} time steps, found {max_steps}"
        ));
    }
    Ok(max_steps)
}

/// The stop rule of Dynamic Confidence for a live run: stop at the first step whose score is
/// above θ, or at T_max. The one place this rule is written: [`crate::Simulation::run`], the
/// CLI's `classify` and the page's step reports all ask it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopRule {
    /// θ, in the decoder's score units (module docs); +∞ never stops early.
    pub threshold: f64,
    /// T_max.
    pub max_steps: u32,
}

/// Where and why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stop {
    /// The step (1-based) the run stopped after.
    pub t: u32,
    /// Whether the score went above θ there (`false`: T_max reached without being sure).
    pub confident: bool,
}

impl StopRule {
    /// A fixed-length run: T_max steps, never stopping early.
    pub fn fixed(max_steps: u32) -> StopRule {
        StopRule {
            threshold: f64::INFINITY,
            max_steps,
        }
    }

    /// T_max for a run: the user's choice, else the calibration's, else
    /// [`DEFAULT_MAX_STEPS`].
    pub fn max_steps_for(requested: Option<u32>, calibrated: Option<u32>) -> u32 {
        requested.or(calibrated).unwrap_or(DEFAULT_MAX_STEPS)
    }

    /// Whether the run stops after step `t` with this decision, and why.
    pub fn check(&self, decision: &Decision, t: u32) -> Option<Stop> {
        let confident = is_confident(decision.score, self.threshold);
        (confident || t >= self.max_steps).then_some(Stop { t, confident })
    }
}

/// A fixed output O(t) and the bits of each decoder's score on it at t = 7 with 3 steps
/// unchanged, as computed natively on x86_64. The decoders use `libm` rather than the
/// platform's exp/ln, so every target must give the same bits; `tests/wasm.rs` checks this table
/// in the browser.
#[doc(hidden)]
pub const GOLDEN_OUTPUT: [f32; 10] = [3.25, -1.5, 7.75, 0.125, 7.5, -20.0, 1.0, 2.0, 0.0, 6.0];

#[doc(hidden)]
pub fn golden_scores() -> [(Decoder, u32); 6] {
    [
        (Decoder::MaxSoftmax { kappa: 1.0 }, 0x3e9d_a662),
        (Decoder::MaxSoftmax { kappa: 4.0 }, 0x3e0b_05b9),
        (Decoder::DivideByT, 0x3dc4_9108),
        (Decoder::Margin { kappa: 2.0 }, 0x3ca7_f7fa),
        (Decoder::Entropy { kappa: 1.0 }, 0x3c3e_50f1),
        (
            Decoder::Learned {
                weights: [0.7, -0.3, 0.05, 0.9, -0.4, 0.2],
                bias: -1.25,
            },
            0x3d87_8f98,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn softmax(output: &[f32], divisor: f64) -> Vec<f64> {
        let e: Vec<f64> = output
            .iter()
            .map(|&o| ((o as f64) / divisor).exp())
            .collect();
        let sum: f64 = e.iter().sum();
        e.iter().map(|x| x / sum).collect()
    }

    #[test]
    fn decoders_round_trip_through_text_and_json() {
        for d in [
            Decoder::MaxSoftmax { kappa: 1.0 },
            Decoder::MaxSoftmax { kappa: 2.5 },
            Decoder::DivideByT,
            Decoder::Margin { kappa: 4.0 },
            Decoder::Entropy { kappa: 8.0 },
            Decoder::Stability { kappa: 2.0, k: 3 },
        ] {
            assert_eq!(d.to_string().parse::<Decoder>(), Ok(d));
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<Decoder>(&json).unwrap(), d);
        }
        let learned = Decoder::Learned {
            weights: [1.0, -2.0, 0.5, 0.0, 3.0, 0.25],
            bias: -1.5,
        };
        let json = serde_json::to_string(&learned).unwrap();
        assert_eq!(serde_json::from_str::<Decoder>(&json).unwrap(), learned);
        for bad in [
            "kappa=4", // the old shorthand for max_softmax:kappa=4
            "divide-by-t",
            "max_softmax:kappa=0",
            "max_softmax:kappa=-1",
            "max_softmax:kappa=inf",
            "softmax",
            "margin:kappa=2,k=3",
            "margin",
            "divide_by_t:kappa=3",
            "stability:kappa=2",
            "stability:kappa=2,k=0",
            "learned",
            "entropy:temperature=2",
        ] {
            assert!(bad.parse::<Decoder>().is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&Decoder::DivideByT).unwrap(),
            r#"{"kind":"divide_by_t"}"#
        );
    }

    #[test]
    fn scores_match_their_definitions() {
        let output = [1.0f32, 3.0, 2.0, -1.0];
        let p = softmax(&output, 2.0);
        let c = p[1];
        let close = |a: f32, b: f64| (a as f64 - b).abs() < 1e-5 * b.abs().max(1.0);
        assert!(close(
            Decoder::MaxSoftmax { kappa: 2.0 }.score(&output, 5, 1),
            -(1.0 - c).log10()
        ));
        assert!(close(
            Decoder::Margin { kappa: 2.0 }.score(&output, 5, 1),
            -(1.0 - (p[1] - p[2])).log10()
        ));
        let h: f64 = -p.iter().map(|p| p * p.ln()).sum::<f64>();
        assert!(close(
            Decoder::Entropy { kappa: 2.0 }.score(&output, 5, 1),
            -h.log10()
        ));
        let by_t = softmax(&output, 4.0);
        assert!(close(
            Decoder::DivideByT.score(&output, 4, 1),
            -(1.0 - by_t[1]).log10()
        ));
        let stability = Decoder::Stability { kappa: 2.0, k: 3 };
        assert_eq!(stability.score(&output, 5, 2), f32::NEG_INFINITY);
        assert_eq!(
            stability.score(&output, 5, 3),
            Decoder::MaxSoftmax { kappa: 2.0 }.score(&output, 5, 3)
        );
        let weights = [0.5, -1.0, 0.25, 2.0, 1.0, -0.5];
        let x = features(&output, 5, 2);
        let logit = -0.75 + weights.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>();
        assert!(close(
            Decoder::Learned {
                weights,
                bias: -0.75
            }
            .score(&output, 5, 2),
            logit
        ));
        assert_eq!(x[2], 1.0, "margin O1 - O2");
        assert_eq!(x[1], 0.2, "margin per step");
    }

    #[test]
    fn scores_are_the_same_bits_on_every_target() {
        for (decoder, bits) in golden_scores() {
            let score = decoder.score(&GOLDEN_OUTPUT, 7, 3);
            assert_eq!(score.to_bits(), bits, "{decoder}: {score}");
        }
    }

    #[test]
    fn scores_do_not_saturate() {
        // 1 − c ≈ e^−100 ≈ 3.7e−44: c rounds to 1.0 in f64, the score does not.
        let output = [100.0f32, 0.0, 0.0];
        let score = Decoder::MaxSoftmax { kappa: 1.0 }.score(&output, 1, 1);
        let expected = (100.0 - 2f64.ln()) / std::f64::consts::LN_10;
        assert!(
            (score as f64 - expected).abs() < 1e-4,
            "{score} vs {expected}"
        );
        let sharper = Decoder::MaxSoftmax { kappa: 1.0 }.score(&[101.0, 0.0, 0.0], 1, 1);
        assert!(sharper > score, "still ordered beyond 1 − 1e−30");
        for decoder in [
            Decoder::Margin { kappa: 1.0 },
            Decoder::Entropy { kappa: 1.0 },
        ] {
            let a = decoder.score(&[1000.0, 0.0, 0.0], 1, 1);
            let b = decoder.score(&[1001.0, 0.0, 0.0], 1, 1);
            assert!(a.is_finite() && b > a, "{decoder}: {a} {b}");
        }
    }

    #[test]
    fn state_counts_steps_with_the_same_argmax() {
        let decoder = Decoder::Stability { kappa: 1.0, k: 2 };
        let mut state = DecoderState::default();
        let first = state.decide(&decoder, &[1.0, 0.0], 1);
        assert_eq!((first.unchanged, first.score), (1, f32::NEG_INFINITY));
        let second = state.decide(&decoder, &[2.0, 0.0], 2);
        assert_eq!(second.unchanged, 2);
        assert!(second.score.is_finite());
        let switched = state.decide(&decoder, &[2.0, 3.0], 3);
        assert_eq!((switched.prediction, switched.unchanged), (1, 1));
    }

    #[test]
    fn thresholds_are_numbers_in_f32_range() {
        assert_eq!(check_threshold("θ", -3.5), Ok(-3.5));
        assert_eq!(check_threshold("θ", 30.0), Ok(30.0));
        assert!(check_threshold("θ", f64::NAN).unwrap_err().contains("NaN"));
        let big = check_threshold("--threshold", 1e39).unwrap_err();
        assert!(big.contains("--threshold 1e39 is out of range"), "{big}");
        assert!(check_threshold("θ", -1e39).is_err());
        assert!(check_threshold("θ", f64::INFINITY).is_err());
    }

    #[test]
    fn probabilities_are_the_softmax() {
        let output = [1.0f32, 3.0, 2.0];
        let mut p = [0.0f32; 3];
        probabilities(&output, 2.0, &mut p);
        for (a, b) in p.iter().zip(softmax(&output, 2.0)) {
            assert!((*a as f64 - b).abs() < 1e-6);
        }
    }

    #[test]
    fn argmax_prefers_the_first_of_equal_values() {
        assert_eq!(argmax(&[1.0, 5.0, 5.0, 2.0]), 1);
        assert_eq!(argmax(&[0.0, 0.0]), 0);
    }

    #[test]
    fn stop_step_is_the_first_step_strictly_above_threshold() {
        let scores = [0.5f32, 1.0, f32::NEG_INFINITY, 2.0];
        assert_eq!(stop_step(&scores, -1.0), 1);
        assert_eq!(stop_step(&scores, 0.5), 2, "equal does not stop");
        assert_eq!(stop_step(&scores, 1.5), 4);
        assert_eq!(stop_step(&scores, 2.0), 4, "never confident: T_max");
        let rule = StopRule {
            threshold: 1.0,
            max_steps: 4,
        };
        let decision = |score| Decision {
            prediction: 0,
            score,
            unchanged: 1,
        };
        let stop = |t, confident| Some(Stop { t, confident });
        assert_eq!(rule.check(&decision(1.5), 1), stop(1, true));
        assert_eq!(rule.check(&decision(1.0), 3), None);
        assert_eq!(rule.check(&decision(0.0), 4), stop(4, false));
    }
}
