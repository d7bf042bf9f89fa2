//! Evaluating a model on a set of images: run each to T_max once, keep its accumulated
//! output and costs at every step, then read off fixed-length accuracy, Dynamic Confidence at
//! a threshold, and the oracle — all from the same runs.
//!
//! Thread-free: callers run images in parallel with one [`Simulation`] (and
//! [`QuantizedAnn`]) per thread over a shared model, then pass all runs to [`summarize`].
//! The CLI uses threads; the page uses Web Workers, which hand their runs over as bytes
//! ([`transfer`]). Both print the same [`report::EvalReport`].

pub mod report;
pub mod transfer;

use serde::Serialize;

use crate::ann::QuantizedAnn;
use crate::calibrate::{
    self, crossfit, Calibrator, Candidate, CrossFit, FixedPoint, LatencyReduction, Oracle,
    Recording,
};
use crate::decode::{self, Decoder};
use crate::model::InputError;
use crate::snn::Simulation;
use crate::Model;

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
    /// [`calibrate::ood::activity`] of each IF layer at each step, `[step][layer]`.
    activity: Vec<f32>,
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
        activity: Vec::with_capacity(steps * simulation.model().stages().len()),
    };
    let mut features = vec![0.0f32; simulation.model().stages().len()];
    for _ in 0..max_steps {
        let report = simulation.step();
        calibrate::ood::activity(report.t, report.cumulative_spikes_per_layer, &mut features);
        run.activity.extend_from_slice(&features);
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

    /// IF layers whose activity the run kept.
    pub fn layers(&self) -> usize {
        self.activity.len() / self.steps().max(1)
    }

    /// Classes of the model that made the run (values of O(t) per step).
    pub fn classes(&self) -> usize {
        self.classes
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
}

/// The recording of `runs` (their O(t) and labels), from which every decoder's traces follow.
///
/// # Panics
/// If the runs differ in length.
pub fn recording(runs: &[ImageRun]) -> Recording {
    let steps = runs.first().map_or(0, ImageRun::steps);
    let classes = runs.first().map_or(0, |r| r.classes);
    let layers = runs.first().map_or(0, ImageRun::layers);
    let mut recording = Recording::with_layers(steps, classes, layers);
    for run in runs {
        recording.push_with_activity(&run.outputs, &run.activity, run.label);
    }
    recording
}

/// Accuracy and cost of running every input for T_max steps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FullLength {
    pub accuracy: f64,
    pub spikes_per_neuron: f64,
    /// Mean synaptic operations per inference.
    pub synops: f64,
}

/// Accuracy and cost of Dynamic Confidence with one decoder and threshold on these images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dynamic {
    pub decoder: Decoder,
    pub threshold: f64,
    pub accuracy: f64,
    pub mean_steps: f64,
    pub spikes_per_neuron: f64,
    /// Mean synaptic operations per inference.
    pub synops: f64,
    /// `latency_reduction` and `latency_reference_steps` in JSON.
    #[serde(flatten)]
    pub latency: LatencyReduction,
}

/// Everything `dynconf eval` reports (its `--json` keys, less `seconds` and `split`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub images: usize,
    pub max_steps: u32,
    /// Class names in label order (the model's).
    pub classes: Vec<String>,
    pub ann_accuracy: Option<f64>,
    /// Accuracy of argmax O(t) at every t = 1..=max_steps.
    pub fixed: Vec<FixedPoint>,
    pub fixed_full: FullLength,
    /// The given decoder and threshold (the calibrated ones by default). In-sample when these
    /// images are the ones the threshold was calibrated on.
    pub dynamic: Dynamic,
    /// The calibration rule itself cross-fitted on these images: held-out figures (`None`
    /// with fewer images than folds).
    pub dynamic_crossfit: Option<CrossFit>,
    pub oracle: Oracle,
    /// The Pareto front of `dynamic.decoder` on these images: every threshold's outcome that
    /// no other beats on both accuracy and mean steps, by increasing mean steps.
    pub front: Vec<FrontPoint>,
    /// Confusion matrices at T_max and under Dynamic Confidence.
    pub confusion: Confusion,
}

/// A point of a Pareto front (method §3): one threshold's accuracy and mean steps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrontPoint {
    pub threshold: f64,
    pub mean_steps: f64,
    pub accuracy: f64,
}

/// Confusion matrices, `[true label][prediction]` counts (classes × classes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confusion {
    /// Predictions at T_max.
    pub t_max: Vec<Vec<u64>>,
    /// Predictions where Dynamic Confidence stopped (`dynamic`'s decoder and threshold).
    pub dynamic: Vec<Vec<u64>>,
}

