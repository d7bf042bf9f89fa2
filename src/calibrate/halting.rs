//! The learned halting rule: logistic regression that predicts, from per-step features of
//! O(t) ([`crate::decode::features`]), whether the current prediction argmax O(t) is final
//! (equal to argmax O(T_max)). Its logit is the score of [`Decoder::Learned`], thresholded
//! like every other decoder.
//!
//! Fitted by Newton's method (iteratively reweighted least squares) on standardised features
//! with a small L2 penalty, which keeps the fit finite when the classes separate. Six
//! features and 10⁵ samples need no library: one 7 × 7 linear solve per iteration.

// Index loops mirror the matrix formulas of the Newton step.
#![allow(clippy::needless_range_loop)]

use crate::calibrate::Recording;
use crate::decode::{features, Decoder, DecoderState, FEATURES};

/// L2 penalty on the standardised weights (not on the intercept).
const RIDGE: f64 = 1.0;
const MAX_ITERATIONS: usize = 50;

/// Fits the learned decoder on every step of the images `images` of `recording`.
/// Deterministic: the same images give the same weights.
pub fn fit(recording: &Recording, images: &[usize]) -> Decoder {
    let steps = recording.steps();
    let mut xs: Vec<[f64; FEATURES]> = Vec::with_capacity(images.len() * steps);
    let mut ys: Vec<f64> = Vec::with_capacity(images.len() * steps);
    for &i in images {
        let last = recording.prediction(i, steps);
        let mut state = DecoderState::default();
        for t in 1..=steps {
            let output = recording.output(i, t);
            let decision = state.decide(&Decoder::DivideByT, output, t as u32);
            xs.push(features(output, t as u32, decision.unchanged));
            ys.push((decision.prediction == last) as u8 as f64);
        }
    }
    let (weights, bias) = logistic_regression(&xs, &ys);
    Decoder::Learned { weights, bias }
}

/// Weights and bias in the features' own units, maximising the L2-penalised likelihood.
pub fn logistic_regression(xs: &[[f64; FEATURES]], ys: &[f64]) -> ([f64; FEATURES], f64) {
    const D: usize = FEATURES + 1;
    let n = xs.len().max(1) as f64;
    let mut mean = [0.0; FEATURES];
    let mut sd = [0.0; FEATURES];
    for x in xs {
        for j in 0..FEATURES {
            mean[j] += x[j] / n;
        }
    }
    for x in xs {
        for j in 0..FEATURES {
            sd[j] += (x[j] - mean[j]).powi(2) / n;
        }
    }
    sd.iter_mut()
        .for_each(|s| *s = if *s > 1e-24 { s.sqrt() } else { 1.0 });
    let standardised = |x: &[f64; FEATURES]| -> [f64; D] {
        let mut z = [1.0; D];
        for j in 0..FEATURES {
            z[j + 1] = (x[j] - mean[j]) / sd[j];
        }
        z
    };

    let mut w = [0.0; D];
    for _ in 0..MAX_ITERATIONS {
        let mut gradient = [0.0; D];
        let mut hessian = [[0.0; D]; D];
        for (x, &y) in xs.iter().zip(ys) {
            let z = standardised(x);
            let logit: f64 = w.iter().zip(&z).map(|(w, z)| w * z).sum();
            let p = 1.0 / (1.0 + libm::exp(-logit));
            let curvature = (p * (1.0 - p)).max(1e-12);
            for a in 0..D {
                gradient[a] += (p - y) * z[a];
                for b in 0..=a {
                    hessian[a][b] += curvature * z[a] * z[b];
                }
            }
        }
        for a in 1..D {
            gradient[a] += RIDGE * w[a];
            hessian[a][a] += RIDGE;
        }
        for a in 0..D {
            for b in a + 1..D {
                hessian[a][b] = hessian[b][a];
            }
        }
        let Some(step) = solve(hessian, gradient) else {
            break;
        };
        let mut largest = 0.0f64;
        for (w, s) in w.iter_mut().zip(step) {
            *w -= s;
            largest = largest.max(s.abs());
        }
        if largest < 1e-10 {
            break;
        }
    }
    let mut weights = [0.0; FEATURES];
    let mut bias = w[0];
    for j in 0..FEATURES {
        weights[j] = w[j + 1] / sd[j];
        bias -= w[j + 1] * mean[j] / sd[j];
    }
    (weights, bias)
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting; `None` if singular.
fn solve<const D: usize>(mut a: [[f64; D]; D], mut b: [f64; D]) -> Option<[f64; D]> {
    for col in 0..D {
        let pivot = (col..D).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..D {
            let factor = a[row][col] / a[col][col];
            for k in col..D {
                a[row][k] -= factor * a[col][k];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = [0.0; D];
    for row in (0..D).rev() {
        let rest: f64 = (row + 1..D).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_linear_system() {
        let a = [[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]];
        let x = solve(a, [3.0, 5.0, 5.0]).unwrap();
        for (got, want) in x.iter().zip([1.0, 1.0, 1.0]) {
            assert!((got - want).abs() < 1e-12);
        }
        assert!(solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]).is_none());
    }

    #[test]
    fn recovers_a_known_logistic_model() {
        // y ~ Bernoulli(σ(2·x0 − x1 + 0.5)) on a deterministic grid of (x0, x1), with the
        // expected frequencies instead of draws: the maximum-likelihood fit is exact, up to
        // the ridge's shrinkage (about 2% on these 1,681 samples).
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for a in -20..=20 {
            for b in -20..=20 {
                let (x0, x1) = (a as f64 / 10.0, b as f64 / 10.0);
                let p = 1.0 / (1.0 + (-(2.0 * x0 - x1 + 0.5)).exp());
                xs.push([x0, x1, 0.0, 0.0, 0.0, 0.0]);
                ys.push(p);
            }
        }
        let (weights, bias) = logistic_regression(&xs, &ys);
        assert!((weights[0] - 2.0).abs() < 0.05, "{weights:?}");
        assert!((weights[1] + 1.0).abs() < 0.03, "{weights:?}");
        assert!((bias - 0.5).abs() < 0.02, "{bias}");
        assert_eq!(&weights[2..], &[0.0; 4], "constant features get no weight");
    }

    #[test]
    fn separable_data_gives_finite_weights() {
        let xs: Vec<[f64; FEATURES]> = (0..100)
            .map(|i| [i as f64, 0.0, 0.0, 0.0, 0.0, 0.0])
            .collect();
        let ys: Vec<f64> = (0..100).map(|i| (i >= 50) as u8 as f64).collect();
        let (weights, bias) = logistic_regression(&xs, &ys);
        assert!(weights[0] > 0.0 && weights[0].is_finite() && bias.is_finite());
    }
}
