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
//! - [`downstream`]: runs the layers after one IF layer with preallocated buffers.
//! - [`isa`]: AVX2 on x86-64 when the CPU has it, the baseline (SSE2, simd128) otherwise.

mod dense;
mod downstream;
mod events;
mod isa;
mod layout;
mod pool;
#[cfg(test)]
mod tests;

pub(crate) use downstream::Downstream;
pub(crate) use events::Activity;
pub(crate) use layout::to_channels_last;
pub use layout::{ChannelsFirst, ChannelsFirstIter};

use crate::layers::Op;
use crate::model::Model;
use events::Events;
use isa::Isa;

/// Working memory shared by the stages of one simulation, sized so that a step never
/// allocates.
#[derive(Clone, Debug)]
pub(crate) struct Scratch {
    isa: Isa,
    /// Whether the event-driven SNN runs convolutions in integers where the model allows
    /// ([`crate::layers::IntConv`]); `DYNCONF_EVENT_WEIGHTS=f32` in the environment turns
    /// this off, to measure what the integers bring.
    integer_weights: bool,
    /// A zero-padded copy of a dense convolution's input.
    padded: Vec<f32>,
    events: Events,
}

impl Scratch {
    pub fn new(model: &Model) -> Self {
        let (mut padded, mut pixels, mut values) = (0, 0, 0);
        for layer in (0..model.stages().len()).flat_map(|k| model.downstream_layers(k)) {
            let s = layer.input_shape;
            if let Op::Conv2d(conv) = &layer.op {
                let p = 2 * conv.padding;
                padded = padded.max((s.height + p) * (s.width + p) * s.channels);
            }
            if layer.is_weighted() {
                pixels = pixels.max(s.plane());
                values = values.max(s.len());
            }
        }
        Scratch {
            isa: Isa::get(),
            integer_weights: integer_weights(),
            padded: vec![0.0; padded],
            events: Events::with_capacity(pixels, values),
        }
    }

    pub fn set_integer_weights(&mut self, on: bool) {
        self.integer_weights = on;
    }
}

/// False when `DYNCONF_EVENT_WEIGHTS=f32` is set (read once per process).
fn integer_weights() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("DYNCONF_EVENT_WEIGHTS").is_none_or(|v| v != "f32"))
}
