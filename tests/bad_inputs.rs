//! `dynconf classify` on awkward and broken image files, all generated here (no dataset
//! pixels): each case asserts the exit code and what the message says (issue 12, item 6).
//!
//! Valid but unusual files must classify (exit 0); broken or unsupported ones must fail with
//! exit code 1 and a message that names the file and says what was expected.
#![cfg(not(target_arch = "wasm32"))] // runs the native CLI

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const MODEL: [&str; 2] = ["--model", "models/m.safetensors"];
const STOP: [&str; 6] = [
    "--decoder",
    "max_softmax:kappa=2",
    "--threshold",
    "1.0",
    "--max-steps",
    "6",
];

/// A fresh directory with a random CIFAR-shaped model and the files of `files`.
fn workspace(name: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bad-inputs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::write(
        dir.join("models/m.safetensors"),
        common::random_cifar_model(3).build(),
    )
    .unwrap();
    for (file, bytes) in files {
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    dir
}

fn classify(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(dir)
        .arg("classify")
        .args(MODEL)
        .args(STOP)
        .args(extra)
        .output()
        .expect("run dynconf")
}

/// The JSON object printed for one valid file.
fn classify_ok(name: &str, bytes: Vec<u8>) -> Value {
    let dir = workspace(name, &[(name, bytes)]);
    let out = classify(&dir, &["--json", name]);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// The message for one broken file, with exit code 1; it must name the file.
fn classify_error(name: &str, bytes: Vec<u8>) -> String {
    let dir = workspace(&name.replace('.', "-"), &[(name, bytes)]);
    let out = classify(&dir, &[name]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(&format!("error: {name}: ")), "{stderr}");
    stderr
}

fn assert_mentions(message: &str, words: &[&str]) {
    for word in words {
        assert!(message.contains(word), "{message:?} should say {word:?}");
    }
}

// ---------------------------------------------------------------- generated files

fn png(image: impl Into<image::DynamicImage>) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .into()
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

fn gradient(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 128])
    })
}

fn jpeg(image: &image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(image)
        .unwrap();
    bytes
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let body = [&kind[..], data].concat();
    [
        &(data.len() as u32).to_be_bytes()[..],
        &body,
        &crc32(&body).to_be_bytes(),
    ]
    .concat()
}

/// A zlib stream of one stored (uncompressed) deflate block.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    assert!(data.len() < 65536);
    let len = data.len() as u16;
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    [
        &[0x78, 0x01, 0x01][..],
        &len.to_le_bytes(),
        &(!len).to_le_bytes(),
        data,
        &((b << 16) | a).to_be_bytes(),
    ]
    .concat()
}

/// A 4×4 palette PNG (8-bit indices) whose tRNS chunk makes
/// entry 1 fully transparent: the image encoder cannot write palettes, so it is built here.
fn palette_png_with_trns() -> Vec<u8> {
    let (w, h) = (4u32, 4u32);
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]); // 8-bit indices, colour type 3 (palette)
    let palette = [255, 0, 0, 0, 0, 255]; // red, blue
    let trns = [255, 0]; // blue is transparent
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0); // filter: none
        raw.extend((0..w).map(|x| ((x + y) % 2) as u8));
    }
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        &chunk(b"IHDR", &ihdr),
        &chunk(b"PLTE", &palette),
        &chunk(b"tRNS", &trns),
        &chunk(b"IDAT", &zlib_stored(&raw)),
        &chunk(b"IEND", &[]),
    ]
    .concat()
}

