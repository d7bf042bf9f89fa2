//! Evaluating a whole CIFAR-10 batch on the page, as `dynconf eval` and `dynconf calibrate`
//! do natively: [`WasmEvaluator`]s in Web Workers run records to T_max and hand their runs over
//! as bytes ([`crate::eval::transfer`]); one [`WasmEvaluationSummary`] collects them and
//! writes the same JSON as the CLI (the evaluation report and, if asked, the calibration file).

use std::sync::Arc;

use wasm_bindgen::prelude::*;

use crate::ann::QuantizedAnn;
use crate::calibrate::{self, crossfit, Calibration, CalibrationSettings};
use crate::cifar::{self, IMAGE_BYTES, RECORD_BYTES};
use crate::eval::report::{self, DynamicRule, EvalReport};
use crate::eval::{self, transfer, CrossFitSettings, ImageRun};
use crate::preprocess;
use crate::snn::{Engine, Simulation};
use crate::Model;

/// Checks a CIFAR-10 binary batch (whole file) as the CLI does and returns its image count.
/// Throws `FILE: why` with the CLI's words (`the batch is empty`, `… not a whole number of
/// 3073-byte records …`, `record 4 has label 12; CIFAR-10 labels are 0..9`).
#[wasm_bindgen(js_name = checkBatch)]
pub fn check_batch(bytes: &[u8], file_name: &str) -> Result<u32, JsError> {
    cifar::check_batch(bytes)
        .map(|records| records as u32)
        .map_err(|e| batch_error(file_name, e))
}

fn batch_error(file_name: &str, e: cifar::CifarError) -> JsError {
    JsError::new(&format!("{file_name}: {e}"))
}

fn load_model(model_bytes: &[u8]) -> Result<Model, JsError> {
    let model = Model::from_bytes(model_bytes)
        .map_err(|e| JsError::new(&format!("cannot load the model: {e}")))?;
    cifar::check_model_input(model.input().len()).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(model)
}

/// Runs CIFAR-10 records to T_max, one Web Worker's share of an evaluation: the SNN
/// (event-driven, as `dynconf eval`) and, if asked, the quantized ANN.
#[wasm_bindgen(js_name = Evaluator)]
pub struct WasmEvaluator {
    simulation: Simulation,
    ann: Option<QuantizedAnn>,
    max_steps: u32,
}

#[wasm_bindgen(js_class = Evaluator)]
impl WasmEvaluator {
    /// `max_steps` (T_max) in 1..=[`crate::decode::MAX_STEPS_LIMIT`]; `with_ann`: also the quantized ANN's prediction (for
    /// `ann_accuracy`). Throws on a model that cannot be loaded or does not take CIFAR-10
    /// images.
    #[wasm_bindgen(constructor)]
    pub fn new(
        model_bytes: &[u8],
        max_steps: u32,
        with_ann: bool,
    ) -> Result<WasmEvaluator, JsError> {
        crate::decode::check_max_steps("T_max", max_steps).map_err(|e| JsError::new(&e))?;
        let model = Arc::new(load_model(model_bytes)?);
        Ok(WasmEvaluator {
            ann: with_ann.then(|| QuantizedAnn::new(&model)),
            simulation: Simulation::new(model, Engine::EventDriven),
            max_steps,
        })
    }

