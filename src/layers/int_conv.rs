//! A spike-fed convolution in integers, for the event-driven engine: the file's int8 weights
//! (or, fused with an average pool, their sums) and one scale per output channel.

use super::conv2d::taps_major;
use super::conv_pool::fuse_taps;
use super::{AvgPool2d, CacheAligned, Conv2d};

/// Integer weight rows, taps-major `[kh][kw][in][out]`: the file's int8 values, or their
/// sums in i16 when the convolution is fused with its pool (sums of up to `k_p²` of them).
#[derive(Clone, Debug)]
pub(crate) enum IntWeights {
    I8(CacheAligned<i8>),
    I16(CacheAligned<i16>),
}

/// A convolution (or a convolution fused with the average pool after it, as [`super::ConvPool`])
/// whose weights are `q · scale[out]` with integer `q`, run on events whose values are integer
/// multiples of `1 / input_unit`.
///
/// An output is `(bias + S · unit[out]) / divisor`, where `S` is the integer sum over the
/// events of (event value · `input_unit`) × `q`, and `unit = scale / input_unit`. The f32
/// event form computes `(bias + Σ value · q · scale) / divisor` one addition at a time. The two
/// are the same number, bit for bit, whenever that f32 sum is exact, which the model format
/// guarantees (every term on the 2^-16 grid) and dense ≡ event-driven relies on already:
/// `S` is exact (integers), its conversion to f32 and the product `S · unit` are exact (checked
/// here: `|S| · m < 2^24` for the odd integer `m` with `scale = m · 2^e`), and the one
/// addition of `bias` rounds the exact sum, which is representable, to itself.
/// [`IntConv::new`] refuses weights where any of this is not assured, and the engine then runs
/// the f32 form.
#[derive(Clone, Debug)]
pub(crate) struct IntConv {
    /// Side of the square kernel (fused: `(k_p − 1)·s + k`).
    pub kernel: usize,
    /// The convolution's stride (fused: times the pool's).
    pub stride: usize,
    /// The convolution's zero padding.
    pub padding: usize,
    pub weights: IntWeights,
    /// Per output channel: the convolution's bias (fused: times the window `k_p²`).
    pub bias: Vec<f32>,
    /// Per output channel: the value of one unit of the integer sum, `scale / input_unit`.
    pub unit: Vec<f32>,
    /// Event values times this are the integers the rows are multiplied by (1 for spikes,
    /// the pooled window size for spikes averaged by pools before the convolution).
    pub input_unit: f32,
    /// The pool's window `k_p²` when fused, which divides every output at the end.
    pub divisor: Option<f32>,
    /// Events whose rows may be summed in i16 before the sum is widened to i32:
    /// `i16::MAX / (max |q| · input_unit)`, so that no i16 sum overflows.
    pub chunk: usize,
}

/// Largest magnitude of an integer whose product by an odd scale mantissa `m` is exact in f32:
/// `|S| · m < 2^24`.
const F32_INTEGERS: u64 = 1 << 24;

impl IntConv {
    /// The integer form of `conv`, whose weights in the file are `q` (`[out][in][k][k]`) times
    /// `scale[out]`, followed by `pool` when given; `input_unit` (a power of two) times any
    /// input value is an integer from 0 to `input_unit`. Err says why the integer form would
    /// not give the f32 form's results bit for bit.
    pub fn new(
        conv: &Conv2d,
        q: &[i8],
        scale: &[f32],
        pool: Option<&AvgPool2d>,
        input_unit: u32,
    ) -> Result<IntConv, String> {
        let (c_in, c_out) = (conv.in_channels, conv.out_channels);
        assert!(input_unit.is_power_of_two(), "input unit {input_unit}");
        assert_eq!(q.len(), c_out * c_in * conv.kernel * conv.kernel);
        assert_eq!(scale.len(), c_out);
        let wide: Vec<i32> = q.iter().map(|&v| i32::from(v)).collect();
        let taps = taps_major(&wide, c_in, c_out, conv.kernel);
        let (kernel, stride, weights, bias, divisor) = match pool {
            Some(pool) => {
                let (kernel, fused) = fuse_taps(conv, pool, &taps);
                let window = (pool.kernel * pool.kernel) as f32;
                let bias = conv.bias().iter().map(|&b| b * window).collect();
                (kernel, conv.stride * pool.stride, fused, bias, Some(window))
            }
            None => (conv.kernel, conv.stride, taps, conv.bias().to_vec(), None),
        };

        let largest = weights.iter().map(|w| w.unsigned_abs()).max().unwrap_or(0);
        let chunk = match u64::from(largest) * u64::from(input_unit) {
            0 => usize::MAX,
            product if product > i16::MAX as u64 => {
                return Err(format!(
                    "a weight of {largest} times inputs up to {input_unit} overflows i16"
                ))
            }
            product => (i16::MAX as u64 / product) as usize,
        };
        let mut magnitude = vec![0u64; c_out];
        for row in weights.chunks_exact(c_out) {
            for (m, w) in magnitude.iter_mut().zip(row) {
                *m += u64::from(w.unsigned_abs());
            }
        }
        let on_grid = |x: f64| (x * 65536.0).fract() == 0.0;
        let mut unit = Vec::with_capacity(c_out);
        for (oc, (&s, &b)) in scale.iter().zip(&bias).enumerate() {
            let per_unit = s / input_unit as f32;
            if !on_grid(f64::from(per_unit)) || !on_grid(f64::from(b)) {
                return Err(format!(
                    "output channel {oc}: scale / {input_unit} = {per_unit} or bias {b} is off the 2^-16 grid"
                ));
            }
            let largest_sum = magnitude[oc] * u64::from(input_unit);
            if largest_sum * odd_mantissa(s) >= F32_INTEGERS {
                return Err(format!(
                    "output channel {oc}: sums up to {largest_sum} times scale {s} may round in f32"
                ));
            }
            unit.push(per_unit);
        }

        let weights = match weights
            .iter()
            .map(|&w| i8::try_from(w))
            .collect::<Result<Vec<i8>, _>>()
        {
            Ok(bytes) => IntWeights::I8(CacheAligned::new(&bytes)),
            Err(_) => {
                // |w| · input_unit ≤ i16::MAX, checked above.
                let halves: Vec<i16> = weights.iter().map(|&w| w as i16).collect();
                IntWeights::I16(CacheAligned::new(&halves))
            }
        };
        Ok(IntConv {
            kernel,
            stride,
            padding: conv.padding,
            weights,
            bias,
            unit,
            input_unit: input_unit as f32,
            divisor,
            chunk,
        })
    }
}

