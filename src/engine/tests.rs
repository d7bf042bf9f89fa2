//! The channels-last kernels against the channels-first reference forms of
//! [`crate::layers`], for every instruction set this CPU runs, at widths that exercise the
//! full register tiles, their overlapping last tiles and the narrow fallbacks.

use super::events::{self, Activity, EventConv, Events};
use super::isa::Isa;
use super::layout::to_channels_last;
use super::{dense, pool};
use crate::layers::{AvgPool2d, Conv2d, ConvPool, IntConv, Linear, Shape};

#[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
fn isas() -> Vec<Isa> {
    let mut isas = vec![Isa::Baseline];
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        isas.push(Isa::Avx2);
    }
    isas
}

/// Deterministic weights `k · 2^-12` on the exporter's grid.
fn grid(i: usize, salt: usize) -> f32 {
    let k = ((i * 7919 + salt * 104_729) % 257) as f32 - 128.0;
    k / 4096.0
}

fn random_conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, padding: usize) -> Conv2d {
    let weight = (0..c_out * c_in * kernel * kernel)
        .map(|i| grid(i, 1))
        .collect();
    let bias = (0..c_out).map(|i| grid(i, 2)).collect();
    Conv2d::new(weight, bias, c_in, kernel, stride, padding)
}

/// A channels-first map: spikes (0 or 1, about a third firing) or graded values k/4.
fn input_map(shape: Shape, graded: bool) -> Vec<f32> {
    (0..shape.len())
        .map(|i| {
            let r = (i * 2_654_435_761) % 97;
            match (graded, r % 3) {
                (_, 1 | 2) => 0.0,
                (false, _) => 1.0,
                (true, _) => ((r % 4) + 1) as f32 / 4.0,
            }
        })
        .collect()
}

fn channels_last(chw: &[f32], shape: Shape) -> Vec<f32> {
    let mut hwc = vec![0.0; chw.len()];
    to_channels_last(chw, shape, &mut hwc);
    hwc
}

/// (kernel, stride, padding) of the model's convolutions and a few others: even kernels,
/// strides that skip inputs, padding wider than one.
const GEOMETRIES: [(usize, usize, usize); 7] = [
    (3, 1, 1),
    (2, 1, 0),
    (3, 2, 1),
    (1, 1, 0),
    (2, 2, 0),
    (3, 2, 0),
    (3, 1, 2),
];

#[test]
fn dense_and_event_convolutions_match_the_reference() {
    // 72 output channels: whole tiles plus an overlapping one; 40 is below the AVX2 event
    // tile (64) and takes the narrow path there. 5 input channels exercise the gather's
    // leftover channels; 9×7 pixels is not a multiple of the dense tile.
    for (c_in, c_out) in [(24, 72), (5, 40), (16, 8)] {
        for (kernel, stride, padding) in GEOMETRIES {
            let conv = random_conv(c_in, c_out, kernel, stride, padding);
            let input_shape = Shape::new(c_in, 9, 7);
            let (h, w) = conv.output_size(9, 7).unwrap();
            let output_shape = Shape::new(c_out, h, w);
            for graded in [false, true] {
                let chw = input_map(input_shape, graded);
                let mut expected = vec![0.0; output_shape.len()];
                conv.forward_dense(&chw, input_shape, output_shape, &mut expected);
                let expected = channels_last(&expected, output_shape);
                let hwc = channels_last(&chw, input_shape);
                let mut events = Events::with_capacity(input_shape.plane(), input_shape.len());
                let activity = if graded {
                    events.gather_values(&hwc, c_in);
                    Activity::Graded
                } else {
                    events.gather_spikes(&hwc, c_in);
                    Activity::Spikes
                };
                let event_conv = EventConv::from(&conv);
                let case = format!("{c_in}→{c_out} k{kernel} s{stride} p{padding} graded {graded}");
                for isa in isas() {
                    let mut padded = vec![0.0; (9 + 2 * padding) * (7 + 2 * padding) * c_in];
                    let mut out = vec![f32::NAN; output_shape.len()];
                    dense::conv(
                        isa,
                        &conv,
                        &hwc,
                        input_shape,
                        output_shape,
                        &mut padded,
                        &mut out,
                    );
                    assert_eq!(out, expected, "dense {isa:?} {case}");
                    let mut out = vec![f32::NAN; output_shape.len()];
                    events::conv(
                        isa,
                        &event_conv,
                        activity,
                        &events,
                        input_shape,
                        output_shape,
                        &mut out,
                    );
                    assert_eq!(out, expected, "events {isa:?} {case}");
                }
            }
        }
    }
}