    /// Runs whole records (`n × 3073` bytes: label, then 3072 CHW pixels) and returns their
    /// runs encoded as in [`crate::eval::transfer`].
    pub fn run(&mut self, records: &[u8]) -> Result<Vec<u8>, JsError> {
        if records.len() % RECORD_BYTES != 0 {
            return Err(JsError::new(&format!(
                "{} bytes are not whole {RECORD_BYTES}-byte records",
                records.len()
            )));
        }
        let runs = records
            .chunks_exact(RECORD_BYTES)
            .map(|record| {
                let input = preprocess::normalize_u8(
                    self.simulation.model().input(),
                    &record[1..1 + IMAGE_BYTES],
                );
                eval::run_image(
                    &mut self.simulation,
                    self.ann.as_mut(),
                    &input,
                    record[0],
                    self.max_steps,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| JsError::new(&e.to_string()))?;
        transfer::encode(&runs).map_err(|e| JsError::new(&e.to_string()))
    }
}

/// Collects a batch's runs (from [`WasmEvaluator::run`], in any order) and summarises them.
#[wasm_bindgen(js_name = EvaluationSummary)]
pub struct WasmEvaluationSummary {
    model: Model,
    model_sha256: String,
    runs: Vec<Option<ImageRun>>,
}

#[wasm_bindgen(js_class = EvaluationSummary)]
impl WasmEvaluationSummary {
    /// For `images` runs of the model in `model_bytes`.
    #[wasm_bindgen(constructor)]
    pub fn new(model_bytes: &[u8], images: u32) -> Result<WasmEvaluationSummary, JsError> {
        Ok(WasmEvaluationSummary {
            model: load_model(model_bytes)?,
            model_sha256: calibrate::sha256_hex(model_bytes),
            runs: vec![None; images as usize],
        })
    }

    /// Adds encoded runs of images `first..first + n`.
    pub fn add(&mut self, first: u32, encoded: &[u8]) -> Result<(), JsError> {
        let steps = self.runs.iter().flatten().next().map(ImageRun::steps);
        let runs = transfer::decode_for(
            encoded,
            self.model.classes().len(),
            self.model.stages().len(),
            steps,
        )
        .map_err(|e| JsError::new(&e.to_string()))?;
        let first = first as usize;
        let images = self.runs.len();
        let end = first.saturating_add(runs.len());
        let slots = self.runs.get_mut(first..end).ok_or_else(|| {
            JsError::new(&format!(
                "runs of images {first}..{end} do not fit a batch of {images} images"
            ))
        })?;
        for (slot, run) in slots.iter_mut().zip(runs) {
            *slot = Some(run);
        }
        Ok(())
    }

    /// How many images have their runs.
    #[wasm_bindgen(getter)]
    pub fn received(&self) -> u32 {
        self.runs.iter().filter(|r| r.is_some()).count() as u32
    }

    /// The calibration file `dynconf calibrate --split SPLIT` writes for these runs (JSON
    /// text): every default decoder compared with the default tolerance and 5-fold
    /// cross-fitting. `file_name` is the batch file (`data_batch_1.bin`). Refuses the test
    /// split, as the CLI does, and batches smaller than the folds.
    pub fn calibrate(&self, split: &str, file_name: &str) -> Result<String, JsError> {
        let calibration = self.calibration(split, file_name)?;
        serde_json::to_string(&calibration).map_err(|e| JsError::new(&e.to_string()))
    }

    /// The report `dynconf eval --split SPLIT --json` prints for these runs (JSON text), with
    /// the decoder and threshold of `calibration_json` (checked to belong to the model);
    /// `seconds` is the wall time of running the images.
    pub fn report(
        &self,
        split: &str,
        file_name: &str,
        calibration_json: &[u8],
        seconds: f64,
    ) -> Result<String, JsError> {
        let calibration = Calibration::from_json(calibration_json)
            .and_then(|c| c.check_model(&self.model_sha256).map(|()| c))
            .map_err(|e| JsError::new(&format!("cannot use the calibration file: {e}")))?;
        let runs = self.all_runs()?;
        let settings = CrossFitSettings {
            tolerance: calibration.tolerance,
            ..CrossFitSettings::default()
        };
        let summary = eval::summarize(
            &runs,
            &self.model,
            calibration.decoder,
            calibration.threshold,
            &settings,
        );
        let rule = DynamicRule::from_calibration(&calibration, split, file_name);
        serde_json::to_string(&EvalReport {
            split,
            summary: &summary,
            dynamic_rule: &rule,
            seconds,
        })
        .map_err(|e| JsError::new(&e.to_string()))
    }
}

impl WasmEvaluationSummary {
    fn all_runs(&self) -> Result<Vec<ImageRun>, JsError> {
        if let Some(missing) = self.runs.iter().position(Option::is_none) {
            return Err(JsError::new(&format!(
                "image {missing} of {} has not been run",
                self.runs.len()
            )));
        }
        Ok(self.runs.iter().flatten().cloned().collect())
    }

    fn calibration(&self, split: &str, file_name: &str) -> Result<Calibration, JsError> {
        if cifar::is_test_split(split, file_name) {
            return Err(JsError::new(&format!(
                "{file_name} is the test split: calibrating on it would tune the threshold on test data; \
                 calibrate on another batch (e.g. data_batch_5.bin), or give the page the model's calibration file"
            )));
        }
        let runs = self.all_runs()?;
        let settings = CalibrationSettings {
            split: report::calibration_split(split, file_name, None),
            model_sha256: self.model_sha256.clone(),
            tolerance: calibrate::DEFAULT_TOLERANCE,
            folds: crossfit::DEFAULT_FOLDS,
            seed: crossfit::DEFAULT_SEED,
        };
        if runs.len() < settings.folds {
            return Err(JsError::new(&format!(
                "cannot calibrate on {} images: the {}-fold cross-fitting needs at least {} (calibrate with the CLI to choose the folds)",
                runs.len(),
                settings.folds,
                settings.folds
            )));
        }
        calibrate::calibrate(
            &eval::recording(&runs),
            &calibrate::default_candidates(),
            &settings,
        )
        .map_err(|e| JsError::new(&e))
    }
}
