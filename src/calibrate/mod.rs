//! Choosing a decoder and its threshold offline, from runs recorded to T_max (method §2–4).
//!
//! Every input of a split is run to T_max once and its accumulated output O(t) kept at every
//! step (a [`Recording`]). Any decoder's per-image scores ([`Traces`]) follow from it, and any
//! threshold θ can then be replayed in O(N·T): a threshold is a point (mean steps, accuracy),
//! the Pareto front keeps the points no other point beats, and the chosen threshold is the
//! cheapest front point within the tolerance of the T_max accuracy. Every candidate decoder is
//! calibrated this way and the one with the fewest mean steps wins ([`calibrate`]).
//!
//! Those are in-sample figures: the threshold is fitted on the images it is scored on.
//! [`crossfit`] gives the held-out ones (fit on K − 1 folds, replay the K-th).
//!
//! Accuracies are compared as counts of correct images, never as floats; the tolerance, a
//! fraction, becomes a whole number of images once ([`allowed_misses`]).

pub mod crossfit;
pub mod halting;
pub mod ood;
pub mod reliability;

use serde::{Deserialize, Serialize};

use crate::decode::{self, Decoder, DecoderState};

pub use crossfit::{CrossFit, Fold};
pub use ood::{OodDetector, OodStep};
pub use reliability::{Reliability, ReliabilityBin, ReliabilityGroup};

/// Default accuracy tolerance: the chosen threshold may lose at most 0.2 points of
/// full-length accuracy on the calibration images (10 of 5,000), keeping a margin under the
/// project's 0.3-point budget for held-out data.
pub const DEFAULT_TOLERANCE: f64 = 0.002;

/// Version tag of the calibration file written by this code (docs/calibration-format.md).
pub const CALIBRATION_FORMAT: &str = "dynconf-calibration/2";

// ---------------------------------------------------------------- recordings and traces

/// O(t) of N images over the same T steps, with their labels: what every decoder's trace is
/// computed from; and, when recorded, each IF layer's activity (what the out-of-distribution
/// rule is fitted on, [`ood`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recording {
    steps: usize,
    classes: usize,
    /// `[image][step][class]`, O(t) for t = 1..=T.
    outputs: Vec<f32>,
    labels: Vec<u8>,
    /// IF layers whose activity is recorded (0: none).
    layers: usize,
    /// `[image][step][layer]`: [`ood::activity`] at t = 1..=T.
    activity: Vec<f32>,
}

impl Recording {
    pub fn new(steps: usize, classes: usize) -> Self {
        Recording {
            steps,
            classes,
            ..Default::default()
        }
    }

    /// A recording that also keeps the activity of `layers` IF layers per step.
    pub fn with_layers(steps: usize, classes: usize, layers: usize) -> Self {
        Recording {
            layers,
            ..Recording::new(steps, classes)
        }
    }

    /// Appends one image: `outputs` is `[step][class]`, O(1) .. O(T).
    ///
    /// # Panics
    /// If `outputs` is not `steps × classes` long, or the recording keeps activity.
    pub fn push(&mut self, outputs: &[f32], label: u8) {
        assert_eq!(
            self.layers, 0,
            "this recording keeps activity: push_with_activity"
        );
        assert_eq!(outputs.len(), self.steps * self.classes, "recording length");
        self.outputs.extend_from_slice(outputs);
        self.labels.push(label);
    }

    /// Appends one image with its activity, `[step][layer]` ([`ood::activity`] at each step).
    ///
    /// # Panics
    /// If `outputs` is not `steps × classes` long or `activity` not `steps × layers`.
    pub fn push_with_activity(&mut self, outputs: &[f32], activity: &[f32], label: u8) {
        assert_eq!(outputs.len(), self.steps * self.classes, "recording length");
        assert_eq!(activity.len(), self.steps * self.layers, "activity length");
        self.outputs.extend_from_slice(outputs);
        self.activity.extend_from_slice(activity);
        self.labels.push(label);
    }