#[test]
fn convolution_fused_with_its_pool_matches_convolution_then_pool() {
    for (kernel, stride, padding) in GEOMETRIES {
        for (pool_kernel, pool_stride) in [(2, 2), (3, 3), (2, 1)] {
            let (c_in, c_out) = (12, 72);
            let conv = random_conv(c_in, c_out, kernel, stride, padding);
            let pool = AvgPool2d {
                kernel: pool_kernel,
                stride: pool_stride,
            };
            let input_shape = Shape::new(c_in, 11, 10);
            let (h, w) = conv.output_size(11, 10).unwrap();
            let conv_shape = Shape::new(c_out, h, w);
            let Some((ph, pw)) = pool.output_size(h, w) else {
                continue;
            };
            let pooled_shape = Shape::new(c_out, ph, pw);
            let chw = input_map(input_shape, false);
            let mut conv_out = vec![0.0; conv_shape.len()];
            conv.forward_dense(&chw, input_shape, conv_shape, &mut conv_out);
            let conv_out = channels_last(&conv_out, conv_shape);
            let mut expected = vec![0.0; pooled_shape.len()];
            pool::avg_pool(&pool, &conv_out, conv_shape, pooled_shape, &mut expected);

            let hwc = channels_last(&chw, input_shape);
            let mut events = Events::with_capacity(input_shape.plane(), input_shape.len());
            events.gather_spikes(&hwc, c_in);
            let fused = ConvPool::new(&conv, &pool);
            for isa in isas() {
                let mut out = vec![f32::NAN; pooled_shape.len()];
                events::conv(
                    isa,
                    &EventConv::from(&fused),
                    Activity::Spikes,
                    &events,
                    input_shape,
                    pooled_shape,
                    &mut out,
                );
                assert_eq!(
                    out, expected,
                    "{isa:?} k{kernel} s{stride} p{padding} pool {pool_kernel}/{pool_stride}"
                );
            }
        }
    }
}

#[test]
fn dense_and_event_linear_layers_match_the_reference() {
    // A 3×2 map of 5 channels flattened into 7 outputs: the channels-last forms visit the
    // inputs pixel by pixel, the reference in CHW order.
    let input_shape = Shape::new(5, 3, 2);
    let (inputs, outputs) = (input_shape.len(), 7);
    let weight: Vec<f32> = (0..outputs * inputs).map(|i| grid(i, 3)).collect();
    let bias: Vec<f32> = (0..outputs).map(|i| grid(i, 4)).collect();
    let linear = Linear::new(&weight, bias, inputs);
    for graded in [false, true] {
        let chw = input_map(input_shape, graded);
        let mut expected = vec![0.0; outputs];
        linear.forward_dense(&chw, &mut expected);
        let hwc = channels_last(&chw, input_shape);
        let mut dense = vec![f32::NAN; outputs];
        dense::linear(&linear, &hwc, input_shape, &mut dense);
        assert_eq!(dense, expected, "dense, graded {graded}");
        let mut events = Events::with_capacity(input_shape.plane(), input_shape.len());
        let activity = if graded {
            events.gather_values(&hwc, input_shape.channels);
            Activity::Graded
        } else {
            events.gather_spikes(&hwc, input_shape.channels);
            Activity::Spikes
        };
        let mut out = vec![f32::NAN; outputs];
        events::linear(&linear, activity, &events, input_shape, &mut out);
        assert_eq!(out, expected, "events, graded {graded}");
    }

    // Off the weight grid (a global average over 3×3 gives ninths) the order of the sum
    // matters: the event form skips the zeros of the dense channels-last form and adds the
    // rest in the same order, so the two still agree bit for bit.
    let values: Vec<f32> = (0..inputs)
        .map(|i| {
            if i % 3 == 0 {
                (i % 7) as f32 / 9.0
            } else {
                0.0
            }
        })
        .collect();
    let mut dense = vec![0.0; outputs];
    dense::linear(&linear, &values, input_shape, &mut dense);
    let mut events = Events::with_capacity(input_shape.plane(), input_shape.len());
    events.gather_values(&values, input_shape.channels);
    let mut out = vec![f32::NAN; outputs];
    events::linear(&linear, Activity::Graded, &events, input_shape, &mut out);
    assert_eq!(out, dense);
}

/// A convolution with int8 weights `q · scale[out]`: scales `c · 2^e` as the exporter picks
/// them (c in 1..15, 2^e from 2^-14 so that quarters of them stay on the 2^-16 grid), biases on
/// the grid. `extreme` makes every weight 127 (the largest integer sums) and every scale a power
/// of two.
fn int8_conv(
    c_in: usize,
    c_out: usize,
    (kernel, stride, padding): (usize, usize, usize),
    extreme: bool,
) -> (Conv2d, Vec<i8>, Vec<f32>) {
    let q: Vec<i8> = (0..c_out * c_in * kernel * kernel)
        .map(|i| match extreme {
            true => 127,
            false => ((i * 7919 + 13) % 255) as i8 ^ 0x55,
        })
        .collect();
    let scale: Vec<f32> = (0..c_out)
        .map(|o| {
            // With the largest sums, odd factors above 1 would make products past 2^24.
            let c = if extreme { 1 } else { 1 + o % 15 };
            c as f32 * 2f32.powi(-14 + (o % 3) as i32)
        })
        .collect();
    let weight = q
        .iter()
        .enumerate()
        .map(|(i, &v)| f32::from(v) * scale[i / (c_in * kernel * kernel)])
        .collect();
    let bias = (0..c_out).map(|i| grid(i, 2)).collect();
    let conv = Conv2d::new(weight, bias, c_in, kernel, stride, padding);
    (conv, q, scale)
}

