//! One pass through the layers after the analog prefix, in list order (topological), on
//! channels-last maps with preallocated buffers: what a time step of the SNN, or a forward
//! pass of the quantized ANN, computes.
//!
//! Each IF layer takes the current its input carries, and its output (spikes, or QCFS
//! activations) is listed as events once per pass when a weighted layer reads it; every
//! weighted layer reading it (a block's convolution and its 1×1 shortcut, say) reuses that
//! list. Pools and additions run dense: they act on values, not on events.

use super::events::{self, Activity, EventConv, Events};
use super::{dense, pool, Scratch};
use crate::ann::qcfs;
use crate::layers::{Layer, Op};
use crate::model::{Model, Signal};
use crate::neurons::IfNeurons;

/// An IF layer's behaviour in a pass: integrate-and-fire neurons in the SNN, the QCFS
/// activation in the quantized ANN.
pub(crate) trait IfLayer {
    /// What the layer's non-zero outputs are.
    const ACTIVITY: Activity;
    /// Takes one pass's input current (channels-last); returns the spikes fired (0 for an
    /// activation).
    fn apply(&mut self, current: &[f32]) -> u32;
    /// The latest output, channels-last: spikes (0 or 1) or activations `k / L`.
    fn output(&self) -> &[f32];
}

impl IfLayer for IfNeurons {
    const ACTIVITY: Activity = Activity::Spikes;

    fn apply(&mut self, current: &[f32]) -> u32 {
        self.step(current)
    }

    fn output(&self) -> &[f32] {
        self.spikes()
    }
}

/// The quantized ANN's activation at an IF layer: `k / L` of its input current.
#[derive(Clone, Debug)]
pub(crate) struct QcfsLayer {
    levels: u32,
    threshold: f32,
    activation: Vec<f32>,
}

impl QcfsLayer {
    pub fn new(levels: u32, threshold: f32, neurons: usize) -> Self {
        QcfsLayer {
            levels,
            threshold,
            activation: vec![0.0; neurons],
        }
    }
}

impl IfLayer for QcfsLayer {
    const ACTIVITY: Activity = Activity::Graded;

    fn apply(&mut self, current: &[f32]) -> u32 {
        for (a, &z) in self.activation.iter_mut().zip(current) {
            *a = qcfs(z, self.levels, self.threshold);
        }
        0
    }

    fn output(&self) -> &[f32] {
        &self.activation
    }
}

/// How a pass runs the weighted layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernels {
    /// Every input multiplied, zero or not (the reference).
    Dense,
    /// Only the events; a convolution read only by an average pool runs fused with it when
    /// `fuse` is set.
    Events { fuse: bool },
}

/// The state and buffers of one pass through the graph.
#[derive(Clone, Debug)]
pub(crate) struct Graph<N> {
    /// One per IF layer, in stage order.
    ifs: Vec<N>,
    /// Spikes each IF layer fired in the latest pass.
    fired: Vec<u32>,
    /// Per layer, its output map, channels-last (empty for IF layers and the analog prefix).
    outputs: Vec<Vec<f32>>,
    /// Per layer, its output's events, when a weighted layer reads it (else empty).
    events: Vec<Events>,
    /// Per layer, whether this pass already computed it (an average pool fused with the
    /// convolution before it).
    done: Vec<bool>,
}

impl<N: IfLayer> Graph<N> {
    /// Buffers for `model`, with `ifs` its IF layers in stage order.
    pub fn new(model: &Model, ifs: Vec<N>) -> Self {
        let layers = model.layers();
        let spiking = model.spiking_layers();
        let outputs = (0..layers.len())
            .map(|i| {
                let own = spiking.contains(&i) && !matches!(layers[i].op, Op::If { .. });
                vec![0.0; if own { layers[i].output_shape.len() } else { 0 }]
            })
            .collect();
        let events = (0..layers.len())
            .map(|i| {
                let read_by_weighted = spiking.contains(&i)
                    && model.consumers(i).iter().any(|&c| layers[c].is_weighted());
                let shape = layers[i].output_shape;
                if read_by_weighted {
                    Events::with_capacity(shape.plane(), shape.len())
                } else {
                    Events::default()
                }
            })
            .collect();
        Graph {
            done: vec![false; layers.len()],
            fired: vec![0; ifs.len()],
            ifs,
            outputs,
            events,
        }
    }

