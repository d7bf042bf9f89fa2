//! Choosing the confidence threshold offline from per-image traces (method §2–3).
//!
//! Every validation input is run to T_max once; its trace keeps the confidence code and the
//! correctness of argmax O(t) at every step. Any threshold can then be replayed in O(N·T),
//! and the whole curve of thresholds is swept at once: a threshold is a point
//! (mean steps, accuracy), the Pareto front keeps the points no other point beats, and the
//! chosen threshold is the cheapest front point within `tolerance` of the full-length
//! accuracy.
//!
//! Candidate thresholds are every confidence code `k / 65535`, k = 0..=65535 (stop when
//! the quantized confidence is *strictly* above it). All thresholds in
//! `[k / 65535, (k + 1) / 65535)` make the same decisions, so this sweep is exhaustive; the
//! sweep reports each distinct outcome once, at the lowest threshold that gives it.

use base64::prelude::{Engine as _, BASE64_STANDARD};
use serde::{Deserialize, Serialize};

use crate::decode::{self, Decoding, CONFIDENCE_SCALE};

/// Default accuracy tolerance: the chosen threshold may lose at most 0.2 points of
/// full-length accuracy on the calibration split, keeping a margin under the project's
/// 0.3-point budget for the shift from validation to test data.
pub const DEFAULT_TOLERANCE: f64 = 0.002;

/// Confidence codes and correctness of N images over the same T steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Traces {
    steps: usize,
    /// `[image][step]` confidence codes.
    confidence: Vec<u16>,
    /// `[image][step]`, 1 if argmax O(t) was the label.
    correct: Vec<u8>,
}

impl Traces {
    pub fn new(steps: usize) -> Self {
        Traces {
            steps,
            ..Default::default()
        }
    }

    /// Appends one image's trace.
    ///
    /// # Panics
    /// If the slices are not `steps` long.
    pub fn push(&mut self, confidence: &[u16], correct: &[bool]) {
        assert_eq!(confidence.len(), self.steps, "trace confidence length");
        assert_eq!(correct.len(), self.steps, "trace correctness length");
        self.confidence.extend_from_slice(confidence);
        self.correct.extend(correct.iter().map(|&c| c as u8));
    }

    pub fn images(&self) -> usize {
        self.confidence.len().checked_div(self.steps).unwrap_or(0)
    }

    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Confidence codes of image `i`, one per step.
    pub fn confidence(&self, i: usize) -> &[u16] {
        &self.confidence[i * self.steps..][..self.steps]
    }

    /// Correctness (0 or 1) of image `i`, one per step.
    pub fn correct(&self, i: usize) -> &[u8] {
        &self.correct[i * self.steps..][..self.steps]
    }

    fn per_image(&self) -> impl Iterator<Item = (&[u16], &[u8])> {
        self.confidence
            .chunks_exact(self.steps.max(1))
            .zip(self.correct.chunks_exact(self.steps.max(1)))
    }

    /// The compact stored form (docs/calibration-format.md).
    pub fn encode(&self) -> EncodedTraces {
        let confidence: Vec<u8> = self
            .confidence
            .iter()
            .flat_map(|c| c.to_le_bytes())
            .collect();
        let bytes_per_image = self.steps.div_ceil(8);
        let mut bits = vec![0u8; self.images() * bytes_per_image];
        for (image, correct) in self.correct.chunks_exact(self.steps.max(1)).enumerate() {
            for (step, &c) in correct.iter().enumerate() {
                bits[image * bytes_per_image + step / 8] |= c << (step % 8);
            }
        }
        EncodedTraces {
            images: self.images(),
            steps: self.steps,
            confidence_u16le: BASE64_STANDARD.encode(confidence),
            correct_bits: BASE64_STANDARD.encode(bits),
        }
    }