#[test]
fn integer_event_convolutions_match_the_reference() {
    // As above, plus 300 input channels all firing with every weight 127: a pixel's events
    // then sum past i16 and take several i16 chunks.
    let cases = [
        (24, 72, false, false),
        (5, 40, false, false),
        (16, 8, false, false),
        (20, 64, false, false),
        (300, 16, true, true),
    ];
    for (c_in, c_out, extreme, all_firing) in cases {
        for geometry in GEOMETRIES {
            let (conv, q, scale) = int8_conv(c_in, c_out, geometry, extreme);
            let input_shape = Shape::new(c_in, 9, 7);
            let (h, w) = conv.output_size(9, 7).unwrap();
            let output_shape = Shape::new(c_out, h, w);
            for graded in [false, true] {
                let chw = match all_firing {
                    true => vec![if graded { 0.75 } else { 1.0 }; input_shape.len()],
                    false => input_map(input_shape, graded),
                };
                let mut expected = vec![0.0; output_shape.len()];
                conv.forward_dense(&chw, input_shape, output_shape, &mut expected);
                let expected = channels_last(&expected, output_shape);
                let hwc = channels_last(&chw, input_shape);
                let mut events = Events::with_capacity(input_shape.plane(), input_shape.len());
                let (activity, input_unit) = if graded {
                    events.gather_values(&hwc, c_in);
                    (Activity::Graded, 4)
                } else {
                    events.gather_spikes(&hwc, c_in);
                    (Activity::Spikes, 1)
                };
                let int_conv = IntConv::new(&conv, &q, &scale, None, input_unit).unwrap();
                if all_firing {
                    assert!(int_conv.chunk < c_in, "several chunks per pixel");
                }
                let case = format!("{c_in}→{c_out} {geometry:?} graded {graded}");
                for isa in isas() {
                    let mut out = vec![f32::NAN; output_shape.len()];
                    events::conv_int(
                        isa,
                        &int_conv,
                        activity,
                        &mut events,
                        input_shape,
                        output_shape,
                        &mut out,
                    );
                    assert_eq!(out, expected, "{isa:?} {case}");
                }
            }
        }
    }
}

#[test]
fn integer_convolution_fused_with_its_pool_matches_convolution_then_pool() {
    for geometry in GEOMETRIES {
        for (pool_kernel, pool_stride) in [(2, 2), (2, 1), (4, 4)] {
            for (extreme, graded) in [(false, false), (false, true), (true, false)] {
                let (c_in, c_out) = (12, 72);
                let (conv, q, scale) = int8_conv(c_in, c_out, geometry, extreme);
                let pool = AvgPool2d {
                    kernel: pool_kernel,
                    stride: pool_stride,
                };
                let input_shape = Shape::new(c_in, 11, 10);
                let (h, w) = conv.output_size(11, 10).unwrap();
                let conv_shape = Shape::new(c_out, h, w);
                let Some((ph, pw)) = pool.output_size(h, w) else {
                    continue;
                };
                let pooled_shape = Shape::new(c_out, ph, pw);
                let chw = input_map(input_shape, graded);
                let mut conv_out = vec![0.0; conv_shape.len()];
                conv.forward_dense(&chw, input_shape, conv_shape, &mut conv_out);
                let conv_out = channels_last(&conv_out, conv_shape);
                let mut expected = vec![0.0; pooled_shape.len()];
                pool::avg_pool(&pool, &conv_out, conv_shape, pooled_shape, &mut expected);

                let hwc = channels_last(&chw, input_shape);
                let mut events = Events::with_capacity(input_shape.plane(), input_shape.len());
                let (activity, input_unit) = if graded {
                    events.gather_values(&hwc, c_in);
                    (Activity::Graded, 4)
                } else {
                    events.gather_spikes(&hwc, c_in);
                    (Activity::Spikes, 1)
                };
                let case =
                    format!("{geometry:?} pool {pool_kernel}/{pool_stride} {extreme} {graded}");
                let int_conv = IntConv::new(&conv, &q, &scale, Some(&pool), input_unit)
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                for isa in isas() {
                    let mut out = vec![f32::NAN; pooled_shape.len()];
                    events::conv_int(
                        isa,
                        &int_conv,
                        activity,
                        &mut events,
                        input_shape,
                        pooled_shape,
                        &mut out,
                    );
                    assert_eq!(out, expected, "{isa:?} {case}");
                }
            }
        }
    }
}
