//! How often the leading class is right at a given time step and decoder score, measured on
//! the calibration images: what the page shows a visitor as "on validation images, at this
//! step with about this score, the network was right p of the time".
//!
//! Histogram binning (Zadrozny & Elkan, ICML 2001) of the score s(t) within groups of steps
//! ([`step_groups`]: 1, 2, 3–4, 5–8, 9–16, …, doubling up to T_max): the (image, step) pairs of
//! a group are sorted by score and cut into [`BINS`] bins of about equal size; each bin's rate of
//! correct answers (argmax O(t) = label) is made non-decreasing in the score by pooling
//! adjacent violators (Ayer et al., Ann. Math. Stat. 1955), so that a higher score never reads
//! as less sure. The step matters: a score reached at step 4 means more than the same score at
//! step 30 (the images still unsure late are the hard ones), so the figure shown at an early
//! confident stop is higher than at a late one, and lower again for a run never sure. The table
//! does not depend on θ.
//!
//! The table is fitted on the calibration images; its held-out check ([`Reliability::fit`]'s
//! `crossfit_error`) is the expected calibration error of tables fitted on K − 1 folds and
//! measured on the K-th.

use serde::{Deserialize, Serialize};

use super::crossfit::all_but;
use super::Traces;

/// Bins per group of steps, before pooling.
pub const BINS: usize = 10;

/// The groups of steps a table is made of for `max_steps` = T_max: `(first, last)`, 1-based and
/// inclusive: 1, 2, 3–4, 5–8, 9–16, …, the last one ending at T_max.
pub fn step_groups(max_steps: u32) -> Vec<(u32, u32)> {
    let mut groups = Vec::new();
    let mut first = 1;
    while first <= max_steps {
        // Groups end at powers of two: 1, 2, 4, 8, …
        let last = first.next_power_of_two().min(max_steps);
        groups.push((first, last));
        first = last + 1;
    }
    groups
}

/// A decoder's step-and-score-to-accuracy table (the calibration file's `reliability`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reliability {
    /// One per group of steps ([`step_groups`]), in order of steps.
    pub groups: Vec<ReliabilityGroup>,
    /// Held-out check: Σ_b (n_b / N) · |held-out accuracy in b − table's accuracy in b|, with
    /// tables fitted on K − 1 folds (stratified, as the threshold's cross-fitting) and the
    /// (image, step) pairs of the K-th; a fraction (0.01 = one point).
    pub crossfit_error: f64,
}

/// The bins of one group of steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityGroup {
    /// The group's steps, 1-based, inclusive.
    pub first_step: u32,
    pub last_step: u32,
    /// Bins by increasing score: each holds the scores from its `from` up to the next bin's.
    pub bins: Vec<ReliabilityBin>,
}

/// One bin of a [`Reliability`] table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// The lowest score of the bin; `None` for the first bin, which also holds s = −∞ (steps
    /// where the decoder cannot stop).
    pub from: Option<f32>,
    /// (image, step) pairs whose score fell in the bin.
    pub pairs: u64,
    /// Of those, the pairs whose prediction argmax O(t) was the label.
    pub correct: u64,
}

impl ReliabilityBin {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.pairs.max(1) as f64
    }
}

impl Reliability {
    /// The table of the images `images` (indices into `traces`), with its held-out check over
    /// `folds` (each a list of image indices; the table is fitted on the others).
    pub fn fit(traces: &Traces, images: &[usize], folds: &[Vec<usize>]) -> Reliability {
        let groups = fit_groups(traces, images);
        let (mut error, mut pairs) = (0.0, 0u64);
        for (k, held_out) in folds.iter().enumerate() {
            let table = Reliability {
                groups: fit_groups(traces, &all_but(folds, k)),
                crossfit_error: 0.0,
            };
            let mut counts: Vec<Vec<(u64, u64)>> = table
                .groups
                .iter()
                .map(|g| vec![(0, 0); g.bins.len()])
                .collect();
            for &i in held_out {
                let pairs = traces.scores(i).iter().zip(traces.correct(i));
                for (t, (&s, &right)) in (1..).zip(pairs) {
                    let (g, b) = table.bin_of(t, s);
                    counts[g][b].0 += 1;
                    counts[g][b].1 += right as u64;
                }
            }
            for (group, counts) in table.groups.iter().zip(&counts) {
                for (bin, &(n, correct)) in group.bins.iter().zip(counts) {
                    if n > 0 {
                        error += (correct as f64 - n as f64 * bin.accuracy()).abs();
                        pairs += n;
                    }
                }
            }
        }
        Reliability {
            groups,
            crossfit_error: error / pairs.max(1) as f64,
        }
    }

