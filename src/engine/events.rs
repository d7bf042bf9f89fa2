//! Event-driven forms on channels-last maps: only non-zero inputs do work, and a spike (an
//! input of exactly 1) costs additions only.
//!
//! Each step the input map is compacted into [`Events`], the non-zero channels of every
//! pixel. The convolution then takes the kernel offsets one at a time and, for every output
//! pixel whose input pixel under that offset has events, adds those events' weight rows into
//! a register tile of `OC` output channels loaded from (and stored back to) the output. One
//! offset's weight block (input channels × `OC` floats, 6 to 64 KB here) thus serves every
//! output pixel while it is in L1/L2; visiting all offsets per output pixel instead reloads
//! rows from L2/L3 (the model's weights do not fit L2) and measured about 10 % slower.
//! With weights on the exporter's 2^-16 grid every sum is exact, so the order of the
//! additions does not change the result and this path matches the dense one bit for bit.
//!
//! Where the model's weights are int8 (one scale per output channel, [`IntConv`]), the SNN's
//! convolutions run in integers instead ([`conv_int`]): a quarter of the weight bytes, and
//! twice the lanes per vector (i16 instead of f32), which matters most for simd128. They take
//! the output pixels one at a time and sum the events under every kernel offset into one i16
//! register tile, then write the output once. The i8 weights are 1.3 MB for the v7 model
//! against 5.2 MB in f32: a quarter of the bytes each step streams.

use super::isa::{tile_starts, Isa};
use crate::layers::{valid_outputs, Conv2d, ConvPool, IntConv, IntWeights, Linear, Shape};

/// Output channels per register tile: 8 vector accumulators with the loads in flight.
const BASELINE_CHANNELS: usize = 32;
#[cfg(target_arch = "x86_64")]
const AVX2_CHANNELS: usize = 64;

/// Channels tested at once when gathering events.
const MASK_WIDTH: usize = 8;

/// The non-zero values of a channels-last map, pixel by pixel, channels ascending.
#[derive(Clone, Debug, Default)]
pub(crate) struct Events {
    /// `starts[p]..starts[p + 1]` indexes pixel `p`'s events.
    starts: Vec<u32>,
    channels: Vec<u32>,
    /// The events' values; filled only by [`Events::gather_values`].
    values: Vec<f32>,
    /// The values times an integer convolution's input unit, as integers; filled only by
    /// [`Events::integer_values`].
    multipliers: Vec<i16>,
    /// Each event's channel times `row_len`: where its weight row starts in a taps-major
    /// weight matrix; filled only by [`Events::index_rows`].
    row_offsets: Vec<u32>,
    /// The `row_len` of the offsets, 0 when they are not of the map last gathered.
    row_len: usize,
    /// Channels of the map last gathered: every listed channel is below it.
    width: usize,
    /// Events of the map last gathered.
    len: usize,
}

impl Events {
    /// Room for maps of up to `pixels` pixels and `values` values.
    pub fn with_capacity(pixels: usize, values: usize) -> Self {
        Events {
            starts: vec![0; pixels + 1],
            // One spare slot: the compaction writes a candidate before deciding to keep it.
            channels: vec![0; values + 1],
            values: vec![0.0; values + 1],
            multipliers: vec![0; values + 1],
            row_offsets: vec![0; values + 1],
            row_len: 0,
            width: 0,
            len: 0,
        }
    }

    /// Whether this list has no room (made by `default`, for a map no weighted layer reads).
    pub fn is_unused(&self) -> bool {
        self.starts.is_empty()
    }

    /// Lists the non-zero channels of each pixel of a map whose non-zero values are all 1.
    pub fn gather_spikes(&mut self, map: &[f32], channels: usize) {
        self.gather::<false>(map, channels);
    }

    /// Lists the non-zero channels of each pixel with their values.
    pub fn gather_values(&mut self, map: &[f32], channels: usize) {
        self.gather::<true>(map, channels);
    }