    /// IF layers whose activity is recorded (0: none).
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// The activity features of image `i` at step `t` (1-based), one per IF layer.
    pub fn activity(&self, i: usize, t: usize) -> &[f32] {
        &self.activity[(i * self.steps + t - 1) * self.layers..][..self.layers]
    }

    pub fn images(&self) -> usize {
        self.labels.len()
    }

    /// T_max.
    pub fn steps(&self) -> usize {
        self.steps
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// O(t) of image `i`, `t` 1-based.
    pub fn output(&self, i: usize, t: usize) -> &[f32] {
        let start = (i * self.steps + t - 1) * self.classes;
        &self.outputs[start..start + self.classes]
    }

    /// argmax O(t) of image `i`, `t` 1-based.
    pub fn prediction(&self, i: usize, t: usize) -> usize {
        decode::argmax(self.output(i, t))
    }

    /// Images whose argmax O(t) is the label, at every fixed length t = 1..=T (index t − 1):
    /// the same for every decoder.
    pub fn fixed_correct(&self) -> Vec<u64> {
        (1..=self.steps)
            .map(|t| {
                (0..self.images())
                    .filter(|&i| self.prediction(i, t) == self.labels[i] as usize)
                    .count() as u64
            })
            .collect()
    }

    /// Every image's scores under `decoder`, decoded step by step as a live run decodes them.
    pub fn traces(&self, decoder: &Decoder) -> Traces {
        self.traces_of(decoder, 0..self.images())
    }

    /// The scores of the images `images` (in that order) under `decoder`.
    pub fn traces_of(&self, decoder: &Decoder, images: impl IntoIterator<Item = usize>) -> Traces {
        let mut traces = Traces::new(self.steps);
        let mut scores = vec![0.0f32; self.steps];
        let mut correct = vec![false; self.steps];
        for i in images {
            let mut state = DecoderState::default();
            for t in 1..=self.steps {
                let decision = state.decide(decoder, self.output(i, t), t as u32);
                scores[t - 1] = decision.score;
                correct[t - 1] = decision.prediction == self.labels[i] as usize;
            }
            traces.push(&scores, &correct);
        }
        traces
    }
}

/// Scores and correctness of N images over the same T steps, for one decoder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Traces {
    steps: usize,
    /// `[image][step]` scores s(t) (crate::decode).
    scores: Vec<f32>,
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
    pub fn push(&mut self, scores: &[f32], correct: &[bool]) {
        assert_eq!(scores.len(), self.steps, "trace score length");
        assert_eq!(correct.len(), self.steps, "trace correctness length");
        self.scores.extend_from_slice(scores);
        self.correct.extend(correct.iter().map(|&c| c as u8));
    }

    pub fn images(&self) -> usize {
        self.scores.len().checked_div(self.steps).unwrap_or(0)
    }

    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Scores of image `i`, one per step.
    pub fn scores(&self, i: usize) -> &[f32] {
        &self.scores[i * self.steps..][..self.steps]
    }

    /// Correctness (0 or 1) of image `i`, one per step.
    pub fn correct(&self, i: usize) -> &[u8] {
        &self.correct[i * self.steps..][..self.steps]
    }

    /// The traces of the images `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Traces {
        let mut subset = Traces::new(self.steps);
        for &i in indices {
            subset.scores.extend_from_slice(self.scores(i));
            subset.correct.extend_from_slice(self.correct(i));
        }
        subset
    }

    fn per_image(&self) -> impl Iterator<Item = (&[f32], &[u8])> {
        self.scores
            .chunks_exact(self.steps.max(1))
            .zip(self.correct.chunks_exact(self.steps.max(1)))
    }
}

// ---------------------------------------------------------------- points and the front