    /// The index of the group of steps that holds step `t` (1-based; past the last group: the
    /// last).
    pub fn group_of(&self, t: u32) -> usize {
        self.groups
            .iter()
            .position(|g| t <= g.last_step)
            .unwrap_or(self.groups.len().saturating_sub(1))
    }

    /// The group and bin that hold step `t` (1-based; past the last group: the last) and
    /// `score` (the first bin for −∞ and NaN).
    pub fn bin_of(&self, t: u32, score: f32) -> (usize, usize) {
        let g = self.group_of(t);
        let bin = self.groups[g]
            .bins
            .iter()
            .rposition(|b| b.from.is_some_and(|from| score >= from))
            .unwrap_or(0);
        (g, bin)
    }

    /// The fraction of right answers in the bin of step `t` and `score`: how often the leading
    /// class was right on the calibration images at about this step and score.
    pub fn chance(&self, t: u32, score: f32) -> f64 {
        let (g, b) = self.bin_of(t, score);
        self.groups[g].bins[b].accuracy()
    }

    /// What the page's class bars show: `chances[prediction]` is [`Reliability::chance`] of
    /// step `t` and `score`, and the other classes share the rest in proportion to
    /// `probabilities` (softmax(O(t) / κ), crate::decode::probabilities); all equal shares when
    /// those are 0. The entries sum to 1.
    ///
    /// # Panics
    /// If `probabilities` and `chances` differ in length or `prediction` is not an index of them.
    pub fn class_chances(
        &self,
        t: u32,
        score: f32,
        prediction: usize,
        probabilities: &[f32],
        chances: &mut [f32],
    ) {
        assert_eq!(probabilities.len(), chances.len(), "one chance per class");
        let top = self.chance(t, score);
        let others: f64 = probabilities
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != prediction)
            .map(|(_, &p)| p as f64)
            .sum();
        let rest = chances.len().saturating_sub(1).max(1) as f64;
        for (k, (chance, &p)) in chances.iter_mut().zip(probabilities).enumerate() {
            *chance = if k == prediction {
                top as f32
            } else if others > 0.0 {
                ((1.0 - top) * p as f64 / others) as f32
            } else {
                ((1.0 - top) / rest) as f32
            };
        }
    }

    /// Checks a table read from a file: groups that cover steps 1, 2, … without gaps, each with
    /// at least one bin, the first without `from`, the others with finite, increasing `from`,
    /// each bin with pairs and no more correct than pairs.
    pub fn check(&self) -> Result<(), String> {
        if self.groups.is_empty() {
            return Err("reliability: no groups of steps".into());
        }
        let mut next = 1;
        for group in &self.groups {
            let (first, last) = (group.first_step, group.last_step);
            if first != next || last < first {
                return Err(format!(
                    "reliability: a group of steps {first}–{last} where step {next} comes next"
                ));
            }
            next = last + 1;
            let steps = format!("steps {first}–{last}");
            let head = group
                .bins
                .first()
                .ok_or_else(|| format!("reliability: {steps} have no bins"))?;
            if head.from.is_some() {
                return Err(format!(
                    "reliability: {steps}: the first bin must have no lower bound (from: null)"
                ));
            }
            let mut previous = f32::NEG_INFINITY;
            for (k, bin) in group.bins.iter().enumerate() {
                if k > 0 {
                    let from = bin.from.ok_or_else(|| {
                        format!("reliability: {steps}: bin {k} has no lower bound")
                    })?;
                    if !from.is_finite() || from <= previous {
                        return Err(format!(
                            "reliability: {steps}: bin {k} starts at {from}, not above the bin before it"
                        ));
                    }
                    previous = from;
                }
                if bin.pairs == 0 || bin.correct > bin.pairs {
                    return Err(format!(
                        "reliability: {steps}: bin {k} has {} right of {} pairs",
                        bin.correct, bin.pairs
                    ));
                }
            }
        }
        if !(0.0..=1.0).contains(&self.crossfit_error) {
            return Err(format!(
                "reliability: crossfit_error {} is not a fraction",
                self.crossfit_error
            ));
        }
        Ok(())
    }
}