    fn gather<const VALUES: bool>(&mut self, map: &[f32], channels: usize) {
        let pixels = map.len() / channels;
        self.width = channels;
        let starts = &mut self.starts[..pixels + 1];
        let (kept, values) = (&mut self.channels[..], &mut self.values[..]);
        let mut count = 0;
        starts[0] = 0;
        for (pixel, start) in map.chunks_exact(channels).zip(&mut starts[1..]) {
            // Eight channels at a time: one vector compare gives a bit mask, and only its
            // set bits (the events, mostly none) cost a store each.
            let mut chunks = pixel.chunks_exact(MASK_WIDTH);
            let mut first = 0;
            for chunk in &mut chunks {
                let chunk: &[f32; MASK_WIDTH] = chunk.try_into().unwrap();
                let mut mask = nonzero_bits(chunk);
                while mask != 0 {
                    let j = mask.trailing_zeros() as usize;
                    kept[count] = (first + j) as u32;
                    if VALUES {
                        values[count] = chunk[j];
                    }
                    count += 1;
                    mask &= mask - 1;
                }
                first += MASK_WIDTH;
            }
            // The channels left over (maps whose width is not a multiple of eight):
            // branch-free, writing every candidate and advancing past the kept ones.
            for (j, &x) in chunks.remainder().iter().enumerate() {
                kept[count] = (first + j) as u32;
                if VALUES {
                    values[count] = x;
                }
                count += (x != 0.0) as usize;
            }
            *start = count as u32;
        }
        self.len = count;
        // The row offsets are of the previous map's events until `index_rows` runs again.
        self.row_len = 0;
    }

    /// After [`Events::gather_values`]: every value times `unit`, which makes each an
    /// integer from 0 to `unit` ([`IntConv::input_unit`]; exact, and at most `i16::MAX`),
    /// kept for [`Events::multipliers`]. Once per gather: the convolution reads each value
    /// once per kernel offset and channel tile, and converting it there cost the browser a
    /// saturating conversion with a range check and a branch every time.
    fn integer_values(&mut self, unit: f32) {
        let count = self.len;
        for (k, &v) in self.multipliers[..count]
            .iter_mut()
            .zip(&self.values[..count])
        {
            debug_assert!((v * unit).fract() == 0.0, "{v} × {unit}");
            *k = (v * unit) as i16;
        }
    }

    /// Each event's channel times `row_len` (a convolution's output channels), kept for
    /// [`Events::row_offsets`]: once per gather instead of once per kernel offset and tile.
    fn index_rows(&mut self, row_len: usize) {
        let stride = u32::try_from(row_len).expect("a weight row fits in u32");
        let count = self.len;
        for (offset, &c) in self.row_offsets[..count]
            .iter_mut()
            .zip(&self.channels[..count])
        {
            *offset = c * stride;
        }
        self.row_len = row_len;
    }

    fn range(&self, pixel: usize) -> std::ops::Range<usize> {
        self.starts[pixel] as usize..self.starts[pixel + 1] as usize
    }

    /// The non-zero channels of pixel `pixel`.
    fn channels(&self, pixel: usize) -> &[u32] {
        &self.channels[self.range(pixel)]
    }

    /// The values of [`Events::channels`] (after [`Events::gather_values`]).
    fn values(&self, pixel: usize) -> &[f32] {
        &self.values[self.range(pixel)]
    }

    /// Where the weight rows of [`Events::channels`] start (after [`Events::index_rows`]).
    fn row_offsets(&self, pixel: usize) -> &[u32] {
        &self.row_offsets[self.range(pixel)]
    }

    /// The integer values of [`Events::channels`] (after [`Events::integer_values`]).
    fn multipliers(&self, pixel: usize) -> &[i16] {
        &self.multipliers[self.range(pixel)]
    }
}

/// Bit `j` set where `chunk[j] != 0`: a compare and a move-mask, written with intrinsics
/// because LLVM does not turn the scalar form into them.
#[inline(always)]
fn nonzero_bits(chunk: &[f32; MASK_WIDTH]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpneq_ps, _mm_loadu_ps, _mm_movemask_ps, _mm_setzero_ps};
        // SAFETY: SSE is part of the x86-64 baseline; both loads read within `chunk`.
        unsafe {
            let zero = _mm_setzero_ps();
            let low = _mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(chunk.as_ptr()), zero));
            let high = _mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(chunk[4..].as_ptr()), zero));
            (low | high << 4) as u32
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use std::arch::wasm32::{f32x4, f32x4_ne, i32x4_bitmask};
        let quad = |q: &[f32]| {
            i32x4_bitmask(f32x4_ne(
                f32x4(q[0], q[1], q[2], q[3]),
                f32x4(0.0, 0.0, 0.0, 0.0),
            ))
        };
        (quad(&chunk[..4]) | quad(&chunk[4..]) << 4) as u32
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        chunk
            .iter()
            .enumerate()
            .fold(0, |m, (j, &x)| m | ((x != 0.0) as u32) << j)
    }
}