/// One threshold's outcome on a set of images, as counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// θ: stop at the first step whose score is strictly above it.
    pub threshold: f64,
    /// Steps summed over the images (mean steps × images).
    pub total_steps: u64,
    /// Images whose prediction at the stop step was right.
    pub correct: u64,
}

impl Point {
    pub fn accuracy(&self, images: usize) -> f64 {
        self.correct as f64 / images.max(1) as f64
    }

    pub fn mean_steps(&self, images: usize) -> f64 {
        self.total_steps as f64 / images.max(1) as f64
    }
}

/// Accuracy and mean steps of a rule on `images` images, as fractions and as counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub images: usize,
    pub accuracy: f64,
    pub mean_steps: f64,
    pub correct: u64,
    pub total_steps: u64,
}

impl Figures {
    pub fn new(point: &Point, images: usize) -> Self {
        Figures {
            images,
            accuracy: point.accuracy(images),
            mean_steps: point.mean_steps(images),
            correct: point.correct,
            total_steps: point.total_steps,
        }
    }
}

/// Outcome of one threshold, replayed image by image.
pub fn replay(traces: &Traces, threshold: f64) -> Point {
    let (mut total_steps, mut correct) = (0u64, 0u64);
    for (scores, right) in traces.per_image() {
        let stop = decode::stop_step(scores, threshold);
        total_steps += stop as u64;
        correct += right[stop - 1] as u64;
    }
    Point {
        threshold,
        total_steps,
        correct,
    }
}

/// Outcomes of every threshold, each distinct outcome once, in order of increasing
/// threshold; each at the lowest threshold that gives it. Exhaustive: the outcome only
/// changes where θ crosses a score, and every score that matters is a candidate.
///
/// One pass per image: the stop step only moves when θ reaches a new running maximum
/// (a record) of the image's scores, so each image adds a few (Δsteps, Δcorrect) events at
/// its records; sorting the events and summing them gives every threshold's totals.
pub fn sweep(traces: &Traces) -> Vec<Point> {
    let steps = traces.steps();
    if steps == 0 {
        return Vec::new();
    }
    let mut events: Vec<(f32, i64, i64)> = Vec::new();
    let (mut total_steps, mut correct) = (0i64, 0i64);
    let mut lowest = f32::INFINITY;
    for (scores, right) in traces.per_image() {
        // Below every finite score, an image stops at its first step that can stop at all.
        let mut stop = scores
            .iter()
            .position(|&s| s > f32::NEG_INFINITY)
            .unwrap_or(steps - 1);
        lowest = lowest.min(scores[stop]);
        total_steps += stop as i64 + 1;
        correct += right[stop] as i64;
        while stop + 1 < steps {
            let record = scores[stop];
            // Thresholds ≥ record no longer stop here: on to the next step above record.
            let next = (stop + 1..steps).find(|&t| scores[t] > record);
            let to = next.unwrap_or(steps - 1);
            events.push((
                record,
                (to - stop) as i64,
                right[to] as i64 - right[stop] as i64,
            ));
            match next {
                Some(next) => stop = next,
                None => break, // never above record again: T_max from here on
            }
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let below_all = if lowest.is_finite() {
        (lowest as f64).next_down()
    } else {
        -f64::MAX
    };
    let mut points = vec![Point {
        threshold: below_all,
        total_steps: total_steps as u64,
        correct: correct as u64,
    }];
    for group in events.chunk_by(|a, b| a.0 == b.0) {
        for &(_, d_steps, d_correct) in group {
            total_steps += d_steps;
            correct += d_correct;
        }
        points.push(Point {
            threshold: group[0].0 as f64,
            total_steps: total_steps as u64,
            correct: correct as u64,
        });
    }
    points.dedup_by(|b, a| a.total_steps == b.total_steps && a.correct == b.correct);
    points
}

/// The points no other point dominates (fewer or equal steps and more or equally many
/// correct, one strictly), sorted by steps. Equal points keep the lowest threshold.
pub fn pareto_front(points: &[Point]) -> Vec<Point> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| {
        a.total_steps
            .cmp(&b.total_steps)
            .then(b.correct.cmp(&a.correct))
            .then(a.threshold.total_cmp(&b.threshold))
    });
    let mut front: Vec<Point> = Vec::new();
    for p in sorted {
        // Sorted by steps, then most correct first: p survives only if it beats everything
        // at least as cheap.
        if front.last().is_none_or(|best| p.correct > best.correct) {
            front.push(p);
        }
    }
    front
}

