//! Any image → the model's normalised input.
//!
//! Resizing is exact area averaging: each output pixel is the mean of the source area it
//! covers, partial source pixels weighted by the fraction covered. Coverage is counted in
//! integer units (1/dst of a source pixel along each axis), so every sum is an exact
//! integer and the one division at the end is the only rounding: a 32×32 image passes
//! through unchanged, and a constant image stays exactly constant. All the integer
//! arithmetic is in u64 with its bounds checked up front ([`AreaResizer::new`]), so it cannot
//! overflow on any target (on wasm32 `usize` is 32 bits: images above 16,843,009 pixels once
//! wrapped there). [`AreaResizer`] accumulates the same sums from strips of rows, so an image
//! never has to be in memory whole (the browser page hands its pixels over strip by strip).
//!
//! Alpha is composited over white (a transparent canvas reads as a white background).
//! Grey (1 channel) and grey + alpha (2) are widened to RGB.
//! Normalisation `(value / 255 − mean[c]) / std[c]` is computed in f64 (docs/model-format.md).

use crate::crop::{Crop, CropError};
use crate::model::InputSpec;

/// The largest image accepted, in pixels: 40 megapixels, by `dynconf classify` (its image
/// files, the CLI's `image_file`) and by the page alike.
pub const MAX_PIXELS: u64 = 40_000_000;

/// The largest image file accepted, in bytes: 20 MiB, by `dynconf classify` and by the page
/// alike (checked before the file is read or decoded).
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    #[error("the image is empty ({width}×{height})")]
    Empty { width: usize, height: usize },
    #[error("the output size {width}×{height} is empty")]
    EmptyOutput { width: usize, height: usize },
    #[error("{channels} channels per pixel is not supported; expected 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA)")]
    Channels { channels: usize },
    #[error("the pixel buffer has {found} bytes; a {width}×{height} image with {channels} channels needs {expected}")]
    Length {
        width: usize,
        height: usize,
        channels: usize,
        expected: u64,
        found: usize,
    },
    #[error("a {width}×{height} image is too large to average exactly into {out_width}×{out_height} (its sums would not fit in 64 bits)")]
    TooLarge {
        width: usize,
        height: usize,
        out_width: usize,
        out_height: usize,
    },
    #[error("a strip of {found} bytes is not a whole number of rows; a row of this {width}-pixel-wide image with {channels} channels has {row_bytes} bytes")]
    Strip {
        width: usize,
        channels: usize,
        row_bytes: usize,
        found: usize,
    },
    #[error("the image has {height} rows, but {received} were sent")]
    TooManyRows { height: usize, received: usize },
    #[error("the image has {height} rows, but only {received} were sent")]
    MissingRows { height: usize, received: usize },
    #[error("the model expects {0} input channels; images are RGB (3)")]
    ModelChannels(usize),
    #[error(transparent)]
    Crop(#[from] CropError),
}

/// Resizes interleaved 8-bit pixels (row-major, `channels` per pixel) to `out_width ×
/// out_height` RGB by area averaging. Returns CHW values on the 0..=255 scale.
///
/// The whole image at once; [`AreaResizer`] computes the same values (bit for bit) from
/// strips of rows, without holding the image.
pub fn resize_area(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    out_width: usize,
    out_height: usize,
) -> Result<Vec<f64>, PreprocessError> {
    let mut resizer = AreaResizer::new(width, height, channels, out_width, out_height)?;
    check_length(pixels, width, height, channels)?;
    resizer.push_rows(pixels)?;
    resizer.finish()
}

/// Area averaging of an image received as strips of rows, top to bottom: memory bounded by
/// the output size, whatever the size of the image.
///
/// Coverage is counted in integer units: along x a source pixel is `out_width` units long
/// and an output pixel `width` units (likewise along y), so each output pixel's sum
/// Σ wy·wx·value is an exact integer. [`AreaResizer::new`] refuses sizes whose sums could
/// exceed a u64 (width · height · 255² ≥ 2⁶⁴, about 2.8·10¹⁴ pixels), so no product or sum
/// can overflow on any target, 32-bit wasm included.
///
/// ```
/// use dynconf::preprocess::AreaResizer;
/// let (width, height) = (5, 3);
/// let rgb = vec![200u8; width * height * 3];
/// let mut resizer = AreaResizer::new(width, height, 3, 2, 2).unwrap();
/// for strip in rgb.chunks(2 * width * 3) {
///     resizer.push_rows(strip).unwrap(); // two rows at a time
/// }
/// assert_eq!(resizer.finish().unwrap(), vec![200.0; 3 * 2 * 2]);
/// ```
#[derive(Debug, Clone)]
pub struct AreaResizer {
    width: usize,
    height: usize,
    channels: usize,
    out_width: usize,
    out_height: usize,
    /// Source rows received so far.
    received: usize,
    /// The output row that the next source row starts in, and where that output row ends
    /// (in units along y).
    out_row: usize,
    out_row_end: u64,
    /// Σ wx·value of the current source row, per output column and channel.
    row_sums: Vec<u64>,
    /// Σ wy·wx·value per output pixel and channel, row-major with the channels interleaved.
    sums: Vec<u64>,
}

