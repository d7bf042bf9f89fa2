//! Evaluating a model on a set of images: run each to T_max once, keep its accumulated
//! output and costs at every step, then read off fixed-length accuracy, Dynamic Confidence at
//! a threshold, and the oracle — all from the same runs.
//!
//! Thread-free: callers run images in parallel with one [`Simulation`] (and
//! [`QuantizedAnn`]) per thread over a shared model, then pass all runs to [`summarize`].

use serde::Serialize;

use crate::ann::QuantizedAnn;
use crate::calibrate::{self, FixedPoint, Oracle, Traces};
use crate::decode::{self, Decoding};
use crate::model::InputError;
use crate::snn::Simulation;

/// One image run to T_max.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRun {
    pub label: u8,
    /// argmax of the quantized ANN's logits, if it was computed.
    pub ann_prediction: Option<usize>,
    classes: usize,
    /// O(t) for t = 1..=T, `[step][class]`.
    outputs: Vec<f32>,
    /// Spikes in each step (all IF layers).
    spikes: Vec<u64>,
    /// Synaptic operations in each step.
    synaptic_ops: Vec<u64>,
}

/// Runs one normalised input for `max_steps` steps (and through the ANN, if given).
pub fn run_image(
    simulation: &mut Simulation,
    ann: Option<&mut QuantizedAnn>,
    input: &[f64],
    label: u8,
    max_steps: u32,
) -> Result<ImageRun, InputError> {
    simulation.set_input_f64(input)?;
    let ann_prediction = match ann {
        Some(ann) => Some(decode::argmax(ann.logits(simulation.model(), input)?)),
        None => None,
    };
    let classes = simulation.output().len();
    let steps = max_steps as usize;
    let mut run = ImageRun {
        label,
        ann_prediction,
        classes,
        outputs: Vec::with_capacity(steps * classes),
        spikes: Vec::with_capacity(steps),
        synaptic_ops: Vec::with_capacity(steps),
    };
    for _ in 0..max_steps {
        let report = simulation.step();
        run.outputs.extend_from_slice(report.output);
        run.spikes.push(report.spikes);
        run.synaptic_ops.push(report.synaptic_ops);
    }
    Ok(run)
}

impl ImageRun {
    pub fn steps(&self) -> usize {
        self.spikes.len()
    }

    /// O(t), `t` 1-based.
    pub fn output(&self, t: usize) -> &[f32] {
        &self.outputs[(t - 1) * self.classes..][..self.classes]
    }

    pub fn prediction(&self, t: usize) -> usize {
        decode::argmax(self.output(t))
    }

    pub fn correct(&self, t: usize) -> bool {
        self.prediction(t) == self.label as usize
    }

    /// Spikes emitted in steps 1..=t.
    pub fn spikes_until(&self, t: usize) -> u64 {
        self.spikes[..t].iter().sum()
    }

    /// Synaptic operations in steps 1..=t.
    pub fn synaptic_ops_until(&self, t: usize) -> u64 {
        self.synaptic_ops[..t].iter().sum()
    }

    /// Quantized confidence at every step under `decoding`.
    pub fn confidence_codes(&self, decoding: Decoding) -> Vec<u16> {
        (1..=self.steps())
            .map(|t| decode::decide(self.output(t), t as u32, decoding).code)
            .collect()
    }
}

/// The calibration traces of `runs` under `decoding`.
///
/// # Panics
/// If the runs differ in length.
pub fn traces(runs: &[ImageRun], decoding: Decoding) -> Traces {
    let steps = runs.first().map_or(0, ImageRun::steps);
    let mut traces = Traces::new(steps);
    for run in runs {
        let correct: Vec<bool> = (1..=steps).map(|t| run.correct(t)).collect();
        traces.push(&run.confidence_codes(decoding), &correct);
    }
    traces
}

/// Accuracy and cost of running every input for T_max steps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FullLength {
    pub accuracy: f64,
    pub spikes_per_neuron: f64,
    /// Mean synaptic operations per inference.
    pub synops: f64,
}

/// Accuracy and cost of Dynamic Confidence at one threshold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dynamic {
    pub threshold: f64,
    pub accuracy: f64,
    pub mean_steps: f64,
    pub spikes_per_neuron: f64,
    /// Mean synaptic operations per inference.
    pub synops: f64,
}

/// Everything `dynconf eval` reports (its `--json` keys, less `seconds`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub images: usize,
    pub max_steps: u32,
    pub ann_accuracy: Option<f64>,
    /// Accuracy of argmax O(t) at every t = 1..=max_steps.
    pub fixed: Vec<FixedPoint>,
    pub fixed_full: FullLength,
    pub dynamic: Dynamic,
    pub oracle: Oracle,
    /// 1 − DC mean steps / `latency_reference_steps`.
    pub latency_reduction: f64,
    /// The smallest fixed length at least as accurate as DC (max_steps if none is).
    #[serde(skip)]
    pub latency_reference_steps: u32,
    #[serde(skip)]
    pub decoding: Decoding,
}

/// Summarises runs (all of the same length) under `decoding` and `threshold`.
/// `neurons` is the model's IF neuron count.
pub fn summarize(runs: &[ImageRun], neurons: usize, decoding: Decoding, threshold: f64) -> Summary {
    let traces = traces(runs, decoding);
    let max_steps = traces.steps();
    let n = runs.len().max(1) as f64;
    let per_neuron = |spikes: u64| spikes as f64 / n / neurons.max(1) as f64;

    let fixed = calibrate::fixed_accuracy(&traces);
    let full_accuracy = fixed.last().map_or(0.0, |f| f.accuracy);
    let fixed_full = FullLength {
        accuracy: full_accuracy,
        spikes_per_neuron: per_neuron(runs.iter().map(|r| r.spikes_until(max_steps)).sum()),
        synops: runs
            .iter()
            .map(|r| r.synaptic_ops_until(max_steps))
            .sum::<u64>() as f64
            / n,
    };

    let stops: Vec<usize> = (0..runs.len())
        .map(|i| decode::stop_step(traces.confidence(i), threshold))
        .collect();
    let point = calibrate::replay(&traces, threshold);
    let dynamic = Dynamic {
        threshold,
        accuracy: point.accuracy,
        mean_steps: point.mean_steps,
        spikes_per_neuron: per_neuron(
            runs.iter()
                .zip(&stops)
                .map(|(r, &s)| r.spikes_until(s))
                .sum(),
        ),
        synops: runs
            .iter()
            .zip(&stops)
            .map(|(r, &s)| r.synaptic_ops_until(s))
            .sum::<u64>() as f64
            / n,
    };

    let latency_reference_steps = fixed
        .iter()
        .find(|f| f.accuracy >= dynamic.accuracy)
        .map_or(max_steps as u32, |f| f.steps);
    Summary {
        images: runs.len(),
        max_steps: max_steps as u32,
        ann_accuracy: runs
            .iter()
            .map(|r| r.ann_prediction.map(|p| p == r.label as usize))
            .collect::<Option<Vec<bool>>>()
            .map(|correct| correct.iter().filter(|&&c| c).count() as f64 / n),
        fixed,
        fixed_full,
        latency_reduction: 1.0 - dynamic.mean_steps / latency_reference_steps.max(1) as f64,
        dynamic,
        oracle: calibrate::oracle(&traces),
        latency_reference_steps,
        decoding,
    }
}