/// The cheapest point of `front` with at least `min_correct` correct images.
pub fn cheapest_reaching(front: &[Point], min_correct: u64) -> Option<Point> {
    front
        .iter()
        .copied()
        .filter(|p| p.correct >= min_correct)
        .min_by_key(|p| p.total_steps)
}

/// The whole number of images a `tolerance` (a fraction) allows to lose on `images` images:
/// ⌊tolerance · images⌋, with the tolerance first rounded to parts per million so that
/// 0.002 of 5,000 is exactly 10.
pub fn allowed_misses(tolerance: f64, images: usize) -> u64 {
    let ppm = (tolerance.clamp(0.0, 1.0) * 1e6).round() as u128;
    (ppm * images as u128 / 1_000_000) as u64
}

/// The cheapest front point within `tolerance` of the T_max accuracy, and the front.
/// Always finds one: the T_max run itself qualifies (the sweep's last point).
pub fn choose_threshold(traces: &Traces, tolerance: f64) -> (Point, Vec<Point>) {
    let front = pareto_front(&sweep(traces));
    let full = fixed_correct(traces).last().copied().unwrap_or(0);
    let target = full.saturating_sub(allowed_misses(tolerance, traces.images()));
    let chosen = cheapest_reaching(&front, target).unwrap_or_else(|| replay(traces, f64::MAX));
    (chosen, front)
}

// ---------------------------------------------------------------- fixed length, oracle, latency

/// Accuracy of a fixed-length run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPoint {
    pub steps: u32,
    pub accuracy: f64,
    pub correct: u64,
}

/// Stopping each input at its first correct step (an upper bound, not a usable agent).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Oracle {
    /// Fraction of inputs correct at some step ≤ T_max.
    pub accuracy: f64,
    /// Mean first correct step, T_max for inputs never correct.
    pub mean_steps: f64,
}

/// Images correct at every fixed length t = 1..=T (index t − 1).
pub fn fixed_correct(traces: &Traces) -> Vec<u64> {
    let mut correct = vec![0u64; traces.steps()];
    for (_, right) in traces.per_image() {
        for (count, &r) in correct.iter_mut().zip(right) {
            *count += r as u64;
        }
    }
    correct
}

/// Accuracy of argmax O(t) at every fixed length t = 1..=T.
pub fn fixed_accuracy(traces: &Traces) -> Vec<FixedPoint> {
    let n = traces.images().max(1) as f64;
    fixed_correct(traces)
        .into_iter()
        .enumerate()
        .map(|(t, correct)| FixedPoint {
            steps: t as u32 + 1,
            accuracy: correct as f64 / n,
            correct,
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

/// Latency reduction of a Dynamic Confidence point against fixed-length runs (method §4):
/// `1 − mean steps / T_fixed`, T_fixed the smallest fixed length with at least as many correct
/// images. Negative when Dynamic Confidence needs more steps than that length.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyReduction {
    /// T_fixed, or `None` when no fixed length up to T_max is as accurate.
    #[serde(rename = "latency_reference_steps")]
    pub reference_steps: Option<u32>,
    /// `1 − mean steps / T_fixed`, `None` without a T_fixed.
    #[serde(rename = "latency_reduction")]
    pub reduction: Option<f64>,
}

/// The one latency-reduction rule: `fixed_correct[t − 1]` is the fixed-length count at t.
pub fn latency_reduction(fixed_correct: &[u64], point: &Point, images: usize) -> LatencyReduction {
    let reference_steps = fixed_correct
        .iter()
        .position(|&c| c >= point.correct)
        .map(|i| i as u32 + 1);
    LatencyReduction {
        reference_steps,
        reduction: reference_steps.map(|t| 1.0 - point.mean_steps(images) / t as f64),
    }
}

impl std::fmt::Display for LatencyReduction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.reference_steps, self.reduction) {
            (Some(t), Some(r)) if r >= 0.0 => write!(
                f,
                "{:.1}% (vs T={t}, the shortest fixed length at least as accurate)",
                100.0 * r
            ),
            (Some(t), Some(r)) => write!(
                f,
                "negative, {:.1}%: more mean steps than T={t}, the shortest fixed length at least as accurate",
                100.0 * r
            ),
            _ => f.write_str("none: no fixed length up to T_max is as accurate"),
        }
    }
}