    /// The IF layers, in stage order.
    pub fn ifs(&self) -> &[N] {
        &self.ifs
    }

    /// The IF layers, in stage order, to reset.
    pub fn ifs_mut(&mut self) -> &mut [N] {
        &mut self.ifs
    }

    /// Spikes fired by each IF layer in the latest pass.
    pub fn fired(&self) -> &[u32] {
        &self.fired
    }

    /// The last layer's output from the latest pass: this step's output increment.
    pub fn output(&self) -> &[f32] {
        self.outputs.last().map_or(&[], Vec::as_slice)
    }

    /// One pass: `current` is the analog prefix's output (channels-last), the constant input
    /// current of the IF layers that read it. Allocation-free.
    pub fn forward(
        &mut self,
        model: &Model,
        current: &[f32],
        kernels: Kernels,
        scratch: &mut Scratch,
    ) {
        let layers = model.layers();
        self.done.fill(false);
        for i in model.spiking_layers() {
            if self.done[i] {
                continue; // an average pool computed fused with the convolution before it
            }
            let layer = &layers[i];
            match &layer.op {
                Op::If { .. } => {
                    let stage = model.stage_of(i).expect("an IF layer has a stage");
                    let input = layer.inputs[0];
                    let current = match model.signal(input) {
                        Signal::Analog => current,
                        _ => &self.outputs[input],
                    };
                    self.fired[stage] = self.ifs[stage].apply(current);
                    if kernels != Kernels::Dense && !self.events[i].is_unused() {
                        let output = self.ifs[stage].output();
                        let channels = layer.output_shape.channels;
                        match N::ACTIVITY {
                            Activity::Spikes => self.events[i].gather_spikes(output, channels),
                            Activity::Graded => self.events[i].gather_values(output, channels),
                        }
                    }
                }
                Op::Conv2d(_) | Op::Linear(_) => match kernels {
                    Kernels::Dense => {
                        let (done, rest) = self.outputs.split_at_mut(i);
                        let x = value(model, &self.ifs, done, layer.inputs[0]);
                        dense_layer(layer, x, &mut rest[0], scratch);
                    }
                    Kernels::Events { fuse } => {
                        if let Some(pool) = self.weighted_events(model, i, fuse, scratch) {
                            self.done[pool] = true;
                        }
                    }
                },
                Op::AvgPool2d(_) | Op::GlobalAvgPool(_) => {
                    let (done, rest) = self.outputs.split_at_mut(i);
                    let x = value(model, &self.ifs, done, layer.inputs[0]);
                    dense_layer(layer, x, &mut rest[0], scratch);
                    if kernels != Kernels::Dense && !self.events[i].is_unused() {
                        let channels = layer.output_shape.channels;
                        self.events[i].gather_values(&rest[0], channels);
                    }
                }
                Op::Add => {
                    let (done, rest) = self.outputs.split_at_mut(i);
                    let sum = &mut rest[0];
                    for (k, &input) in layer.inputs.iter().enumerate() {
                        let x = value(model, &self.ifs, done, input);
                        add(sum, x, model.add_scale(i, k), k == 0);
                    }
                }
            }
        }
    }

