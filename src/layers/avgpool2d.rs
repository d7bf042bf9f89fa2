//! Average pooling: square window, stride, no padding, floor mode (partial windows dropped).

use super::{Real, Shape};

/// Average pooling of each channel plane (C×H×W → C×H'×W', channels unchanged).
#[derive(Clone, Debug)]
pub struct AvgPool2d {
    /// Side of the square window, in pixels.
    pub kernel: usize,
    /// Step between windows, in pixels (PyTorch's default: the kernel).
    pub stride: usize,
}

impl AvgPool2d {
    /// Output height and width, or None if the window does not fit.
    pub fn output_size(&self, height: usize, width: usize) -> Option<(usize, usize)> {
        let span = |len: usize| len.checked_sub(self.kernel).map(|s| s / self.stride + 1);
        Some((span(height)?, span(width)?))
    }

    /// Sum of the window, then one division by its size (as PyTorch's `avg_pool2d`).
    /// `input` and `output` are flattened CHW.
    pub fn forward<T: Real>(
        &self,
        input: &[T],
        input_shape: Shape,
        output_shape: Shape,
        output: &mut [T],
    ) {
        let count = T::from_usize(self.kernel * self.kernel);
        let (in_w, out_w) = (input_shape.width, output_shape.width);
        for (in_plane, out_plane) in input
            .chunks_exact(input_shape.plane())
            .zip(output.chunks_exact_mut(output_shape.plane()))
        {
            for (oy, out_row) in out_plane.chunks_exact_mut(out_w).enumerate() {
                for (ox, out) in out_row.iter_mut().enumerate() {
                    let mut sum = T::default();
                    for ky in 0..self.kernel {
                        let row = &in_plane[(oy * self.stride + ky) * in_w + ox * self.stride..]
                            [..self.kernel];
                        for &x in row {
                            sum += x;
                        }
                    }
                    *out = sum / count;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_windows_and_drops_partial_ones() {
        let pool = AvgPool2d {
            kernel: 2,
            stride: 2,
        };
        assert_eq!(pool.output_size(5, 4), Some((2, 2)));
        let input: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let mut out = vec![0.0; 4];
        pool.forward(&input, Shape::new(1, 5, 4), Shape::new(1, 2, 2), &mut out);
        assert_eq!(out, vec![2.5, 4.5, 10.5, 12.5]);
        assert_eq!(pool.output_size(1, 4), None);
    }
}
