//! The analog prefix: the layers before the first IF layer (one weighted layer and any
//! pooling), fed by the normalised image. They run once per image, in f64, in the
//! channels-first reference forms of [`crate::layers`]; their output, rounded to f32 once, is
//! the constant input current of the first IF layer (docs/model-format.md). Every layer after
//! it runs in the spiking engine (`src/engine/`).

use crate::model::{InputError, Model};

/// Working memory of the analog prefix: one f64 output map (CHW) per layer, so that setting
/// an input allocates nothing.
#[derive(Clone, Debug)]
pub(crate) struct AnalogPrefix {
    outputs: Vec<Vec<f64>>,
}

impl AnalogPrefix {
    pub fn new(model: &Model) -> Self {
        AnalogPrefix {
            outputs: model
                .analog_layers()
                .iter()
                .map(|l| vec![0.0; l.output_shape.len()])
                .collect(),
        }
    }

    /// Writes into `current` (CHW, one value per neuron of the first IF layer, in the units of
    /// its threshold) the constant current that `image` (normalised, CHW, as
    /// [`crate::preprocess`] makes it) drives into it: the analog layers in f64, rounded to
    /// f32 once. `model` must be the one this was built for.
    pub fn input_current(
        &mut self,
        model: &Model,
        image: &[f64],
        current: &mut [f32],
    ) -> Result<(), InputError> {
        let expected = model.input().len();
        if image.len() != expected {
            return Err(InputError {
                expected,
                found: image.len(),
            });
        }
        for (i, layer) in model.analog_layers().iter().enumerate() {
            let (done, rest) = self.outputs.split_at_mut(i);
            let x = done.last().map_or(image, Vec::as_slice);
            layer.forward_dense(x, &mut rest[0]);
        }
        let output = self.outputs.last().map_or(&[][..], Vec::as_slice);
        for (c, &x) in current.iter_mut().zip(output) {
            *c = x as f32;
        }
        Ok(())
    }
}
