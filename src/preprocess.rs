//! Any image → the model's normalised input.
//!
//! Resizing is exact area averaging: each output pixel is the mean of the source area it
//! covers, partial source pixels weighted by the fraction covered. Coverage is counted in
//! integer units (1/dst of a source pixel along each axis), so every sum is an exact
//! integer and the one division at the end is the only rounding: a 32×32 image passes
//! through unchanged, and a constant image stays exactly constant.
//!
//! Alpha is composited over white (a transparent canvas reads as a white background).
//! Grey (1 channel) and grey + alpha (2) are widened to RGB.
//! Normalisation `(value / 255 − mean[c]) / std[c]` is computed in f64 (docs/model-format.md).

use crate::model::InputSpec;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    #[error("the image is empty ({width}×{height})")]
    Empty { width: usize, height: usize },
    #[error("{channels} channels per pixel is not supported; expected 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA)")]
    Channels { channels: usize },
    #[error("the pixel buffer has {found} bytes; a {width}×{height} image with {channels} channels needs {expected}")]
    Length {
        width: usize,
        height: usize,
        channels: usize,
        expected: usize,
        found: usize,
    },
    #[error("the model expects {0} input channels; images are RGB (3)")]
    ModelChannels(usize),
}

/// Resizes interleaved 8-bit pixels (row-major, `channels` per pixel) to `out_width ×
/// out_height` RGB by area averaging. Returns CHW values on the 0..=255 scale.
pub fn resize_area(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    out_width: usize,
    out_height: usize,
) -> Result<Vec<f64>, PreprocessError> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::Empty { width, height });
    }
    if !(1..=4).contains(&channels) {
        return Err(PreprocessError::Channels { channels });
    }
    let expected = width * height * channels;
    if pixels.len() != expected {
        return Err(PreprocessError::Length {
            width,
            height,
            channels,
            expected,
            found: pixels.len(),
        });
    }
    let columns = coverage(width, out_width);
    let rows = coverage(height, out_height);
    // Each output pixel covers width × height units; values are scaled by 255 (alpha).
    let denominator = (width * height * 255) as f64;
    let plane = out_width * out_height;
    let mut out = vec![0.0; 3 * plane];
    for (oy, row_cover) in rows.iter().enumerate() {
        for (ox, column_cover) in columns.iter().enumerate() {
            let mut sum = [0u64; 3];
            for &(sy, wy) in row_cover {
                for &(sx, wx) in column_cover {
                    let at = (sy * width + sx) * channels;
                    let rgb = over_white(&pixels[at..at + channels]);
                    for (s, v) in sum.iter_mut().zip(rgb) {
                        *s += wy * wx * v;
                    }
                }
            }
            for (c, s) in sum.iter().enumerate() {
                out[c * plane + oy * out_width + ox] = *s as f64 / denominator;
            }
        }
    }
    Ok(out)
}

/// For each output index along an axis, the source indices it covers and the overlap in
/// units where a source pixel is `dst` long and an output pixel `src` long.
fn coverage(src: usize, dst: usize) -> Vec<Vec<(usize, u64)>> {
    (0..dst)
        .map(|o| {
            let (start, end) = (o * src, (o + 1) * src);
            (start / dst..end.div_ceil(dst))
                .map(|s| {
                    let overlap = end.min((s + 1) * dst) - start.max(s * dst);
                    (s, overlap as u64)
                })
                .collect()
        })
        .collect()
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

/// Interleaved 8-bit pixels of any size → the model's normalised CHW input.
pub fn prepare_image(
    spec: &InputSpec,
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
) -> Result<Vec<f64>, PreprocessError> {
    if spec.channels != 3 {
        return Err(PreprocessError::ModelChannels(spec.channels));
    }
    let values = resize_area(pixels, width, height, channels, spec.width, spec.height)?;
    Ok(normalize(spec, &values))
}

#[cfg(test)]
mod tests {
    use super::*;

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
