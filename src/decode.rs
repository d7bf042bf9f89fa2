//! Confidence decoding and the stop rule of Dynamic Confidence.
//!
//! `p(t) = softmax(O(t) / d)`, `c(t) = max_k p_k(t)`, stop at the first step with
//! `c(t) > threshold` (or at T_max). The divisor `d` is a fixed temperature κ
//! ([`Decoding::Temperature`], κ = 1 is the raw sum) or the step count t
//! ([`Decoding::DivideByT`], firing-rate decoding).
//!
//! Confidence is quantized to steps of 1/65535 (a u16 code) *everywhere* — live runs,
//! stored calibration traces and their replay — so a threshold replayed offline makes
//! exactly the decisions a live run makes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How the accumulated output is turned into probabilities.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoding {
    /// `softmax(O(t) / kappa)`: logits grow with the evidence, so confidence rises over time.
    Temperature { kappa: f64 },
    /// `softmax(O(t) / t)`: the mean output per step (firing-rate decoding).
    DivideByT,
}

impl Decoding {
    /// The raw sum, `softmax(O(t))`.
    pub const RAW_SUM: Decoding = Decoding::Temperature { kappa: 1.0 };

    /// The divisor applied to O(t) at step `t` (1-based).
    pub fn divisor(&self, t: u32) -> f64 {
        match *self {
            Decoding::Temperature { kappa } => kappa,
            Decoding::DivideByT => t.max(1) as f64,
        }
    }
}

impl Default for Decoding {
    fn default() -> Self {
        Decoding::RAW_SUM
    }
}

impl fmt::Display for Decoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decoding::Temperature { kappa } => write!(f, "kappa={kappa}"),
            Decoding::DivideByT => f.write_str("divide-by-t"),
        }
    }
}

/// Parses `kappa=K` (K finite and positive) or `divide-by-t`, the forms [`fmt::Display`] writes.
impl FromStr for Decoding {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "divide-by-t" {
            return Ok(Decoding::DivideByT);
        }
        let kappa = text
            .strip_prefix("kappa=")
            .and_then(|k| k.parse::<f64>().ok())
            .ok_or_else(|| {
                format!("unknown decoding {text:?}: expected `kappa=K` or `divide-by-t`")
            })?;
        if !(kappa.is_finite() && kappa > 0.0) {
            return Err(format!("kappa must be finite and positive, found {kappa}"));
        }
        Ok(Decoding::Temperature { kappa })
    }
}

/// Largest confidence code: confidence 1.0.
pub const CONFIDENCE_SCALE: u16 = u16::MAX;

/// The code of a confidence in [0, 1]: `round(c · 65535)`.
pub fn quantize(confidence: f64) -> u16 {
    (confidence.clamp(0.0, 1.0) * CONFIDENCE_SCALE as f64).round() as u16
}

/// The confidence a code stands for.
pub fn dequantize(code: u16) -> f64 {
    code as f64 / CONFIDENCE_SCALE as f64
}

/// Prediction and (quantized) confidence at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// argmax O(t); the lowest index wins a tie.
    pub prediction: usize,
    /// `code / 65535`.
    pub confidence: f64,
    pub code: u16,
}

/// Decodes the accumulated output `output` = O(t) at step `t`.
pub fn decide(output: &[f32], t: u32, decoding: Decoding) -> Decision {
    let prediction = argmax(output);
    // max p = exp(0) / Σ exp((O_k − O_max) / d)
    let code = quantize(1.0 / shifted_exponentials(output, decoding.divisor(t)).sum::<f64>());
    Decision {
        prediction,
        confidence: dequantize(code),
        code,
    }
}

/// Writes `softmax(O(t) / d)` into `probabilities`.
pub fn probabilities(output: &[f32], t: u32, decoding: Decoding, probabilities: &mut [f32]) {
    let divisor = decoding.divisor(t);
    let sum: f64 = shifted_exponentials(output, divisor).sum();
    for (p, e) in probabilities
        .iter_mut()
        .zip(shifted_exponentials(output, divisor))
    {
        *p = (e / sum) as f32;
    }
}

