//! "Unlike the ten classes": an out-of-distribution flag from the spiking dynamics.
//!
//! A network trained on ten classes answers with one of them whatever it is shown, and Dynamic
//! Confidence often stops early and sure on things that are none of them (a pizza, a kettle).
//! The decoder's score cannot tell: it measures how far the leading class is ahead, not whether
//! the input looks like the training images. How hard each IF layer works does: on images like
//! the calibration images, the layers' spike counts vary together in a narrow way; on other
//! things some layers fire more and others less than usual.
//!
//! The features of a run at step t are x_l(t) = ln(1 + S_l(t) / t) for each IF layer l, where
//! S_l(t) is the spikes layer l emitted in steps 1..=t ([`activity`]). Per step t, their mean μ_t
//! and covariance Σ_t are fitted on the calibration images, and the score of a run is the squared
//! Mahalanobis distance d²_t = (x − μ_t)ᵀ Σ_t⁻¹ (x − μ_t) (Lee et al., NeurIPS 2018, use the same
//! distance on a network's features; here on its per-layer activity), divided by the threshold
//! τ_t that a fraction [`OodDetector::false_alarm`] of the calibration images exceed at that step:
//! a run is flagged when its score d²_t / τ_t is above 1. The rule is fitted on in-distribution
//! images only (no examples of other things), so its false-alarm rate on such images is set, and
//! its detection rate is measured on photos of other things (`dynconf photos`).
//!
//! What it tells is "unlike the calibration images", not "none of the classes": on
//! photographs, which differ from CIFAR-10's pictures whatever they show, it flags photos of the
//! ten classes about as often as photos of other things (README, "The command line"). A flag
//! therefore says that what was measured on the calibration images (the reliability table's
//! chance) may not hold for this input, which is also true of a class it knows photographed
//! unlike its training pictures.

use serde::{Deserialize, Serialize};

use super::crossfit::{all_but, folds};
use super::Recording;

/// Default fraction of calibration images flagged at each step.
pub const DEFAULT_FALSE_ALARM: f64 = 0.05;

/// The features of a run at step `t` (1-based) from `cumulative_spikes[l]`, the spikes IF
/// layer l emitted in steps 1..=t: x_l = ln(1 + S_l / t), written to `out` (one per layer).
pub fn activity(t: u32, cumulative_spikes: &[u64], out: &mut [f32]) {
    for (x, &s) in out.iter_mut().zip(cumulative_spikes) {
        *x = feature(t, s) as f32;
    }
}

fn feature(t: u32, spikes: u64) -> f64 {
    (spikes as f64 / t.max(1) as f64).ln_1p()
}

/// The fitted rule (the calibration file's `out_of_distribution`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OodDetector {
    /// The fraction of calibration images whose distance exceeds each step's threshold: the
    /// false-alarm rate the rule was fitted for.
    pub false_alarm: f64,
    /// One per step t = 1..=T_max.
    pub steps: Vec<OodStep>,
    /// Held-out check: the fraction of (image, step) pairs flagged when μ, Σ and τ are fitted on
    /// K − 1 folds of the calibration images and applied to the K-th (folds as the threshold's
    /// cross-fitting).
    pub crossfit_false_alarm: f64,
}

/// The Gaussian of one step's features and its threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OodStep {
    /// μ_t, one per IF layer.
    pub mean: Vec<f32>,
    /// Σ_t⁻¹, row-major, layers × layers.
    pub precision: Vec<f32>,
    /// τ_t: the squared distance a fraction `false_alarm` of the calibration images exceed.
    pub threshold: f64,
}

impl OodStep {
    fn layers(&self) -> usize {
        self.mean.len()
    }

    /// d² of features produced by `x(l)` for each layer l.
    fn distance(&self, x: impl Fn(usize) -> f64) -> f64 {
        let n = self.layers();
        let mut d2 = 0.0;
        for i in 0..n {
            let di = x(i) - self.mean[i] as f64;
            let row = &self.precision[i * n..][..n];
            let mut dot = 0.0;
            for (j, &p) in row.iter().enumerate() {
                dot += p as f64 * (x(j) - self.mean[j] as f64);
            }
            d2 += di * dot;
        }
        d2
    }
}