/// The groups of steps of the images `images`, each with its pooled (monotone) bins.
fn fit_groups(traces: &Traces, images: &[usize]) -> Vec<ReliabilityGroup> {
    step_groups(traces.steps() as u32)
        .into_iter()
        .map(|(first, last)| ReliabilityGroup {
            first_step: first,
            last_step: last,
            bins: fit_bins(traces, images, first as usize - 1..last as usize),
        })
        .collect()
}

/// The pooled (monotone) bins of the images `images` at the steps `steps` (0-based indices).
fn fit_bins(
    traces: &Traces,
    images: &[usize],
    steps: std::ops::Range<usize>,
) -> Vec<ReliabilityBin> {
    let mut pairs: Vec<(f32, bool)> = images
        .iter()
        .flat_map(|&i| {
            let scores = &traces.scores(i)[steps.clone()];
            let correct = &traces.correct(i)[steps.clone()];
            scores
                .iter()
                .zip(correct)
                .map(|(&s, &right)| (if s.is_nan() { f32::NEG_INFINITY } else { s }, right == 1))
        })
        .collect();
    if pairs.is_empty() {
        return vec![ReliabilityBin {
            from: None,
            pairs: 0,
            correct: 0,
        }];
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Lower bounds at the quantiles k/BINS; a bound is a finite score above the one before it,
    // so tied scores share a bin.
    let mut bounds: Vec<f32> = Vec::new();
    for k in 1..BINS {
        let s = pairs[k * pairs.len() / BINS].0;
        if s.is_finite() && bounds.last().is_none_or(|&b| s > b) {
            bounds.push(s);
        }
    }
    let mut bins: Vec<ReliabilityBin> = std::iter::once(None)
        .chain(bounds.iter().copied().map(Some))
        .map(|from| ReliabilityBin {
            from,
            pairs: 0,
            correct: 0,
        })
        .collect();
    let mut b = 0;
    for &(s, right) in &pairs {
        while b < bounds.len() && s >= bounds[b] {
            b += 1;
        }
        bins[b].pairs += 1;
        bins[b].correct += right as u64;
    }
    bins.retain(|bin| bin.pairs > 0);
    if let Some(first) = bins.first_mut() {
        first.from = None;
    }
    pool_adjacent_violators(bins)
}

/// Merges neighbouring bins until accuracy never falls as the score rises; a merged bin keeps
/// the lower `from`.
fn pool_adjacent_violators(bins: Vec<ReliabilityBin>) -> Vec<ReliabilityBin> {
    let mut pooled: Vec<ReliabilityBin> = Vec::with_capacity(bins.len());
    for bin in bins {
        pooled.push(bin);
        while pooled.len() >= 2 {
            let (a, b) = (pooled[pooled.len() - 2], pooled[pooled.len() - 1]);
            // a.correct / a.pairs > b.correct / b.pairs, in integers.
            if (a.correct as u128) * (b.pairs as u128) <= (b.correct as u128) * (a.pairs as u128) {
                break;
            }
            pooled.pop();
            let merged = pooled.last_mut().expect("two bins");
            merged.pairs += b.pairs;
            merged.correct += b.correct;
        }
    }
    pooled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traces(rows: &[(&[f32], &[bool])]) -> Traces {
        let mut traces = Traces::new(rows[0].0.len());
        for (scores, correct) in rows {
            traces.push(scores, correct);
        }
        traces
    }

    #[test]
    fn steps_are_grouped_by_doubling_up_to_t_max() {
        assert_eq!(step_groups(1), [(1, 1)]);
        assert_eq!(step_groups(4), [(1, 1), (2, 2), (3, 4)]);
        assert_eq!(
            step_groups(32),
            [(1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32)]
        );
        assert_eq!(step_groups(12), [(1, 1), (2, 2), (3, 4), (5, 8), (9, 12)]);
    }

    #[test]
    fn higher_scores_read_as_at_least_as_sure_and_bins_count_every_pair() {
        // 40 images of 4 steps: right when the score is high, with noise; −∞ at step 1.
        let rows: Vec<(Vec<f32>, Vec<bool>)> = (0..40)
            .map(|i| {
                let scores = vec![f32::NEG_INFINITY, i as f32 * 0.1, i as f32 * 0.2, 9.0];
                let correct = vec![i % 7 == 0, i % 3 == 0, i > 10, i % 5 != 0];
                (scores, correct)
            })
            .collect();
        let rows: Vec<(&[f32], &[bool])> = rows.iter().map(|(s, c)| (&s[..], &c[..])).collect();
        let traces = traces(&rows);
        let all: Vec<usize> = (0..40).collect();
        let folds = vec![(0..20).collect(), (20..40).collect()];
        let table = Reliability::fit(&traces, &all, &folds);
        table.check().unwrap();
        assert_eq!(table.groups.len(), 3); // steps 1, 2, 3–4
        let bins = || table.groups.iter().flat_map(|g| &g.bins);
        assert_eq!(bins().map(|b| b.pairs).sum::<u64>(), 160);
        let right: u64 = (0..40)
            .map(|i| traces.correct(i).iter().map(|&c| c as u64).sum::<u64>())
            .sum();
        assert_eq!(bins().map(|b| b.correct).sum::<u64>(), right);
        for group in &table.groups {
            for pair in group.bins.windows(2) {
                assert!(pair[0].accuracy() <= pair[1].accuracy(), "{pair:?}");
            }
        }
        // Step 1 holds 6 right of 40 (i = 0, 7, …, 35), whatever the score.
        assert_eq!(table.chance(1, f32::NEG_INFINITY), 6.0 / 40.0);
        assert!(table.chance(3, f32::NEG_INFINITY) <= table.chance(4, 9.0));
        assert_eq!(table.bin_of(99, f32::NAN), (2, 0));
        assert!(table.crossfit_error > 0.0 && table.crossfit_error < 1.0);
        let mut chances = [0.0f32; 3];
        table.class_chances(4, 9.0, 1, &[0.2, 0.5, 0.3], &mut chances);
        assert_eq!(chances[1], table.chance(4, 9.0) as f32);
        assert!((chances.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((chances[2] / chances[0] - 1.5).abs() < 1e-5, "{chances:?}");
    }

    #[test]
    fn a_falling_rate_is_pooled_into_one_bin() {
        // Scores 1..=4 at step 1, right at low scores only: one pooled bin at the overall rate.
        let rows: [(&[f32], &[bool]); 4] = [
            (&[1.0], &[true]),
            (&[2.0], &[true]),
            (&[3.0], &[false]),
            (&[4.0], &[false]),
        ];
        let table = Reliability::fit(&traces(&rows), &[0, 1, 2, 3], &[]);
        assert_eq!(table.groups[0].bins.len(), 1);
        let bin = table.groups[0].bins[0];
        assert_eq!((bin.pairs, bin.correct), (4, 2));
        assert_eq!(table.chance(1, 100.0), 0.5);
    }

    #[test]
    fn crafted_tables_are_refused_by_what_is_wrong() {
        let bin = |from, pairs, correct| ReliabilityBin {
            from,
            pairs,
            correct,
        };
        let group = |first_step, last_step, bins| ReliabilityGroup {
            first_step,
            last_step,
            bins,
        };
        let table = |groups| Reliability {
            groups,
            crossfit_error: 0.01,
        };
        let ok = || vec![bin(None, 3, 1), bin(Some(1.0), 2, 2)];
        let err = |t: Reliability| t.check().unwrap_err();
        assert!(err(table(vec![])).contains("no groups"));
        assert!(err(table(vec![group(2, 2, ok())])).contains("step 1 comes next"));
        assert!(
            err(table(vec![group(1, 1, ok()), group(3, 4, ok())])).contains("step 2 comes next")
        );
        assert!(err(table(vec![group(1, 1, vec![])])).contains("have no bins"));
        assert!(err(table(vec![group(1, 1, vec![bin(Some(0.0), 1, 1)])])).contains("first bin"));
        let falling = vec![bin(None, 1, 1), bin(Some(2.0), 1, 1), bin(Some(1.0), 1, 1)];
        assert!(err(table(vec![group(1, 1, falling)])).contains("bin 2 starts at 1"));
        assert!(err(table(vec![group(1, 1, vec![bin(None, 1, 2)])])).contains("2 right of 1"));
        let infinite = vec![bin(None, 1, 1), bin(Some(f32::INFINITY), 1, 1)];
        assert!(table(vec![group(1, 1, infinite)]).check().is_err());
        table(vec![group(1, 1, ok()), group(2, 2, ok())])
            .check()
            .unwrap();
    }
}
