//! The spiking engine: how activity travels from one IF layer to the next, on channels-last
//! maps, in dense or event-driven form.
//!
//! [`crate::snn::Simulation`] and [`crate::ann::QuantizedAnn`] drive it; the analog prefix
//! (the layers before the first IF layer, once per image, in f64) runs in the channels-first
//! reference forms of [`crate::layers`]. The engine reads the [`Model`] (its layers, stages
//! and the convolutions fused with their pools that loading builds) and the model knows
//! nothing of the engine: `layers` ← `model` ← `engine` ← `snn`, `ann`.
//!
//! - [`layout`]: channels-last maps and the channels-first view the public API returns.
//! - [`dense`]: the dense (reference) forms: a register-tiled direct convolution.
//! - [`events`]: the event-driven forms: per-pixel event lists, accumulate-only kernels.
//! - [`pool`]: average pooling, always dense (it acts on values, not on events).
//! - [`graph`]: one pass through the layer graph (an SNN step, an ANN forward pass) with
//!   preallocated buffers.
//! - [`isa`]: AVX2 on x86-64 when the CPU has it, the baseline (SSE2, simd128) otherwise.

mod dense;
mod events;
mod graph;
mod isa;
mod layout;
mod pool;
#[cfg(test)]
mod tests;

pub(crate) use graph::{Graph, Kernels, QcfsLayer};
pub(crate) use layout::to_channels_last;
pub use layout::{ChannelsFirst, ChannelsFirstIter};

use crate::layers::Op;
use crate::model::Model;
use isa::Isa;

/// Working memory shared by the layers of one simulation, sized so that a step never
/// allocates.
#[derive(Clone, Debug)]
pub(crate) struct Scratch {
    isa: Isa,
    /// Whether the event-driven SNN runs convolutions in integers where the model allows
    /// ([`crate::layers::IntConv`]; the default) or adds f32 weight rows, to measure what the
    /// integers bring.
    integer_weights: bool,
    /// A zero-padded copy of a dense convolution's input.
    padded: Vec<f32>,
}

impl Scratch {
    pub fn new(model: &Model) -> Self {
        let mut padded = 0;
        for layer in &model.layers()[model.spiking_layers()] {
            let s = layer.input_shape;
            if let Op::Conv2d(conv) = &layer.op {
                let p = 2 * conv.padding;
                padded = padded.max((s.height + p) * (s.width + p) * s.channels);
            }
        }
        Scratch {
            isa: Isa::widest(),
            integer_weights: true,
            padded: vec![0.0; padded],
        }
    }

    pub fn set_integer_weights(&mut self, on: bool) {
        self.integer_weights = on;
    }

    /// Whether the kernels use the widest vectors the CPU offers (the default) or the
    /// build's baseline.
    pub fn set_widest_vectors(&mut self, on: bool) {
        self.isa = if on { Isa::widest() } else { Isa::Baseline };
    }
}
