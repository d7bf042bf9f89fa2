//! `Simulation` for JavaScript: the core [`Simulation`] plus the stop rule of Dynamic
//! Confidence and the byte buffers that JavaScript views as spike maps.

use std::sync::Arc;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{to_js, WasmCalibration};
use crate::calibrate::{self, OodDetector, Reliability};
use crate::decode::{self, Decoder, StopRule};
use crate::preprocess;
use crate::snn::{Engine, Simulation, StepReport};
use crate::Model;

/// One SNN run on one image, advanced one time step per [`WasmSimulation::step`] call.
#[wasm_bindgen(js_name = Simulation)]
pub struct WasmSimulation {
    simulation: Simulation,
    rule: StopRule,
    /// SHA-256 of the model file (hex): a calibration must name it.
    model_sha256: String,
    /// The input at the model's size, CHW on the 0..=255 scale (before normalisation).
    pixels: Vec<f64>,
    /// Spikes of each IF layer as bytes (0 or 1), refreshed on request for JavaScript views.
    spike_bytes: Vec<Vec<u8>>,
    /// The image being received in strips ([`WasmSimulation::begin_image`]).
    incoming: Option<preprocess::AreaResizer>,
    /// The decoder's score-to-accuracy table, when it came from a calibration that has one.
    reliability: Option<Reliability>,
    /// Each class's chance of being right in the latest step ([`Reliability::class_chances`]).
    chances: Vec<f32>,
    /// The calibration's "unlike the classes" rule (any decoder), when it has one.
    ood: Option<OodDetector>,
}

/// What one step did, for JavaScript.
#[derive(Serialize)]
struct StepView<'a> {
    /// Time step just completed, 1-based.
    t: u32,
    /// Accumulated output O(t).
    output: &'a [f32],
    /// softmax(O(t) / d), d = κ of the decoder (t for decoders without κ).
    probabilities: &'a [f32],
    /// argmax O(t).
    prediction: usize,
    /// The decoder's score s(t) (for max softmax −log10(1 − c)); −Infinity: cannot stop here.
    score: f32,
    /// Steps, this one included, that argmax O has kept its value.
    unchanged: u32,
    /// score > threshold.
    confident: bool,
    /// Dynamic Confidence stops here: confident, or t reached max_steps.
    stop: bool,
    /// How often the leading class was right on the calibration images at about this step and
    /// score (crate::calibrate::reliability); absent without a calibration that measured it.
    chance: Option<f64>,
    /// Each class's chance of being the answer: `chance` for the prediction, the rest shared
    /// in proportion to `probabilities`; absent with `chance`.
    chances: Option<&'a [f32]>,
    /// `[first, last]`: the steps over which `chance` was measured (its group of steps).
    chance_steps: Option<[u32; 2]>,
    /// The IF layers' activity up to this step is unlike the calibration images' ("does not
    /// look like any of the classes", crate::calibrate::ood); absent without a calibration
    /// that has the rule.
    out_of_distribution: Option<bool>,
    /// The rule's score (flagged above 1); absent with `out_of_distribution`.
    ood_score: Option<f64>,
    /// Spikes of each IF layer in this step.
    spikes_per_layer: &'a [u32],
    spikes: u64,
    synaptic_ops: u64,
    cumulative_spikes: u64,
    cumulative_synaptic_ops: u64,
}

impl<'a> StepView<'a> {
    fn new(
        report: StepReport<'a>,
        rule: StopRule,
        reliability: Option<&Reliability>,
        ood: Option<&OodDetector>,
        chances: &'a mut [f32],
    ) -> Self {
        let ood_score = ood.and_then(|d| d.score(report.t, report.cumulative_spikes_per_layer));
        let chance = reliability.map(|table| {
            table.class_chances(
                report.t,
                report.decision.score,
                report.decision.prediction,
                report.probabilities,
                chances,
            );
            table.chance(report.t, report.decision.score)
        });
        let chance_steps = reliability.map(|table| {
            let group = &table.groups[table.group_of(report.t)];
            [group.first_step, group.last_step]
        });
        StepView {
            out_of_distribution: ood_score.map(OodDetector::flags),
            ood_score,
            chance,
            chances: chance.map(|_| &*chances),
            chance_steps,
            t: report.t,
            output: report.output,
            probabilities: report.probabilities,
            prediction: report.decision.prediction,
            score: report.decision.score,
            unchanged: report.decision.unchanged,
            confident: decode::is_confident(report.decision.score, rule.threshold),
            stop: rule.check(&report.decision, report.t).is_some(),
            spikes_per_layer: report.spikes_per_layer,
            spikes: report.spikes,
            synaptic_ops: report.synaptic_ops,
            cumulative_spikes: report.cumulative_spikes,
            cumulative_synaptic_ops: report.cumulative_synaptic_ops,
        }
    }
}