/// A convolution in event form: the model's own, or one fused with the average pool after
/// it ([`ConvPool`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventConv<'a> {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// Taps-major `[kh][kw][in][out]`.
    pub weight: &'a [f32],
    pub bias: &'a [f32],
    /// Divides every output at the end: the window size of a fused average pool.
    pub divisor: Option<f32>,
}

impl<'a> From<&'a Conv2d> for EventConv<'a> {
    fn from(conv: &'a Conv2d) -> Self {
        EventConv {
            kernel: conv.kernel,
            stride: conv.stride,
            padding: conv.padding,
            weight: conv.weight(),
            bias: conv.bias(),
            divisor: None,
        }
    }
}

impl<'a> From<&'a ConvPool> for EventConv<'a> {
    fn from(conv_pool: &'a ConvPool) -> Self {
        EventConv {
            kernel: conv_pool.kernel,
            stride: conv_pool.stride,
            padding: conv_pool.padding,
            weight: conv_pool.weight(),
            bias: conv_pool.bias(),
            divisor: Some(conv_pool.window()),
        }
    }
}

/// What the non-zero values of a map are, and so what each of its events adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activity {
    /// Spikes: every non-zero value is exactly 1, and an event adds its weight row.
    Spikes,
    /// Graded values (the quantized ANN's activations k/L, spikes averaged by a pool): an
    /// event adds its weight row times its value.
    Graded,
}