impl OodDetector {
    /// Fits the rule on the images `images` of `recording` (which must carry activity), with its
    /// held-out check over `k` folds; `None` when the recording has no activity or fewer than
    /// two images per fold.
    pub fn fit(
        recording: &Recording,
        images: &[usize],
        false_alarm: f64,
        k: usize,
        seed: u64,
    ) -> Option<OodDetector> {
        if recording.layers() == 0 || images.len() < 2 * k.max(1) {
            return None;
        }
        let steps = fit_steps(recording, images, false_alarm)?;
        let labels: Vec<u8> = images.iter().map(|&i| recording.labels()[i]).collect();
        let (mut flagged, mut pairs) = (0u64, 0u64);
        // Folds of positions in `images`.
        let folds = folds(&labels, k, seed);
        for (f, held_out) in folds.iter().enumerate() {
            let mut fit = all_but(&folds, f);
            fit.sort_unstable(); // in image order, as the sums of the whole fit run
            let fit: Vec<usize> = fit.into_iter().map(|i| images[i]).collect();
            let fold_steps = fit_steps(recording, &fit, false_alarm)?;
            for &i in held_out {
                for (t, step) in fold_steps.iter().enumerate() {
                    let x = recording.activity(images[i], t + 1);
                    flagged += u64::from(step.distance(|l| x[l] as f64) > step.threshold);
                    pairs += 1;
                }
            }
        }
        Some(OodDetector {
            false_alarm,
            steps,
            crossfit_false_alarm: flagged as f64 / pairs.max(1) as f64,
        })
    }

    /// IF layers the rule reads.
    pub fn layers(&self) -> usize {
        self.steps.first().map_or(0, OodStep::layers)
    }

    /// The score d²_t / τ_t of a run at step `t` (1-based; beyond the table, its last step)
    /// from the spikes each IF layer emitted in steps 1..=t; above 1 means flagged. `None` when
    /// `cumulative_spikes` has not one count per layer the rule was fitted on.
    pub fn score(&self, t: u32, cumulative_spikes: &[u64]) -> Option<f64> {
        let step = self
            .steps
            .get((t.max(1) as usize - 1).min(self.steps.len().checked_sub(1)?))?;
        if cumulative_spikes.len() != step.layers() {
            return None;
        }
        Some(step.distance(|l| feature(t, cumulative_spikes[l])) / step.threshold)
    }

    /// Whether a score from [`OodDetector::score`] flags the run as unlike the calibration images.
    pub fn flags(score: f64) -> bool {
        score > 1.0
    }

    /// Checks a table read from a file: one step per step of `max_steps`, the same layers at
    /// every step, finite values, positive thresholds.
    pub fn check(&self, max_steps: u32) -> Result<(), String> {
        if self.steps.len() != max_steps as usize {
            return Err(format!(
                "out_of_distribution: {} steps for T_max = {max_steps}",
                self.steps.len()
            ));
        }
        if !(0.0..1.0).contains(&self.false_alarm) {
            return Err(format!(
                "out_of_distribution: false_alarm {} is not in [0, 1)",
                self.false_alarm
            ));
        }
        let layers = self.layers();
        for (t, step) in self.steps.iter().enumerate() {
            let bad = step.mean.len() != layers
                || step.precision.len() != layers * layers
                || !step.threshold.is_finite()
                || step.threshold <= 0.0
                || step
                    .mean
                    .iter()
                    .chain(&step.precision)
                    .any(|v| !v.is_finite());
            if bad || layers == 0 {
                return Err(format!(
                    "out_of_distribution: step {} is not a Gaussian of {layers} layers with a positive threshold",
                    t + 1
                ));
            }
        }
        Ok(())
    }
}