/// The model, as the page describes it.
#[derive(Serialize)]
struct ModelInfo<'a> {
    name: &'a str,
    classes: &'a [String],
    levels: u32,
    input: &'a crate::model::InputSpec,
    /// IF neurons in all layers.
    neurons: usize,
    /// Synapses driven by IF neurons (each spike costs one accumulate per synapse).
    synapses: u64,
    /// The IF layers, in order.
    layers: Vec<LayerInfo<'a>>,
    /// The model file's whole `dynconf` metadata (validation, training, ...).
    metadata: serde_json::Value,
}

#[derive(Serialize)]
struct LayerInfo<'a> {
    name: &'a str,
    /// [channels, height, width]
    shape: [usize; 3],
    neurons: usize,
    threshold: f32,
    synapses: u64,
}

fn error(context: &str, e: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("{context}: {e}"))
}

#[wasm_bindgen(js_class = Simulation)]
impl WasmSimulation {
    /// Loads and validates a `dynconf-snn` model file (safetensors bytes). Until an image is
    /// set the input is all zeros. The decoder defaults to the paper's (max softmax, κ = 30)
    /// with no threshold (runs never stop early) and runs to [`decode::DEFAULT_MAX_STEPS`];
    /// [`WasmSimulation::use_calibration`] sets all three from the model's calibration.
    #[wasm_bindgen(constructor)]
    pub fn new(model_bytes: &[u8]) -> Result<WasmSimulation, JsError> {
        let model =
            Model::from_bytes(model_bytes).map_err(|e| error("cannot load the model", e))?;
        let simulation = Simulation::new(Arc::new(model), Engine::EventDriven);
        let spike_bytes = simulation
            .model()
            .stages()
            .iter()
            .map(|s| vec![0u8; s.neurons()])
            .collect();
        let pixels = vec![0.0; simulation.model().input().len()];
        let simulation_classes = simulation.model().classes().len();
        Ok(WasmSimulation {
            simulation,
            rule: StopRule::fixed(decode::DEFAULT_MAX_STEPS),
            model_sha256: calibrate::sha256_hex(model_bytes),
            pixels,
            spike_bytes,
            incoming: None,
            reliability: None,
            chances: vec![0.0; simulation_classes],
            ood: None,
        })
    }

    /// Whether the convolutions sum int8 weights in integers where the model allows (the
    /// default) or add f32 weight rows: the same results; for `benches/wasm_vs_native.mjs`.
    #[doc(hidden)]
    pub fn set_integer_weights(&mut self, on: bool) {
        self.simulation.set_integer_weights(on);
    }

    /// A second simulation of the same model (shared, not copied) and input, at t = 0.
    pub fn fork(&self) -> WasmSimulation {
        let mut simulation = self.simulation.clone();
        simulation.reset();
        WasmSimulation {
            simulation,
            rule: self.rule,
            model_sha256: self.model_sha256.clone(),
            pixels: self.pixels.clone(),
            spike_bytes: self.spike_bytes.clone(),
            incoming: None,
            reliability: self.reliability.clone(),
            chances: self.chances.clone(),
            ood: self.ood.clone(),
        }
    }