/// Applies `conv` to the events of an `input_shape` map, writing the channels-last
/// `output_shape` map.
pub(crate) fn conv(
    isa: Isa,
    conv: &EventConv,
    activity: Activity,
    events: &Events,
    input_shape: Shape,
    output_shape: Shape,
    output: &mut [f32],
) {
    let geometry = Geometry::new(conv, input_shape, output_shape);
    match (isa, activity) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen after detecting AVX2 on this CPU.
        (Isa::Avx2, Activity::Spikes) => unsafe { conv_avx2::<false>(&geometry, events, output) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, Activity::Graded) => unsafe { conv_avx2::<true>(&geometry, events, output) },
        (Isa::Baseline, Activity::Spikes) => {
            conv_tiled::<BASELINE_CHANNELS, false>(&geometry, events, output)
        }
        (Isa::Baseline, Activity::Graded) => {
            conv_tiled::<BASELINE_CHANNELS, true>(&geometry, events, output)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn conv_avx2<const VALUES: bool>(geometry: &Geometry, events: &Events, output: &mut [f32]) {
    conv_tiled::<AVX2_CHANNELS, VALUES>(geometry, events, output)
}

struct Geometry<'a> {
    conv: EventConv<'a>,
    input: Shape,
    output: Shape,
}

impl<'a> Geometry<'a> {
    fn new(conv: &EventConv<'a>, input: Shape, output: Shape) -> Self {
        Geometry {
            conv: *conv,
            input,
            output,
        }
    }
}

#[inline(always)]
fn conv_tiled<const OC: usize, const VALUES: bool>(
    geometry: &Geometry,
    events: &Events,
    output: &mut [f32],
) {
    // Narrower layers (a ResNet's 16 or 32 channels) take the widest tile that fits rather
    // than one channel at a time; every output sums the same terms in the same order.
    match geometry.output.channels {
        c if c >= OC => cover::<OC, VALUES>(geometry, events, output),
        c if c >= 16 => cover::<16, VALUES>(geometry, events, output),
        c if c >= 8 => cover::<8, VALUES>(geometry, events, output),
        _ => cover::<1, VALUES>(geometry, events, output),
    }
}

#[inline(always)]
fn cover<const OC: usize, const VALUES: bool>(
    geometry: &Geometry,
    events: &Events,
    output: &mut [f32],
) {
    let EventConv {
        kernel,
        stride,
        padding,
        weight,
        bias,
        divisor,
    } = geometry.conv;
    let (c_in, c_out) = (geometry.input.channels, geometry.output.channels);
    let (in_w, out_w) = (geometry.input.width, geometry.output.width);
    let tap_len = c_in * c_out;
    for first_channel in tile_starts(c_out, OC) {
        let bias: [f32; OC] = bias[first_channel..][..OC].try_into().unwrap();
        for pixel in output.chunks_exact_mut(c_out) {
            pixel[first_channel..][..OC].copy_from_slice(&bias);
        }
        // Offset by offset, over the output pixels whose input under it lies in the map.
        for ky in 0..kernel {
            let rows = valid_outputs(
                ky,
                stride,
                padding,
                geometry.input.height,
                geometry.output.height,
            );
            for kx in 0..kernel {
                let cols = valid_outputs(kx, stride, padding, in_w, out_w);
                let weights = &weight[(ky * kernel + kx) * tap_len..][..tap_len];
                for oy in rows.clone() {
                    let iy = oy * stride + ky - padding;
                    for ox in cols.clone() {
                        let pixel = iy * in_w + ox * stride + kx - padding;
                        let channels = events.channels(pixel);
                        if channels.is_empty() {
                            continue;
                        }
                        let out = &mut output[(oy * out_w + ox) * c_out + first_channel..][..OC];
                        let mut acc: [f32; OC] = (&*out).try_into().unwrap();
                        if VALUES {
                            for (&c, &v) in channels.iter().zip(events.values(pixel)) {
                                let row = &weights[c as usize * c_out + first_channel..][..OC];
                                for j in 0..OC {
                                    acc[j] += v * row[j];
                                }
                            }
                        } else {
                            for &c in channels {
                                let row = &weights[c as usize * c_out + first_channel..][..OC];
                                for j in 0..OC {
                                    acc[j] += row[j];
                                }
                            }
                        }
                        out.copy_from_slice(&acc);
                    }
                }
            }
        }
        if let Some(divisor) = divisor {
            for pixel in output.chunks_exact_mut(c_out) {
                for a in &mut pixel[first_channel..][..OC] {
                    *a /= divisor;
                }
            }
        }
    }
}

/// Output channels per register tile of the integer kernels: 64 i16 accumulators, in 4
/// vectors with AVX2 and 8 with SSE2 and simd128.
const BASELINE_INT_CHANNELS: usize = 64;
#[cfg(target_arch = "x86_64")]
const AVX2_INT_CHANNELS: usize = 64;

/// Applies `conv`, a convolution in integers, to the events of an `input_shape` map, writing
/// the channels-last `output_shape` map: [`IntConv`] says why the result equals the f32 form's
/// ([`conv`]) bit for bit. `activity` must be spikes, or spikes averaged by pools whose windows
/// multiply to `conv.input_unit`. Indexes the events' weight rows (and, graded, turns their
/// values into integers) first: once per event instead of once per kernel offset and tile.
pub(crate) fn conv_int(
    isa: Isa,
    conv: &IntConv,
    activity: Activity,
    events: &mut Events,
    input_shape: Shape,
    output_shape: Shape,
    output: &mut [f32],
) {
    events.index_rows(output_shape.channels);
    if activity == Activity::Graded {
        events.integer_values(conv.input_unit);
    }
    let events = &*events;
    let geometry = IntGeometry {
        conv,
        input: input_shape,
        output: output_shape,
    };
    match &conv.weights {
        IntWeights::I8(w) => {
            conv_int_pixels(isa, &geometry, w.as_slice(), activity, events, output)
        }
        IntWeights::I16(w) => {
            conv_int_pixels(isa, &geometry, w.as_slice(), activity, events, output)
        }
    }
}

/// [`conv_int`] for one weight type, with the instruction set's tile width.
fn conv_int_pixels<W: IntWeight>(
    isa: Isa,
    geometry: &IntGeometry,
    weights: &[W],
    activity: Activity,
    events: &Events,
    output: &mut [f32],
) {
    match (isa, activity) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only chosen after detecting AVX2 on this CPU.
        (Isa::Avx2, Activity::Spikes) => unsafe {
            pixels_avx2::<false, W>(geometry, weights, events, output)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        (Isa::Avx2, Activity::Graded) => unsafe {
            pixels_avx2::<true, W>(geometry, weights, events, output)
        },
        (Isa::Baseline, Activity::Spikes) => {
            pixels_tiled::<BASELINE_INT_CHANNELS, false, W>(geometry, weights, events, output)
        }
        (Isa::Baseline, Activity::Graded) => {
            pixels_tiled::<BASELINE_INT_CHANNELS, true, W>(geometry, weights, events, output)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pixels_avx2<const VALUES: bool, W: IntWeight>(
    geometry: &IntGeometry,
    weights: &[W],
    events: &Events,
    output: &mut [f32],
) {
    pixels_tiled::<AVX2_INT_CHANNELS, VALUES, W>(geometry, weights, events, output)
}

#[inline(always)]
fn pixels_tiled<const OC: usize, const VALUES: bool, W: IntWeight>(
    geometry: &IntGeometry,
    weights: &[W],
    events: &Events,
    output: &mut [f32],
) {
    // As `conv_tiled`: the widest tile that fits (integer sums, the same result).
    match geometry.output.channels {
        c if c >= OC => int_pixels::<OC, VALUES, W>(geometry, weights, events, output),
        c if c >= 16 => int_pixels::<16, VALUES, W>(geometry, weights, events, output),
        c if c >= 8 => int_pixels::<8, VALUES, W>(geometry, weights, events, output),
        _ => int_pixels::<1, VALUES, W>(geometry, weights, events, output),
    }
}

/// Kernel offsets `k` (along one axis) whose input `o·stride + k − padding` lies in
/// `0..input_len`.
#[inline(always)]
fn valid_offsets(
    o: usize,
    stride: usize,
    padding: usize,
    kernel: usize,
    input_len: usize,
) -> std::ops::Range<usize> {
    let origin = o * stride;
    let first = padding.saturating_sub(origin);
    let end = (input_len + padding).saturating_sub(origin).min(kernel);
    first..end.max(first)
}

/// Output pixel by output pixel: every kernel offset's events summed in one i16 register tile
/// (widened into i32 whenever `conv.chunk` more events could overflow it), then the output
/// written once as `(bias + S · unit) / divisor`.
#[inline(always)]
fn int_pixels<const OC: usize, const VALUES: bool, W: IntWeight>(
    geometry: &IntGeometry,
    weights: &[W],
    events: &Events,
    output: &mut [f32],
) {
    let conv = geometry.conv;
    let (kernel, stride, padding) = (conv.kernel, conv.stride, conv.padding);
    let (c_in, c_out) = (geometry.input.channels, geometry.output.channels);
    let (in_h, in_w) = (geometry.input.height, geometry.input.width);
    let (out_h, out_w) = (geometry.output.height, geometry.output.width);
    let chunk = conv.chunk;
    let tap_len = c_in * c_out;
    // Every event's channel is below `events.width`, and its row offset is that channel times
    // `c_out` (`row_len` is reset by every gather): with this, the rows below are in bounds.
    assert!(events.width == c_in && events.row_len == c_out);
    assert!(weights.len() == kernel * kernel * tap_len);
    for first_channel in tile_starts(c_out, OC) {
        let bias: &[f32; OC] = conv.bias[first_channel..][..OC].try_into().unwrap();
        let unit: &[f32; OC] = conv.unit[first_channel..][..OC].try_into().unwrap();
        for oy in 0..out_h {
            let kys = valid_offsets(oy, stride, padding, kernel, in_h);
            for ox in 0..out_w {
                let kxs = valid_offsets(ox, stride, padding, kernel, in_w);
                let mut wide = [0i32; OC];
                let mut acc = [0i16; OC];
                let mut count = 0;
                for ky in kys.clone() {
                    let iy = oy * stride + ky - padding;
                    for kx in kxs.clone() {
                        let pixel = iy * in_w + ox * stride + kx - padding;
                        let offsets = events.row_offsets(pixel);
                        if offsets.is_empty() {
                            continue;
                        }
                        let tile = &weights[(ky * kernel + kx) * tap_len + first_channel..];
                        let row = |offset: u32| -> &[W; OC] {
                            let start = offset as usize;
                            debug_assert!(start + OC <= tile.len());
                            // SAFETY: `start = c · c_out` with `c < c_in` (asserted through
                            // `events.width` and `events.row_len`) and `first_channel + OC <=
                            // c_out`, so the row lies within `weights`.
                            unsafe { &*tile.as_ptr().add(start).cast::<[W; OC]>() }
                        };
                        let multipliers = if VALUES {
                            events.multipliers(pixel)
                        } else {
                            &[]
                        };
                        let mut first = 0;
                        while first < offsets.len() {
                            if count == chunk {
                                for j in 0..OC {
                                    wide[j] = wide[j].wrapping_add(i32::from(acc[j]));
                                }
                                acc = [0; OC];
                                count = 0;
                            }
                            let end = offsets.len().min(first + (chunk - count));
                            if VALUES {
                                for (&offset, &k) in
                                    offsets[first..end].iter().zip(&multipliers[first..end])
                                {
                                    let row = row(offset);
                                    for j in 0..OC {
                                        acc[j] =
                                            acc[j].wrapping_add(k.wrapping_mul(row[j].widen()));
                                    }
                                }
                            } else {
                                for &offset in &offsets[first..end] {
                                    let row = row(offset);
                                    for j in 0..OC {
                                        acc[j] = acc[j].wrapping_add(row[j].widen());
                                    }
                                }
                            }
                            count += end - first;
                            first = end;
                        }
                    }
                }
                let out = &mut output[(oy * out_w + ox) * c_out + first_channel..][..OC];
                for j in 0..OC {
                    let sum = wide[j].wrapping_add(i32::from(acc[j]));
                    out[j] = bias[j] + sum as f32 * unit[j];
                }
                if let Some(divisor) = conv.divisor {
                    for o in out.iter_mut() {
                        *o /= divisor;
                    }
                }
            }
        }
    }
}

/// An integer weight: i8 from the file, i16 for sums of them.
trait IntWeight: Copy {
    fn widen(self) -> i16;
}

impl IntWeight for i8 {
    #[inline(always)]
    fn widen(self) -> i16 {
        self as i16
    }
}

impl IntWeight for i16 {
    #[inline(always)]
    fn widen(self) -> i16 {
        self
    }
}

struct IntGeometry<'a> {
    conv: &'a IntConv,
    input: Shape,
    output: Shape,
}

/// A linear layer in event form: the same columns as [`super::dense::linear`] in the same
/// order, skipping the zeros (which add nothing).
pub(crate) fn linear(
    linear: &Linear,
    activity: Activity,
    events: &Events,
    input_shape: Shape,
    output: &mut [f32],
) {
    output.copy_from_slice(linear.bias());
    let plane = input_shape.plane();
    for p in 0..plane {
        let channels = events.channels(p);
        match activity {
            Activity::Spikes => {
                for &c in channels {
                    for (o, &w) in output.iter_mut().zip(linear.column(c as usize * plane + p)) {
                        *o += w;
                    }
                }
            }
            Activity::Graded => {
                for (&c, &v) in channels.iter().zip(events.values(p)) {
                    for (o, &w) in output.iter_mut().zip(linear.column(c as usize * plane + p)) {
                        *o += v * w;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_list_each_pixels_non_zero_channels() {
        let map = [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.5, 0.0, 2.0];
        let mut events = Events::with_capacity(3, 38);
        events.gather_values(&map, 3);
        assert_eq!(events.channels(0), &[1, 2]);
        assert_eq!(events.channels(1), &[] as &[u32]);
        assert_eq!(events.channels(2), &[0, 2]);
        assert_eq!(events.values(2), &[0.5, 2.0]);
        events.gather_spikes(&map[..6], 3);
        assert_eq!(events.channels(0), &[1, 2]);
        assert_eq!(events.channels(1), &[] as &[u32]);

        // Wide pixels go through the bit masks, the leftover channels one by one.
        let wide: Vec<f32> = (0..2 * 19).map(|i| (i % 3 == 0) as u8 as f32).collect();
        events.gather_spikes(&wide, 19);
        let expected = |pixel: usize| -> Vec<u32> {
            (0..19)
                .filter(|c| (pixel * 19 + c) % 3 == 0)
                .map(|c| c as u32)
                .collect()
        };
        assert_eq!(events.channels(0), expected(0).as_slice());
        assert_eq!(events.channels(1), expected(1).as_slice());
    }

    #[test]
    fn rows_and_integer_values_cover_the_map_last_gathered() {
        // A larger map with fewer events first: its pixel count's entry of `starts` is stale
        // (1 event) when the smaller map, with 3 events, is indexed.
        let mut events = Events::with_capacity(4, 16);
        let mut larger = [0.0; 16];
        larger[5] = 1.0;
        events.gather_values(&larger, 4);
        events.gather_values(&[0.0, 0.25, 0.75, 0.0, 0.5, 0.0], 3);
        events.index_rows(10);
        events.integer_values(4.0);
        assert_eq!(events.row_offsets(0), &[10, 20]);
        assert_eq!(events.multipliers(0), &[1, 3]);
        assert_eq!(events.row_offsets(1), &[10]);
        assert_eq!(events.multipliers(1), &[2]);
        assert_eq!(events.len, 3);
    }
}
