//! Dense forms on channels-last maps: every input is multiplied, zero or not. This is the
//! reference path of the simulation, so it is written to run near the arithmetic peak.
//!
//! The convolution is direct (no im2col): a register tile of `P` output pixels × `OC`
//! output channels is accumulated over every kernel offset and input channel, one broadcast
//! input times one vector row of weights at a time. With channels innermost in both the
//! weights (`[kh][kw][in][out]`) and the output, every load is contiguous and the inner
//! statement `acc[p][j] += x[p] * w[j]` vectorises over `j`.

use std::array;

use super::isa::{tile_starts, Isa};
use crate::layers::{Conv2d, Linear, Shape};

/// Register tile of the dense convolution: output pixels × output channels. The 10 vector
/// accumulators, the weight row (2 vectors), the broadcast input and the product fit the 16
/// vector registers of SSE2/simd128 (4 lanes) and AVX2 (8 lanes); 6 pixels (12
/// accumulators) spill two of them to the stack and run slower.
const BASELINE_TILE: (usize, usize) = (5, 8);
#[cfg(target_arch = "x86_64")]
const AVX2_TILE: (usize, usize) = (5, 16);

/// One convolution's operands, the input already zero-padded.
struct DenseConv<'a> {
    /// Input map, channels-last, with a zero border `padding` wide on every side.
    source: &'a [f32],
    /// Pixels per row of `source`.
    source_width: usize,
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    output_width: usize,
    output_pixels: usize,
    weight: &'a [f32],
    bias: &'a [f32],
}

/// Dense convolution of a channels-last map. `padded` is working memory for the zero-padded
/// input (at least `(H + 2p) × (W + 2p) × C` values when the convolution pads).
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv(
    isa: Isa,
    conv: &Conv2d,
    input: &[f32],
    input_shape: Shape,
    output_shape: Shape,
    padded: &mut [f32],
    output: &mut [f32],
) {
    let (source, source_width) = if conv.padding == 0 {
        (input, input_shape.width)
    } else {
        let width = pad(input, input_shape, conv.padding, padded);
        (&*padded, width)
    };
    let operands = DenseConv {
        source,
        source_width,
        in_channels: conv.in_channels,
        out_channels: conv.out_channels,
        kernel: conv.kernel,
        stride: conv.stride,
        output_width: output_shape.width,
        output_pixels: output_shape.plane(),
        weight: conv.weight(),
        bias: conv.bias(),
    };
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen after detecting AVX2 on this CPU.
        Isa::Avx2 => unsafe { conv_avx2(&operands, output) },
        Isa::Baseline => conv_tiled::<{ BASELINE_TILE.0 }, { BASELINE_TILE.1 }>(&operands, output),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn conv_avx2(operands: &DenseConv, output: &mut [f32]) {
    conv_tiled::<{ AVX2_TILE.0 }, { AVX2_TILE.1 }>(operands, output)
}

/// Copies `input` into `padded` with a zero border; returns the padded width.
fn pad(input: &[f32], shape: Shape, padding: usize, padded: &mut [f32]) -> usize {
    let channels = shape.channels;
    let width = shape.width + 2 * padding;
    let height = shape.height + 2 * padding;
    let padded = &mut padded[..height * width * channels];
    padded.fill(0.0);
    let row_len = shape.width * channels;
    for (y, row) in input.chunks_exact(row_len).enumerate() {
        let start = ((y + padding) * width + padding) * channels;
        padded[start..start + row_len].copy_from_slice(row);
    }
    width
}

/// Covers the output with `P × OC` tiles; maps too small for a whole tile (in tests) fall
/// back to 1 × 1 tiles.
#[inline(always)]
fn conv_tiled<const P: usize, const OC: usize>(operands: &DenseConv, output: &mut [f32]) {
    if operands.output_pixels >= P && operands.out_channels >= OC {
        cover::<P, OC>(operands, output)
    } else {
        cover::<1, 1>(operands, output)
    }
}

#[inline(always)]
fn cover<const P: usize, const OC: usize>(operands: &DenseConv, output: &mut [f32]) {
    for first_channel in tile_starts(operands.out_channels, OC) {
        for first_pixel in tile_starts(operands.output_pixels, P) {
            tile::<P, OC>(operands, first_pixel, first_channel, output);
        }
    }
}

/// Output pixels `first_pixel..+P`, channels `first_channel..+OC`.
#[inline(always)]
fn tile<const P: usize, const OC: usize>(
    operands: &DenseConv,
    first_pixel: usize,
    first_channel: usize,
    output: &mut [f32],
) {
    let DenseConv {
        source,
        source_width,
        in_channels,
        out_channels,
        kernel,
        stride,
        output_width,
        ..
    } = *operands;
    // Where each output pixel's window starts in the padded source.
    let window: [usize; P] = array::from_fn(|p| {
        let (y, x) = (
            (first_pixel + p) / output_width,
            (first_pixel + p) % output_width,
        );
        (y * stride * source_width + x * stride) * in_channels
    });
    let bias: [f32; OC] = operands.bias[first_channel..][..OC].try_into().unwrap();
    let mut acc = [bias; P];
    let tap_len = in_channels * out_channels;
    for ky in 0..kernel {
        for kx in 0..kernel {
            let shift = (ky * source_width + kx) * in_channels;
            let inputs: [&[f32]; P] =
                array::from_fn(|p| &source[window[p] + shift..][..in_channels]);
            let weights = &operands.weight[(ky * kernel + kx) * tap_len..][..tap_len];
            for ic in 0..in_channels {
                let w: &[f32; OC] = weights[ic * out_channels + first_channel..][..OC]
                    .try_into()
                    .unwrap();
                for p in 0..P {
                    let x = inputs[p][ic];
                    for j in 0..OC {
                        acc[p][j] += x * w[j];
                    }
                }
            }
        }
    }
    for (p, values) in acc.iter().enumerate() {
        output[(first_pixel + p) * out_channels + first_channel..][..OC].copy_from_slice(values);
    }
}

/// Dense linear layer on a channels-last input: inputs in channels-last order, each adding
/// its weight column (the file's column for the same neuron in CHW order).
pub(crate) fn linear(linear: &Linear, input: &[f32], input_shape: Shape, output: &mut [f32]) {
    output.copy_from_slice(linear.bias());
    let plane = input_shape.plane();
    for (p, pixel) in input.chunks_exact(input_shape.channels).enumerate() {
        for (c, &x) in pixel.iter().enumerate() {
            for (o, &w) in output.iter_mut().zip(linear.column(c * plane + p)) {
                *o += x * w;
            }
        }
    }
}
