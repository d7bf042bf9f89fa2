//! Held-out figures of the calibration rule by K-fold cross-fitting.
//!
//! The images are split into K folds, stratified by class and seeded. For each fold, the
//! decoder (within a group of candidates: one family, or all) and its threshold are chosen on
//! the other K − 1 folds with the same rule as [`super::calibrate`], then replayed on the
//! held-out fold, which took no part in the choice. Summing the held-out outcomes over the
//! folds gives one figure per image that is never in-sample; the spread over folds says how
//! much the choice wobbles.

use serde::{Deserialize, Serialize};

use super::{best_of, latency_reduction, replay, Calibrator, LatencyReduction, Point};
use crate::decode::Decoder;

/// Default number of folds.
pub const DEFAULT_FOLDS: usize = 5;
/// Default seed of the fold assignment.
pub const DEFAULT_SEED: u64 = 0;

/// Cross-fitted figures of one calibration rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrossFit {
    /// Number of folds K.
    pub k: usize,
    pub seed: u64,
    pub images: usize,
    /// Held-out accuracy over all images (each scored by the rule fitted without it).
    pub accuracy: f64,
    pub mean_steps: f64,
    pub correct: u64,
    pub total_steps: u64,
    /// Accuracy at T_max on the same images, for comparison.
    pub full_accuracy: f64,
    /// Against the fixed-length curve of the same images: `latency_reduction` and
    /// `latency_reference_steps` in JSON.
    #[serde(flatten)]
    pub latency: LatencyReduction,
    /// Standard deviation over the folds of the held-out accuracy and mean steps.
    pub accuracy_sd: f64,
    pub mean_steps_sd: f64,
    pub folds: Vec<Fold>,
}

/// One held-out fold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    pub images: usize,
    /// The decoder and threshold chosen on the other folds.
    pub decoder: Decoder,
    pub threshold: f64,
    pub accuracy: f64,
    pub mean_steps: f64,
    /// Accuracy at T_max on this fold.
    pub full_accuracy: f64,
}

/// SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): a well-mixed 64-bit hash of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// K folds of the images `0..labels.len()`, stratified by label: within each class the
/// images are shuffled by a seeded hash and dealt round-robin, so every fold holds ⌊n_c/K⌋
/// or ⌈n_c/K⌉ images of each class c. Each fold is sorted.
pub fn folds(labels: &[u8], k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); 256];
    for (i, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(i);
    }
    let k = k.max(1);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    for mut members in by_class {
        members.sort_by_key(|&i| splitmix64(splitmix64(seed) ^ i as u64));
        for i in members {
            folds[next % k].push(i);
            next += 1;
        }
    }
    folds.iter_mut().for_each(|f| f.sort_unstable());
    folds
}

/// The images of every fold but fold `k`: what a rule is fitted on when fold `k` is held out.
pub fn all_but(folds: &[Vec<usize>], k: usize) -> Vec<usize> {
    folds
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != k)
        .flat_map(|(_, fold)| fold.iter().copied())
        .collect()
}

/// Cross-fits the rule "best candidate of the group, cheapest threshold within the
/// tolerance" for each group of candidate indices, on the same folds.
///
/// # Errors
/// When there are fewer than 2 folds or fewer images than folds.
pub fn crossfit_groups(
    calibrator: &Calibrator,
    groups: &[Vec<usize>],
    k: usize,
    seed: u64,
) -> Result<Vec<CrossFit>, String> {
    let recording = calibrator.recording();
    let images = recording.images();
    if k < 2 || images < k {
        return Err(format!(
            "cannot cross-fit {images} images in {k} folds (need at least 2 folds and one image per fold)"
        ));
    }
    let folds = folds(recording.labels(), k, seed);
    let fixed_correct = recording.fixed_correct();
    let mut per_group: Vec<Vec<Fold>> = vec![Vec::new(); groups.len()];
    let mut held_out_points: Vec<Vec<Point>> = vec![Vec::new(); groups.len()];
    for (f, held_out) in folds.iter().enumerate() {
        let fit = all_but(&folds, f);
        let calibrated = calibrator.calibrate_on(&fit);
        for (g, group) in groups.iter().enumerate() {
            let best = best_of(&calibrated, group.iter().copied())
                .ok_or_else(|| "an empty group of decoders".to_string())?;
            let chosen = &calibrated[best];
            let traces = calibrator.traces_of(best, &chosen.decoder, held_out);
            let point = replay(&traces, chosen.chosen.threshold);
            let full = super::fixed_correct(&traces).last().copied().unwrap_or(0);
            per_group[g].push(Fold {
                images: held_out.len(),
                decoder: chosen.decoder,
                threshold: chosen.chosen.threshold,
                accuracy: point.accuracy(held_out.len()),
                mean_steps: point.mean_steps(held_out.len()),
                full_accuracy: full as f64 / held_out.len().max(1) as f64,
            });
            held_out_points[g].push(point);
        }
    }
    Ok(per_group
        .into_iter()
        .zip(held_out_points)
        .map(|(folds, points)| {
            let pooled = Point {
                threshold: f64::NAN,
                total_steps: points.iter().map(|p| p.total_steps).sum(),
                correct: points.iter().map(|p| p.correct).sum(),
            };
            CrossFit {
                k,
                seed,
                images,
                accuracy: pooled.accuracy(images),
                mean_steps: pooled.mean_steps(images),
                correct: pooled.correct,
                total_steps: pooled.total_steps,
                full_accuracy: fixed_correct.last().copied().unwrap_or(0) as f64 / images as f64,
                latency: latency_reduction(&fixed_correct, &pooled, images),
                accuracy_sd: standard_deviation(folds.iter().map(|f| f.accuracy)),
                mean_steps_sd: standard_deviation(folds.iter().map(|f| f.mean_steps)),
                folds,
            }
        })
        .collect())
}

/// Sample standard deviation (n − 1); 0 for fewer than two values.
fn standard_deviation(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = values.clone().count();
    if n < 2 {
        return 0.0;
    }
    let mean = values.clone().sum::<f64>() / n as f64;
    (values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
}
