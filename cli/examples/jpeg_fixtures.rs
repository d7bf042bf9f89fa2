//! Writes generated images and the CLI decoder's pixels for them, for
//! e2e/jpeg-match.test.mjs, which decodes the same files in Chromium and Firefox and compares.
//!
//!   cargo run --release -p dynconf-cli --example jpeg_fixtures -- DIR
//!
//! DIR gets, for each case, the image file and `NAME.rgba` (the pixels `dynconf classify`
//! sees: `image_file::decode`, RGBA, row-major), and `cases.json` listing
//! `{name, file, width, height, kind}`: JPEGs, baseline and progressive, 4:4:4, 4:2:2 and
//! 4:2:0 chroma, even and odd sizes; then PNG, JPEG and WebP tagged with an Adobe RGB (1998)
//! ICC profile, and a grey PNG with a linear grey profile, which the browsers and the CLI
//! convert to sRGB; then the corpus's files that browsers read their own way (stray bytes in
//! a JPEG, an APNG's hidden default image, a GIF frame larger than its screen, PNG gAMA and
//! cHRM without a profile).

fn main() {
    native::main()
}

#[allow(dead_code)] // the reference maths is for the tests
#[path = "../tests/common/icc.rs"]
mod icc;

#[allow(dead_code)] // the files that browsers read their own way, of the whole corpus
#[path = "../tests/common/corpus.rs"]
mod corpus;

mod native {
    use std::path::{Path, PathBuf};

    use super::{corpus, icc};
    use image::ImageEncoder;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    use serde_json::{json, Value};