// ---------------------------------------------------------------- candidates and the choice

/// A decoder to compare: a fixed one, or the learned halting rule, fitted on the
/// calibration images ([`halting`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Candidate {
    Fixed(Decoder),
    Learned,
}

impl Candidate {
    pub fn family(&self) -> &'static str {
        match self {
            Candidate::Fixed(d) => d.family(),
            Candidate::Learned => "learned",
        }
    }
}

/// The temperatures compared for every κ decoder (the authors' constant is 30).
pub const KAPPAS: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 30.0];
/// The patience values compared for the stability decoder.
pub const PATIENCE: [u32; 4] = [2, 3, 4, 6];

/// Every candidate `dynconf calibrate` and `dynconf decoders` compare: max softmax for each
/// κ and divided by t, margin and entropy for each κ, stability for each κ and patience k,
/// and the learned rule.
pub fn default_candidates() -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = KAPPAS
        .iter()
        .map(|&kappa| Candidate::Fixed(Decoder::MaxSoftmax { kappa }))
        .collect();
    candidates.push(Candidate::Fixed(Decoder::DivideByT));
    for kappa in KAPPAS {
        candidates.push(Candidate::Fixed(Decoder::Margin { kappa }));
    }
    for kappa in KAPPAS {
        candidates.push(Candidate::Fixed(Decoder::Entropy { kappa }));
    }
    for kappa in KAPPAS {
        for k in PATIENCE {
            candidates.push(Candidate::Fixed(Decoder::Stability { kappa, k }));
        }
    }
    candidates.push(Candidate::Learned);
    candidates
}

/// One candidate calibrated on a set of images: its decoder (fitted, if learned), its chosen
/// point and its Pareto front on those images.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibrated {
    pub decoder: Decoder,
    pub chosen: Point,
    pub front: Vec<Point>,
}

/// Calibrates candidates on any subset of a recording, computing each fixed decoder's traces
/// once.
pub struct Calibrator<'a> {
    recording: &'a Recording,
    candidates: Vec<Candidate>,
    /// Traces of every fixed candidate over all images (`None` for the learned one).
    traces: Vec<Option<Traces>>,
    tolerance: f64,
}

impl<'a> Calibrator<'a> {
    pub fn new(recording: &'a Recording, candidates: &[Candidate], tolerance: f64) -> Self {
        let traces = candidates
            .iter()
            .map(|c| match c {
                Candidate::Fixed(d) => Some(recording.traces(d)),
                Candidate::Learned => None,
            })
            .collect();
        Calibrator {
            recording,
            candidates: candidates.to_vec(),
            traces,
            tolerance,
        }
    }

