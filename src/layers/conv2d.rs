//! 2-D convolution over CHW maps: square kernel, stride, zero padding.

use super::{valid_outputs, CacheAligned, Real, Shape};

/// A convolution with its weights converted to f32 once at load time. Weights and bias are in
/// the units the exporter wrote: for a spike-fed layer the previous IF layer's threshold is
/// folded into the weights, so one spike adds one weight (docs/model-format.md).
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// Channels of the input map.
    pub in_channels: usize,
    /// Channels of the output map (filters).
    pub out_channels: usize,
    /// Side of the square kernel, in pixels.
    pub kernel: usize,
    /// Step between output positions, in input pixels.
    pub stride: usize,
    /// Zeros added on every side of the input, in pixels.
    pub padding: usize,
    /// Taps-major, `[kh][kw][in][out]`: for each kernel offset and input channel, one
    /// contiguous row of `out` weights. The channels-last kernels of the engine (dense and
    /// event-driven) load vectors of output channels from these rows; the gather form here
    /// reads one weight at a time.
    weight: CacheAligned,
    bias: Vec<f32>,
}

impl Conv2d {
    /// `weight` is `[out][in][kernel][kernel]`, as in the file.
    pub fn new(
        weight: Vec<f32>,
        bias: Vec<f32>,
        in_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        let out_channels = bias.len();
        assert_eq!(
            weight.len(),
            out_channels * in_channels * kernel * kernel,
            "conv2d weight length"
        );
        let taps_major = taps_major(&weight, in_channels, out_channels, kernel);
        Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            weight: CacheAligned::new(&taps_major),
            bias,
        }
    }

    /// Output height and width for an input of `height × width`, or None if the kernel
    /// does not fit.
    pub fn output_size(&self, height: usize, width: usize) -> Option<(usize, usize)> {
        let span = |len: usize| {
            (len + 2 * self.padding)
                .checked_sub(self.kernel)
                .map(|s| s / self.stride + 1)
        };
        Some((span(height)?, span(width)?))
    }

    /// All weights, taps-major: `[kh][kw][in][out]`.
    pub fn weight(&self) -> &[f32] {
        self.weight.as_slice()
    }

    /// The weight from input channel `input` at kernel offset (`ky`, `kx`) to channel `output`.
    pub fn weight_at(&self, output: usize, input: usize, ky: usize, kx: usize) -> f32 {
        self.weight()[self.row_start(input, ky, kx) + output]
    }

    /// Where the row of `out_channels` weights of (`input`, `ky`, `kx`) starts.
    fn row_start(&self, input: usize, ky: usize, kx: usize) -> usize {
        ((ky * self.kernel + kx) * self.in_channels + input) * self.out_channels
    }

    /// One value per output channel.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Gather form, on maps flattened CHW: each output plane starts at the bias and
    /// accumulates one shifted input row per (in, ky, kx), so the inner loop runs over
    /// contiguous output pixels.
    pub fn forward_dense<T: Real>(
        &self,
        input: &[T],
        input_shape: Shape,
        output_shape: Shape,
        output: &mut [T],
    ) {
        let (in_h, in_w) = (input_shape.height, input_shape.width);
        let (out_h, out_w) = (output_shape.height, output_shape.width);
        let k = self.kernel;
        for (oc, out_plane) in output.chunks_exact_mut(output_shape.plane()).enumerate() {
            out_plane.fill(T::from_f32(self.bias[oc]));
            for (ic, in_plane) in input.chunks_exact(input_shape.plane()).enumerate() {
                for ky in 0..k {
                    let rows = valid_outputs(ky, self.stride, self.padding, in_h, out_h);
                    for kx in 0..k {
                        let w = T::from_f32(self.weight_at(oc, ic, ky, kx));
                        let cols = valid_outputs(kx, self.stride, self.padding, in_w, out_w);
                        if cols.is_empty() {
                            continue;
                        }
                        for oy in rows.clone() {
                            let iy = oy * self.stride + ky - self.padding;
                            let in_row = &in_plane[iy * in_w..][..in_w];
                            let out_row = &mut out_plane[oy * out_w..][..out_w][cols.clone()];
                            let ix0 = cols.start * self.stride + kx - self.padding;
                            if self.stride == 1 {
                                let len = out_row.len();
                                for (o, &x) in out_row.iter_mut().zip(&in_row[ix0..ix0 + len]) {
                                    *o += w * x;
                                }
                            } else {
                                for (o, &x) in out_row
                                    .iter_mut()
                                    .zip(in_row[ix0..].iter().step_by(self.stride))
                                {
                                    *o += w * x;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `weight`, `[out][in][kernel][kernel]` as in the file, reordered taps-major:
/// `[kh][kw][in][out]`.
pub(crate) fn taps_major<T: Copy + Default>(
    weight: &[T],
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
) -> Vec<T> {
    let taps = kernel * kernel;
    let mut taps_major = vec![T::default(); weight.len()];
    for (out, filter) in weight.chunks_exact(in_channels * taps).enumerate() {
        for (input, window) in filter.chunks_exact(taps).enumerate() {
            for (tap, &w) in window.iter().enumerate() {
                taps_major[(tap * in_channels + input) * out_channels + out] = w;
            }
        }
    }
    taps_major
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain six-loop convolution with explicit bounds checks, in f64.
    fn naive(conv: &Conv2d, input: &[f64], input_shape: Shape, output_shape: Shape) -> Vec<f64> {
        let k = conv.kernel;
        let mut out = vec![0.0; output_shape.len()];
        for oc in 0..conv.out_channels {
            for oy in 0..output_shape.height {
                for ox in 0..output_shape.width {
                    let mut sum = conv.bias[oc] as f64;
                    for ic in 0..conv.in_channels {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                                let ix = (ox * conv.stride + kx) as isize - conv.padding as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= input_shape.height as isize
                                    || ix >= input_shape.width as isize
                                {
                                    continue;
                                }
                                let x = input[(ic * input_shape.height + iy as usize)
                                    * input_shape.width
                                    + ix as usize];
                                sum += conv.weight_at(oc, ic, ky, kx) as f64 * x;
                            }
                        }
                    }
                    out[(oc * output_shape.height + oy) * output_shape.width + ox] = sum;
                }
            }
        }
        out
    }

    fn grid_value(i: usize) -> f32 {
        (((i * 7919) % 61) as f32 - 30.0) / 64.0
    }

    #[test]
    fn dense_matches_naive_for_all_geometries() {
        for (kernel, stride, padding) in [
            (1, 1, 0),
            (2, 1, 0),
            (3, 1, 1),
            (3, 2, 1),
            (2, 2, 0),
            (3, 2, 0),
            (3, 1, 2),
        ] {
            let (c_in, c_out, h, w) = (2, 3, 7, 6);
            let weight: Vec<f32> = (0..c_out * c_in * kernel * kernel)
                .map(grid_value)
                .collect();
            let bias: Vec<f32> = (0..c_out).map(|i| grid_value(i + 100)).collect();
            let conv = Conv2d::new(weight, bias, c_in, kernel, stride, padding);
            let (out_h, out_w) = conv.output_size(h, w).unwrap();
            let (input_shape, output_shape) =
                (Shape::new(c_in, h, w), Shape::new(c_out, out_h, out_w));
            let spikes: Vec<f32> = (0..input_shape.len())
                .map(|i| ((i * 31) % 3 == 0) as u8 as f32)
                .collect();

            let expected = naive(
                &conv,
                &spikes.iter().map(|&s| s as f64).collect::<Vec<_>>(),
                input_shape,
                output_shape,
            );
            let mut dense = vec![0.0f32; output_shape.len()];
            conv.forward_dense(&spikes, input_shape, output_shape, &mut dense);

            let expected: Vec<f32> = expected.iter().map(|&v| v as f32).collect();
            assert_eq!(dense, expected, "k{kernel} s{stride} p{padding}");
        }
    }

    #[test]
    fn dense_f64_matches_naive_on_analog_input() {
        let conv = Conv2d::new(
            (0..2 * 3 * 4).map(grid_value).collect(),
            vec![0.5, -0.25],
            3,
            2,
            1,
            0,
        );
        let input_shape = Shape::new(3, 5, 5);
        let output_shape = Shape::new(2, 4, 4);
        let input: Vec<f64> = (0..input_shape.len())
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let mut out = vec![0.0f64; output_shape.len()];
        conv.forward_dense(&input, input_shape, output_shape, &mut out);
        for (a, b) in out
            .iter()
            .zip(naive(&conv, &input, input_shape, output_shape))
        {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
