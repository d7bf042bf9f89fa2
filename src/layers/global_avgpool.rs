//! Global average pooling: the mean of each channel plane (C×H×W → C×1×1).

use super::{Real, Shape};

/// Global average pooling: one mean per channel (C×H×W → C×1×1).
#[derive(Clone, Debug, Default)]
pub struct GlobalAvgPool;

impl GlobalAvgPool {
    /// Sum of the plane, then one division by its size (as PyTorch's `mean`). `input` is
    /// flattened CHW; `output` holds one value per channel.
    pub fn forward<T: Real>(&self, input: &[T], input_shape: Shape, output: &mut [T]) {
        let count = T::from_usize(input_shape.plane());
        for (plane, out) in input
            .chunks_exact(input_shape.plane())
            .zip(output.iter_mut())
        {
            let mut sum = T::default();
            for &x in plane {
                sum += x;
            }
            *out = sum / count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_each_channel() {
        let input = [1.0f32, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 1.0];
        let mut out = [0.0f32; 2];
        GlobalAvgPool.forward(&input, Shape::new(2, 2, 2), &mut out);
        assert_eq!(out, [2.5, 0.25]);
    }
}