    pub fn recording(&self) -> &Recording {
        self.recording
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Every candidate calibrated on the images `fit` (indices into the recording).
    pub fn calibrate_on(&self, fit: &[usize]) -> Vec<Calibrated> {
        (0..self.candidates.len())
            .map(|c| {
                let (decoder, traces) = match &self.traces[c] {
                    Some(all) => (self.fixed_decoder(c), all.subset(fit)),
                    None => {
                        let decoder = halting::fit(self.recording, fit);
                        (
                            decoder,
                            self.recording.traces_of(&decoder, fit.iter().copied()),
                        )
                    }
                };
                let (chosen, front) = choose_threshold(&traces, self.tolerance);
                Calibrated {
                    decoder,
                    chosen,
                    front,
                }
            })
            .collect()
    }

    fn fixed_decoder(&self, candidate: usize) -> Decoder {
        match self.candidates[candidate] {
            Candidate::Fixed(d) => d,
            Candidate::Learned => unreachable!("the learned candidate has no fixed decoder"),
        }
    }

    /// Traces of `decoder` (a fitted or fixed decoder of candidate `candidate`) on `images`.
    pub fn traces_of(&self, candidate: usize, decoder: &Decoder, images: &[usize]) -> Traces {
        match &self.traces[candidate] {
            Some(all) => all.subset(images),
            None => self.recording.traces_of(decoder, images.iter().copied()),
        }
    }
}

/// The best of several calibrated candidates (indices into `calibrated`): fewest steps,
/// then more correct images, then the earlier candidate.
pub fn best_of(calibrated: &[Calibrated], among: impl IntoIterator<Item = usize>) -> Option<usize> {
    among.into_iter().min_by(|&a, &b| {
        let (a, b) = (&calibrated[a].chosen, &calibrated[b].chosen);
        a.total_steps
            .cmp(&b.total_steps)
            .then(b.correct.cmp(&a.correct))
    })
}

// ---------------------------------------------------------------- the calibration file

/// One decoder family's calibrated member: what `dynconf decoders` prints and the page's
/// decoder selector offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FamilyCalibration {
    pub family: String,
    /// The member (parameters) chosen on all calibration images.
    pub decoder: Decoder,
    pub threshold: f64,
    /// In-sample: the chosen point on the images it was fitted on.
    pub in_sample: Figures,
    /// Held-out: the family's parameters and threshold chosen on K − 1 folds, replayed on
    /// the K-th.
    pub crossfit: CrossFit,
    /// The member's Pareto front on all calibration images, by total steps.
    pub front: Vec<Point>,
    /// How often the leading class was right at each step and score, on all calibration
    /// images ([`reliability`]); absent in files written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reliability: Option<Reliability>,
}

/// One candidate's in-sample result (the calibration file's `candidates` rows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateRow {
    pub decoder: Decoder,
    pub threshold: f64,
    pub accuracy: f64,
    pub mean_steps: f64,
    pub front_points: usize,
}

/// The calibration file written next to a model (docs/calibration-format.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// [`CALIBRATION_FORMAT`].
    pub format: String,
    /// SHA-256 of the model file this calibration belongs to, lower-case hex.
    pub model_sha256: String,
    pub split: String,
    pub images: usize,
    pub max_steps: u32,
    pub tolerance: f64,
    /// The chosen decoder (the best family's member) and threshold.
    pub decoder: Decoder,
    pub threshold: f64,
    /// The chosen rule on the calibration images (in-sample).
    pub in_sample: Figures,
    /// The whole choice (family, parameters, threshold) cross-fitted: held-out figures.
    pub crossfit: CrossFit,
    pub fixed: Vec<FixedPoint>,
    pub oracle: Oracle,
    /// Each family's best member, with its front and cross-fitted figures.
    pub decoders: Vec<FamilyCalibration>,
    /// Every candidate's in-sample result.
    pub candidates: Vec<CandidateRow>,
    /// The "unlike the calibration images" rule ([`ood`]); absent in files written before it
    /// and when the runs kept no per-layer activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_distribution: Option<OodDetector>,
}