/// The odd integer `m` with `x = m · 2^e` (0 for 0); a subnormal or non-finite `x` gets
/// `u64::MAX`, which no check accepts.
fn odd_mantissa(x: f32) -> u64 {
    if x == 0.0 {
        return 0;
    }
    if !x.is_normal() {
        return u64::MAX;
    }
    let mantissa = u64::from(x.to_bits() & 0x7f_ffff | 0x80_0000);
    mantissa >> mantissa.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_mantissas() {
        assert_eq!(odd_mantissa(0.0), 0);
        assert_eq!(odd_mantissa(1.0), 1);
        assert_eq!(odd_mantissa(-0.75), 3);
        assert_eq!(odd_mantissa(15.0 * 2f32.powi(-16)), 15);
        assert_eq!(odd_mantissa(0.1), 13_421_773);
        assert_eq!(odd_mantissa(f32::MIN_POSITIVE / 2.0), u64::MAX);
    }

    fn conv(c_in: usize, c_out: usize, q: &[i8], scale: &[f32], bias: f32) -> Conv2d {
        let weight = q
            .iter()
            .enumerate()
            .map(|(i, &v)| f32::from(v) * scale[i / (q.len() / c_out)])
            .collect();
        Conv2d::new(weight, vec![bias; c_out], c_in, 3, 1, 1)
    }

    #[test]
    fn refuses_what_would_not_be_exact() {
        let (c_in, c_out) = (4, 2);
        let q: Vec<i8> = (0..c_out * c_in * 9).map(|i| (i % 7) as i8 - 3).collect();
        let grid = [3.0 / 1024.0, 5.0 / 4096.0];
        let ok = conv(c_in, c_out, &q, &grid, 0.25);
        let int = IntConv::new(&ok, &q, &grid, None, 1).expect("on the grid");
        assert!(matches!(int.weights, IntWeights::I8(_)));
        assert_eq!(int.chunk, 32767 / 3);
        assert_eq!(int.unit, grid);
        // Inputs in quarters need scale / 4 on the grid: 5·2^-12 / 4 still is, 2^-16 not.
        assert!(IntConv::new(&ok, &q, &grid, None, 4).is_ok());
        let fine = [2f32.powi(-16), 2f32.powi(-16)];
        assert!(IntConv::new(&conv(c_in, c_out, &q, &fine, 0.25), &q, &fine, None, 1).is_ok());
        assert!(IntConv::new(&conv(c_in, c_out, &q, &fine, 0.25), &q, &fine, None, 4).is_err());
        // A scale or a bias off the grid.
        let off = [0.1, 0.1];
        assert!(IntConv::new(&conv(c_in, c_out, &q, &off, 0.25), &q, &off, None, 1).is_err());
        assert!(IntConv::new(&conv(c_in, c_out, &q, &grid, 0.1), &q, &grid, None, 1).is_err());
        // A wide odd mantissa: 2^20 + 1 times 2^-16 is on the grid, but sums of its multiples
        // need more than 24 bits.
        let wide = [(1 << 20 | 1) as f32 / 65536.0; 2];
        let err = IntConv::new(&conv(c_in, c_out, &q, &wide, 0.25), &q, &wide, None, 1);
        assert!(err.unwrap_err().contains("may round"));
    }

    #[test]
    fn fused_weights_are_sums_in_i16() {
        let (c_in, c_out) = (3, 5);
        let q = vec![127i8; c_out * c_in * 9];
        let scale = [2f32.powi(-14); 5];
        let conv = conv(c_in, c_out, &q, &scale, 0.5);
        let pool = AvgPool2d {
            kernel: 2,
            stride: 2,
        };
        let int = IntConv::new(&conv, &q, &scale, Some(&pool), 4).unwrap();
        let IntWeights::I16(weights) = &int.weights else {
            panic!("fused sums exceed i8");
        };
        // The fused 4×4 kernel's centre taps sum all four 3×3 positions.
        let centre = (5 * c_in) * c_out; // offset (1, 1) of the 4×4 kernel
        assert_eq!(weights.as_slice()[centre], 4 * 127);
        assert_eq!(int.chunk, 32767 / (4 * 127 * 4));
        assert_eq!((int.kernel, int.stride, int.divisor), (4, 2, Some(4.0)));
        assert_eq!(int.bias, vec![2.0; c_out]);
    }
}