impl Confusion {
    /// Per-class accuracy (recall) of a matrix: the diagonal over each row's total, `None`
    /// for a class with no images.
    pub fn per_class(matrix: &[Vec<u64>]) -> Vec<Option<f64>> {
        matrix
            .iter()
            .enumerate()
            .map(|(class, row)| {
                let total: u64 = row.iter().sum();
                (total > 0).then(|| row[class] as f64 / total as f64)
            })
            .collect()
    }
}

fn confusion(runs: &[ImageRun], classes: usize, step_of: impl Fn(usize) -> usize) -> Vec<Vec<u64>> {
    let mut matrix = vec![vec![0u64; classes]; classes];
    for (i, run) in runs.iter().enumerate() {
        let label = run.label as usize;
        if label < classes {
            matrix[label][run.prediction(step_of(i))] += 1;
        }
    }
    matrix
}

/// How `summarize` cross-fits the calibration rule.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossFitSettings {
    pub candidates: Vec<Candidate>,
    pub tolerance: f64,
    pub folds: usize,
    pub seed: u64,
}

impl Default for CrossFitSettings {
    fn default() -> Self {
        CrossFitSettings {
            candidates: calibrate::default_candidates(),
            tolerance: calibrate::DEFAULT_TOLERANCE,
            folds: crossfit::DEFAULT_FOLDS,
            seed: crossfit::DEFAULT_SEED,
        }
    }
}

/// Summarises runs (all of the same length) of `model` under `decoder` and `threshold`, and
/// cross-fits the calibration rule on them if there are at least as many images as folds.
pub fn summarize(
    runs: &[ImageRun],
    model: &Model,
    decoder: Decoder,
    threshold: f64,
    crossfit_settings: &CrossFitSettings,
) -> Summary {
    let recording = recording(runs);
    let traces = recording.traces(&decoder);
    let max_steps = traces.steps();
    let images = runs.len();
    let n = images.max(1) as f64;
    let neurons = model.neuron_count();
    let per_neuron = |spikes: u64| spikes as f64 / n / neurons.max(1) as f64;

    let fixed = calibrate::fixed_accuracy(&traces);
    let fixed_correct: Vec<u64> = fixed.iter().map(|f| f.correct).collect();
    let fixed_full = FullLength {
        accuracy: fixed.last().map_or(0.0, |f| f.accuracy),
        spikes_per_neuron: per_neuron(runs.iter().map(|r| r.spikes_until(max_steps)).sum()),
        synops: runs
            .iter()
            .map(|r| r.synaptic_ops_until(max_steps))
            .sum::<u64>() as f64
            / n,
    };

    let stops: Vec<usize> = (0..images)
        .map(|i| decode::stop_step(traces.scores(i), threshold))
        .collect();
    let point = calibrate::replay(&traces, threshold);
    let dynamic = Dynamic {
        decoder,
        threshold,
        accuracy: point.accuracy(images),
        mean_steps: point.mean_steps(images),
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
        latency: calibrate::latency_reduction(&fixed_correct, &point, images),
    };

    let calibrator = Calibrator::new(
        &recording,
        &crossfit_settings.candidates,
        crossfit_settings.tolerance,
    );
    let all = vec![(0..crossfit_settings.candidates.len()).collect()];
    let dynamic_crossfit = crossfit::crossfit_groups(
        &calibrator,
        &all,
        crossfit_settings.folds,
        crossfit_settings.seed,
    )
    .ok()
    .map(|mut fits| fits.remove(0));
    let front = calibrate::pareto_front(&calibrate::sweep(&traces))
        .iter()
        .map(|p| FrontPoint {
            threshold: p.threshold,
            mean_steps: p.mean_steps(images),
            accuracy: p.accuracy(images),
        })
        .collect();
    let classes = model.classes().len();
    let confusion = Confusion {
        t_max: confusion(runs, classes, |_| max_steps),
        dynamic: confusion(runs, classes, |i| stops[i]),
    };
    Summary {
        images,
        max_steps: max_steps as u32,
        classes: model.classes().to_vec(),
        ann_accuracy: runs
            .iter()
            .map(|r| r.ann_prediction.map(|p| p == r.label as usize))
            .collect::<Option<Vec<bool>>>()
            .map(|correct| correct.iter().filter(|&&c| c).count() as f64 / n),
        fixed,
        fixed_full,
        dynamic,
        dynamic_crossfit,
        oracle: calibrate::oracle(&traces),
        front,
        confusion,
    }
}