    /// Name, classes, input, neurons, IF layers (name, shape, threshold) and the metadata.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let model = self.simulation.model();
        let layers = model
            .stages()
            .iter()
            .map(|s| LayerInfo {
                name: &s.name,
                shape: [s.shape.channels, s.shape.height, s.shape.width],
                neurons: s.neurons(),
                threshold: s.threshold,
                synapses: s.synapses(),
            })
            .collect();
        let metadata =
            serde_json::from_str(model.metadata_json()).map_err(|e| error("model metadata", e))?;
        to_js(&ModelInfo {
            name: model.name(),
            classes: model.classes(),
            levels: model.levels(),
            input: model.input(),
            neurons: model.neuron_count(),
            synapses: model.stages().iter().map(|s| s.synapses()).sum(),
            layers,
            metadata,
        })
    }

    /// Sets the image from RGBA bytes (`width × height × 4`, row-major, as `getImageData`
    /// gives them) and resets the run. The image is resized to the model's input by area
    /// averaging, alpha composited over white, then normalised. The same as
    /// [`WasmSimulation::begin_image`], one [`WasmSimulation::push_rows`] with all the rows
    /// and [`WasmSimulation::end_image`]; for large images use those three, so that the
    /// whole image never has to be copied into wasm memory.
    pub fn set_image(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<(), JsError> {
        self.begin_image(width, height)?;
        if let Err(e) = preprocess::check_length(rgba, width as usize, height as usize, 4) {
            self.incoming = None;
            return Err(error("cannot use this image", e));
        }
        self.push_rows(rgba)?;
        self.end_image()
    }

    /// Starts receiving a `width × height` RGBA image in strips of rows: then
    /// [`WasmSimulation::push_rows`] for each strip, top to bottom, and
    /// [`WasmSimulation::end_image`]. Only the model-sized sums are kept, so wasm memory
    /// grows by the largest strip at most, whatever the image size. The current input
    /// stays until `end_image`; an image begun earlier and not ended is dropped.
    pub fn begin_image(&mut self, width: u32, height: u32) -> Result<(), JsError> {
        self.incoming = None;
        let resizer = preprocess::AreaResizer::for_model(
            self.simulation.model().input(),
            width as usize,
            height as usize,
            4,
        )
        .map_err(|e| error("cannot use this image", e))?;
        self.incoming = Some(resizer);
        Ok(())
    }

    /// The next rows of the image begun by [`WasmSimulation::begin_image`]: RGBA bytes, a
    /// whole number of rows (`rows × width × 4`, as `getImageData` of a strip gives them).
    /// On an error the image is dropped (the current input stays).
    pub fn push_rows(&mut self, rgba: &[u8]) -> Result<(), JsError> {
        let resizer = self.incoming.as_mut().ok_or_else(|| {
            JsError::new("cannot use these rows: no image was begun (call begin_image first)")
        })?;
        if let Err(e) = resizer.push_rows(rgba) {
            self.incoming = None;
            return Err(error("cannot use this image", e));
        }
        Ok(())
    }

    /// Ends the image begun by [`WasmSimulation::begin_image`] once all its rows have been
    /// pushed: it becomes the input, and the run is reset.
    pub fn end_image(&mut self) -> Result<(), JsError> {
        let resizer = self.incoming.take().ok_or_else(|| {
            JsError::new("cannot end the image: no image was begun (call begin_image first)")
        })?;
        let pixels = resizer
            .finish()
            .map_err(|e| error("cannot use this image", e))?;
        self.set_pixels(pixels)
    }

    /// Sets the input from bytes already at the model's size in CHW order (e.g. a CIFAR-10
    /// record, or a test fixture) and resets the run.
    pub fn set_pixels_chw(&mut self, pixels: &[u8]) -> Result<(), JsError> {
        let expected = self.simulation.model().input().len();
        if pixels.len() != expected {
            return Err(JsError::new(&format!(
                "the input has {} bytes but the model expects {expected} (CHW)",
                pixels.len()
            )));
        }
        self.set_pixels(pixels.iter().map(|&p| p as f64).collect())
    }

    fn set_pixels(&mut self, pixels: Vec<f64>) -> Result<(), JsError> {
        let input = preprocess::normalize(self.simulation.model().input(), &pixels);
        self.simulation
            .set_input_f64(&input)
            .map_err(|e| error("cannot use this image", e))?;
        self.pixels = pixels;
        self.spike_bytes.iter_mut().for_each(|b| b.fill(0));
        Ok(())
    }

    /// What the network receives, before normalisation: RGBA bytes at the model's size (a
    /// model with other than 3 input channels shows its first channel as grey).
    pub fn preview(&self) -> Vec<u8> {
        let spec = self.simulation.model().input();
        let plane = spec.height * spec.width;
        let rgb = spec.channels == 3;
        (0..plane)
            .flat_map(|i| {
                let channel = |c: usize| {
                    let c = if rgb { c } else { 0 };
                    self.pixels[c * plane + i].round().clamp(0.0, 255.0) as u8
                };
                [channel(0), channel(1), channel(2), 255]
            })
            .collect()
    }

    /// Back to t = 0 with the same image.
    pub fn reset(&mut self) {
        self.simulation.reset();
        self.spike_bytes.iter_mut().for_each(|b| b.fill(0));
    }

    /// Advances one time step; returns `{t, output, probabilities, prediction, score,
    /// unchanged, confident, stop, chance, chances, chance_steps, out_of_distribution,
    /// ood_score, spikes_per_layer, spikes, synaptic_ops, cumulative_spikes,
    /// cumulative_synaptic_ops}` (`chance`, `chances` and `chance_steps` only with a calibration
    /// that has a reliability table, `out_of_distribution` and `ood_score` with one that has the
    /// out-of-distribution rule).
    pub fn step(&mut self) -> Result<JsValue, JsError> {
        self.simulation.step();
        self.view()
    }

    /// The report of the latest step, as [`WasmSimulation::step`] returns it.
    fn view(&mut self) -> Result<JsValue, JsError> {
        to_js(&StepView::new(
            self.simulation.report(),
            self.rule,
            self.reliability.as_ref(),
            self.ood.as_ref(),
            &mut self.chances,
        ))
    }

    /// Steps until t = `steps` (at most [`decode::MAX_STEPS_LIMIT`]) and returns the last
    /// step's report (as [`WasmSimulation::step`]); a fixed-length run in one call.
    pub fn run_to(&mut self, steps: u32) -> Result<JsValue, JsError> {
        decode::check_max_steps("the run's length", steps).map_err(|e| JsError::new(&e))?;
        let t = self.simulation.time_step();
        if steps <= t {
            return Err(JsError::new(&format!(
                "the run is already at t = {t}; reset() to run to {steps} steps"
            )));
        }
        self.simulation.run(&StopRule::fixed(steps), |_| {});
        self.view()
    }

    /// Steps until Dynamic Confidence stops the run (score above θ, or T_max: the stop rule
    /// of the core, [`StopRule`]) and returns the last step's report (as
    /// [`WasmSimulation::step`]).
    pub fn run(&mut self) -> Result<JsValue, JsError> {
        let rule = self.rule;
        self.simulation.run(&rule, |_| {});
        self.view()
    }

    /// Time steps completed since the last reset.
    #[wasm_bindgen(getter)]
    pub fn t(&self) -> u32 {
        self.simulation.time_step()
    }

    /// The threshold θ on the decoder's score: a step with score > θ stops the run.
    #[wasm_bindgen(getter)]
    pub fn threshold(&self) -> f64 {
        self.rule.threshold
    }

    #[wasm_bindgen(setter)]
    pub fn set_threshold(&mut self, threshold: f64) {
        self.rule.threshold = threshold;
    }

    /// T_max: the run stops here even if never confident.
    #[wasm_bindgen(getter)]
    pub fn max_steps(&self) -> u32 {
        self.rule.max_steps
    }

    /// Sets T_max (1..=[`decode::MAX_STEPS_LIMIT`]).
    pub fn set_max_steps(&mut self, max_steps: u32) -> Result<(), JsError> {
        self.rule.max_steps =
            decode::check_max_steps("T_max", max_steps).map_err(|e| JsError::new(&e))?;
        Ok(())
    }

    /// The decoder as text (`max_softmax:kappa=4`, `learned`, ...).
    #[wasm_bindgen(getter)]
    pub fn decoder(&self) -> String {
        self.simulation.decoder().to_string()
    }

    /// Sets the decoder from text (`max_softmax:kappa=4`, `margin:kappa=2`, ...; a learned
    /// decoder comes only from a calibration, [`WasmSimulation::use_decoder`]).
    pub fn set_decoder(&mut self, decoder: &str) -> Result<(), JsError> {
        let decoder: Decoder = decoder.parse().map_err(|e: String| JsError::new(&e))?;
        self.simulation.set_decoder(decoder);
        self.reliability = None; // measured for a calibration's decoders only
        Ok(())
    }

    /// SHA-256 of the model file (hex).
    #[wasm_bindgen(getter)]
    pub fn model_sha256(&self) -> String {
        self.model_sha256.clone()
    }

    /// Takes the calibrated decoder, threshold and T_max from a calibration. Refuses a
    /// calibration made for another model.
    pub fn use_calibration(&mut self, calibration: &WasmCalibration) -> Result<(), JsError> {
        let c = calibration.calibration();
        self.check(calibration)?;
        self.simulation.set_decoder(c.decoder);
        self.reliability = c.reliability_of(&c.decoder).cloned();
        self.ood = c.out_of_distribution.clone();
        self.rule = StopRule {
            threshold: c.threshold,
            max_steps: c.max_steps,
        };
        Ok(())
    }

    /// Takes decoder family `index` of a calibration (its order in `summary().decoders`) with
    /// its calibrated threshold, and T_max.
    pub fn use_decoder(
        &mut self,
        calibration: &WasmCalibration,
        index: usize,
    ) -> Result<(), JsError> {
        self.check(calibration)?;
        let c = calibration.calibration();
        let family = c.decoders.get(index).ok_or_else(|| {
            JsError::new(&format!(
                "decoder {index} does not exist; the calibration has {}",
                c.decoders.len()
            ))
        })?;
        self.simulation.set_decoder(family.decoder);
        self.reliability = family.reliability.clone();
        self.ood = c.out_of_distribution.clone();
        self.rule = StopRule {
            threshold: family.threshold,
            max_steps: c.max_steps,
        };
        Ok(())
    }

    fn check(&self, calibration: &WasmCalibration) -> Result<(), JsError> {
        calibration
            .calibration()
            .check_model(&self.model_sha256)
            .map_err(|e| JsError::new(&format!("cannot use the calibration file: {e}")))
    }

    /// Number of IF layers (the `layer` argument below).
    pub fn layer_count(&self) -> usize {
        self.spike_bytes.len()
    }

    /// Address in [`super::wasm_memory`] of IF layer `layer`'s spikes in the latest step: C·H·W
    /// bytes, 1 for a spike, CHW order. Valid until the next call into the module.
    pub fn spikes_ptr(&mut self, layer: usize) -> Result<*const u8, JsError> {
        self.refresh_spikes(layer)?;
        Ok(self.spike_bytes[layer].as_ptr())
    }

    /// Length of [`WasmSimulation::spikes_ptr`]'s buffer (the layer's neuron count).
    pub fn spikes_len(&self, layer: usize) -> Result<usize, JsError> {
        self.check_layer(layer)?;
        Ok(self.spike_bytes[layer].len())
    }

    /// A copy of IF layer `layer`'s spikes in the latest step (see `spikes_ptr` for a view).
    pub fn spikes(&mut self, layer: usize) -> Result<Vec<u8>, JsError> {
        self.refresh_spikes(layer)?;
        Ok(self.spike_bytes[layer].clone())
    }

    fn check_layer(&self, layer: usize) -> Result<(), JsError> {
        if layer >= self.spike_bytes.len() {
            return Err(JsError::new(&format!(
                "IF layer {layer} does not exist; the model has {}",
                self.spike_bytes.len()
            )));
        }
        Ok(())
    }

    fn refresh_spikes(&mut self, layer: usize) -> Result<(), JsError> {
        self.check_layer(layer)?;
        for (byte, &spike) in self.spike_bytes[layer]
            .iter_mut()
            .zip(self.simulation.spikes(layer))
        {
            *byte = (spike != 0.0) as u8;
        }
        Ok(())
    }
}

impl WasmSimulation {
    /// The decoder in use, for the rules of `rules.rs`.
    pub(super) fn core_decoder(&self) -> Decoder {
        self.simulation.decoder()
    }
}