    /// Reads the stored form back, checking every length.
    pub fn decode(encoded: &EncodedTraces) -> Result<Traces, String> {
        let (images, steps) = (encoded.images, encoded.steps);
        let confidence_bytes = BASE64_STANDARD
            .decode(&encoded.confidence_u16le)
            .map_err(|e| format!("trace confidence is not base64: {e}"))?;
        let bits = BASE64_STANDARD
            .decode(&encoded.correct_bits)
            .map_err(|e| format!("trace correctness is not base64: {e}"))?;
        let bytes_per_image = steps.div_ceil(8);
        if confidence_bytes.len() != images * steps * 2 || bits.len() != images * bytes_per_image {
            return Err(format!(
                "trace lengths do not match {images} images × {steps} steps ({} confidence bytes, {} correctness bytes)",
                confidence_bytes.len(),
                bits.len()
            ));
        }
        let confidence = confidence_bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        let correct = (0..images * steps)
            .map(|i| (bits[i / steps * bytes_per_image + i % steps / 8] >> (i % steps % 8)) & 1)
            .collect();
        Ok(Traces {
            steps,
            confidence,
            correct,
        })
    }
}

/// [`Traces`] as stored in a calibration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncodedTraces {
    pub images: usize,
    pub steps: usize,
    /// Base64 of `images × steps` little-endian u16 confidence codes, image-major.
    pub confidence_u16le: String,
    /// Base64 of `ceil(steps / 8)` bytes per image; bit `t % 8` of byte `t / 8` is step t+1.
    pub correct_bits: String,
}

/// One threshold's outcome on a set of traces.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub threshold: f64,
    pub mean_steps: f64,
    pub accuracy: f64,
}

/// Accuracy of a fixed-length run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPoint {
    pub steps: u32,
    pub accuracy: f64,
}

/// Stopping each input at its first correct step (an upper bound, not a usable agent).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Oracle {
    /// Fraction of inputs correct at some step ≤ T_max.
    pub accuracy: f64,
    /// Mean first correct step, T_max for inputs never correct.
    pub mean_steps: f64,
}

/// Outcome of one threshold, replayed image by image.
pub fn replay(traces: &Traces, threshold: f64) -> Point {
    let (mut steps, mut correct) = (0usize, 0usize);
    for (confidence, right) in traces.per_image() {
        let stop = decode::stop_step(confidence, threshold);
        steps += stop;
        correct += right[stop - 1] as usize;
    }
    point(threshold, steps as u64, correct as u64, traces.images())
}

fn point(threshold: f64, total_steps: u64, correct: u64, images: usize) -> Point {
    let n = images.max(1) as f64;
    Point {
        threshold,
        mean_steps: total_steps as f64 / n,
        accuracy: correct as f64 / n,
    }
}

/// Outcomes of every candidate threshold `k / 65535`, each distinct outcome once, in order
/// of increasing threshold.
///
/// Done in one pass per image: the stop step only moves when the threshold reaches a new
/// running maximum of the image's confidence, so each image adds a few (Δsteps, Δcorrect)
/// events at those codes, and a prefix sum over codes gives every threshold's totals.
pub fn sweep(traces: &Traces) -> Vec<Point> {
    let levels = CONFIDENCE_SCALE as usize + 1;
    let mut delta_steps = vec![0i64; levels];
    let mut delta_correct = vec![0i64; levels];
    // Below every code (threshold < 0) each image stops at step 1.
    let (mut total_steps, mut total_correct) = (traces.images() as i64, 0i64);
    for (confidence, correct) in traces.per_image() {
        total_correct += correct[0] as i64;
        let mut stop = 0; // index of the current stop step
        while stop + 1 < confidence.len() {
            let record = confidence[stop];
            // Thresholds ≥ record no longer stop here: move to the next step above record.
            let next = (stop + 1..confidence.len())
                .find(|&t| confidence[t] > record)
                .unwrap_or(confidence.len() - 1);
            delta_steps[record as usize] += (next - stop) as i64;
            delta_correct[record as usize] += correct[next] as i64 - correct[stop] as i64;
            if confidence[next] <= record {
                break; // never confident again: stops at T_max from here on
            }
            stop = next;
        }
    }
    let mut points = Vec::new();
    for code in 0..levels {
        if code > 0 && delta_steps[code] == 0 && delta_correct[code] == 0 {
            continue;
        }
        total_steps += delta_steps[code];
        total_correct += delta_correct[code];
        let threshold = decode::dequantize(code as u16);
        points.push(point(
            threshold,
            total_steps as u64,
            total_correct as u64,
            traces.images(),
        ));
    }
    points.dedup_by(|b, a| a.mean_steps == b.mean_steps && a.accuracy == b.accuracy);
    points
}

