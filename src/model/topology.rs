//! How the sequential layer list splits into an analog prefix and spiking stages, checked
//! once at load time, and how many synapses each spiking neuron drives.
//!
//! ```text
//! image → [analog: one weighted layer + pooling] → IF₀ → [downstream₀] → IF₁ → … → IFₙ → [downstreamₙ, ending in linear] → O(t)
//! ```
//! Every run of layers between two IF layers (and before the first one) holds exactly one
//! weighted layer, so each weighted layer after the first is fed by spikes (possibly
//! through pooling), which is what the exporter's threshold folding assumes.

use std::ops::Range;

use super::ModelError;
use crate::layers::{window_reach, Layer, Op, Shape};

/// The structure of a validated model: ranges and indices into its layer list.
#[derive(Clone, Debug)]
pub struct Topology {
    analog: Range<usize>,
    stages: Vec<SpikingStage>,
}

/// One IF layer and the linear layers that carry its spikes to the next IF layer (or to the
/// accumulated output, for the last stage).
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
    /// Layers after this IF layer, up to the next IF layer or the end.
    pub downstream: Range<usize>,
    /// Index of the one weighted layer (conv2d or linear) in `downstream`, in the model's
    /// layer list.
    pub weighted: usize,
    /// Synapses driven by one spike at each spatial position, row-major `y·width + x` (the
    /// same for every channel).
    fan_out: Vec<u32>,
}

impl Topology {
    /// Layers before the first IF layer: computed once per image, in f64.
    pub fn analog(&self) -> Range<usize> {
        self.analog.clone()
    }

    /// The IF layers in order, each with the layers after it.
    pub fn stages(&self) -> &[SpikingStage] {
        &self.stages
    }
}

impl SpikingStage {
    /// Number of IF neurons.
    pub fn neurons(&self) -> usize {
        self.shape.len()
    }

    /// Outgoing synapses of one neuron at each spatial position (row-major H×W, index
    /// `y·width + x`; the same for every channel at that position): the outputs of the
    /// stage's weighted layer that one spike there reaches, through any pooling before it.
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

/// Checks the layer list's structure and derives the stages.
pub(super) fn build(layers: &[Layer]) -> Result<Topology, ModelError> {
    let error =
        |index: usize, message: String| ModelError::layer(index, &layers[index].name, message);
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
    let if_layers: Vec<usize> = (0..layers.len())
        .filter(|&i| matches!(layers[i].op, Op::If { .. }))
        .collect();
    let Some(&first_if) = if_layers.first() else {
        return Err(ModelError::Spec(
            "the model has no `if` layer, so it is not a spiking network".into(),
        ));
    };

    // Each run between IF layers must hold exactly one weighted layer.
    let mut run_start = 0;
    let mut weighted_layers = Vec::with_capacity(if_layers.len() + 1);
    for end in if_layers.iter().copied().chain([layers.len()]) {
        let weighted: Vec<usize> = (run_start..end)
            .filter(|&i| layers[i].is_weighted())
            .collect();
        match weighted.as_slice() {
            [only] => weighted_layers.push(*only),
            [] => {
                return Err(error(end, format!(
                    "`{}` follows `{}` with no weighted layer between them; an IF layer must be fed by a conv2d or linear layer",
                    layers[end].name, layers[run_start - 1].name
                )))
            }
            [first, second, ..] => {
                return Err(error(*second, format!(
                    "weighted layer `{}` follows `{}` with no `if` layer between them; every weighted layer after the first must be fed by spikes",
                    layers[*second].name, layers[*first].name
                )))
            }
        }
        run_start = end + 1;
    }

    let stages = if_layers
        .iter()
        .enumerate()
        .map(|(k, &layer)| {
            let end = if_layers.get(k + 1).copied().unwrap_or(layers.len());
            let downstream = layer + 1..end;
            let Op::If { threshold } = layers[layer].op else {
                unreachable!("filtered above")
            };
            let shape = layers[layer].output_shape;
            SpikingStage {
                name: layers[layer].name.clone(),
                layer,
                threshold,
                shape,
                fan_out: fan_out(shape, &layers[downstream.clone()]),
                downstream,
                // The analog prefix's weighted layer comes first.
                weighted: weighted_layers[k + 1],
            }
        })
        .collect();
    Ok(Topology {
        analog: 0..first_if,
        stages,
    })
}

/// Synapses per spatial position of a spiking map feeding `downstream`: the number of
/// distinct outputs of the (one) weighted layer that a spike there reaches, with any pooling
/// before it folded in (an average pool is linear, so pool-then-conv is one wider synapse
/// set). Pooling after the weighted layer acts on currents, not on spikes, and costs nothing
/// per spike. Conv and pool connectivity is separable, so rows and columns are traced apart.
fn fan_out(shape: Shape, downstream: &[Layer]) -> Vec<u32> {
    let mut result = Vec::with_capacity(shape.plane());
    for y in 0..shape.height {
        for x in 0..shape.width {
            let mut reach = Some(((y, y), (x, x)));
            let mut synapses = 0;
            for layer in downstream {
                let out = layer.output_shape;
                reach = reach.and_then(|(rows, cols)| match &layer.op {
                    Op::AvgPool2d(pool) => Some((
                        window_reach(rows, pool.kernel, pool.stride, 0, out.height)?,
                        window_reach(cols, pool.kernel, pool.stride, 0, out.width)?,
                    )),
                    Op::GlobalAvgPool(_) => Some(((0, 0), (0, 0))),
                    Op::Conv2d(conv) => {
                        let rows =
                            window_reach(rows, conv.kernel, conv.stride, conv.padding, out.height)?;
                        let cols =
                            window_reach(cols, conv.kernel, conv.stride, conv.padding, out.width)?;
                        synapses =
                            (rows.1 - rows.0 + 1) * (cols.1 - cols.0 + 1) * conv.out_channels;
                        None
                    }
                    Op::Linear(linear) => {
                        synapses = linear.out_features;
                        None
                    }
                    Op::If { .. } => None,
                });
            }
            result.push(synapses as u32);
        }
    }
    result
}