/// `exp((O_k − max O) / d)` for every class: the softmax numerators, scaled for stability.
fn shifted_exponentials(output: &[f32], divisor: f64) -> impl Iterator<Item = f64> + '_ {
    let max = output.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    output
        .iter()
        .map(move |&o| ((o as f64 - max) / divisor).exp())
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

/// Whether a confidence is high enough to stop: strictly above the threshold.
pub fn is_confident(confidence: f64, threshold: f64) -> bool {
    confidence > threshold
}

/// The step (1-based) at which Dynamic Confidence stops on a trace of confidence codes:
/// the first confident step, or the last step of the trace (T_max).
pub fn stop_step(codes: &[u16], threshold: f64) -> usize {
    codes
        .iter()
        .position(|&code| is_confident(dequantize(code), threshold))
        .map_or(codes.len(), |i| i + 1)
}

/// The stop rule for a live run: stop when confident or at `max_steps`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopRule {
    pub threshold: f64,
    pub max_steps: u32,
}

impl StopRule {
    pub fn should_stop(&self, decision: &Decision, t: u32) -> bool {
        is_confident(decision.confidence, self.threshold) || t >= self.max_steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_round_trips_through_text_and_json() {
        for d in [
            Decoding::RAW_SUM,
            Decoding::Temperature { kappa: 30.0 },
            Decoding::Temperature { kappa: 2.5 },
            Decoding::DivideByT,
        ] {
            assert_eq!(d.to_string().parse::<Decoding>(), Ok(d));
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<Decoding>(&json).unwrap(), d);
        }
        assert!("kappa=0".parse::<Decoding>().is_err());
        assert!("kappa=-1".parse::<Decoding>().is_err());
        assert!("softmax".parse::<Decoding>().is_err());
        assert_eq!(
            serde_json::to_string(&Decoding::DivideByT).unwrap(),
            r#"{"kind":"divide_by_t"}"#
        );
    }

    #[test]
    fn confidence_is_max_probability_quantized() {
        let output = [1.0f32, 3.0, 2.0];
        let decision = decide(&output, 1, Decoding::RAW_SUM);
        let e: Vec<f64> = output.iter().map(|&o| (o as f64).exp()).collect();
        let exact = e[1] / e.iter().sum::<f64>();
        assert_eq!(decision.prediction, 1);
        assert!((decision.confidence - exact).abs() <= 0.5 / 65535.0);
        assert_eq!(decision.confidence, dequantize(quantize(exact)));

        let mut p = [0.0f32; 3];
        probabilities(&output, 1, Decoding::RAW_SUM, &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[1] as f64 - exact).abs() < 1e-6);
    }

    #[test]
    fn temperature_and_divide_by_t_soften_the_same_way() {
        let output = [0.0f32, 8.0];
        let by_t = decide(&output, 4, Decoding::DivideByT);
        let kappa4 = decide(&output, 1, Decoding::Temperature { kappa: 4.0 });
        assert_eq!(by_t, kappa4);
        assert!(kappa4.confidence < decide(&output, 1, Decoding::RAW_SUM).confidence);
    }

    #[test]
    fn argmax_prefers_the_first_of_equal_values() {
        assert_eq!(argmax(&[1.0, 5.0, 5.0, 2.0]), 1);
        assert_eq!(argmax(&[0.0, 0.0]), 0);
    }

    #[test]
    fn stop_step_is_the_first_step_strictly_above_threshold() {
        let codes = [quantize(0.3), quantize(0.8), quantize(0.95), quantize(0.99)];
        assert_eq!(stop_step(&codes, 0.0), 1);
        assert_eq!(
            stop_step(&codes, 0.8),
            3,
            "equal to the threshold does not stop"
        );
        assert_eq!(stop_step(&codes, 0.9), 3);
        assert_eq!(stop_step(&codes, 0.999), 4, "never confident: T_max");
        let rule = StopRule {
            threshold: 0.9,
            max_steps: 4,
        };
        let confident = Decision {
            prediction: 0,
            confidence: 0.95,
            code: quantize(0.95),
        };
        let unsure = Decision {
            prediction: 0,
            confidence: 0.5,
            code: quantize(0.5),
        };
        assert!(rule.should_stop(&confident, 1));
        assert!(!rule.should_stop(&unsure, 3));
        assert!(rule.should_stop(&unsure, 4));
    }
}
