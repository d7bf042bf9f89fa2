//! A convolution and the average pool after it, as one convolution.

use std::ops::AddAssign;

use super::{AvgPool2d, CacheAligned, Conv2d};

/// A convolution followed by an average pool, as one convolution.
///
/// Pooled output `(py, px)` averages the convolution outputs `(py·s_p + dy, px·s_p + dx)`,
/// which read the inputs `(py·s_p + dy)·s − p + ky`: one convolution of stride `s·s_p`,
/// padding `p` and kernel `(k_p − 1)·s + k`, whose weight at offset `e` is the sum of the
/// weights at every `(dy, ky)` with `dy·s + ky = e`. A spike then reaches only the pooled
/// neurons (for 3×3 convolutions pooled 2×2: a 4×4 window at stride 2, 16 rows per input
/// channel instead of 36). The result is `(k_p²·b + Σ w'·x) / k_p²`, the same sum the
/// pool computes; with weights on the 2^-16 grid every partial sum is exact, so it equals
/// the unfused result bit for bit.
///
/// Only the engine's event-driven form runs it; the model builds it once, at load time, for
/// every such pair (see `Model::conv_pool`).
#[derive(Clone, Debug)]
pub(crate) struct ConvPool {
    /// Side of the fused square kernel, `(k_p − 1)·s + k`.
    pub kernel: usize,
    /// `s·s_p`.
    pub stride: usize,
    /// The convolution's zero padding.
    pub padding: usize,
    /// Taps-major `[kh][kw][in][out]`, as [`Conv2d::weight`].
    weight: CacheAligned,
    /// The convolution's bias times the pool's window size `k_p²`.
    bias: Vec<f32>,
    /// The pool's window size `k_p²`, which divides every output at the end.
    window: f32,
}

impl ConvPool {
    pub fn new(conv: &Conv2d, pool: &AvgPool2d) -> ConvPool {
        let (kernel, weight) = fuse_taps(conv, pool, conv.weight());
        let window = (pool.kernel * pool.kernel) as f32;
        ConvPool {
            kernel,
            stride: conv.stride * pool.stride,
            padding: conv.padding,
            weight: CacheAligned::new(&weight),
            bias: conv.bias().iter().map(|&b| b * window).collect(),
            window,
        }
    }

    /// All fused weights, taps-major: `[kh][kw][in][out]`.
    pub fn weight(&self) -> &[f32] {
        self.weight.as_slice()
    }

    /// One value per output channel: the convolution's bias times the window size.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// The pool's window size `k_p²`: the divisor of every output.
    pub fn window(&self) -> f32 {
        self.window
    }
}

/// The fused kernel side `(k_p − 1)·s + k` and the fused taps-major weights of `conv` followed
/// by `pool`, from `weights`, `conv`'s weights (or their integer values) taps-major: each fused
/// weight at offset `e` sums, in one fixed order, the weights at every `(dy, ky)` with
/// `dy·s + ky = e` (both axes).
pub(crate) fn fuse_taps<T: Copy + Default + AddAssign>(
    conv: &Conv2d,
    pool: &AvgPool2d,
    weights: &[T],
) -> (usize, Vec<T>) {
    let (k, s) = (conv.kernel, conv.stride);
    let kernel = (pool.kernel - 1) * s + k;
    let (c_in, c_out) = (conv.in_channels, conv.out_channels);
    let mut fused = vec![T::default(); kernel * kernel * c_in * c_out];
    let row = |ey: usize, ex: usize, ic: usize, side: usize| ((ey * side + ex) * c_in + ic) * c_out;
    for dy in 0..pool.kernel {
        for dx in 0..pool.kernel {
            for ky in 0..k {
                for kx in 0..k {
                    let (ey, ex) = (dy * s + ky, dx * s + kx);
                    for ic in 0..c_in {
                        let source = &weights[row(ky, kx, ic, k)..][..c_out];
                        let target = &mut fused[row(ey, ex, ic, kernel)..][..c_out];
                        for (w, &v) in target.iter_mut().zip(source) {
                            *w += v;
                        }
                    }
                }
            }
        }
    }
    (kernel, fused)
}