/// An 8×8 four-component (CMYK, Adobe APP14) baseline JPEG, written by hand: the `image`
/// crate's encoder only writes grey and RGB. Every block is DC 0, no AC terms (value 128
/// in each component), with one-code Huffman tables so that the scan is one byte.
fn cmyk_jpeg() -> Vec<u8> {
    let segment = |marker: u8, body: &[u8]| {
        [
            &[0xFF, marker][..],
            &((body.len() + 2) as u16).to_be_bytes(),
            body,
        ]
        .concat()
    };
    let adobe = [b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, 0]; // transform 0: CMYK
    let dqt = [&[0u8][..], &[1u8; 64]].concat();
    let mut sof = vec![8, 0, 8, 0, 8, 4];
    for id in 1..=4 {
        sof.extend_from_slice(&[id, 0x11, 0]);
    }
    // One symbol of length 1 in each table: DC category 0, AC end-of-block.
    let table = |class_id: u8| [&[class_id, 1][..], &[0; 15], &[0]].concat();
    let dht = [table(0x00), table(0x10)].concat();
    let mut sos = vec![4];
    for id in 1..=4 {
        sos.extend_from_slice(&[id, 0x00]);
    }
    sos.extend_from_slice(&[0, 63, 0]);
    // Four blocks × (DC "0" + EOB "0") = 8 zero bits.
    [
        &[0xFF, 0xD8][..],
        &segment(0xEE, &adobe),
        &segment(0xDB, &dqt),
        &segment(0xC0, &sof),
        &segment(0xC4, &dht),
        &segment(0xDA, &sos),
        &[0x00],
        &[0xFF, 0xD9],
    ]
    .concat()
}

/// `jpeg` with an EXIF APP1 segment after SOI holding only the orientation tag (0x0112).
fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&[0, 1]); // one IFD entry
    exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]);
    exif.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
    let length = (exif.len() + 2) as u16;
    [
        &jpeg[..2],
        &[0xFF, 0xE1],
        &length.to_be_bytes(),
        &exif,
        &jpeg[2..],
    ]
    .concat()
}

fn animated_gif() -> Vec<u8> {
    use image::codecs::gif::GifEncoder;
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        for colour in [[200, 30, 30, 255], [30, 30, 200, 255]] {
            let frame = image::RgbaImage::from_pixel(20, 12, image::Rgba(colour));
            encoder
                .encode_frame(image::Frame::new(frame))
                .expect("gif frame");
        }
    }
    bytes
}

/// A PNG signature and an IHDR of 20000×20000 RGBA, then nothing.
fn huge_png_header() -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    [&b"\x89PNG\r\n\x1a\n"[..], &chunk(b"IHDR", &ihdr)].concat()
}

// ---------------------------------------------------------------- valid files

fn assert_run(json: &Value, width: u64, height: u64) {
    assert_eq!(
        (json["width"].as_u64(), json["height"].as_u64()),
        (Some(width), Some(height))
    );
    // The default crop: the largest centred square.
    assert_eq!(json["crop"], "center");
    let side = width.min(height);
    let rect = [(width - side) / 2, (height - side) / 2, side, side];
    assert_eq!(json["crop_rect"], serde_json::json!(rect), "{json}");
    assert_eq!(json["max_steps"], 6);
    assert_eq!(json["steps"].as_array().unwrap().len(), 6);
    let stop = json["stop_step"].as_u64().expect("a stop step");
    assert!((1..=6).contains(&stop), "{json}");
    let confidence = json["confidence"].as_f64().unwrap();
    assert!(confidence > 0.0 && confidence <= 1.0, "{json}");
    let shown = &json["steps"][stop as usize - 1];
    assert_eq!(json["prediction"], shown["prediction"]);
    assert_eq!(json["score"], shown["score"]);
}

#[test]
fn unusual_but_valid_images_classify() {
    let wide16 = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 1500) as u16, (y * 2000) as u16, 40000])
    });
    assert_run(
        &classify_ok("deep.png", png(image::DynamicImage::ImageRgb16(wide16))),
        40,
        30,
    );
    assert_run(&classify_ok("palette.png", palette_png_with_trns()), 4, 4);
    assert_run(&classify_ok("one.png", png(gradient(1, 1))), 1, 1);
    assert_run(&classify_ok("strip.png", png(gradient(550, 5))), 550, 5);
    let cmyk = classify_ok("cmyk.jpg", cmyk_jpeg());
    assert_run(&cmyk, 8, 8);
    assert_eq!(cmyk["format"], "JPEG");
    // The first frame of an animated GIF.
    let gif = classify_ok("animated.gif", animated_gif());
    assert_run(&gif, 20, 12);
    assert_eq!(gif["format"], "GIF");
}

