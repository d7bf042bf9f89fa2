//! The layer graph's structure, checked once at load time: an analog prefix, the IF layers
//! (stages), what each layer's output carries, who reads it, and how many synapses each
//! spiking neuron drives.
//!
//! ```text
//! image → [analog: one weighted layer + pooling] → IF₀ → conv → IF₁ → conv → add → IF₂ → … → linear → O(t)
//!                                                         └──────── θ₁ · spikes ──┘
//! ```
//! Layers are listed in topological order (every input earlier). What a layer's output
//! carries ([`Signal`]) decides what may read it: a weighted layer after the analog prefix is
//! fed by spikes (an IF layer, possibly through average pools), which is what the exporter's
//! threshold folding assumes; an IF layer is fed by a current (a weighted layer, possibly
//! through pools and additions); an `add` takes both, a spiking input times its IF layer's θ.

use std::ops::Range;

use super::ModelError;
use crate::layers::{window_reach, Layer, Op, Shape};

/// What a layer's output carries, which decides what may read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Computed from the image alone, once per image (the analog prefix).
    Analog,
    /// The spikes of the IF layer at index `source` of the layer list, possibly averaged by
    /// pools: 0 or 1 per neuron in the SNN (`k / L` in the quantized ANN), in units of that
    /// layer's θ.
    Spikes {
        /// Index of the IF layer in the layer list.
        source: usize,
    },
    /// A current in the units of the next IF layer's θ: the output of the weighted or add
    /// layer at index `from`, possibly pooled.
    Current {
        /// Index of the weighted or add layer in the layer list.
        from: usize,
    },
}

/// The structure of a validated model: indices into its layer list.
#[derive(Clone, Debug)]
pub struct Topology {
    analog: Range<usize>,
    stages: Vec<SpikingStage>,
    signals: Vec<Signal>,
    consumers: Vec<Vec<usize>>,
    /// For each layer, the index of its stage if it is an IF layer.
    stage_of: Vec<Option<usize>>,
}

/// One IF layer and the synapses its neurons drive.
#[derive(Clone, Debug)]
pub struct SpikingStage {
    /// The IF layer's name.
    pub name: String,
    /// Index of the IF layer in the model's layer list.
    pub layer: usize,
    /// Firing threshold θ, in the units of the layer's input current (see
    /// [`crate::layers::Op::If`]).
    pub threshold: f32,
    /// Shape of the layer's neuron map (one neuron per value of its input).
    pub shape: Shape,
    /// Synapses driven by one spike at each spatial position, row-major `y·width + x` (the
    /// same for every channel), summed over every edge that leaves the layer.
    fan_out: Vec<u32>,
}

impl Topology {
    /// Layers before the first IF layer: computed once per image, in f64.
    pub fn analog(&self) -> Range<usize> {
        self.analog.clone()
    }

    /// The IF layers in list order.
    pub fn stages(&self) -> &[SpikingStage] {
        &self.stages
    }

    /// What the output of layer `layer` carries.
    pub fn signal(&self, layer: usize) -> Signal {
        self.signals[layer]
    }

    /// The layers that read layer `layer`'s output, in list order.
    pub fn consumers(&self, layer: usize) -> &[usize] {
        &self.consumers[layer]
    }

    /// The stage (IF layer number) of layer `layer`, if it is an IF layer.
    pub fn stage_of(&self, layer: usize) -> Option<usize> {
        self.stage_of[layer]
    }
}

impl SpikingStage {
    /// Number of IF neurons.
    pub fn neurons(&self) -> usize {
        self.shape.len()
    }

    /// Outgoing synapses of one neuron at each spatial position (row-major H×W, index
    /// `y·width + x`; the same for every channel at that position), over every edge that
    /// leaves the layer: the outputs of each weighted layer that one spike there reaches
    /// through any pooling before it, plus one per value an identity shortcut (an `add`)
    /// reaches.
    pub fn fan_out(&self) -> &[u32] {
        &self.fan_out
    }

    /// Outgoing synapses of the whole layer: the fan-out summed over every neuron.
    pub fn synapses(&self) -> u64 {
        self.fan_out.iter().map(|&f| f as u64).sum::<u64>() * self.shape.channels as u64
    }