/// Where the calibration is made and how it is cross-fitted.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationSettings {
    /// Describes the images (written to the file).
    pub split: String,
    pub model_sha256: String,
    pub tolerance: f64,
    /// Folds and seed of the cross-fitting.
    pub folds: usize,
    pub seed: u64,
}

/// The calibration of a recording: every candidate calibrated on all images, the best of each
/// family and the best overall chosen (fewest steps within the tolerance), each cross-fitted.
///
/// # Errors
/// When the recording is too small to cross-fit (fewer images than folds) or has no steps.
pub fn calibrate(
    recording: &Recording,
    candidates: &[Candidate],
    settings: &CalibrationSettings,
) -> Result<Calibration, String> {
    if candidates.is_empty() {
        return Err("no decoders to compare".into());
    }
    let calibrator = Calibrator::new(recording, candidates, settings.tolerance);
    let all: Vec<usize> = (0..recording.images()).collect();
    let calibrated = calibrator.calibrate_on(&all);
    let families = family_groups(candidates);
    let mut groups: Vec<Vec<usize>> = families.iter().map(|(_, g)| g.clone()).collect();
    groups.push((0..candidates.len()).collect());
    let crossfits = crossfit::crossfit_groups(&calibrator, &groups, settings.folds, settings.seed)?;
    let images = recording.images();
    let folds = crossfit::folds(recording.labels(), settings.folds, settings.seed);
    let traces = recording.traces(&Decoder::PAPER);
    let fixed = fixed_accuracy(&traces);
    let decoders: Vec<FamilyCalibration> = families
        .iter()
        .zip(&crossfits)
        .map(|((family, group), crossfit)| {
            let index = best_of(&calibrated, group.iter().copied()).expect("non-empty");
            let best = &calibrated[index];
            let best_traces = calibrator.traces_of(index, &best.decoder, &all);
            FamilyCalibration {
                family: family.to_string(),
                decoder: best.decoder,
                threshold: best.chosen.threshold,
                in_sample: Figures::new(&best.chosen, images),
                crossfit: crossfit.clone(),
                front: best.front.clone(),
                reliability: Some(Reliability::fit(&best_traces, &all, &folds)),
            }
        })
        .collect();
    let best = &calibrated[best_of(&calibrated, 0..candidates.len()).expect("non-empty")];
    Ok(Calibration {
        format: CALIBRATION_FORMAT.into(),
        model_sha256: settings.model_sha256.clone(),
        split: settings.split.clone(),
        images,
        max_steps: recording.steps() as u32,
        tolerance: settings.tolerance,
        decoder: best.decoder,
        threshold: best.chosen.threshold,
        in_sample: Figures::new(&best.chosen, images),
        crossfit: crossfits.last().expect("the overall group").clone(),
        oracle: oracle(&traces),
        fixed,
        decoders,
        candidates: calibrated
            .iter()
            .map(|c| CandidateRow {
                decoder: c.decoder,
                threshold: c.chosen.threshold,
                accuracy: c.chosen.accuracy(images),
                mean_steps: c.chosen.mean_steps(images),
                front_points: c.front.len(),
            })
            .collect(),
        out_of_distribution: OodDetector::fit(
            recording,
            &all,
            ood::DEFAULT_FALSE_ALARM,
            settings.folds,
            settings.seed,
        ),
    })
}

/// Candidate indices grouped by family, families in order of first appearance.
pub fn family_groups(candidates: &[Candidate]) -> Vec<(&'static str, Vec<usize>)> {
    let mut groups: Vec<(&'static str, Vec<usize>)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match groups.iter_mut().find(|(f, _)| *f == c.family()) {
            Some((_, group)) => group.push(i),
            None => groups.push((c.family(), vec![i])),
        }
    }
    groups
}