impl AreaResizer {
    /// [`AreaResizer::new`] to the input size of the model `spec`: the one way an image of
    /// any size becomes a model's input (the CLI's [`prepare_image`] and the page's
    /// `set_image`/`begin_image`).
    ///
    /// # Errors
    /// [`PreprocessError::ModelChannels`] unless the model takes RGB (3 channels): images are
    /// averaged to RGB, and a grey model must not silently get the red plane. Then as
    /// [`AreaResizer::new`].
    pub fn for_model(
        spec: &InputSpec,
        width: usize,
        height: usize,
        channels: usize,
    ) -> Result<Self, PreprocessError> {
        if spec.channels != 3 {
            return Err(PreprocessError::ModelChannels(spec.channels));
        }
        AreaResizer::new(width, height, channels, spec.width, spec.height)
    }

    /// Prepares to average a `width × height` image with `channels` per pixel (1 grey, 2
    /// grey + alpha, 3 RGB, 4 RGBA) into `out_width × out_height` RGB.
    pub fn new(
        width: usize,
        height: usize,
        channels: usize,
        out_width: usize,
        out_height: usize,
    ) -> Result<Self, PreprocessError> {
        if width == 0 || height == 0 {
            return Err(PreprocessError::Empty { width, height });
        }
        if !(1..=4).contains(&channels) {
            return Err(PreprocessError::Channels { channels });
        }
        if out_width == 0 || out_height == 0 {
            return Err(PreprocessError::EmptyOutput {
                width: out_width,
                height: out_height,
            });
        }
        // Every sum below is at most width · height · 255 · 255 (the sum of one output
        // pixel, all weights counted), and every position along an axis at most
        // size · out_size: all u64 if these do not overflow.
        let fits = (width as u64)
            .checked_mul(height as u64)
            .and_then(|n| n.checked_mul(255 * 255))
            .is_some()
            && (width as u64).checked_mul(out_width as u64).is_some()
            && (height as u64).checked_mul(out_height as u64).is_some()
            && width.checked_mul(channels).is_some()
            && out_width
                .checked_mul(out_height)
                .and_then(|n| n.checked_mul(3))
                .is_some();
        if !fits {
            return Err(PreprocessError::TooLarge {
                width,
                height,
                out_width,
                out_height,
            });
        }
        Ok(AreaResizer {
            width,
            height,
            channels,
            out_width,
            out_height,
            received: 0,
            out_row: 0,
            out_row_end: height as u64,
            row_sums: vec![0; 3 * out_width],
            sums: vec![0; 3 * out_width * out_height],
        })
    }

    /// Bytes in one source row: `width × channels`.
    pub fn row_bytes(&self) -> usize {
        self.width * self.channels
    }

    /// Source rows received so far.
    pub fn rows_received(&self) -> usize {
        self.received
    }

    /// Adds the next rows of the image (interleaved 8-bit pixels, any whole number of rows,
    /// top to bottom). On an error nothing of the strip is added.
    pub fn push_rows(&mut self, rows: &[u8]) -> Result<(), PreprocessError> {
        let row_bytes = self.row_bytes();
        if rows.len() % row_bytes != 0 {
            return Err(PreprocessError::Strip {
                width: self.width,
                channels: self.channels,
                row_bytes,
                found: rows.len(),
            });
        }
        let count = rows.len() / row_bytes;
        if count > self.height - self.received {
            return Err(PreprocessError::TooManyRows {
                height: self.height,
                received: self.received + count,
            });
        }
        for row in rows.chunks_exact(row_bytes) {
            self.push_row(row);
        }
        Ok(())
    }

