//! Average pooling on channels-last maps: each window position adds one contiguous pixel
//! vector. The sums run in the same order as the channels-first forms in
//! [`crate::layers`] (window rows, then columns), then one division by the window size.

use crate::layers::{AvgPool2d, Shape};

pub(crate) fn avg_pool(
    pool: &AvgPool2d,
    input: &[f32],
    input_shape: Shape,
    output_shape: Shape,
    output: &mut [f32],
) {
    let channels = input_shape.channels;
    let count = (pool.kernel * pool.kernel) as f32;
    let pixel = |y: usize, x: usize| &input[(y * input_shape.width + x) * channels..][..channels];
    for (position, out) in output.chunks_exact_mut(channels).enumerate() {
        let (oy, ox) = (position / output_shape.width, position % output_shape.width);
        out.fill(0.0);
        for ky in 0..pool.kernel {
            for kx in 0..pool.kernel {
                let values = pixel(oy * pool.stride + ky, ox * pool.stride + kx);
                for (o, &v) in out.iter_mut().zip(values) {
                    *o += v;
                }
            }
        }
        for o in out {
            *o /= count;
        }
    }
}

/// Mean of each channel over all pixels.
pub(crate) fn global_avg_pool(input: &[f32], input_shape: Shape, output: &mut [f32]) {
    output.fill(0.0);
    for pixel in input.chunks_exact(input_shape.channels) {
        for (o, &v) in output.iter_mut().zip(pixel) {
            *o += v;
        }
    }
    let count = input_shape.plane() as f32;
    for o in output {
        *o /= count;
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::to_channels_last;
    use super::*;
    use crate::layers::GlobalAvgPool;

    #[test]
    fn pools_match_the_channels_first_forms() {
        let shape = Shape::new(3, 5, 4);
        let chw: Vec<f32> = (0..shape.len())
            .map(|i| (i * 37 % 11) as f32 / 8.0)
            .collect();
        let mut hwc = vec![0.0; shape.len()];
        to_channels_last(&chw, shape, &mut hwc);

        let pool = AvgPool2d {
            kernel: 2,
            stride: 2,
        };
        let pooled_shape = Shape::new(3, 2, 2);
        let mut expected = vec![0.0; pooled_shape.len()];
        pool.forward(&chw, shape, pooled_shape, &mut expected);
        let mut expected_hwc = vec![0.0; pooled_shape.len()];
        to_channels_last(&expected, pooled_shape, &mut expected_hwc);
        let mut out = vec![0.0; pooled_shape.len()];
        avg_pool(&pool, &hwc, shape, pooled_shape, &mut out);
        assert_eq!(out, expected_hwc);

        let mut expected = vec![0.0; 3];
        GlobalAvgPool.forward(&chw, shape, &mut expected);
        let mut out = vec![0.0; 3];
        global_avg_pool(&hwc, shape, &mut out);
        assert_eq!(out, expected);
    }
}
