//! The spiking network, one time step at a time.
//!
//! A [`Simulation`] owns every buffer of a run (like the Game of Life's `Universe`): set an
//! input, then call [`Simulation::step`] once per time step. Within a step all layers advance
//! together, in the order of the model's layer graph: the first IF layer integrates the
//! constant input current, its spikes drive the layers that read it (a block's convolution,
//! a shortcut) in the same step, and so on; the last layer's output is added to O(t).

use std::sync::Arc;

use crate::analog::AnalogPrefix;
use crate::decode::{self, Decision, Decoder, DecoderState, Stop, StopRule};
use crate::engine::{to_channels_last, ChannelsFirst, Graph, Kernels, Scratch};
use crate::model::{InputError, Model};
use crate::neurons::IfNeurons;

/// How spikes are propagated through weighted layers. Both give identical spikes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// Reference: compute every layer's full output from its (mostly zero) spike vector.
    Dense,
    /// List each pixel's firing channels and add only their weight rows (accumulate only).
    #[default]
    EventDriven,
}

/// What one step did and where the run stands. Borrowed from the simulation; copy what
/// you keep.
#[derive(Clone, Copy, Debug)]
pub struct StepReport<'a> {
    /// Time step just completed, 1-based.
    pub t: u32,
    /// Accumulated output O(t), one value per class: the sum over steps 1..=t of the last
    /// layer's output, so O(t) / t approaches the quantized ANN's logits.
    pub output: &'a [f32],
    /// softmax(O(t) / d), one per class, d = κ of the simulation's decoder (t for decoders
    /// without κ).
    pub probabilities: &'a [f32],
    /// argmax O(t) and the decoder's score s(t).
    pub decision: Decision,
    /// Spikes emitted by each IF layer in this step (one count per IF layer, all its
    /// neurons).
    pub spikes_per_layer: &'a [u32],
    /// Spikes emitted by each IF layer in steps 1..=t of this run (what the
    /// out-of-distribution rule reads, [`crate::calibrate::ood`]).
    pub cumulative_spikes_per_layer: &'a [u64],
    /// Spikes in this step, all layers.
    pub spikes: u64,
    /// Synaptic operations in this step: each spike times its neuron's outgoing synapses
    /// ([`crate::model::SpikingStage::fan_out`]), all layers.
    pub synaptic_ops: u64,
    /// Spikes in steps 1..=t of this run (since the input was set or the run reset).
    pub cumulative_spikes: u64,
    /// Synaptic operations in steps 1..=t of this run.
    pub cumulative_synaptic_ops: u64,
}

/// A running SNN for one input at a time.
#[derive(Clone, Debug)]
pub struct Simulation {
    model: Arc<Model>,
    engine: Engine,
    decoder: Decoder,
    decoder_state: DecoderState,
    analog: AnalogPrefix,
    image: Vec<f64>,
    /// Constant current into the first IF layer, CHW (as the accessor returns it).
    input_current: Vec<f32>,
    /// The same, channels-last, as the engine reads it. Every map from here on is
    /// channels-last (see [`crate::engine`]).
    input_current_hwc: Vec<f32>,
    /// The IF neurons and every buffer of the layers after the analog prefix; the last
    /// layer's output is this step's output increment.
    graph: Graph<IfNeurons>,
    scratch: Scratch,
    output: Vec<f32>,
    probabilities: Vec<f32>,
    spikes_per_layer: Vec<u32>,
    cumulative_spikes_per_layer: Vec<u64>,
    t: u32,
    /// The latest step's decision, spikes and synaptic operations ([`Simulation::report`]).
    decision: Decision,
    spikes: u64,
    synaptic_ops: u64,
    cumulative_spikes: u64,
    cumulative_synaptic_ops: u64,
}