/// The points no other point dominates (fewer or equal steps and higher or equal accuracy,
/// one strictly), sorted by mean steps. Equal points keep the lowest threshold.
pub fn pareto_front(points: &[Point]) -> Vec<Point> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| {
        a.mean_steps
            .total_cmp(&b.mean_steps)
            .then(b.accuracy.total_cmp(&a.accuracy))
            .then(a.threshold.total_cmp(&b.threshold))
    });
    let mut front: Vec<Point> = Vec::new();
    for p in sorted {
        // Sorted by steps, then best accuracy first: p survives only if it is more accurate
        // than everything at least as cheap.
        if front.last().is_none_or(|best| p.accuracy > best.accuracy) {
            front.push(p);
        }
    }
    front
}

/// The cheapest point of `front` whose accuracy is at least `target`.
pub fn cheapest_reaching(front: &[Point], target: f64) -> Option<Point> {
    front
        .iter()
        .copied()
        .filter(|p| p.accuracy >= target)
        .min_by(|a, b| a.mean_steps.total_cmp(&b.mean_steps))
}

/// Accuracy of argmax O(t) at every fixed length t = 1..=T.
pub fn fixed_accuracy(traces: &Traces) -> Vec<FixedPoint> {
    let mut correct = vec![0usize; traces.steps()];
    for (_, right) in traces.per_image() {
        for (count, &r) in correct.iter_mut().zip(right) {
            *count += r as usize;
        }
    }
    let n = traces.images().max(1) as f64;
    correct
        .iter()
        .enumerate()
        .map(|(t, &c)| FixedPoint {
            steps: t as u32 + 1,
            accuracy: c as f64 / n,
        })
        .collect()
}

pub fn oracle(traces: &Traces) -> Oracle {
    let (mut ever_correct, mut steps) = (0usize, 0usize);
    for (_, right) in traces.per_image() {
        match right.iter().position(|&r| r == 1) {
            Some(first) => {
                ever_correct += 1;
                steps += first + 1;
            }
            None => steps += right.len(),
        }
    }
    let n = traces.images().max(1) as f64;
    Oracle {
        accuracy: ever_correct as f64 / n,
        mean_steps: steps as f64 / n,
    }
}

/// The calibration of one decoding: its front and chosen point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodingCalibration {
    pub decoding: Decoding,
    pub chosen: Point,
    pub front: Vec<Point>,
}

/// Calibrates one decoding's traces: the cheapest front point within `tolerance` of the
/// full-length (T_max) accuracy. Always finds one: the T_max run itself qualifies.
pub fn calibrate(decoding: Decoding, traces: &Traces, tolerance: f64) -> DecodingCalibration {
    let front = pareto_front(&sweep(traces));
    let full = fixed_accuracy(traces).last().map_or(0.0, |f| f.accuracy);
    let chosen = cheapest_reaching(&front, full - tolerance.max(0.0))
        .unwrap_or_else(|| replay(traces, decode::dequantize(CONFIDENCE_SCALE)));
    DecodingCalibration {
        decoding,
        chosen,
        front,
    }
}

/// A summary row of the decoding comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodingComparison {
    pub decoding: Decoding,
    pub threshold: f64,
    pub mean_steps: f64,
    pub accuracy: f64,
    pub front_points: usize,
}

