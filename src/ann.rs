//! The quantized ANN the SNN was converted from: each IF layer becomes the QCFS activation
//! `k / L` with `k = clamp(floor(z · (L / θ) + 1/2), 0, L)`. As T grows, O(T) / T of the SNN
//! approaches these logits; at T = L a single IF layer reproduces them exactly.

use crate::analog::AnalogPrefix;
use crate::engine::{to_channels_last, Graph, Kernels, QcfsLayer, Scratch};
use crate::model::{InputError, Model};

/// QCFS activation in units of θ (the next layer's weights carry θ): `k / L`, with `L / θ`
/// computed in f32 as the exporter and the PyTorch reference do.
pub fn qcfs(z: f32, levels: u32, threshold: f32) -> f32 {
    let l = levels as f32;
    let scale = l / threshold;
    (z * scale + 0.5).floor().clamp(0.0, l) / l
}

/// Buffers for repeated ANN forward passes (one per thread).
///
/// Most activations are 0 (k = 0), so weighted layers run in the engine's event form,
/// skipping the zeros; every product k/L · w is the one the dense form computes. A pool after
/// a convolution is fused into it (as in the SNN) only when L is a power of two: then every
/// k/L · w is exact on the weight grid, while for other L it is rounded, and the fused weights
/// would round a different sum. In an `add`, an activation contributes θ · k/L, as the ANN's
/// QCFS output.
#[derive(Clone, Debug)]
pub struct QuantizedAnn {
    analog: AnalogPrefix,
    /// The analog layers' output, channels-first.
    current: Vec<f32>,
    /// The same, channels-last.
    current_hwc: Vec<f32>,
    graph: Graph<QcfsLayer>,
    scratch: Scratch,
}

impl QuantizedAnn {
    pub fn new(model: &Model) -> Self {
        let activations = model
            .stages()
            .iter()
            .map(|s| QcfsLayer::new(model.levels(), s.threshold, s.neurons()))
            .collect();
        let current = model.analog_output_shape().len();
        QuantizedAnn {
            analog: AnalogPrefix::new(model),
            current: vec![0.0; current],
            current_hwc: vec![0.0; current],
            graph: Graph::new(model, activations),
            scratch: Scratch::new(model),
        }
    }

    /// Logits for one normalised CHW input. `model` must be the one this was built for.
    pub fn logits(&mut self, model: &Model, input: &[f64]) -> Result<&[f32], InputError> {
        self.analog.input_current(model, input, &mut self.current)?;
        to_channels_last(
            &self.current,
            model.analog_output_shape(),
            &mut self.current_hwc,
        );
        let kernels = Kernels::Events {
            fuse: model.levels().is_power_of_two(),
        };
        self.graph
            .forward(model, &self.current_hwc, kernels, &mut self.scratch);
        Ok(self.graph.output())
    }
}

/// Logits of the quantized ANN for one input (allocates; use [`QuantizedAnn`] in loops).
pub fn logits(model: &Model, input: &[f64]) -> Result<Vec<f32>, InputError> {
    QuantizedAnn::new(model)
        .logits(model, input)
        .map(<[f32]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qcfs_rounds_to_the_nearest_level_and_clips() {
        let (levels, theta) = (4, 2.0);
        let cases = [
            (-1.0, 0.0),
            (0.0, 0.0),
            (0.24, 0.0),
            (0.25, 0.25),
            (0.74, 0.25),
            (0.75, 0.5),
            (1.9, 1.0),
            (5.0, 1.0),
        ];
        for (z, expected) in cases {
            assert_eq!(qcfs(z, levels, theta), expected, "z = {z}");
        }
    }
}