    /// Synaptic operations caused by one step's spikes (a channels-last map, as the engine
    /// keeps it): each spike costs one accumulate per outgoing synapse.
    pub(crate) fn synaptic_ops_channels_last(&self, spikes: &[f32]) -> u64 {
        spikes
            .chunks_exact(self.shape.channels)
            .zip(&self.fan_out)
            .map(|(pixel, &fan_out)| {
                // An integer count vectorises; a float sum would have to run in order.
                let fired: u32 = pixel.iter().map(|&s| (s != 0.0) as u32).sum();
                fired as u64 * fan_out as u64
            })
            .sum()
    }

    /// Synaptic operations caused by one step's spikes (0.0 or 1.0 per neuron, flattened
    /// CHW, as [`crate::snn::Simulation::spikes`] reads them): each spike costs one
    /// accumulate per outgoing synapse.
    pub fn synaptic_ops(&self, spikes: &[f32]) -> u64 {
        spikes
            .chunks_exact(self.fan_out.len())
            .map(|plane| {
                plane
                    .iter()
                    .zip(&self.fan_out)
                    .map(|(&s, &f)| (s as u32 * f) as u64)
                    .sum::<u64>()
            })
            .sum()
    }
}

/// Checks the graph's structure (inputs already resolved to earlier layers, shapes checked)
/// and derives the stages. Errors name the layer and what was expected.
pub(super) fn build(layers: &[Layer]) -> Result<Topology, ModelError> {
    let error =
        |index: usize, message: String| ModelError::layer(index, &layers[index].name, message);
    let name = |index: usize| layers[index].name.as_str();
    let Some(last) = layers.last() else {
        return Err(ModelError::Spec("`layers` is empty".into()));
    };
    if !layers[0].is_weighted() {
        return Err(error(0, format!("the first layer must be a weighted layer (conv2d or linear) fed by the image, found `{}`", layers[0].kind())));
    }
    if !matches!(last.op, Op::Linear(_)) {
        return Err(error(
            layers.len() - 1,
            format!(
                "the last layer must be `linear` (the accumulated output), found `{}`",
                last.kind()
            ),
        ));
    }
    let Some(first_if) = layers.iter().position(|l| matches!(l.op, Op::If { .. })) else {
        return Err(ModelError::Spec(
            "the model has no `if` layer, so it is not a spiking network".into(),
        ));
    };

    let mut consumers = vec![Vec::new(); layers.len()];
    for (i, layer) in layers.iter().enumerate() {
        for &input in &layer.inputs {
            consumers[input].push(i);
        }
    }

    let mut signals: Vec<Signal> = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let input = |k: usize| signals[layer.inputs[k]];
        let reads_analog = layer.inputs.iter().find(|&&k| signals[k] == Signal::Analog);
        if let (true, Some(&analog)) = (i > first_if, reads_analog) {
            if !matches!(layer.op, Op::If { .. }) {
                return Err(error(i, format!(
                    "reads `{}`, a layer before the first IF layer `{}`; only IF layers may read the layers before it (the analog prefix, computed from the image alone)",
                    name(analog), name(first_if)
                )));
            }
        }
        let signal = match &layer.op {
            _ if layer.inputs.is_empty() => Signal::Analog,
            Op::If { .. } => match input(0) {
                Signal::Spikes { source } => {
                    return Err(error(i, format!(
                        "is fed by the spikes of `{}` with no weighted layer between them; an IF layer must be fed by a conv2d or linear layer (possibly through pooling or an add)",
                        name(source)
                    )))
                }
                Signal::Analog | Signal::Current { .. } => Signal::Spikes { source: i },
            },
            Op::Conv2d(_) | Op::Linear(_) => match input(0) {
                Signal::Analog => Signal::Analog,
                Signal::Spikes { .. } => Signal::Current { from: i },
                Signal::Current { from } => {
                    return Err(error(i, format!(
                        "weighted layer `{}` is fed by the current of `{}` with no `if` layer between them; every weighted layer after the first must be fed by spikes (an IF layer, possibly through pooling)",
                        layer.name, name(from)
                    )))
                }
            },
            Op::AvgPool2d(_) | Op::GlobalAvgPool(_) => input(0),
            Op::Add => {
                if let Some(&analog) = layer
                    .inputs
                    .iter()
                    .find(|&&k| signals[k] == Signal::Analog)
                {
                    return Err(error(i, format!(
                        "input `{}` is computed from the image alone; an `add` must come after the first IF layer `{}`",
                        name(analog), name(first_if)
                    )));
                }
                Signal::Current { from: i }
            }
        };
        signals.push(signal);
    }

    if let Some(unused) = (0..layers.len() - 1).find(|&i| consumers[i].is_empty()) {
        return Err(error(unused, format!(
            "its output feeds no layer; every layer but the last (`{}`, the output) must be an input of a later layer",
            last.name
        )));
    }

    // The analog prefix: a chain before the first IF layer with one weighted layer, read
    // outside it only through its last layer, and only by IF layers.
    let analog = 0..first_if;
    let weighted: Vec<usize> = analog
        .clone()
        .filter(|&i| layers[i].is_weighted())
        .collect();
    if let [first, second, ..] = weighted.as_slice() {
        return Err(error(*second, format!(
            "weighted layer `{}` follows `{}` with no `if` layer between them; every weighted layer after the first must be fed by spikes",
            name(*second), name(*first)
        )));
    }
    for i in analog.clone() {
        for &reader in &consumers[i] {
            let inside = analog.contains(&reader);
            let allowed =
                inside || (i + 1 == first_if && matches!(layers[reader].op, Op::If { .. }));
            if !allowed || (inside && reader != i + 1) {
                return Err(error(reader, format!(
                    "reads `{}`, a layer before the first IF layer; the layers before it must form a chain whose last layer is read only by IF layers",
                    name(i)
                )));
            }
        }
    }

    let mut stage_of = vec![None; layers.len()];
    let stages = (first_if..layers.len())
        .filter(|&i| matches!(layers[i].op, Op::If { .. }))
        .enumerate()
        .map(|(k, i)| {
            stage_of[i] = Some(k);
            let Op::If { threshold } = layers[i].op else {
                unreachable!("filtered above")
            };
            let shape = layers[i].output_shape;
            SpikingStage {
                name: layers[i].name.clone(),
                layer: i,
                threshold,
                shape,
                fan_out: fan_out(layers, &consumers, i),
            }
        })
        .collect();
    Ok(Topology {
        analog,
        stages,
        signals,
        consumers,
        stage_of,
    })
}

