//! What the engine derives from a model once, at load time.

use super::events::EventConv;
use crate::layers::{AvgPool2d, CacheAligned, Conv2d, Layer, Op};
use crate::model::Topology;

/// Per spiking stage, how the event-driven path runs the layers after the IF layer.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    stages: Vec<StagePlan>,
}

#[derive(Clone, Debug)]
pub(crate) struct StagePlan {
    /// Index, within the stage's downstream layers, of its one weighted layer.
    pub weighted: usize,
    /// The weighted layer is a conv2d followed by an avgpool2d, and here is that pair as one
    /// convolution.
    pub conv_pool: Option<ConvPool>,
}

impl Plan {
    pub fn new(layers: &[Layer], topology: &Topology) -> Plan {
        let stages = topology
            .stages()
            .iter()
            .map(|stage| {
                let downstream = &layers[stage.downstream.clone()];
                let weighted = downstream
                    .iter()
                    .position(Layer::is_weighted)
                    .expect("the topology checks one weighted layer per stage");
                let conv_pool = match (&downstream[weighted].op, downstream.get(weighted + 1)) {
                    (Op::Conv2d(conv), Some(next)) => match &next.op {
                        Op::AvgPool2d(pool) => Some(ConvPool::new(conv, pool)),
                        _ => None,
                    },
                    _ => None,
                };
                StagePlan {
                    weighted,
                    conv_pool,
                }
            })
            .collect();
        Plan { stages }
    }

    pub fn stage(&self, index: usize) -> &StagePlan {
        &self.stages[index]
    }
}

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
#[derive(Clone, Debug)]
pub(crate) struct ConvPool {
    kernel: usize,
    stride: usize,
    padding: usize,
    weight: CacheAligned,
    bias: Vec<f32>,
    window: f32,
}

impl ConvPool {
    pub(super) fn new(conv: &Conv2d, pool: &AvgPool2d) -> ConvPool {
        let (k, s) = (conv.kernel, conv.stride);
        let kernel = (pool.kernel - 1) * s + k;
        let (c_in, c_out) = (conv.in_channels, conv.out_channels);
        let mut weight = vec![0.0f32; kernel * kernel * c_in * c_out];
        let row = |ey: usize, ex: usize, ic: usize| ((ey * kernel + ex) * c_in + ic) * c_out;
        for dy in 0..pool.kernel {
            for dx in 0..pool.kernel {
                for ky in 0..k {
                    for kx in 0..k {
                        let (ey, ex) = (dy * s + ky, dx * s + kx);
                        for ic in 0..c_in {
                            let fused = &mut weight[row(ey, ex, ic)..][..c_out];
                            for (oc, w) in fused.iter_mut().enumerate() {
                                *w += conv.weight_at(oc, ic, ky, kx);
                            }
                        }
                    }
                }
            }
        }
        let window = (pool.kernel * pool.kernel) as f32;
        ConvPool {
            kernel,
            stride: s * pool.stride,
            padding: conv.padding,
            weight: CacheAligned::new(&weight),
            bias: conv.bias().iter().map(|&b| b * window).collect(),
            window,
        }
    }

    pub fn as_event_conv(&self) -> EventConv<'_> {
        EventConv {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            weight: self.weight.as_slice(),
            bias: &self.bias,
            divisor: Some(self.window),
        }
    }
}
