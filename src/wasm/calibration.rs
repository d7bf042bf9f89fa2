//! `Calibration` for JavaScript: the calibration file next to the model, with each decoder
//! family's Pareto front and cross-fitted figures (method §2–4).

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::calibrate::{
    self, Calibration, CrossFit, Figures, FixedPoint, Oracle, Point, Reliability,
};

/// A calibration file (`models/<model>.calibration.json`).
#[wasm_bindgen(js_name = Calibration)]
pub struct WasmCalibration {
    calibration: Calibration,
    fixed_correct: Vec<u64>,
}

/// Everything the accuracy–latency chart needs.
#[derive(Serialize)]
struct Summary<'a> {
    /// The split the calibration was measured on (never the test split).
    split: &'a str,
    images: usize,
    /// T_max: every image was run this many steps.
    t_max: u32,
    tolerance: f64,
    /// Index into `decoders` of the calibrated (chosen) decoder.
    chosen: usize,
    /// The chosen decoder, threshold and figures: in-sample and cross-fitted.
    decoder: String,
    threshold: f64,
    in_sample: &'a Figures,
    crossfit: &'a CrossFit,
    /// Accuracy of each fixed length t = 1..=T_max.
    fixed: &'a [FixedPoint],
    oracle: Oracle,
    decoders: Vec<DecoderView<'a>>,
    /// `{false_alarm, crossfit_false_alarm}` of the "unlike the classes" rule (fractions of the
    /// calibration images flagged per step: fitted for, and held out); null without the rule.
    out_of_distribution: Option<OodView>,
}

/// What the page says about the out-of-distribution rule.
#[derive(Serialize)]
struct OodView {
    false_alarm: f64,
    crossfit_false_alarm: f64,
}

/// One decoder family's calibrated member.
#[derive(Serialize)]
struct DecoderView<'a> {
    family: &'a str,
    /// Text form (`max_softmax:kappa=4`, `learned`, ...).
    name: String,
    /// Whether the score is −log10(1 − c) of the max softmax probability c.
    max_probability: bool,
    threshold: f64,
    in_sample: &'a Figures,
    crossfit: &'a CrossFit,
    /// The Pareto front on the calibration images, by mean steps, as
    /// `{threshold, mean_steps, accuracy}`.
    front: Vec<FrontPoint>,
    /// `{groups: [{first_step, last_step, bins: [{from, pairs, correct}]}], crossfit_error}`:
    /// how often the leading class was right at each step and score on the calibration images;
    /// null in files made before it.
    reliability: Option<&'a Reliability>,
}

/// A front point with the figures the chart draws and its latency reduction.
#[derive(Serialize)]
struct FrontPoint {
    threshold: f64,
    mean_steps: f64,
    accuracy: f64,
    /// The smallest fixed length at least as accurate (none if no T ≤ T_max is).
    latency_reference_steps: Option<u32>,
    /// 1 − mean_steps / latency_reference_steps (negative: more steps than it).
    latency_reduction: Option<f64>,
}

#[wasm_bindgen(js_class = Calibration)]
impl WasmCalibration {
    /// Parses a calibration file (JSON bytes, as written by `dynconf calibrate`).
    #[wasm_bindgen(constructor)]
    pub fn new(json: &[u8]) -> Result<WasmCalibration, JsError> {
        let calibration = Calibration::from_json(json)
            .map_err(|e| JsError::new(&format!("cannot read the calibration file: {e}")))?;
        let fixed_correct = calibration.fixed.iter().map(|f| f.correct).collect();
        Ok(WasmCalibration {
            calibration,
            fixed_correct,
        })
    }

    /// `{split, images, t_max, tolerance, chosen, decoder, threshold, in_sample, crossfit,
    /// fixed, oracle, decoders: [{family, name, max_probability, threshold, in_sample,
    /// crossfit, front, reliability}]}`.
    pub fn summary(&self) -> Result<JsValue, JsError> {
        let c = &self.calibration;
        let decoders = c
            .decoders
            .iter()
            .map(|d| DecoderView {
                family: &d.family,
                name: d.decoder.to_string(),
                max_probability: d.decoder.scores_max_probability(),
                threshold: d.threshold,
                in_sample: &d.in_sample,
                crossfit: &d.crossfit,
                front: d.front.iter().map(|p| self.front_point(p)).collect(),
                reliability: d.reliability.as_ref(),
            })
            .collect();
        to_js(&Summary {
            split: &c.split,
            images: c.images,
            t_max: c.max_steps,
            tolerance: c.tolerance,
            chosen: self.chosen(),
            decoder: c.decoder.to_string(),
            threshold: c.threshold,
            in_sample: &c.in_sample,
            crossfit: &c.crossfit,
            fixed: &c.fixed,
            oracle: c.oracle,
            decoders,
            out_of_distribution: c.out_of_distribution.as_ref().map(|o| OodView {
                false_alarm: o.false_alarm,
                crossfit_false_alarm: o.crossfit_false_alarm,
            }),
        })
    }

    /// The calibrated threshold.
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f64 {
        self.calibration.threshold
    }

    /// T_max of the calibration.
    #[wasm_bindgen(getter)]
    pub fn max_steps(&self) -> u32 {
        self.calibration.max_steps
    }

    /// SHA-256 of the model the calibration belongs to (hex).
    #[wasm_bindgen(getter)]
    pub fn model_sha256(&self) -> String {
        self.calibration.model_sha256.clone()
    }
}

impl WasmCalibration {
    pub(super) fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Index of the calibrated decoder among the families (0 if none matches).
    fn chosen(&self) -> usize {
        let c = &self.calibration;
        c.decoders
            .iter()
            .position(|d| d.decoder == c.decoder)
            .unwrap_or(0)
    }

    fn front_point(&self, p: &Point) -> FrontPoint {
        let images = self.calibration.images;
        let latency = calibrate::latency_reduction(&self.fixed_correct, p, images);
        FrontPoint {
            threshold: p.threshold,
            mean_steps: p.mean_steps(images),
            accuracy: p.accuracy(images),
            latency_reference_steps: latency.reference_steps,
            latency_reduction: latency.reduction,
        }
    }
}