/// Synapses per spatial position of IF layer `source`'s map: over every path that leaves
/// it, the number of distinct outputs of the weighted layer at its end that a spike there
/// reaches, with any pooling before it folded in (an average pool is linear, so pool-then-conv
/// is one wider synapse set), or the values of an `add` it reaches (an identity shortcut: one
/// accumulate each). Pooling after a weighted layer acts on currents, not on spikes, and costs
/// nothing per spike. Conv and pool connectivity is separable, so rows and columns are traced
/// apart.
fn fan_out(layers: &[Layer], consumers: &[Vec<usize>], source: usize) -> Vec<u32> {
    let shape = layers[source].output_shape;
    let mut result = Vec::with_capacity(shape.plane());
    for y in 0..shape.height {
        for x in 0..shape.width {
            let synapses = reach(layers, consumers, source, ((y, y), (x, x)));
            result.push(u32::try_from(synapses).unwrap_or(u32::MAX));
        }
    }
    result
}

/// Synapses reached from the rows and columns `span` of layer `from`'s output (see
/// [`fan_out`]).
fn reach(
    layers: &[Layer],
    consumers: &[Vec<usize>],
    from: usize,
    span: ((usize, usize), (usize, usize)),
) -> u64 {
    let (rows, cols) = span;
    let area = |r: (usize, usize), c: (usize, usize)| ((r.1 - r.0 + 1) * (c.1 - c.0 + 1)) as u64;
    consumers[from]
        .iter()
        .map(|&next| {
            let layer = &layers[next];
            let out = layer.output_shape;
            match &layer.op {
                Op::AvgPool2d(pool) => {
                    match (
                        window_reach(rows, pool.kernel, pool.stride, 0, out.height),
                        window_reach(cols, pool.kernel, pool.stride, 0, out.width),
                    ) {
                        (Some(r), Some(c)) => reach(layers, consumers, next, (r, c)),
                        _ => 0,
                    }
                }
                Op::GlobalAvgPool(_) => reach(layers, consumers, next, ((0, 0), (0, 0))),
                Op::Conv2d(conv) => {
                    match (
                        window_reach(rows, conv.kernel, conv.stride, conv.padding, out.height),
                        window_reach(cols, conv.kernel, conv.stride, conv.padding, out.width),
                    ) {
                        (Some(r), Some(c)) => area(r, c) * conv.out_channels as u64,
                        _ => 0,
                    }
                }
                Op::Linear(linear) => linear.out_features as u64,
                Op::Add => area(rows, cols),
                Op::If { .. } => 0, // refused by `build`
            }
        })
        .sum()
}