/// μ_t, Σ_t⁻¹ and τ_t of every step on `images`.
fn fit_steps(recording: &Recording, images: &[usize], false_alarm: f64) -> Option<Vec<OodStep>> {
    let n = recording.layers();
    (1..=recording.steps())
        .map(|t| {
            let rows: Vec<&[f32]> = images.iter().map(|&i| recording.activity(i, t)).collect();
            let count = rows.len() as f64;
            let mut mean = vec![0.0f64; n];
            for row in &rows {
                mean.iter_mut()
                    .zip(*row)
                    .for_each(|(m, &x)| *m += x as f64 / count);
            }
            let mut cov = vec![0.0f64; n * n];
            for row in &rows {
                for i in 0..n {
                    let di = row[i] as f64 - mean[i];
                    for j in 0..n {
                        cov[i * n + j] += di * (row[j] as f64 - mean[j]) / (count - 1.0);
                    }
                }
            }
            // A ridge keeps a layer that never varies (always silent) from making Σ singular.
            let ridge = 1e-6 * (0..n).map(|i| cov[i * n + i]).sum::<f64>() / n as f64 + 1e-9;
            (0..n).for_each(|i| cov[i * n + i] += ridge);
            let precision = invert_spd(&cov, n)?;
            // Stored as f32; the threshold is measured with the stored values.
            let mut step = OodStep {
                mean: mean.iter().map(|&m| m as f32).collect(),
                precision: precision.iter().map(|&p| p as f32).collect(),
                threshold: 1.0,
            };
            let mut d2: Vec<f64> = rows
                .iter()
                .map(|row| step.distance(|l| row[l] as f64))
                .collect();
            d2.sort_unstable_by(f64::total_cmp);
            // The smallest distance that at most a fraction false_alarm of the images exceed.
            let keep = ((1.0 - false_alarm) * count).ceil() as usize;
            step.threshold = d2[keep.clamp(1, d2.len()) - 1].max(f64::MIN_POSITIVE);
            Some(step)
        })
        .collect()
}

/// The inverse of a symmetric positive-definite `n × n` matrix (row-major), by Cholesky
/// factorisation; `None` when it is not positive definite.
fn invert_spd(a: &[f64], n: usize) -> Option<Vec<f64>> {
    // A = L Lᵀ.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    // Columns of A⁻¹: solve L y = e_c, then Lᵀ x = y.
    let mut inverse = vec![0.0; n * n];
    for c in 0..n {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let e = if i == c { 1.0 } else { 0.0 };
            y[i] = (e - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>()) / l[i * n + i];
        }
        for i in (0..n).rev() {
            let x = (y[i]
                - (i + 1..n)
                    .map(|k| l[k * n + i] * inverse[k * n + c])
                    .sum::<f64>())
                / l[i * n + i];
            inverse[i * n + c] = x;
        }
    }
    Some(inverse)
}

