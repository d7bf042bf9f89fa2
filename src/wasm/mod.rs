//! The browser binding: a thin wasm-bindgen layer over the core, compiled for `wasm32` only.
//!
//! Like the Rust-and-WebAssembly Game of Life, Rust owns all state and JavaScript drives it:
//! `www/js/run-view.js` calls [`WasmSimulation::step`] once per time step from its
//! `requestAnimationFrame` loop and draws the small report it returns. Large arrays (the
//! spike maps) are not serialised: JavaScript views them in place through [`wasm_memory`] and
//! [`WasmSimulation::spikes_ptr`]. Errors reach JavaScript as exceptions (`JsError`) with
//! the core's messages.
//!
//! - [`WasmSimulation`] (`Simulation` in JS): model bytes in, image in, one step at a time.
//! - [`WasmCalibration`] (`Calibration` in JS): the model's calibration: each decoder
//!   family's Pareto front on the calibration split (mean steps, accuracy, latency reduction
//!   per threshold), its in-sample and cross-fitted figures, the fixed-length curve and the
//!   oracle.
//! - [`crop_rect`] (`cropRect` in JS): the pixels a crop (`center`, `full`, `X,Y,SIZE`) takes.
//! - [`check_batch`] (`checkBatch`), [`WasmEvaluator`] (`Evaluator`) and
//!   [`WasmEvaluationSummary`] (`EvaluationSummary`): a whole CIFAR-10 batch evaluated in
//!   Web Workers, reported as `dynconf eval --json` and calibrated as `dynconf calibrate`.
//! - The core's constants and rules, so that JavaScript states none of them itself
//!   (`rules.rs`): [`cifar_record_bytes`] (`cifarRecordBytes`), [`cifar_image_side`]
//!   (`cifarImageSide`), [`max_image_pixels`] (`maxImagePixels`), [`is_test_split`]
//!   (`isTestSplit`), [`crop_text`] (`cropText`), [`decoder_text`] (`decoderText`), [`per_class_accuracy`]
//!   (`perClassAccuracy`), and the decoder's κ and whether it scores a probability
//!   ([`WasmSimulation::kappa`], [`WasmSimulation::scores_max_probability`]).

mod calibration;
mod evaluation;
mod rules;
mod simulation;

pub use calibration::WasmCalibration;
pub use evaluation::{check_batch, WasmEvaluationSummary, WasmEvaluator};
pub use rules::{
    cifar_image_side, cifar_record_bytes, crop_text, decoder_text, is_test_split,
    max_image_file_bytes, max_image_pixels, per_class_accuracy,
};
pub use simulation::WasmSimulation;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::crop::Crop;

/// Runs once when the module is instantiated: Rust panics then print their message and
/// location to the browser console instead of "unreachable executed".
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The module's linear memory, for zero-copy views such as
/// `new Uint8Array(wasm_memory().buffer, sim.spikes_ptr(k), sim.spikes_len(k))`.
/// A view is valid until the next call into the module (memory may grow and move).
/// (Not named `memory`: the module already exports its memory under that name.)
#[wasm_bindgen]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// The pixels a crop takes from a `width × height` image, as `[x, y, width, height]`: the
/// page's crop square and `dynconf classify --crop` go through the same [`Crop::rect`].
/// `crop` is `center`, `full` or `X,Y,SIZE`. Throws the core's message (naming the crop and
/// the image size) when the crop cannot be read or does not fit.
#[wasm_bindgen(js_name = cropRect)]
pub fn crop_rect(crop: &str, width: u32, height: u32) -> Result<Vec<u32>, JsError> {
    let rect = crop
        .parse::<Crop>()
        .and_then(|c| c.rect(width, height))
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(vec![rect.x, rect.y, rect.width, rect.height])
}

/// Serialises a report as a plain JavaScript object (maps as objects, u64 as numbers).
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("could not convert a report for JavaScript: {e}")))
}