    fn push_row(&mut self, row: &[u8]) {
        // Along x: walk the source pixels and the output columns together; each step is the
        // overlap of one source pixel with one output column.
        self.row_sums.fill(0);
        let (unit, column_length) = (self.out_width as u64, self.width as u64);
        let (mut column, mut column_end, mut at) = (0, column_length, 0u64);
        for pixel in row.chunks_exact(self.channels) {
            let value = over_white(pixel);
            let pixel_end = at + unit;
            loop {
                let end = pixel_end.min(column_end);
                let weight = end - at;
                let sums = &mut self.row_sums[3 * column..3 * column + 3];
                for (s, v) in sums.iter_mut().zip(value) {
                    *s += weight * v;
                }
                at = end;
                if at == column_end {
                    column += 1;
                    // Saturating: past the last column nothing is read any more.
                    column_end = column_end.saturating_add(column_length);
                }
                if at == pixel_end {
                    break;
                }
            }
        }
        // Along y: the same walk, one source row against the output rows it overlaps.
        let (unit, row_length) = (self.out_height as u64, self.height as u64);
        let mut at = self.received as u64 * unit;
        let row_end = at + unit;
        let plane_row = 3 * self.out_width;
        loop {
            let end = row_end.min(self.out_row_end);
            let weight = end - at;
            let sums = &mut self.sums[plane_row * self.out_row..plane_row * (self.out_row + 1)];
            for (s, r) in sums.iter_mut().zip(&self.row_sums) {
                *s += weight * r;
            }
            at = end;
            if at == self.out_row_end {
                self.out_row += 1;
                self.out_row_end = self.out_row_end.saturating_add(row_length);
            }
            if at == row_end {
                break;
            }
        }
        self.received += 1;
    }

    /// The output, CHW on the 0..=255 scale, once every row has been pushed.
    pub fn finish(self) -> Result<Vec<f64>, PreprocessError> {
        if self.received != self.height {
            return Err(PreprocessError::MissingRows {
                height: self.height,
                received: self.received,
            });
        }
        // Each output pixel covers width × height units; values are scaled by 255 (alpha).
        let denominator = (self.width as u64 * self.height as u64 * 255) as f64;
        let plane = self.out_width * self.out_height;
        let mut out = vec![0.0; 3 * plane];
        for (i, pixel) in self.sums.chunks_exact(3).enumerate() {
            for (c, &s) in pixel.iter().enumerate() {
                out[c * plane + i] = s as f64 / denominator;
            }
        }
        Ok(out)
    }
}

/// One pixel as RGB × 255, composited over white: `v·a + 255·(255 − a)`.
fn over_white(pixel: &[u8]) -> [u64; 3] {
    let (rgb, alpha) = match *pixel {
        [g] => ([g; 3], 255),
        [g, a] => ([g; 3], a),
        [r, g, b] => ([r, g, b], 255),
        [r, g, b, a] => ([r, g, b], a),
        _ => unreachable!("channel count checked by the caller"),
    };
    let (a, white) = (alpha as u64, 255 * (255 - alpha as u64));
    rgb.map(|v| v as u64 * a + white)
}

/// Normalises CHW values on the 0..=255 scale: `(value / 255 − mean[c]) / std[c]`.
pub fn normalize(spec: &InputSpec, values: &[f64]) -> Vec<f64> {
    let plane = spec.height * spec.width;
    values
        .chunks_exact(plane)
        .zip(spec.mean.iter().zip(&spec.std))
        .flat_map(|(channel, (&mean, &std))| channel.iter().map(move |&v| (v / 255.0 - mean) / std))
        .collect()
}

/// Normalises CHW bytes already at the model's size (e.g. a CIFAR-10 record).
pub fn normalize_u8(spec: &InputSpec, pixels: &[u8]) -> Vec<f64> {
    let values: Vec<f64> = pixels.iter().map(|&p| p as f64).collect();
    normalize(spec, &values)
}

/// [`PreprocessError::Length`] unless `pixels` holds exactly `width · height · channels`
/// bytes (a size beyond u64 counts as the largest: no buffer has that many): a whole image
/// given at once.
pub fn check_length(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
) -> Result<(), PreprocessError> {
    let expected = (width as u64)
        .checked_mul(height as u64)
        .and_then(|n| n.checked_mul(channels as u64))
        .unwrap_or(u64::MAX);
    if pixels.len() as u64 != expected {
        return Err(PreprocessError::Length {
            width,
            height,
            channels,
            expected,
            found: pixels.len(),
        });
    }
    Ok(())
}

