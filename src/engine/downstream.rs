//! The layers between two IF layers (or after the last one), run on channels-last maps with
//! preallocated buffers, densely or event-driven.

use super::events::{self, Activity, EventConv};
use super::{dense, pool, Scratch};
use crate::layers::{Layer, Op};
use crate::model::Model;

/// Output buffers for one stage's downstream layers, one channels-last map per layer.
#[derive(Clone, Debug)]
pub(crate) struct Downstream {
    outputs: Vec<Vec<f32>>,
}

impl Downstream {
    pub fn new(layers: &[Layer]) -> Self {
        Downstream {
            outputs: layers
                .iter()
                .map(|l| vec![0.0; l.output_shape.len()])
                .collect(),
        }
    }

    /// The last layer's output from the latest pass.
    pub fn output(&self) -> &[f32] {
        self.outputs.last().map_or(&[], Vec::as_slice)
    }

    /// Every layer in dense form.
    pub fn forward_dense(&mut self, layers: &[Layer], input: &[f32], scratch: &mut Scratch) {
        for (i, layer) in layers.iter().enumerate() {
            let (x, y) = self.io(i, input);
            dense_layer(layer, x, y, scratch);
        }
    }

    /// The layers after stage `stage`'s IF layer, its weighted layer in event form (fused
    /// with a following average pool when the model has that pair, [`Model::conv_pool`], and
    /// `fuse` is set), pooling around it dense. `activity` says what the non-zero values of
    /// `input` are.
    pub fn forward_events(
        &mut self,
        model: &Model,
        stage: usize,
        input: &[f32],
        activity: Activity,
        fuse: bool,
        scratch: &mut Scratch,
    ) {
        let layers = model.downstream_layers(stage);
        let downstream = &model.stages()[stage].downstream;
        let weighted = model.stages()[stage].weighted - downstream.start;
        let conv_pool = model.conv_pool(stage).filter(|_| fuse);
        // The integer form is built for the SNN's spikes, fused when the model has the pair.
        let int_conv = model.int_conv(stage).filter(|_| {
            scratch.integer_weights
                && activity == Activity::Spikes
                && (fuse || model.conv_pool(stage).is_none())
        });
        let mut i = 0;
        while i < layers.len() {
            if i != weighted {
                let (x, y) = self.io(i, input);
                dense_layer(&layers[i], x, y, scratch);
                i += 1;
                continue;
            }
            let layer = &layers[i];
            // Pooling before the weighted layer turns spikes into graded values.
            let weighted_input = if i == 0 { activity } else { Activity::Graded };
            let (x, _) = self.io(i, input);
            let channels = layer.input_shape.channels;
            match weighted_input {
                Activity::Spikes => scratch.events.gather_spikes(x, channels),
                Activity::Graded => scratch.events.gather_values(x, channels),
            }
            let Scratch { isa, events, .. } = &mut *scratch;
            if let (Op::Conv2d(_), Some(int_conv)) = (&layer.op, int_conv) {
                // Fused, it writes the pool's output directly, as below.
                let out = if int_conv.divisor.is_some() { i + 1 } else { i };
                events::conv_int(
                    *isa,
                    int_conv,
                    weighted_input,
                    events,
                    layer.input_shape,
                    layers[out].output_shape,
                    &mut self.outputs[out],
                );
                i = out + 1;
                continue;
            }
            match (&layer.op, conv_pool) {
                (Op::Conv2d(_), Some(conv_pool)) => {
                    // The pool's output directly; the conv's own buffer stays unused.
                    let pool = &layers[i + 1];
                    let y = &mut self.outputs[i + 1];
                    events::conv(
                        *isa,
                        &EventConv::from(conv_pool),
                        weighted_input,
                        events,
                        layer.input_shape,
                        pool.output_shape,
                        y,
                    );
                    i += 2;
                    continue;
                }
                (Op::Conv2d(conv), None) => {
                    let y = &mut self.outputs[i];
                    events::conv(
                        *isa,
                        &EventConv::from(conv),
                        weighted_input,
                        events,
                        layer.input_shape,
                        layer.output_shape,
                        y,
                    );
                }
                (Op::Linear(linear), _) => {
                    let y = &mut self.outputs[i];
                    events::linear(linear, weighted_input, events, layer.input_shape, y);
                }
                _ => unreachable!("{}: the stage's weighted layer has weights", layer.name),
            }
            i += 1;
        }
    }

    /// The input and output buffers of layer `i`.
    fn io<'a>(&'a mut self, i: usize, input: &'a [f32]) -> (&'a [f32], &'a mut [f32]) {
        let (done, rest) = self.outputs.split_at_mut(i);
        (done.last().map_or(input, Vec::as_slice), &mut rest[0])
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
        Op::If { .. } => unreachable!("{}: IF layers bound the stages", layer.name),
    }
}