impl Simulation {
    /// A simulation with every buffer allocated, fed with a zero input until
    /// [`Simulation::set_input`] is called.
    pub fn new(model: Arc<Model>, engine: Engine) -> Self {
        let stages = model.stages();
        let neurons = stages
            .iter()
            .map(|s| IfNeurons::new(s.threshold, s.neurons()))
            .collect();
        let classes = model.classes().len();
        let current = model.analog_output_shape().len();
        let mut simulation = Simulation {
            analog: AnalogPrefix::new(&model),
            image: vec![0.0; model.input().len()],
            input_current: vec![0.0; current],
            input_current_hwc: vec![0.0; current],
            graph: Graph::new(&model, neurons),
            scratch: Scratch::new(&model),
            output: vec![0.0; classes],
            probabilities: vec![1.0 / classes as f32; classes],
            spikes_per_layer: vec![0; stages.len()],
            cumulative_spikes_per_layer: vec![0; stages.len()],
            engine,
            decoder: Decoder::PAPER,
            decoder_state: DecoderState::default(),
            t: 0,
            decision: Decision::NONE,
            spikes: 0,
            synaptic_ops: 0,
            cumulative_spikes: 0,
            cumulative_synaptic_ops: 0,
            model,
        };
        simulation.reset();
        simulation
    }

    /// Sets the input (normalised as [`crate::model::InputSpec`] says, flattened CHW, of
    /// `model.input().len()` values) and resets the run. The f32 values are widened to
    /// f64 exactly; see [`Simulation::set_input_f64`].
    pub fn set_input(&mut self, input: &[f32]) -> Result<(), InputError> {
        if input.len() != self.image.len() {
            return Err(InputError {
                expected: self.image.len(),
                found: input.len(),
            });
        }
        for (x, &v) in self.image.iter_mut().zip(input) {
            *x = v as f64;
        }
        self.apply_image()
    }

    /// Sets the input (normalised, CHW, as [`crate::preprocess`] makes it) and resets the run.
    /// The analog layers are computed here, once, in f64.
    pub fn set_input_f64(&mut self, input: &[f64]) -> Result<(), InputError> {
        if input.len() != self.image.len() {
            return Err(InputError {
                expected: self.image.len(),
                found: input.len(),
            });
        }
        self.image.copy_from_slice(input);
        self.apply_image()
    }

    fn apply_image(&mut self) -> Result<(), InputError> {
        self.analog
            .input_current(&self.model, &self.image, &mut self.input_current)?;
        to_channels_last(
            &self.input_current,
            self.model.analog_output_shape(),
            &mut self.input_current_hwc,
        );
        self.reset();
        Ok(())
    }

    /// Back to t = 0 with the same input: potentials at θ/2, no spikes, O = 0.
    pub fn reset(&mut self) {
        self.graph.ifs_mut().iter_mut().for_each(IfNeurons::reset);
        self.output.fill(0.0);
        let classes = self.output.len();
        self.probabilities.fill(1.0 / classes as f32);
        self.decoder_state = DecoderState::default();
        self.spikes_per_layer.fill(0);
        self.cumulative_spikes_per_layer.fill(0);
        self.t = 0;
        self.decision = Decision::NONE;
        self.spikes = 0;
        self.synaptic_ops = 0;
        self.cumulative_spikes = 0;
        self.cumulative_synaptic_ops = 0;
    }