    /// Smooth gradients with a ripple and deterministic noise: chroma edges and texture, so
    /// that the IDCT, the chroma upsampling and the colour conversion all show.
    fn pixels(width: u32, height: u32, seed: u32) -> Vec<u8> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 41) as f64 - 20.0
        };
        let mut rgb = Vec::with_capacity((width * height * 3) as usize);
        for y in 0..height {
            for x in 0..width {
                let (u, v) = (x as f64 / width as f64, y as f64 / height as f64);
                let ripple = 40.0 * ((x as f64 * 0.45).sin() * (y as f64 * 0.3).cos());
                let edge = if (x / 5 + y / 7) % 2 == 0 {
                    50.0
                } else {
                    -50.0
                };
                for value in [
                    255.0 * u + ripple + noise(),
                    255.0 * v - ripple + edge + noise(),
                    255.0 * (1.0 - u) * (1.0 - v) + 0.5 * edge + noise(),
                ] {
                    rgb.push(value.round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        rgb
    }

    fn jpeg(
        rgb: &[u8],
        (width, height): (u32, u32),
        sampling: SamplingFactor,
        progressive: bool,
        icc: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = Encoder::new(&mut bytes, 90);
        encoder.set_sampling_factor(sampling);
        encoder.set_progressive(progressive);
        if let Some(icc) = icc {
            encoder.add_icc_profile(icc).expect("ICC profile");
        }
        encoder
            .encode(rgb, width as u16, height as u16, ColorType::Rgb)
            .expect("encoding failed");
        bytes
    }

    /// PNG or WebP (lossless) through the image crate, tagged with `icc`.
    fn tagged(
        format: image::ImageFormat,
        pixels: &[u8],
        colour: image::ExtendedColorType,
        (width, height): (u32, u32),
        icc: &[u8],
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        let result = match format {
            image::ImageFormat::Png => {
                let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
                encoder.set_icc_profile(icc.to_vec()).expect("PNG ICC");
                encoder.write_image(pixels, width, height, colour)
            }
            _ => {
                let mut encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut bytes);
                encoder.set_icc_profile(icc.to_vec()).expect("WebP ICC");
                encoder.write_image(pixels, width, height, colour)
            }
        };
        result.expect("encoding failed");
        bytes
    }

    /// Writes the file and the CLI's pixels, and describes the case.
    fn write_case(dir: &Path, name: &str, extension: &str, bytes: &[u8], kind: &str) -> Value {
        let decoded = dynconf_cli::image_file::decode(bytes).expect("our decoder failed");
        let file = format!("{name}.{extension}");
        std::fs::write(dir.join(&file), bytes).unwrap();
        std::fs::write(dir.join(format!("{name}.rgba")), &decoded.rgba).unwrap();
        json!({
            "name": name, "file": file, "width": decoded.width, "height": decoded.height,
            "kind": kind,
        })
    }

    pub fn main() {
        let dir = PathBuf::from(std::env::args().nth(1).expect("usage: jpeg_fixtures DIR"));
        std::fs::create_dir_all(&dir).expect("cannot create the output folder");
        let mut cases = Vec::new();
        let samplings = [
            ("4:4:4", "444", SamplingFactor::F_1_1),
            ("4:2:2", "422", SamplingFactor::F_2_1),
            ("4:2:0", "420", SamplingFactor::F_2_2),
        ];
        let sizes = [(64, 64), (33, 17), (17, 33), (250, 131)];
        for progressive in [false, true] {
            let mode = if progressive {
                "progressive"
            } else {
                "baseline"
            };
            for (label, short, sampling) in samplings {
                for (i, &size) in sizes.iter().enumerate() {
                    let name = format!("{mode}-{short}-{}x{}", size.0, size.1);
                    let bytes = jpeg(
                        &pixels(size.0, size.1, i as u32),
                        size,
                        sampling,
                        progressive,
                        None,
                    );
                    cases.push(write_case(
                        &dir,
                        &name,
                        "jpg",
                        &bytes,
                        &format!("{mode} {label}"),
                    ));
                }
            }
        }
        let size = (48, 40);
        let rgb = pixels(size.0, size.1, 7);
        let adobe = icc::adobe_rgb();
        for (format, extension, what) in [
            (image::ImageFormat::Png, "png", "Adobe RGB PNG"),
            (image::ImageFormat::WebP, "webp", "Adobe RGB WebP"),
        ] {
            let bytes = tagged(format, &rgb, image::ExtendedColorType::Rgb8, size, &adobe);
            let name = format!("icc-adobe-rgb-{extension}");
            cases.push(write_case(&dir, &name, extension, &bytes, what));
        }
        let bytes = jpeg(&rgb, size, SamplingFactor::F_2_2, false, Some(&adobe));
        cases.push(write_case(
            &dir,
            "icc-adobe-rgb-jpeg",
            "jpg",
            &bytes,
            "Adobe RGB JPEG",
        ));
        let grey: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
        let linear = icc::grey_profile("linear grey test", 1.0);
        let png = tagged(
            image::ImageFormat::Png,
            &grey,
            image::ExtendedColorType::L8,
            size,
            &linear,
        );
        cases.push(write_case(
            &dir,
            "icc-grey-linear-png",
            "png",
            &png,
            "linear grey PNG",
        ));
        // Files that browsers read their own way (the corpus's), which the CLI reads as
        // Chromium does.
        let plain = jpeg(&rgb, size, SamplingFactor::F_2_2, false, None);
        for (name, extension, bytes, kind) in [
            (
                "stray-bytes",
                "jpg",
                corpus::jpeg_with_stray_bytes(&plain),
                "JPEG, stray bytes before a marker",
            ),
            (
                "apng-hidden-default",
                "png",
                corpus::apng_with_hidden_default_image(),
                "APNG, default image not a frame",
            ),
            (
                "gif-large-frame",
                "gif",
                corpus::gif_frame_larger_than_screen(),
                "GIF, frame larger than the screen",
            ),
            (
                "chrm-adobe",
                "png",
                corpus::png_with_adobe_chromaticities(),
                "PNG gAMA + cHRM",
            ),
            (
                "gamma-srgb",
                "png",
                corpus::png_with_gamma(45_455),
                "PNG gAMA 1/2.2",
            ),
            (
                "gamma-linear",
                "png",
                corpus::png_with_gamma(100_000),
                "PNG gAMA only",
            ),
            (
                "gamma-0.6",
                "png",
                corpus::png_with_gamma(60_000),
                "PNG gAMA only",
            ),
        ] {
            cases.push(write_case(&dir, name, extension, &bytes, kind));
        }
        std::fs::write(
            dir.join("cases.json"),
            serde_json::to_string_pretty(&cases).unwrap(),
        )
        .unwrap();
        eprintln!("{} images written to {}", cases.len(), dir.display());
    }
}