impl Calibration {
    /// Checks that this calibration belongs to the model file whose SHA-256 is
    /// `model_sha256` (lower-case hex).
    pub fn check_model(&self, model_sha256: &str) -> Result<(), String> {
        if self.model_sha256 != model_sha256 {
            return Err(format!(
                "this calibration was made for another model (SHA-256 {}…, the model is {}…)",
                &self.model_sha256.get(..12).unwrap_or(&self.model_sha256),
                &model_sha256.get(..12).unwrap_or(model_sha256),
            ));
        }
        Ok(())
    }

    /// The calibrated threshold of `decoder`: the chosen one, a family's member or any
    /// compared candidate; `None` if this calibration did not compare it.
    pub fn threshold_of(&self, decoder: &Decoder) -> Option<f64> {
        if *decoder == self.decoder {
            return Some(self.threshold);
        }
        self.decoders
            .iter()
            .find(|d| d.decoder == *decoder)
            .map(|d| d.threshold)
            .or_else(|| {
                self.candidates
                    .iter()
                    .find(|c| c.decoder == *decoder)
                    .map(|c| c.threshold)
            })
    }

    /// The score-to-accuracy table of `decoder` when it is one of the families' members and the
    /// file has one ([`reliability`]).
    pub fn reliability_of(&self, decoder: &Decoder) -> Option<&Reliability> {
        self.decoders
            .iter()
            .find(|d| d.decoder == *decoder)
            .and_then(|d| d.reliability.as_ref())
    }

    /// Parses a calibration file (JSON), refusing other formats by name.
    pub fn from_json(json: &[u8]) -> Result<Calibration, String> {
        #[derive(Deserialize)]
        struct Version {
            format: Option<String>,
        }
        let version: Version =
            serde_json::from_slice(json).map_err(|e| format!("not a calibration file: {e}"))?;
        match version.format.as_deref() {
            Some(CALIBRATION_FORMAT) => {}
            Some(other) => {
                return Err(format!(
                "calibration format {other:?} is not supported (expected {CALIBRATION_FORMAT:?})"
            ))
            }
            None => {
                return Err(format!(
                    "no format tag: an older calibration file or not a calibration file \
                     (expected {CALIBRATION_FORMAT:?})"
                ))
            }
        }
        let calibration: Calibration =
            serde_json::from_slice(json).map_err(|e| format!("calibration file: {e}"))?;
        let c = &calibration;
        let check = |d: &Decoder| {
            d.check()
                .map_err(|e| format!("calibration file: decoder {d}: {e}"))
        };
        crate::decode::check_threshold("calibration file: threshold", c.threshold)?;
        crate::decode::check_max_steps("calibration file: max_steps (T_max)", c.max_steps)?;
        check(&c.decoder)?;
        if c.images == 0 {
            return Err("calibration file: it was made on no images".into());
        }
        if c.decoders.is_empty() {
            return Err("calibration file: it compares no decoders".into());
        }
        for d in &c.decoders {
            check(&d.decoder)?;
            crate::decode::check_threshold(
                &format!("calibration file: the threshold of decoder {}", d.decoder),
                d.threshold,
            )?;
            if d.front.is_empty() {
                return Err(format!(
                    "calibration file: decoder {} has an empty Pareto front",
                    d.decoder
                ));
            }
            if let Some(reliability) = &d.reliability {
                reliability
                    .check()
                    .map_err(|e| format!("calibration file: decoder {}: {e}", d.decoder))?;
            }
        }
        for row in &c.candidates {
            check(&row.decoder)?;
        }
        if let Some(ood) = &c.out_of_distribution {
            ood.check(c.max_steps)
                .map_err(|e| format!("calibration file: {e}"))?;
        }
        if calibration.fixed.len() != calibration.max_steps as usize {
            return Err(format!(
                "calibration file: {} fixed-length points for T_max = {}",
                calibration.fixed.len(),
                calibration.max_steps
            ));
        }
        Ok(calibration)
    }
}

/// SHA-256 of `bytes`, lower-case hex (the model hash a calibration records).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;
