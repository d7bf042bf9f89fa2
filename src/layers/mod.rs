//! The network's operations, one file per kind, in their channels-first (CHW) reference
//! forms.
//!
//! Every op has a dense forward pass written over [`Real`], so the same code runs in f64 (the
//! analog layers before the first IF layer, fed by the image, once per image) and in f32 (the
//! reference the spiking kernels are tested against). The spiking layers themselves do not run
//! here: the engine (`src/engine/`) keeps their maps channels-last (HWC) and has its own dense
//! and event-driven kernels. Its event path lists, each step, the non-zero channels of every
//! pixel and adds those inputs' weight rows (accumulate only for spikes), reading the weights
//! in the layouts the ops here store them in (taps-major for [`Conv2d`], transposed for
//! [`Linear`]). With weights on the exporter's 2^-16 grid every such sum is exact in f32, so
//! all these forms agree bit for bit (docs/model-format.md).

mod aligned;
mod avgpool2d;
mod conv2d;
mod conv_pool;
mod global_avgpool;
mod int_conv;
mod linear;

pub use aligned::CacheAligned;
pub use avgpool2d::AvgPool2d;
pub use conv2d::Conv2d;
pub(crate) use conv_pool::ConvPool;
pub use global_avgpool::GlobalAvgPool;
pub(crate) use int_conv::{IntConv, IntWeights};
pub use linear::Linear;

use std::ops::{Add, AddAssign, Div, Mul, Range};

/// Shape of one activation map, channels × height × width (vectors are `n × 1 × 1`).
///
/// A shape does not fix a memory order. The model file, the ops of this module and the public
/// API flatten maps channels-first (CHW: value `(c, y, x)` at `(c·height + y)·width + x`);
/// the engine keeps the spiking layers' maps channels-last (HWC: value `(c, y, x)` at
/// `(y·width + x)·channels + c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shape {
    /// Number of channels (feature maps).
    pub channels: usize,
    /// Rows, in pixels.
    pub height: usize,
    /// Columns, in pixels.
    pub width: usize,
}

impl Shape {
    /// A `channels × height × width` map.
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Shape {
            channels,
            height,
            width,
        }
    }

    /// Number of values (neurons) in the map.
    pub const fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the map has no values.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of spatial positions (pixels) in one channel plane, `height × width`.
    pub const fn plane(&self) -> usize {
        self.height * self.width
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}×{}", self.channels, self.height, self.width)
    }
}

/// The float types the dense kernels run in: f64 for the analog first layer, f32 elsewhere.
pub trait Real:
    Copy + Default + Add<Output = Self> + Mul<Output = Self> + Div<Output = Self> + AddAssign
{
    /// The value of an f32 (exact: widening or identity).
    fn from_f32(value: f32) -> Self;
    /// The value of a count (a window size; exact for the sizes of a model).
    fn from_usize(value: usize) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn from_f32(value: f32) -> Self {
        value
    }
    #[inline(always)]
    fn from_usize(value: usize) -> Self {
        value as f32
    }
}

impl Real for f64 {
    #[inline(always)]
    fn from_f32(value: f32) -> Self {
        value as f64
    }
    #[inline(always)]
    fn from_usize(value: usize) -> Self {
        value as f64
    }
}

/// What a layer does. Integrate-and-fire layers carry only their threshold: their state lives
/// in [`crate::neurons::IfNeurons`], and the quantized ANN reads the same threshold.
#[derive(Clone, Debug)]
pub enum Op {
    /// 2-D convolution (`kind` `conv2d`).
    Conv2d(Conv2d),
    /// Average pooling over square windows (`avgpool2d`).
    AvgPool2d(AvgPool2d),
    /// Mean of each channel plane (`global_avgpool`).
    GlobalAvgPool(GlobalAvgPool),
    /// Fully connected layer (`linear`).
    Linear(Linear),
    /// Integrate-and-fire neurons (`if`), one per input value; the output has the input's
    /// shape.
    If {
        /// Firing threshold θ, in the units of the layer's input current (the pre-activation
        /// of the layer before it, whose weights already carry the previous θ): a neuron fires
        /// when its potential reaches θ. The quantized ANN's QCFS activation uses the same θ.
        threshold: f32,
    },
    /// Elementwise sum of the layer's inputs, in the order listed (`add`, a residual
    /// connection). An input that carries spikes (an IF layer, or average pools of one)
    /// contributes them times that IF layer's θ: the current its QCFS output gives in the ANN.
    Add,
}

/// One entry of the model's layer list (a graph in topological order), with its inputs and
/// activation shapes resolved.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The layer's name in the file (unique; `<kind>_<index>` for unnamed pooling, IF and add
    /// layers); weighted layers' tensors are `<name>.weight` and `<name>.bias`.
    pub name: String,
    /// What the layer computes.
    pub op: Op,
    /// Indices in the layer list of the layers it reads, all earlier in the list: empty for
    /// the first layer (it reads the image), two or more for [`Op::Add`], one otherwise.
    pub inputs: Vec<usize>,
    /// Shape of the map the layer reads.
    pub input_shape: Shape,
    /// Shape of the map the layer writes.
    pub output_shape: Shape,
}

