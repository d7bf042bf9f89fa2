//! `Calibration` for JavaScript: the calibration file next to the model, with its stored
//! validation trace replayed live for any threshold (method §2–4).

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::calibrate::{self, Calibration, FixedPoint, Oracle, Point, Traces};

/// A calibration file (`models/<model>.calibration.json`) and its decoded trace.
#[wasm_bindgen(js_name = Calibration)]
pub struct WasmCalibration {
    calibration: Calibration,
    traces: Traces,
}

/// Everything the accuracy–latency chart needs except the current point.
#[derive(Serialize)]
struct Summary<'a> {
    /// The split the trace was measured on (never the test split).
    split: &'a str,
    images: usize,
    /// T_max: every image was run this many steps.
    t_max: u32,
    decoding: String,
    /// The calibrated threshold.
    threshold: f64,
    tolerance: f64,
    /// The calibrated threshold's outcome.
    chosen: Point,
    /// Accuracy of each fixed length t = 1..=T_max.
    fixed: &'a [FixedPoint],
    /// The Dynamic Confidence Pareto front, by mean steps.
    front: &'a [Point],
    oracle: Oracle,
}

/// One threshold replayed on the trace.
#[derive(Serialize)]
struct Replay {
    threshold: f64,
    mean_steps: f64,
    accuracy: f64,
    /// The smallest fixed length whose accuracy is at least this accuracy (none if no
    /// fixed length up to T_max reaches it).
    fixed_t_matching: Option<u32>,
    /// 1 − mean_steps / fixed_t_matching.
    latency_reduction: Option<f64>,
}

#[wasm_bindgen(js_class = Calibration)]
impl WasmCalibration {
    /// Parses a calibration file (JSON bytes, as written by `dynconf calibrate`).
    #[wasm_bindgen(constructor)]
    pub fn new(json: &[u8]) -> Result<WasmCalibration, JsError> {
        let calibration: Calibration = serde_json::from_slice(json)
            .map_err(|e| JsError::new(&format!("cannot read the calibration file: {e}")))?;
        let traces = Traces::decode(&calibration.trace)
            .map_err(|e| JsError::new(&format!("calibration file: {e}")))?;
        if traces.steps() != calibration.max_steps as usize || traces.images() == 0 {
            return Err(JsError::new(&format!(
                "calibration file: the trace has {} images × {} steps, expected T_max = {} steps",
                traces.images(),
                traces.steps(),
                calibration.max_steps
            )));
        }
        Ok(WasmCalibration {
            calibration,
            traces,
        })
    }

    /// `{split, images, t_max, decoding, threshold, tolerance, chosen, fixed, front, oracle}`.
    pub fn summary(&self) -> Result<JsValue, JsError> {
        let c = &self.calibration;
        to_js(&Summary {
            split: &c.split,
            images: c.images,
            t_max: c.max_steps,
            decoding: c.decoding.to_string(),
            threshold: c.threshold,
            tolerance: c.tolerance,
            chosen: calibrate::replay(&self.traces, c.threshold),
            fixed: &c.fixed,
            front: &c.front,
            oracle: c.oracle,
        })
    }

    /// Replays `threshold` on the stored trace (O(images × T_max)):
    /// `{threshold, mean_steps, accuracy, fixed_t_matching, latency_reduction}`.
    pub fn replay(&self, threshold: f64) -> Result<JsValue, JsError> {
        let point = calibrate::replay(&self.traces, threshold);
        let fixed_t_matching = self
            .calibration
            .fixed
            .iter()
            .find(|f| f.accuracy >= point.accuracy)
            .map(|f| f.steps);
        to_js(&Replay {
            threshold,
            mean_steps: point.mean_steps,
            accuracy: point.accuracy,
            fixed_t_matching,
            latency_reduction: fixed_t_matching.map(|t| 1.0 - point.mean_steps / t as f64),
        })
    }

    /// The calibrated threshold.
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f64 {
        self.calibration.threshold
    }

    /// T_max of the trace.
    #[wasm_bindgen(getter)]
    pub fn max_steps(&self) -> u32 {
        self.calibration.max_steps
    }
}

impl WasmCalibration {
    pub(super) fn calibration(&self) -> &Calibration {
        &self.calibration
    }
}