/// The area under the ROC curve of a score meant to be higher on `positives` than on
/// `negatives`: the probability that a random positive scores above a random negative, ties
/// counting one half (Mann–Whitney U / (n₊ n₋)). `None` when either set is empty.
pub fn auroc(positives: &[f64], negatives: &[f64]) -> Option<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for &p in positives {
        for &q in negatives {
            wins += match p.partial_cmp(&q) {
                Some(std::cmp::Ordering::Greater) => 1.0,
                Some(std::cmp::Ordering::Equal) => 0.5,
                _ => 0.0,
            };
        }
    }
    Some(wins / (positives.len() * negatives.len()) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recording of `n` images whose two layers' activity follows `x(i, t)`.
    fn recording(n: usize, steps: usize, x: impl Fn(usize, usize) -> [f32; 2]) -> Recording {
        let mut r = Recording::with_layers(steps, 2, 2);
        for i in 0..n {
            let outputs = vec![0.0; steps * 2];
            let activity: Vec<f32> = (1..=steps).flat_map(|t| x(i, t)).collect();
            r.push_with_activity(&outputs, &activity, (i % 2) as u8);
        }
        r
    }

    fn noise(i: usize, salt: usize) -> f32 {
        let h = (i * 2654435761 + salt * 40503) % 1000;
        h as f32 / 1000.0 - 0.5
    }

    #[test]
    fn correlated_layers_flag_the_unusual_combination() {
        // Layer 2 follows layer 1 closely; an input with both high is usual, one high and one low
        // is not, although each value on its own is within the usual range.
        let r = recording(2000, 3, |i, _| {
            let a = noise(i, 1) * 2.0;
            [a, a + 0.05 * noise(i, 2)]
        });
        let all: Vec<usize> = (0..2000).collect();
        let d = OodDetector::fit(&r, &all, 0.05, 5, 0).unwrap();
        let s = |a: f64, b: f64, t: u32| {
            d.steps[t as usize - 1].distance(|l| [a, b][l]) / d.steps[t as usize - 1].threshold
        };
        assert!(!OodDetector::flags(s(0.8, 0.8, 2)));
        assert!(OodDetector::flags(s(0.8, -0.8, 2)));
        // Fitted for 5%: about 5% in-sample and held out.
        for step in &d.steps {
            let flagged = all
                .iter()
                .filter(|&&i| {
                    let x = r.activity(i, 1);
                    step.distance(|l| x[l] as f64) > step.threshold
                })
                .count();
            assert!(
                (90..=110).contains(&flagged),
                "{flagged} of 2000 flagged in-sample"
            );
        }
        assert!(
            (0.03..0.07).contains(&d.crossfit_false_alarm),
            "{}",
            d.crossfit_false_alarm
        );
        d.check(3).unwrap();
    }

    #[test]
    fn score_reads_spike_counts_and_refuses_other_layer_counts() {
        let r = recording(400, 2, |i, t| {
            let spikes = [100.0 + 10.0 * noise(i, 3), 50.0 + 5.0 * noise(i, 4)];
            let mut x = [0.0; 2];
            activity(
                t as u32,
                &[spikes[0] as u64 * t as u64, spikes[1] as u64 * t as u64],
                &mut x,
            );
            x
        });
        let d = OodDetector::fit(&r, &(0..400).collect::<Vec<_>>(), 0.05, 4, 1).unwrap();
        assert!(!OodDetector::flags(d.score(2, &[200, 100]).unwrap()));
        assert!(OodDetector::flags(d.score(2, &[2000, 100]).unwrap()));
        assert!(OodDetector::flags(d.score(2, &[200, 0]).unwrap()));
        // Past T_max: the last step's Gaussian.
        assert!(d.score(40, &[4000, 2000]).is_some());
        assert_eq!(d.score(2, &[200]), None);
    }

    #[test]
    fn check_refuses_crafted_tables() {
        let r = recording(100, 2, |i, _| [noise(i, 5), noise(i, 6)]);
        let d = OodDetector::fit(&r, &(0..100).collect::<Vec<_>>(), 0.05, 2, 0).unwrap();
        assert!(d.check(3).unwrap_err().contains("2 steps for T_max = 3"));
        let mut bad = d.clone();
        bad.steps[1].threshold = 0.0;
        assert!(bad.check(2).unwrap_err().contains("step 2"));
        let mut bad = d.clone();
        bad.steps[0].precision.pop();
        assert!(bad.check(2).unwrap_err().contains("step 1"));
        let mut bad = d;
        bad.false_alarm = 1.5;
        assert!(bad.check(2).unwrap_err().contains("false_alarm"));
    }

    #[test]
    fn no_activity_no_rule() {
        let mut r = Recording::new(2, 2);
        for i in 0..20 {
            r.push(&[0.0; 4], (i % 2) as u8);
        }
        assert_eq!(
            OodDetector::fit(&r, &(0..20).collect::<Vec<_>>(), 0.05, 5, 0),
            None
        );
    }

    #[test]
    fn auroc_counts_pairs_and_ties() {
        assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]), Some(1.0));
        assert_eq!(auroc(&[1.0], &[2.0]), Some(0.0));
        assert_eq!(auroc(&[1.0, 3.0], &[1.0, 2.0]), Some(0.625));
        assert_eq!(auroc(&[], &[1.0]), None);
    }

    #[test]
    fn cholesky_inverse() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let inv = invert_spd(&a, 2).unwrap();
        let expected = [0.375, -0.25, -0.25, 0.5];
        inv.iter()
            .zip(expected)
            .for_each(|(x, e)| assert!((x - e).abs() < 1e-12));
        assert_eq!(invert_spd(&[1.0, 2.0, 2.0, 1.0], 2), None);
    }
}