/// Interleaved 8-bit pixels of any size (`channels` per pixel, row-major) → the crop →
/// the model's normalised CHW input: the area average of the cropped rectangle to the
/// model's size, then [`normalize`].
///
/// # Errors
/// The crop does not fit the image ([`PreprocessError::Crop`]), the buffer does not hold
/// `width · height · channels` bytes, or the image cannot be averaged ([`AreaResizer::new`]).
pub fn prepare_image(
    spec: &InputSpec,
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    crop: &Crop,
) -> Result<Vec<f64>, PreprocessError> {
    let too_large = || PreprocessError::TooLarge {
        width,
        height,
        out_width: spec.width,
        out_height: spec.height,
    };
    let (w32, h32) = (
        u32::try_from(width).map_err(|_| too_large())?,
        u32::try_from(height).map_err(|_| too_large())?,
    );
    let rect = crop.rect(w32, h32)?;
    check_length(pixels, width, height, channels)?;
    let mut resizer =
        AreaResizer::for_model(spec, rect.width as usize, rect.height as usize, channels)?;
    for row in rect.rows(pixels, w32, channels) {
        resizer.push_rows(row)?;
    }
    Ok(normalize(spec, &resizer.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cifar_spec() -> InputSpec {
        InputSpec {
            channels: 3,
            height: 32,
            width: 32,
            mean: vec![0.49, 0.48, 0.45],
            std: vec![0.25, 0.24, 0.26],
        }
    }

    #[test]
    fn a_model_that_is_not_rgb_is_refused_by_its_channels() {
        let grey = InputSpec {
            channels: 1,
            mean: vec![0.5],
            std: vec![0.25],
            ..cifar_spec()
        };
        let err = AreaResizer::for_model(&grey, 8, 8, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the model expects 1 input channels; images are RGB (3)"
        );
        let pixels = vec![0u8; 8 * 8 * 4];
        assert!(matches!(
            prepare_image(&grey, &pixels, 8, 8, 4, &Crop::Center),
            Err(PreprocessError::ModelChannels(1))
        ));
        assert!(AreaResizer::for_model(&cifar_spec(), 8, 8, 4).is_ok());
    }

    #[test]
    fn a_crop_is_the_same_as_the_cropped_image() {
        let (w, h) = (451usize, 300usize);
        let pixels: Vec<u8> = (0..w * h * 4).map(|i| (i * 7 % 251) as u8).collect();
        let spec = cifar_spec();
        for crop in [
            Crop::Center,
            Crop::Square {
                x: 151,
                y: 0,
                size: 300,
            },
            Crop::Square {
                x: 3,
                y: 100,
                size: 57,
            },
        ] {
            let rect = crop.rect(w as u32, h as u32).unwrap();
            let cut: Vec<u8> = rect.rows(&pixels, w as u32, 4).flatten().copied().collect();
            let whole = prepare_image(&spec, &pixels, w, h, 4, &crop).unwrap();
            let expected = prepare_image(
                &spec,
                &cut,
                rect.width as usize,
                rect.height as usize,
                4,
                &Crop::Full,
            )
            .unwrap();
            assert_eq!(whole, expected, "{crop}");
        }
        let err = prepare_image(
            &spec,
            &pixels,
            w,
            h,
            4,
            &Crop::Square {
                x: 200,
                y: 0,
                size: 300,
            },
        )
        .unwrap_err();
        assert!(matches!(err, PreprocessError::Crop(_)), "{err}");
        let short = prepare_image(&spec, &pixels[1..], w, h, 4, &Crop::Center).unwrap_err();
        assert!(matches!(short, PreprocessError::Length { .. }), "{short}");
    }

    #[test]
    fn constant_image_stays_constant_at_any_size() {
        for (w, h) in [(32, 32), (33, 17), (100, 75), (7, 5), (64, 64)] {
            let pixels = vec![173u8; w * h * 3];
            let out = resize_area(&pixels, w, h, 3, 32, 32).unwrap();
            assert!(out.iter().all(|&v| v == 173.0), "{w}×{h}");
        }
    }

    #[test]
    fn two_by_two_blocks_average_exactly() {
        // 64×64 RGB; each 2×2 block holds 4 known values, the output is their mean.
        let (w, h) = (64, 64);
        let value = |x: usize, y: usize, c: usize| ((x * 7 + y * 13 + c * 29) % 256) as u8;
        let mut pixels = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    pixels[(y * w + x) * 3 + c] = value(x, y, c);
                }
            }
        }
        let out = resize_area(&pixels, w, h, 3, 32, 32).unwrap();
        for c in 0..3 {
            for oy in 0..32 {
                for ox in 0..32 {
                    let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                        .iter()
                        .map(|&(dx, dy)| value(2 * ox + dx, 2 * oy + dy, c) as u32)
                        .sum();
                    assert_eq!(out[c * 1024 + oy * 32 + ox], sum as f64 / 4.0);
                }
            }
        }
    }

    #[test]
    fn same_size_is_identity_and_fractional_coverage_is_weighted() {
        let pixels: Vec<u8> = (0..3 * 4 * 4).map(|i| (i * 5) as u8).collect();
        let out = resize_area(&pixels, 4, 4, 3, 4, 4).unwrap();
        for y in 0..4 {
            for x in 0..4 {
                for c in 0..3 {
                    assert_eq!(out[c * 16 + y * 4 + x], pixels[(y * 4 + x) * 3 + c] as f64);
                }
            }
        }
        // 3 pixels → 2: the middle one is split half and half.
        let row = [0u8, 0, 0, 90, 90, 90, 30, 30, 30];
        let out = resize_area(&row, 3, 1, 3, 2, 1).unwrap();
        assert_eq!(
            &out[..2],
            &[(0.0 + 0.5 * 90.0) / 1.5, (0.5 * 90.0 + 30.0) / 1.5]
        );
    }

    #[test]
    fn alpha_is_composited_over_white() {
        let transparent = [10u8, 20, 30, 0];
        assert_eq!(
            resize_area(&transparent, 1, 1, 4, 1, 1).unwrap(),
            vec![255.0; 3]
        );
        let opaque = [10u8, 20, 30, 255];
        assert_eq!(
            resize_area(&opaque, 1, 1, 4, 1, 1).unwrap(),
            vec![10.0, 20.0, 30.0]
        );
        let grey = [100u8];
        assert_eq!(resize_area(&grey, 1, 1, 1, 1, 1).unwrap(), vec![100.0; 3]);
    }

    /// The area average written the direct way, independently of [`AreaResizer`]: for each
    /// output pixel, the source pixels it covers and their overlap (u128 sums).
    fn reference_resize(
        pixels: &[u8],
        width: usize,
        height: usize,
        channels: usize,
        out_width: usize,
        out_height: usize,
    ) -> Vec<f64> {
        fn coverage(src: usize, dst: usize) -> Vec<Vec<(usize, u128)>> {
            (0..dst)
                .map(|o| {
                    let (start, end) = (o * src, (o + 1) * src);
                    (start / dst..end.div_ceil(dst))
                        .map(|s| (s, (end.min((s + 1) * dst) - start.max(s * dst)) as u128))
                        .collect()
                })
                .collect()
        }
        let (columns, rows) = (coverage(width, out_width), coverage(height, out_height));
        let plane = out_width * out_height;
        let mut out = vec![0.0; 3 * plane];
        for (oy, row_cover) in rows.iter().enumerate() {
            for (ox, column_cover) in columns.iter().enumerate() {
                let mut sum = [0u128; 3];
                for &(sy, wy) in row_cover {
                    for &(sx, wx) in column_cover {
                        let at = (sy * width + sx) * channels;
                        let rgb = over_white(&pixels[at..at + channels]);
                        for (s, v) in sum.iter_mut().zip(rgb) {
                            *s += wy * wx * v as u128;
                        }
                    }
                }
                for (c, s) in sum.iter().enumerate() {
                    out[c * plane + oy * out_width + ox] =
                        *s as f64 / (width * height * 255) as f64;
                }
            }
        }
        out
    }

    /// Deterministic pixels with every alpha level represented.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect()
    }

    fn bits(values: &[f64]) -> Vec<u64> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn strips_of_any_height_give_the_whole_image_result_bit_for_bit() {
        let sizes = [
            (1, 1),
            (550, 5),
            (5, 550),
            (33, 17),
            (7, 5),
            (31, 33),
            (64, 64),
            (3, 1),
        ];
        let outputs = [(32, 32), (5, 3), (1, 1), (40, 7)];
        for (w, h) in sizes {
            for channels in 1..=4 {
                let pixels = noise(w * h * channels, (w * 1000 + h * 10 + channels) as u64);
                for (ow, oh) in outputs {
                    let whole = resize_area(&pixels, w, h, channels, ow, oh).unwrap();
                    assert_eq!(
                        bits(&whole),
                        bits(&reference_resize(&pixels, w, h, channels, ow, oh)),
                        "{w}×{h}×{channels} → {ow}×{oh}: not the direct area average"
                    );
                    for strip in 1..=h {
                        let mut resizer = AreaResizer::new(w, h, channels, ow, oh).unwrap();
                        for rows in pixels.chunks(strip * w * channels) {
                            resizer.push_rows(rows).unwrap();
                        }
                        assert_eq!(resizer.rows_received(), h);
                        assert_eq!(
                            bits(&resizer.finish().unwrap()),
                            bits(&whole),
                            "{w}×{h}×{channels} → {ow}×{oh} in strips of {strip} rows"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_grey_image_above_16_8_megapixels_stays_grey() {
        // 4200 × 4011 = 16,846,200 pixels: width · height · 255 exceeds 2³², which wrapped on
        // wasm32 (the image reached the network white). Fed in strips: no 67 MB buffer.
        let (w, h) = (4200, 4011);
        let strip = [128u8, 128, 128, 255].repeat(64 * w);
        let mut resizer = AreaResizer::new(w, h, 4, 32, 32).unwrap();
        while resizer.rows_received() < h {
            let rows = (h - resizer.rows_received()).min(64);
            resizer.push_rows(&strip[..rows * w * 4]).unwrap();
        }
        assert!(resizer.finish().unwrap().iter().all(|&v| v == 128.0));
    }

    #[test]
    fn sizes_whose_sums_could_overflow_are_refused_by_name() {
        let max = u32::MAX as usize;
        let error = AreaResizer::new(max, max, 4, 32, 32).unwrap_err();
        assert!(matches!(error, PreprocessError::TooLarge { .. }));
        assert!(
            error.to_string().contains("4294967295×4294967295"),
            "{error}"
        );
        assert!(matches!(
            AreaResizer::new(usize::MAX, 1, 4, 32, 32),
            Err(PreprocessError::TooLarge { .. })
        ));
        // 2²⁰ × 2²⁰ (10¹² pixels) is still exact.
        assert!(AreaResizer::new(1 << 20, 1 << 20, 4, 32, 32).is_ok());
        assert!(matches!(
            AreaResizer::new(4, 4, 4, 0, 32),
            Err(PreprocessError::EmptyOutput { .. })
        ));
    }

    #[test]
    fn strips_must_be_whole_rows_and_no_more_than_the_image() {
        let (w, h) = (5, 3);
        let pixels = noise(w * h * 4, 7);
        let mut resizer = AreaResizer::new(w, h, 4, 2, 2).unwrap();
        let error = resizer.push_rows(&pixels[..21]).unwrap_err();
        assert!(
            matches!(
                error,
                PreprocessError::Strip {
                    row_bytes: 20,
                    found: 21,
                    ..
                }
            ),
            "{error}"
        );
        resizer.push_rows(&pixels[..40]).unwrap();
        assert!(matches!(
            resizer.push_rows(&pixels[..40]),
            Err(PreprocessError::TooManyRows {
                height: 3,
                received: 4
            })
        ));
        assert!(matches!(
            resizer.clone().finish(),
            Err(PreprocessError::MissingRows {
                height: 3,
                received: 2
            })
        ));
        // The refused strips added nothing.
        resizer.push_rows(&pixels[40..]).unwrap();
        assert_eq!(
            resizer.finish().unwrap(),
            resize_area(&pixels, w, h, 4, 2, 2).unwrap()
        );
    }

    #[test]
    fn rejects_bad_buffers() {
        assert!(matches!(
            resize_area(&[], 0, 5, 3, 32, 32),
            Err(PreprocessError::Empty { .. })
        ));
        assert!(matches!(
            resize_area(&[0; 11], 2, 2, 3, 32, 32),
            Err(PreprocessError::Length {
                expected: 12,
                found: 11,
                ..
            })
        ));
        assert!(matches!(
            resize_area(&[0; 10], 2, 1, 5, 32, 32),
            Err(PreprocessError::Channels { channels: 5 })
        ));
    }

    #[test]
    fn normalizes_in_f64() {
        let spec = InputSpec {
            channels: 3,
            height: 1,
            width: 1,
            mean: vec![0.5, 0.25, 0.0],
            std: vec![0.25, 0.5, 1.0],
        };
        let out = normalize_u8(&spec, &[255, 0, 51]);
        assert_eq!(
            out,
            vec![(1.0 - 0.5) / 0.25, (0.0 - 0.25) / 0.5, 51.0 / 255.0]
        );
    }
}