    /// Advances one time step. Allocation-free.
    pub fn step(&mut self) -> StepReport<'_> {
        let model = &*self.model;
        self.t += 1;
        let kernels = match self.engine {
            Engine::Dense => Kernels::Dense,
            Engine::EventDriven => Kernels::Events { fuse: true },
        };
        self.graph
            .forward(model, &self.input_current_hwc, kernels, &mut self.scratch);
        let (mut spikes, mut synaptic_ops) = (0u64, 0u64);
        for (k, stage) in model.stages().iter().enumerate() {
            let fired = self.graph.fired()[k];
            self.spikes_per_layer[k] = fired;
            self.cumulative_spikes_per_layer[k] += fired as u64;
            spikes += fired as u64;
            if fired > 0 {
                synaptic_ops += stage.synaptic_ops_channels_last(self.graph.ifs()[k].spikes());
            }
        }
        let increment = self.graph.output();
        for (o, &d) in self.output.iter_mut().zip(increment) {
            *o += d;
        }
        self.cumulative_spikes += spikes;
        self.cumulative_synaptic_ops += synaptic_ops;
        decode::probabilities(
            &self.output,
            self.decoder.divisor(self.t),
            &mut self.probabilities,
        );
        self.decision = self
            .decoder_state
            .decide(&self.decoder, &self.output, self.t);
        self.spikes = spikes;
        self.synaptic_ops = synaptic_ops;
        self.report()
    }

    /// The latest step's report, as [`Simulation::step`] returned it (at t = 0, after a reset
    /// or a new input: no spikes, uniform probabilities and a score of −∞).
    pub fn report(&self) -> StepReport<'_> {
        StepReport {
            t: self.t,
            output: &self.output,
            probabilities: &self.probabilities,
            decision: self.decision,
            spikes_per_layer: &self.spikes_per_layer,
            cumulative_spikes_per_layer: &self.cumulative_spikes_per_layer,
            spikes: self.spikes,
            synaptic_ops: self.synaptic_ops,
            cumulative_spikes: self.cumulative_spikes,
            cumulative_synaptic_ops: self.cumulative_synaptic_ops,
        }
    }

    /// Runs the current input until `rule` stops it (Dynamic Confidence: score above θ, or
    /// T_max) and says where; `each` sees every step's report on the way, the last included.
    /// Continues from the current time step; a run already at or past T_max does not step
    /// and stops where it is (not confident).
    pub fn run(&mut self, rule: &StopRule, mut each: impl FnMut(&StepReport<'_>)) -> Stop {
        if self.t >= rule.max_steps {
            return Stop {
                t: self.t,
                confident: false,
            };
        }
        loop {
            let report = self.step();
            each(&report);
            if let Some(stop) = rule.check(&report.decision, report.t) {
                return stop;
            }
        }
    }

    /// The model this simulation runs.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// How spikes are propagated (both engines give identical spikes).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Switches engine; takes effect from the next step (the state is shared).
    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
    }

    /// Whether the event-driven engine sums int8 weights in integers where the model allows
    /// (the default) or adds f32 weight rows; the results are identical. For benchmarks.
    #[doc(hidden)]
    pub fn set_integer_weights(&mut self, on: bool) {
        self.scratch.set_integer_weights(on);
    }

    /// Whether the kernels use the widest vectors the CPU offers (the default: AVX2 on x86-64
    /// where the CPU has it, detected at run time) or the build's baseline (SSE2 on x86-64,
    /// 128-bit like wasm's simd128; on wasm32 both are simd128); the results are identical.
    /// For benchmarks.
    #[doc(hidden)]
    pub fn set_widest_vectors(&mut self, on: bool) {
        self.scratch.set_widest_vectors(on);
    }

    /// The decoder of [`StepReport::decision`] (default: the paper's, κ = 30).
    pub fn decoder(&self) -> Decoder {
        self.decoder
    }

    /// Sets how the score and probabilities are decoded, from the next step on.
    pub fn set_decoder(&mut self, decoder: Decoder) {
        self.decoder = decoder;
    }

    /// Time steps completed since the last reset.
    pub fn time_step(&self) -> u32 {
        self.t
    }

    /// Accumulated output O(t), one value per class (see [`StepReport::output`]).
    pub fn output(&self) -> &[f32] {
        &self.output
    }

    /// The constant current into the first IF layer: one value per neuron, flattened CHW,
    /// in the units of its threshold; it is added to every potential once per step.
    pub fn input_current(&self) -> &[f32] {
        &self.input_current
    }

    /// Number of IF layers; `layer` arguments below index them (see [`Model::stages`] for
    /// names, shapes and thresholds).
    pub fn if_layer_count(&self) -> usize {
        self.graph.ifs().len()
    }

    /// Spikes (0.0 or 1.0) of IF layer `layer` in the latest step, read in CHW order.
    pub fn spikes(&self, layer: usize) -> ChannelsFirst<'_> {
        self.channels_first(layer, self.graph.ifs()[layer].spikes())
    }

    /// Membrane potentials of IF layer `layer` after the latest step, read in CHW order, in
    /// the units of its threshold (they start at θ/2; a spike subtracts θ).
    pub fn membrane(&self, layer: usize) -> ChannelsFirst<'_> {
        self.channels_first(layer, self.graph.ifs()[layer].potential())
    }

    fn channels_first<'a>(&self, layer: usize, map: &'a [f32]) -> ChannelsFirst<'a> {
        ChannelsFirst::new(map, self.model.stages()[layer].shape.channels)
    }

    /// Spikes per IF layer in the latest step.
    pub fn spikes_per_layer(&self) -> &[u32] {
        &self.spikes_per_layer
    }

    /// Spikes of all layers in steps 1..=t of this run.
    pub fn cumulative_spikes(&self) -> u64 {
        self.cumulative_spikes
    }

    /// Synaptic operations of all layers in steps 1..=t of this run.
    pub fn cumulative_synaptic_ops(&self) -> u64 {
        self.cumulative_synaptic_ops
    }
}
