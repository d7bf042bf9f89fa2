//! The core's constants and rules for JavaScript, so that the page states none of them
//! itself: the CIFAR-10 record layout, the image pixel limit, which split is the test split,
//! a crop's and a decoder's text form, a decoder's κ, and per-class accuracy. Each is a thin
//! call into the core function or constant that `dynconf` itself uses.

use wasm_bindgen::prelude::*;

use super::{to_js, WasmSimulation};
use crate::cifar;
use crate::crop::Crop;
use crate::decode::Decoder;
use crate::eval::Confusion;
use crate::preprocess;

/// Bytes of one CIFAR-10 record ([`cifar::RECORD_BYTES`], 3073): a label byte, then the
/// image's pixels ([`cifar_image_side`]² red, then green, then blue).
#[wasm_bindgen(js_name = cifarRecordBytes)]
pub fn cifar_record_bytes() -> u32 {
    cifar::RECORD_BYTES as u32
}

/// Width and height of a CIFAR-10 image in pixels ([`cifar::IMAGE_SIDE`], 32).
#[wasm_bindgen(js_name = cifarImageSide)]
pub fn cifar_image_side() -> u32 {
    cifar::IMAGE_SIDE as u32
}

/// Whether split `split`, read from the batch file named `file_name`, is the official test
/// split, never calibrated on ([`cifar::is_test_split`]: `test`, or any split read from
/// `test_batch.bin`).
#[wasm_bindgen(js_name = isTestSplit)]
pub fn is_test_split(split: &str, file_name: &str) -> bool {
    cifar::is_test_split(split, file_name)
}

/// The largest image accepted, in pixels ([`preprocess::MAX_PIXELS`], 40 megapixels), as
/// `dynconf classify` accepts it. A number (a `u64` would reach JavaScript as a BigInt).
#[wasm_bindgen(js_name = maxImagePixels)]
pub fn max_image_pixels() -> f64 {
    preprocess::MAX_PIXELS as f64
}

/// The largest model file accepted, in bytes ([`crate::model::MAX_FILE_BYTES`], 256 MiB): the
/// page refuses a larger file before reading it, as `dynconf` does.
#[wasm_bindgen(js_name = maxModelFileBytes)]
pub fn max_model_file_bytes() -> f64 {
    crate::model::MAX_FILE_BYTES as f64
}

/// The largest image file accepted, in bytes ([`preprocess::MAX_FILE_BYTES`], 20 MiB), as
/// `dynconf classify` accepts it.
#[wasm_bindgen(js_name = maxImageFileBytes)]
pub fn max_image_file_bytes() -> f64 {
    preprocess::MAX_FILE_BYTES as f64
}

/// A crop as `dynconf classify --crop` reads it (`center` or `centre`, `full`, `X,Y,SIZE`
/// with spaces allowed) in the form `dynconf` writes it: `center`, `full` or `X,Y,SIZE`.
/// Throws the core's message when it cannot be read (whether it fits an image is
/// [`super::crop_rect`]'s question).
#[wasm_bindgen(js_name = cropText)]
pub fn crop_text(crop: &str) -> Result<String, JsError> {
    crop.parse::<Crop>()
        .map(|c| c.to_string())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// A decoder as the eval JSON and calibration files hold it (`{kind: "stability", kappa: 4,
/// k: 2}`) in its text form (`stability:kappa=4,k=2`; `learned` for a learned decoder), as
/// `dynconf` writes it. Throws for an object that is not a decoder.
#[wasm_bindgen(js_name = decoderText)]
pub fn decoder_text(decoder: JsValue) -> Result<String, JsError> {
    let decoder: Decoder = serde_wasm_bindgen::from_value(decoder)
        .map_err(|e| JsError::new(&format!("not a decoder: {e}")))?;
    Ok(decoder.to_string())
}

/// Per-class accuracy (recall) of a confusion matrix (`[true label][prediction]` counts, as
/// the eval JSON's `confusion.t_max` and `confusion.dynamic`): each row's diagonal over its
/// total, `null` for a class with no images ([`Confusion::per_class`]).
#[wasm_bindgen(js_name = perClassAccuracy)]
pub fn per_class_accuracy(matrix: JsValue) -> Result<JsValue, JsError> {
    let matrix: Vec<Vec<u64>> = serde_wasm_bindgen::from_value(matrix)
        .map_err(|e| JsError::new(&format!("not a confusion matrix: {e}")))?;
    if let Some(short) = matrix.iter().enumerate().find(|(k, row)| row.len() <= *k) {
        return Err(JsError::new(&format!(
            "not a confusion matrix: row {} has {} counts",
            short.0,
            short.1.len()
        )));
    }
    to_js(&Confusion::per_class(&matrix))
}

#[wasm_bindgen(js_class = Simulation)]
impl WasmSimulation {
    /// κ of the decoder in use, the divisor of the class probabilities softmax(O(t)/κ);
    /// `undefined` for the decoders that divide by t instead (`divide_by_t`, `learned`).
    #[wasm_bindgen(getter)]
    pub fn kappa(&self) -> Option<f64> {
        match self.core_decoder() {
            Decoder::MaxSoftmax { kappa }
            | Decoder::Margin { kappa }
            | Decoder::Entropy { kappa }
            | Decoder::Stability { kappa, .. } => Some(kappa),
            Decoder::DivideByT | Decoder::Learned { .. } => None,
        }
    }

    /// Whether the decoder in use scores −log₁₀(1 − c) of the max softmax probability c
    /// ([`Decoder::scores_max_probability`]), so that a score reads as a probability.
    #[wasm_bindgen(getter)]
    pub fn scores_max_probability(&self) -> bool {
        self.core_decoder().scores_max_probability()
    }
}
