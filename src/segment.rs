//! The analog prefix (the layers before the first IF layer, fed by the image) with
//! preallocated buffers, in the channels-first reference forms of [`crate::layers`]. It runs
//! once per image, in f64; the spiking layers after it run in [`crate::engine`].

use crate::layers::{Layer, Real};
use crate::model::{InputError, Model};

/// Output buffers for a run of linear (non-IF) layers, one per layer.
#[derive(Clone, Debug)]
pub(crate) struct Segment<T> {
    outputs: Vec<Vec<T>>,
}

impl<T: Real> Segment<T> {
    pub fn new(layers: &[Layer]) -> Self {
        Segment {
            outputs: layers
                .iter()
                .map(|l| vec![T::default(); l.output_shape.len()])
                .collect(),
        }
    }

    /// The last layer's output from the latest forward pass.
    pub fn output(&self) -> &[T] {
        self.outputs.last().map_or(&[], Vec::as_slice)
    }

    /// Every layer in its dense form.
    pub fn forward_dense(&mut self, layers: &[Layer], input: &[T]) -> &[T] {
        for (i, layer) in layers.iter().enumerate() {
            let (done, rest) = self.outputs.split_at_mut(i);
            let x = done.last().map_or(input, Vec::as_slice);
            layer.forward_dense(x, &mut rest[0]);
        }
        self.output()
    }
}

/// The constant current into the first IF layer: the analog layers applied to the
/// normalised image in f64, rounded to f32 once (docs/model-format.md).
pub(crate) fn input_current(
    model: &Model,
    analog: &mut Segment<f64>,
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
    let analog_output = analog.forward_dense(model.analog_layers(), image);
    for (c, &x) in current.iter_mut().zip(analog_output) {
        *c = x as f32;
    }
    Ok(())
}