    /// Weighted layer `i` in event form, on the events of the layer it reads (fused with the
    /// average pool that alone reads it when the model has that pair and `fuse` is set).
    /// Returns the pool it computed, if fused.
    fn weighted_events(
        &mut self,
        model: &Model,
        i: usize,
        fuse: bool,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        let layers = model.layers();
        let layer = &layers[i];
        let source = layer.inputs[0];
        // Pooling before the weighted layer turns spikes into graded values.
        let activity = match layers[source].op {
            Op::If { .. } => N::ACTIVITY,
            _ => Activity::Graded,
        };
        let conv_pool = model.conv_pool(i).filter(|_| fuse);
        // The integer form is built for the SNN's spikes, fused when the model has the pair.
        let int_conv = model.int_conv(i).filter(|_| {
            scratch.integer_weights
                && N::ACTIVITY == Activity::Spikes
                && (fuse || model.conv_pool(i).is_none())
        });
        let pool = model.consumers(i).first().copied();
        let events = &mut self.events[source];
        let isa = scratch.isa;
        match (&layer.op, int_conv, conv_pool) {
            (Op::Conv2d(_), Some(int_conv), _) => {
                // Fused, it writes the pool's output directly, as below.
                let out = match (int_conv.divisor, pool) {
                    (Some(_), Some(pool)) => pool,
                    _ => i,
                };
                events::conv_int(
                    isa,
                    int_conv,
                    activity,
                    events,
                    layer.input_shape,
                    layers[out].output_shape,
                    &mut self.outputs[out],
                );
                (out != i).then_some(out)
            }
            (Op::Conv2d(_), None, Some(conv_pool)) => {
                // The pool's output directly; the conv's own buffer stays unused.
                let pool = pool.expect("a fused convolution has its pool");
                events::conv(
                    isa,
                    &EventConv::from(conv_pool),
                    activity,
                    events,
                    layer.input_shape,
                    layers[pool].output_shape,
                    &mut self.outputs[pool],
                );
                Some(pool)
            }
            (Op::Conv2d(conv), None, None) => {
                events::conv(
                    isa,
                    &EventConv::from(conv),
                    activity,
                    events,
                    layer.input_shape,
                    layer.output_shape,
                    &mut self.outputs[i],
                );
                None
            }
            (Op::Linear(linear), _, _) => {
                events::linear(
                    linear,
                    activity,
                    events,
                    layer.input_shape,
                    &mut self.outputs[i],
                );
                None
            }
            _ => unreachable!("{}: a weighted layer", layer.name),
        }
    }
}

/// The output of layer `layer` (before the one being computed): an IF layer's spikes or
/// activations, or a buffer of `done`.
fn value<'a, N: IfLayer>(
    model: &Model,
    ifs: &'a [N],
    done: &'a [Vec<f32>],
    layer: usize,
) -> &'a [f32] {
    match model.stage_of(layer) {
        Some(stage) => ifs[stage].output(),
        None => &done[layer],
    }
}

/// `sum = x · scale` (`first`) or `sum += x · scale`, in one fixed order so that every engine
/// rounds alike (a spike times θ is exact).
fn add(sum: &mut [f32], x: &[f32], scale: Option<f32>, first: bool) {
    match (scale, first) {
        (None, true) => sum.copy_from_slice(x),
        (None, false) => sum.iter_mut().zip(x).for_each(|(s, &v)| *s += v),
        (Some(theta), true) => sum.iter_mut().zip(x).for_each(|(s, &v)| *s = v * theta),
        (Some(theta), false) => sum.iter_mut().zip(x).for_each(|(s, &v)| *s += v * theta),
    }
}

fn dense_layer(layer: &Layer, x: &[f32], y: &mut [f32], scratch: &mut Scratch) {
    match &layer.op {
        Op::Conv2d(conv) => dense::conv(
            scratch.isa,
            conv,
            x,
            layer.input_shape,
            layer.output_shape,
            &mut scratch.padded,
            y,
        ),
        Op::AvgPool2d(p) => pool::avg_pool(p, x, layer.input_shape, layer.output_shape, y),
        Op::GlobalAvgPool(_) => pool::global_avg_pool(x, layer.input_shape, y),
        Op::Linear(linear) => dense::linear(linear, x, layer.input_shape, y),
        Op::If { .. } | Op::Add => unreachable!("{}: not a one-input linear layer", layer.name),
    }
}