impl Layer {
    /// The `kind` string of the model file.
    pub fn kind(&self) -> &'static str {
        match self.op {
            Op::Conv2d(_) => "conv2d",
            Op::AvgPool2d(_) => "avgpool2d",
            Op::GlobalAvgPool(_) => "global_avgpool",
            Op::Linear(_) => "linear",
            Op::If { .. } => "if",
            Op::Add => "add",
        }
    }

    /// Whether the layer has weights (conv2d, linear).
    pub fn is_weighted(&self) -> bool {
        matches!(self.op, Op::Conv2d(_) | Op::Linear(_))
    }

    /// Dense forward pass of a linear one-input (non-IF, non-add) layer: `input` is an
    /// `input_shape` map and `output` an `output_shape` map, both flattened CHW.
    ///
    /// # Panics
    /// On an IF or add layer or on buffers of the wrong length; these are bugs in the caller,
    /// since shapes are checked when the model is loaded.
    pub fn forward_dense<T: Real>(&self, input: &[T], output: &mut [T]) {
        assert_eq!(
            input.len(),
            self.input_shape.len(),
            "{}: input length",
            self.name
        );
        assert_eq!(
            output.len(),
            self.output_shape.len(),
            "{}: output length",
            self.name
        );
        match &self.op {
            Op::Conv2d(conv) => {
                conv.forward_dense(input, self.input_shape, self.output_shape, output)
            }
            Op::AvgPool2d(pool) => pool.forward(input, self.input_shape, self.output_shape, output),
            Op::GlobalAvgPool(pool) => pool.forward(input, self.input_shape, output),
            Op::Linear(linear) => linear.forward_dense(input, output),
            Op::If { .. } | Op::Add => {
                panic!("{}: not a one-input linear layer", self.name)
            }
        }
    }
}

/// Output positions `o` (along one axis) whose window `[o*stride - padding, … + kernel)`
/// overlaps the input positions `inputs` (inclusive range). Empty when none does.
pub(crate) fn window_reach(
    inputs: (usize, usize),
    kernel: usize,
    stride: usize,
    padding: usize,
    output_len: usize,
) -> Option<(usize, usize)> {
    let (first, last) = inputs;
    // o*stride - padding + kernel - 1 >= first  and  o*stride - padding <= last
    let low = (first + padding + 1)
        .saturating_sub(kernel)
        .div_ceil(stride);
    let high = ((last + padding) / stride).min(output_len.checked_sub(1)?);
    (low <= high).then_some((low, high))
}

/// Output positions `o` whose window sample `o*stride + offset - padding` falls inside
/// `0..input_len` (the gather form's loop bounds for one kernel offset).
pub(crate) fn valid_outputs(
    offset: usize,
    stride: usize,
    padding: usize,
    input_len: usize,
    output_len: usize,
) -> Range<usize> {
    let start = padding.saturating_sub(offset).div_ceil(stride);
    let end = match (input_len + padding).checked_sub(offset + 1) {
        Some(last) => (last / stride + 1).min(output_len),
        None => 0,
    };
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_reach_matches_brute_force() {
        for kernel in 1..4 {
            for stride in 1..3 {
                for padding in 0..2 {
                    let input_len = 7;
                    let output_len = (input_len + 2 * padding - kernel) / stride + 1;
                    for first in 0..input_len {
                        for last in first..input_len {
                            let brute: Vec<usize> = (0..output_len)
                                .filter(|&o| {
                                    let start = (o * stride) as isize - padding as isize;
                                    let end = start + kernel as isize - 1;
                                    start <= last as isize && end >= first as isize
                                })
                                .collect();
                            let expected = brute.first().map(|&a| (a, *brute.last().unwrap()));
                            assert_eq!(
                                window_reach((first, last), kernel, stride, padding, output_len),
                                expected,
                                "k{kernel} s{stride} p{padding} [{first},{last}]"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn valid_outputs_matches_brute_force() {
        for kernel in 1..4 {
            for stride in 1..3 {
                for padding in 0..3 {
                    let input_len: usize = 6;
                    let Some(span) = (input_len + 2 * padding).checked_sub(kernel) else {
                        continue;
                    };
                    let output_len = span / stride + 1;
                    for offset in 0..kernel {
                        let brute: Vec<usize> = (0..output_len)
                            .filter(|&o| {
                                let i = (o * stride + offset) as isize - padding as isize;
                                (0..input_len as isize).contains(&i)
                            })
                            .collect();
                        let range: Vec<usize> =
                            valid_outputs(offset, stride, padding, input_len, output_len).collect();
                        assert_eq!(
                            range, brute,
                            "k{kernel} s{stride} p{padding} offset {offset}"
                        );
                    }
                }
            }
        }
    }
}