impl From<&DecodingCalibration> for DecodingComparison {
    fn from(c: &DecodingCalibration) -> Self {
        DecodingComparison {
            decoding: c.decoding,
            threshold: c.chosen.threshold,
            mean_steps: c.chosen.mean_steps,
            accuracy: c.chosen.accuracy,
            front_points: c.front.len(),
        }
    }
}

/// The best of several calibrated decodings: fewest mean steps, then higher accuracy, then
/// the earlier candidate.
pub fn best_decoding(candidates: &[DecodingCalibration]) -> Option<usize> {
    (0..candidates.len()).min_by(|&a, &b| {
        let (a, b) = (&candidates[a].chosen, &candidates[b].chosen);
        a.mean_steps
            .total_cmp(&b.mean_steps)
            .then(b.accuracy.total_cmp(&a.accuracy))
    })
}

/// The calibration file written next to a model (docs/calibration-format.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub split: String,
    pub images: usize,
    pub max_steps: u32,
    pub decoding: Decoding,
    pub threshold: f64,
    pub tolerance: f64,
    pub front: Vec<Point>,
    pub fixed: Vec<FixedPoint>,
    pub oracle: Oracle,
    pub decodings_compared: Vec<DecodingComparison>,
    pub trace: EncodedTraces,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::quantize;

    fn p(threshold: f64, mean_steps: f64, accuracy: f64) -> Point {
        Point {
            threshold,
            mean_steps,
            accuracy,
        }
    }

    #[test]
    fn front_drops_dominated_points_and_sorts_by_steps() {
        let points = [
            p(0.9, 5.0, 0.90),
            p(0.5, 2.0, 0.80),
            p(0.7, 3.0, 0.78),
            p(0.99, 8.0, 0.95),
            p(0.95, 9.0, 0.94),
        ];
        let front = pareto_front(&points);
        assert_eq!(
            front,
            vec![p(0.5, 2.0, 0.80), p(0.9, 5.0, 0.90), p(0.99, 8.0, 0.95)]
        );
    }

    #[test]
    fn front_breaks_ties_deterministically() {
        // Same steps: only the most accurate survives. Same point twice: lowest threshold.
        let points = [
            p(0.6, 4.0, 0.85),
            p(0.4, 4.0, 0.88),
            p(0.3, 4.0, 0.88),
            p(0.8, 6.0, 0.88),
            p(0.9, 6.0, 0.90),
        ];
        let front = pareto_front(&points);
        assert_eq!(front, vec![p(0.3, 4.0, 0.88), p(0.9, 6.0, 0.90)]);
        let mut reversed = points;
        reversed.reverse();
        assert_eq!(
            pareto_front(&reversed),
            front,
            "input order does not matter"
        );
        // Equal accuracy at more steps is dominated.
        assert_eq!(
            pareto_front(&[p(0.1, 1.0, 0.5), p(0.2, 2.0, 0.5)]),
            vec![p(0.1, 1.0, 0.5)]
        );
    }

    #[test]
    fn cheapest_reaching_target() {
        let front = [p(0.5, 2.0, 0.80), p(0.9, 5.0, 0.90), p(0.99, 8.0, 0.95)];
        assert_eq!(cheapest_reaching(&front, 0.85), Some(p(0.9, 5.0, 0.90)));
        assert_eq!(cheapest_reaching(&front, 0.90), Some(p(0.9, 5.0, 0.90)));
        assert_eq!(cheapest_reaching(&front, 0.96), None);
    }

    /// Deterministic pseudo-random traces with rising confidence and noisy correctness.
    fn sample_traces(images: usize, steps: usize) -> Traces {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut traces = Traces::new(steps);
        for _ in 0..images {
            let mut c = 0.1 + 0.5 * next();
            let confidence: Vec<u16> = (0..steps)
                .map(|_| {
                    c = (c + 0.2 * (next() - 0.3)).clamp(0.1, 1.0);
                    // coarse codes make ties between images likely
                    quantize((c * 20.0).round() / 20.0)
                })
                .collect();
            let correct: Vec<bool> = confidence
                .iter()
                .map(|&q| next() < decode::dequantize(q))
                .collect();
            traces.push(&confidence, &correct);
        }
        traces
    }

    #[test]
    fn sweep_equals_replay_at_every_threshold() {
        let traces = sample_traces(300, 12);
        let swept = sweep(&traces);
        assert!(swept.len() > 5);
        for point in &swept {
            assert_eq!(
                *point,
                replay(&traces, point.threshold),
                "threshold {}",
                point.threshold
            );
        }
        // Every code is covered: replaying any code gives one of the swept outcomes.
        for code in (0..=u16::MAX).step_by(997).chain([u16::MAX]) {
            let r = replay(&traces, decode::dequantize(code));
            assert!(
                swept
                    .iter()
                    .any(|s| s.mean_steps == r.mean_steps && s.accuracy == r.accuracy),
                "code {code}"
            );
        }
        assert_eq!(swept.first().unwrap().mean_steps, 1.0);
        assert_eq!(swept.last().unwrap().mean_steps, 12.0);
    }

    #[test]
    fn calibration_reaches_full_length_accuracy_within_tolerance() {
        let traces = sample_traces(400, 16);
        let full = fixed_accuracy(&traces).last().unwrap().accuracy;
        for tolerance in [0.0, 0.002, 0.05] {
            let c = calibrate(Decoding::RAW_SUM, &traces, tolerance);
            assert!(c.chosen.accuracy >= full - tolerance);
            assert!(c.front.contains(&c.chosen));
            assert_eq!(replay(&traces, c.chosen.threshold), c.chosen);
        }
    }

    #[test]
    fn oracle_and_fixed_accuracy() {
        let mut traces = Traces::new(3);
        traces.push(&[0, 0, 0], &[false, true, true]);
        traces.push(&[0, 0, 0], &[false, false, false]);
        traces.push(&[0, 0, 0], &[true, false, true]);
        traces.push(&[0, 0, 0], &[false, false, true]);
        assert_eq!(
            oracle(&traces),
            Oracle {
                accuracy: 0.75,
                mean_steps: (2 + 3 + 1 + 3) as f64 / 4.0
            }
        );
        let fixed: Vec<f64> = fixed_accuracy(&traces).iter().map(|f| f.accuracy).collect();
        assert_eq!(fixed, vec![0.25, 0.25, 0.75]);
    }

    #[test]
    fn thresholds_survive_json_exactly() {
        // A threshold one ulp off its code flips `confidence > threshold` at that code, so a
        // calibration file must give back the very f64 it stored (serde_json float_roundtrip).
        for code in [1u16, 12345, 65198, 65534] {
            let threshold = decode::dequantize(code);
            let json = serde_json::to_string(&p(threshold, 1.0, 1.0)).unwrap();
            let back: Point = serde_json::from_str(&json).unwrap();
            assert_eq!(back.threshold.to_bits(), threshold.to_bits(), "{json}");
        }
    }

    #[test]
    fn traces_survive_encoding() {
        let traces = sample_traces(37, 11);
        let encoded = traces.encode();
        assert_eq!(Traces::decode(&encoded).unwrap(), traces);
        let mut broken = encoded.clone();
        broken.images += 1;
        assert!(Traces::decode(&broken).is_err());
    }

    #[test]
    fn best_decoding_prefers_fewer_steps_then_accuracy() {
        let make = |kappa: f64, steps: f64, accuracy: f64| DecodingCalibration {
            decoding: Decoding::Temperature { kappa },
            chosen: p(0.9, steps, accuracy),
            front: vec![],
        };
        let candidates = [
            make(1.0, 6.0, 0.9),
            make(2.0, 5.0, 0.89),
            make(4.0, 5.0, 0.9),
            make(8.0, 5.0, 0.9),
        ];
        assert_eq!(best_decoding(&candidates), Some(2));
    }
}