#[test]
fn exif_orientations_6_and_8_are_applied() {
    let plain = jpeg(&gradient(40, 24));
    let upright = classify_ok("upright.jpg", plain.clone());
    assert_run(&upright, 40, 24);
    assert_eq!(upright["orientation"], 1);
    for orientation in [6, 8] {
        let name = format!("rotated{orientation}.jpg");
        let json = classify_ok(&name, with_exif_orientation(&plain, orientation));
        // Stored 40×24, shown (and classified) 24×40.
        assert_run(&json, 24, 40);
        assert_eq!(json["orientation"], orientation);
    }
}

#[test]
fn crop_is_reported_and_bad_crops_are_named() {
    let dir = workspace("crop", &[("wide.png", png(gradient(451, 300)))]);
    for (crop, rect) in [
        ("full", [0, 0, 451, 300]),
        ("center", [75, 0, 300, 300]),
        ("151,0,300", [151, 0, 300, 300]),
    ] {
        let out = classify(&dir, &["--json", "--crop", crop, "wide.png"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["crop"], crop);
        assert_eq!(json["crop_rect"], serde_json::json!(rect));
        // The human-readable output says it too.
        let out = classify(&dir, &["--crop", crop, "wide.png"]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!(
                "crop {crop} ({}×{} pixels at {},{})",
                rect[2], rect[3], rect[0], rect[1]
            )),
            "{text}"
        );
    }
    // A square that does not fit this image: the file is named, with the crop and the size.
    let out = classify(&dir, &["--crop", "152,0,300", "wide.png"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_mentions(&stderr, &["error: wide.png: ", "152,0,300", "451×300"]);
    // A crop that cannot be read: a usage error before any file is opened.
    let out = classify(&dir, &["--crop", "middle", "wide.png"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_mentions(&stderr, &["middle", "center, full or X,Y,SIZE"]);
}

// ---------------------------------------------------------------- colour profiles

/// `image` (RGB or grey, 8 or 16 bits) as PNG, JPEG (quality 100) or lossless WebP, with the
/// ICC profile `icc` embedded when given (iCCP chunk, APP2 segment, ICCP chunk).
fn tagged(format: image::ImageFormat, image: image::DynamicImage, icc: Option<Vec<u8>>) -> Vec<u8> {
    use image::codecs::{jpeg::JpegEncoder, png::PngEncoder, webp::WebPEncoder};
    use image::ImageEncoder;
    fn write(mut encoder: impl ImageEncoder, image: image::DynamicImage, icc: Option<Vec<u8>>) {
        if let Some(icc) = icc {
            encoder.set_icc_profile(icc).unwrap();
        }
        let (width, height) = (image.width(), image.height());
        encoder
            .write_image(image.as_bytes(), width, height, image.color().into())
            .unwrap();
    }
    let mut bytes = Vec::new();
    match format {
        image::ImageFormat::Png => write(PngEncoder::new(&mut bytes), image, icc),
        image::ImageFormat::Jpeg => {
            write(JpegEncoder::new_with_quality(&mut bytes, 100), image, icc)
        }
        _ => write(WebPEncoder::new_lossless(&mut bytes), image, icc),
    }
    bytes
}

fn solid(rgb: [u8; 3]) -> image::DynamicImage {
    image::RgbImage::from_pixel(64, 64, image::Rgb(rgb)).into()
}

/// Every pixel of `decoded` within `tolerance` of `expected` (RGB), alpha opaque.
fn assert_every_pixel(
    decoded: &dynconf::image_file::DecodedImage,
    expected: [f64; 3],
    tolerance: f64,
    what: &str,
) {
    for pixel in decoded.rgba.chunks_exact(4) {
        let off = (0..3).any(|c| (pixel[c] as f64 - expected[c]).abs() > tolerance);
        assert!(
            !off && pixel[3] == 255,
            "{what}: {pixel:?}, expected {expected:.1?} ± {tolerance}"
        );
    }
}

#[test]
fn embedded_icc_profiles_are_converted_to_srgb() {
    use dynconf::image_file::{decode, ColourProfile};
    use image::ImageFormat::{Jpeg, Png, WebP};
    // A colour inside both gamuts; in sRGB numbers Adobe RGB's green is greener and its red
    // and blue less so: about (84, 152, 35) (the published matrices, not qcms).
    let adobe = [100, 150, 50];
    let expected = common::icc::adobe_rgb_to_srgb(adobe);
    assert!(
        expected[0] < 90.0 && expected[1] > 150.5 && expected[2] < 40.0,
        "{expected:?}"
    );
    let profile = common::icc::adobe_rgb();
    // JPEG adds its own rounding (YCbCr at quality 100) to the conversion's.
    for (format, tolerance) in [(Png, 1.0), (WebP, 1.0), (Jpeg, 2.0)] {
        let plain = decode(&tagged(format, solid(adobe), None)).unwrap();
        assert_eq!(plain.colour, ColourProfile::None);
        assert_every_pixel(
            &plain,
            adobe.map(f64::from),
            tolerance - 1.0,
            &format!("{format:?} untagged"),
        );
        let converted = decode(&tagged(format, solid(adobe), Some(profile.clone()))).unwrap();
        assert_eq!(converted.colour, ColourProfile::Converted, "{format:?}");
        assert_every_pixel(
            &converted,
            expected,
            tolerance,
            &format!("{format:?} Adobe RGB"),
        );
    }
    // 16 bits per channel: brought to 8, then converted.
    let deep = image::ImageBuffer::from_pixel(64, 64, image::Rgb(adobe.map(|v| v as u16 * 257)));
    let decoded = decode(&tagged(Png, deep.into(), Some(profile.clone()))).unwrap();
    assert_eq!(decoded.colour, ColourProfile::Converted);
    assert_every_pixel(&decoded, expected, 1.0, "16-bit PNG");
    // A grey image with a linear (gamma 1) grey profile: 128 is half the light, sRGB 188.
    let grey = image::GrayImage::from_pixel(64, 64, image::Luma([128]));
    let linear = common::icc::grey_profile("linear grey", 1.0);
    let decoded = decode(&tagged(Png, grey.into(), Some(linear))).unwrap();
    assert_eq!(decoded.colour, ColourProfile::Converted);
    let white = common::icc::srgb_encode(128.0 / 255.0);
    assert!((white - 188.0).abs() < 0.5, "{white}");
    assert_every_pixel(&decoded, [white; 3], 1.0, "linear grey PNG");

    // What the CLI says.
    let json = classify_ok("adobe.png", tagged(Png, solid(adobe), Some(profile)));
    assert_eq!(json["icc_profile"], "converted");
    assert_eq!(
        classify_ok("plain.png", png(solid(adobe)))["icc_profile"],
        "none"
    );
    let dir = workspace(
        "adobe-text",
        &[(
            "adobe.jpg",
            tagged(Jpeg, solid(adobe), Some(common::icc::adobe_rgb())),
        )],
    );
    let out = classify(&dir, &["adobe.jpg"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("colour: converted from embedded ICC profile to sRGB"),
        "{text}"
    );
}

#[test]
fn unusable_icc_profiles_are_ignored_not_refused() {
    use dynconf::image_file::{decode, ColourProfile};
    let colour = [100, 150, 50];
    // Not a profile at all; an RGB profile whose header says CMYK; a grey profile on colour
    // pixels: the pixels are taken as sRGB.
    let mut cmyk = common::icc::adobe_rgb();
    cmyk[16..20].copy_from_slice(b"CMYK");
    let garbage = b"this is not an ICC profile, just some text of a reasonable length".repeat(3);
    let grey = common::icc::grey_profile("grey", 1.0);
    for (what, profile) in [("garbage", garbage.clone()), ("CMYK", cmyk), ("grey", grey)] {
        let decoded = decode(&tagged(
            image::ImageFormat::Png,
            solid(colour),
            Some(profile),
        ))
        .unwrap();
        assert_eq!(decoded.colour, ColourProfile::Ignored, "{what}");
        assert_every_pixel(&decoded, colour.map(f64::from), 0.0, what);
    }
    let bytes = tagged(image::ImageFormat::Png, solid(colour), Some(garbage));
    assert_eq!(classify_ok("garbage.png", bytes)["icc_profile"], "ignored");
}

// ---------------------------------------------------------------- broken and unsupported files

#[test]
fn broken_and_unsupported_files_are_named_with_what_was_expected() {
    let huge = classify_error("huge.png", huge_png_header());
    assert_mentions(
        &huge,
        &[
            "20000×20000",
            "400.0 megapixels",
            "too large",
            "limit is 40 megapixels",
        ],
    );

    let whole_png = png(gradient(64, 48));
    let message = classify_error("cut.png", whole_png[..whole_png.len() * 2 / 3].to_vec());
    assert_mentions(&message, &["PNG", "truncated"]);

    let whole_jpeg = jpeg(&gradient(64, 48));
    let message = classify_error("cut.jpg", whole_jpeg[..whole_jpeg.len() * 2 / 3].to_vec());
    assert_mentions(&message, &["JPEG", "truncated", "end-of-image"]);
    let scan = whole_jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .unwrap();
    let headers_only = [&whole_jpeg[..scan], &[0xFF, 0xD9]].concat();
    assert_mentions(
        &classify_error("headers.jpg", headers_only),
        &["JPEG", "no scan"],
    );
    // Whole in structure, but the first component names quantisation table 3, which the file
    // does not define: libjpeg's fatal error, reported, not a crash.
    let mut undefined_table = whole_jpeg.clone();
    let frame = undefined_table
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .unwrap();
    undefined_table[frame + 12] = 3; // FF C0, length, precision, height, width, count, id, sampling
    assert_mentions(
        &classify_error("no-table.jpg", undefined_table),
        &[
            "damaged or truncated JPEG",
            "Quantization table 0x03 was not defined",
        ],
    );

    assert_mentions(
        &classify_error("empty.png", Vec::new()),
        &["empty (0 bytes)", "expected a PNG, JPEG, WebP or GIF"],
    );
    assert_mentions(
        &classify_error("notes.jpg", b"Shopping list: milk, eggs\n".to_vec()),
        &[
            "not an image",
            "expected PNG, JPEG, WebP or GIF",
            "\"Shopping list: m\"",
            "(text)",
        ],
    );
    let svg =
        br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>"#;
    assert_mentions(
        &classify_error("drawing.svg", svg.to_vec()),
        &["SVG", "not supported, convert to JPEG or PNG"],
    );
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08meta".to_vec();
    assert_mentions(
        &classify_error("IMG_0001.HEIC", heic),
        &["HEIC", "not supported, convert to JPEG or PNG"],
    );
    let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf".to_vec();
    assert_mentions(
        &classify_error("photo.avif", avif),
        &["AVIF", "not supported, convert to JPEG or PNG"],
    );
}

#[test]
fn classify_goes_on_past_a_bad_file_and_fails_at_the_end() {
    let dir = workspace(
        "several",
        &[
            ("a.png", png(gradient(33, 20))),
            ("b.heic", b"\0\0\0\x14ftypheic\0\0\0\0heic".to_vec()),
            ("c.png", png(gradient(20, 33))),
        ],
    );
    let out = classify(&dir, &["--json", "a.png", "b.heic", "missing.png", "c.png"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_mentions(
        &stderr,
        &[
            "error: b.heic: HEIC",
            "error: missing.png: cannot read the file",
            "2 of 4 images",
        ],
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let files: Vec<&str> = lines.iter().map(|l| l["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["a.png", "b.heic", "missing.png", "c.png"]);
    assert!(lines[0]["prediction"].is_string() && lines[3]["prediction"].is_string());
    assert!(lines[1]["error"].as_str().unwrap().contains("HEIC"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // `dynconf classify … | head -2`: many images, so the output outgrows the pipe's buffer
    // and writing fails once the reader has gone.
    let dir = workspace("pipe", &[("a.png", png(gradient(40, 30)))]);
    let images = vec!["a.png"; 400];
    let mut child = Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(&dir)
        .arg("classify")
        .args(MODEL)
        .args(STOP)
        .args(&images)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..2 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(!line.is_empty());
    }
    drop(reader);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn thresholds_beyond_f32_are_refused_by_name() {
    let dir = workspace("threshold", &[("a.png", png(gradient(8, 8)))]);
    let out = Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(&dir)
        .args([
            "classify",
            "a.png",
            "--decoder",
            "kappa=2",
            "--threshold",
            "1e39",
        ])
        .args(MODEL)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_mentions(
        &String::from_utf8(out.stderr).unwrap(),
        &["--threshold 1e39 is out of range", "f32"],
    );
    // Scores may be negative: so may thresholds.
    let out = Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(&dir)
        .args([
            "classify",
            "a.png",
            "--decoder",
            "margin:kappa=2",
            "--threshold",
            "-0.5",
        ])
        .args(MODEL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
