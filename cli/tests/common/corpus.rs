//! The bad-input corpus (issue 12, item 6): awkward and broken image files, all generated
//! here (no dataset pixels), each with what must happen to it. One list, asserted twice:
//! cli/tests/bad_inputs.rs runs `dynconf classify` on every case (exit code, message, size), and
//! cli/examples/input_corpus.rs writes the files and a `manifest.json` for e2e/inputs.test.mjs,
//! which uploads each one to the demo page.
//!
//! Valid files must classify (the page and the CLI agreeing on the class and the stop step);
//! invalid ones must be refused with a message that names the file and says what was
//! expected. `cli_words` are the CLI's words; the page words its own messages
//! (www/js/image-input.js) and e2e/inputs.test.mjs holds those.
//!
//! Used as `common::corpus` by the tests and as a top-level module by the example: it finds
//! the ICC profiles at `super::icc` in both.

use super::icc;

/// One file of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file name (its extension is part of the case: text named `.jpg`, `.HEIC`).
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// What the file is, in a few words.
    pub what: &'static str,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// Classifies: the size as shown (after the EXIF orientation), the format, the EXIF
    /// orientation applied and what happened to an embedded ICC profile (`classify --json`'s
    /// `icc_profile`: none, converted, ignored).
    Valid {
        width: u32,
        height: u32,
        format: &'static str,
        orientation: u8,
        icc_profile: &'static str,
    },
    /// Refused with exit code 1, `error: NAME: …` and these words in the message.
    Invalid { cli_words: &'static [&'static str] },
}

impl Case {
    fn valid(name: &'static str, what: &'static str, bytes: Vec<u8>, size: (u32, u32)) -> Self {
        let format = match name.rsplit('.').next().unwrap() {
            "png" => "PNG",
            "jpg" => "JPEG",
            "gif" => "GIF",
            "webp" => "WebP",
            other => panic!("no format for .{other}"),
        };
        Case {
            name,
            bytes,
            what,
            kind: Kind::Valid {
                width: size.0,
                height: size.1,
                format,
                orientation: 1,
                icc_profile: "none",
            },
        }
    }

    fn invalid(
        name: &'static str,
        what: &'static str,
        bytes: Vec<u8>,
        cli_words: &'static [&'static str],
    ) -> Self {
        Case {
            name,
            bytes,
            what,
            kind: Kind::Invalid { cli_words },
        }
    }

    fn with(mut self, orientation_: u8, icc_profile_: &'static str) -> Self {
        if let Kind::Valid {
            orientation,
            icc_profile,
            ..
        } = &mut self.kind
        {
            *orientation = orientation_;
            *icc_profile = icc_profile_;
        }
        self
    }

    pub fn is_valid(&self) -> bool {
        matches!(self.kind, Kind::Valid { .. })
    }
}

/// Every case, valid ones first.
pub fn cases() -> Vec<Case> {
    use image::ImageFormat::{Jpeg, Png, WebP};
    let adobe = [100, 150, 50];
    let plain_jpeg = jpeg(&gradient(40, 24));
    let whole_png = png(gradient(64, 48));
    let whole_jpeg = jpeg(&gradient(64, 48));
    let deep = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 1500) as u16, (y * 2000) as u16, 40000])
    });
    let adobe16 = image::ImageBuffer::from_pixel(64, 64, image::Rgb(adobe.map(|v| v as u16 * 257)));
    let mut cmyk_profile = icc::adobe_rgb();
    cmyk_profile[16..20].copy_from_slice(b"CMYK");
    let garbage = b"this is not an ICC profile, just some text of a reasonable length".repeat(3);
    let grey = image::GrayImage::from_pixel(64, 64, image::Luma([128]));
    vec![
        // ------------------------------------------------------------ valid
        Case::valid(
            "deep.png",
            "16-bit RGB PNG",
            png(image::DynamicImage::ImageRgb16(deep)),
            (40, 30),
        ),
        Case::valid(
            "palette.png",
            "palette PNG, tRNS: one entry transparent",
            palette_png_with_trns(),
            (4, 4),
        ),
        Case::valid("one.png", "1×1 PNG", png(gradient(1, 1)), (1, 1)),
        Case::valid("strip.png", "550×5 PNG", png(gradient(550, 5)), (550, 5)),
        Case::valid("wide.png", "451×300 PNG", png(gradient(451, 300)), (451, 300)),
        Case::valid(
            "cmyk.jpg",
            "CMYK JPEG (Adobe APP14), flat, hand-written",
            cmyk_jpeg(),
            (8, 8),
        ),
        Case::valid(
            "cmyk-gradient.jpg",
            "CMYK JPEG (Adobe APP14, transform 0), gradients",
            libjpeg_cmyk(48, 40, false),
            (48, 40),
        ),
        Case::valid(
            "ycck.jpg",
            "YCCK JPEG (Adobe APP14, transform 2), gradients",
            libjpeg_cmyk(48, 40, true),
            (48, 40),
        ),
        Case::valid(
            "animated.gif",
            "animated GIF, 2 frames (the first is used)",
            animated_gif(),
            (20, 12),
        ),
        Case::valid("upright.jpg", "JPEG 40×24", plain_jpeg.clone(), (40, 24)),
        Case::valid(
            "rotated6.jpg",
            "JPEG 40×24, EXIF orientation 6",
            with_exif_orientation(&plain_jpeg, 6),
            (24, 40),
        )
        .with(6, "none"),
        Case::valid(
            "rotated8.jpg",
            "JPEG 40×24, EXIF orientation 8",
            with_exif_orientation(&plain_jpeg, 8),
            (24, 40),
        )
        .with(8, "none"),
        Case::valid(
            "plain.png",
            "untagged PNG, flat",
            png(solid(adobe)),
            (64, 64),
        ),
        Case::valid(
            "adobe.png",
            "PNG, Adobe RGB (1998) ICC profile, flat",
            tagged(Png, solid(adobe), Some(icc::adobe_rgb())),
            (64, 64),
        )
        .with(1, "converted"),
        Case::valid(
            "adobe.jpg",
            "JPEG, Adobe RGB (1998) ICC profile, flat",
            tagged(Jpeg, solid(adobe), Some(icc::adobe_rgb())),
            (64, 64),
        )
        .with(1, "converted"),
        Case::valid(
            "adobe.webp",
            "lossless WebP, Adobe RGB (1998) ICC profile, flat",
            tagged(WebP, solid(adobe), Some(icc::adobe_rgb())),
            (64, 64),
        )
        .with(1, "converted"),
        Case::valid(
            "adobe-gradient.png",
            "PNG, Adobe RGB (1998) ICC profile, gradients",
            tagged(Png, gradient(64, 48).into(), Some(icc::adobe_rgb())),
            (64, 48),
        )
        .with(1, "converted"),
        Case::valid(
            "adobe16.png",
            "16-bit PNG, Adobe RGB (1998) ICC profile, flat",
            tagged(Png, adobe16.into(), Some(icc::adobe_rgb())),
            (64, 64),
        )
        .with(1, "converted"),
        Case::valid(
            "grey-linear.png",
            "grey PNG, linear grey ICC profile",
            tagged(
                Png,
                grey.into(),
                Some(icc::grey_profile("linear grey", 1.0)),
            ),
            (64, 64),
        )
        .with(1, "converted"),
        Case::valid(
            "garbage-icc.png",
            "PNG whose iCCP holds text, not a profile",
            tagged(Png, solid(adobe), Some(garbage)),
            (64, 64),
        )
        .with(1, "ignored"),
        Case::valid(
            "cmyk-icc.png",
            "RGB PNG whose profile says CMYK",
            tagged(Png, solid(adobe), Some(cmyk_profile)),
            (64, 64),
        )
        .with(1, "ignored"),
        // Files browsers read their own way; the CLI reads them as they do.
        Case::valid(
            "gamma-linear.png",
            "PNG with gAMA 1.0 (linear samples), no ICC profile: converted as Chromium does",
            png_with_gamma(100_000),
            (48, 40),
        )
        .with(1, "gama"),
        Case::valid(
            "gamma-srgb.png",
            "PNG with gAMA 1/2.2, no ICC profile: taken as sRGB, as browsers do",
            png_with_gamma(45_455),
            (48, 40),
        ),
        Case::valid(
            "chrm-adobe.png",
            "PNG with gAMA 1/2.2 and cHRM of Adobe RGB (1998), no ICC profile",
            png_with_adobe_chromaticities(),
            (48, 40),
        )
        .with(1, "gama"),
        Case::valid(
            "apng-hidden-default.png",
            "APNG whose default image is not an animation frame: the first frame is shown",
            apng_with_hidden_default_image(),
            (48, 40),
        ),
        Case::valid(
            "gif-large-frame.gif",
            "GIF whose frame (32×24) is larger than its logical screen (16×12)",
            gif_frame_larger_than_screen(),
            (32, 24),
        ),
        Case::valid(
            "stray-bytes.jpg",
            "JPEG with stray bytes before a marker (libjpeg warns and decodes)",
            jpeg_with_stray_bytes(&plain_jpeg),
            (40, 24),
        ),
        // ------------------------------------------------------------ invalid
        Case::invalid(
            "huge.png",
            "PNG header of 20000×20000, then nothing",
            huge_png_header(),
            &[
                "20000×20000",
                "400.0 megapixels",
                "too large",
                "limit is 40 megapixels",
            ],
        ),
        Case::invalid(
            "cut.png",
            "PNG cut at 2/3",
            whole_png[..whole_png.len() * 2 / 3].to_vec(),
            &["PNG", "truncated"],
        ),
        Case::invalid(
            "cut.jpg",
            "JPEG cut at 2/3",
            whole_jpeg[..whole_jpeg.len() * 2 / 3].to_vec(),
            &["JPEG", "truncated", "end-of-image"],
        ),
        Case::invalid(
            "headers.jpg",
            "JPEG headers, no scan",
            jpeg_headers_only(&whole_jpeg),
            &["JPEG", "no scan"],
        ),
        Case::invalid(
            "no-table.jpg",
            "JPEG naming an undefined quantisation table",
            jpeg_undefined_table(&whole_jpeg),
            &[
                "damaged or truncated JPEG",
                "Quantization table 0x03 was not defined",
            ],
        ),
        Case::invalid(
            "empty.png",
            "0 bytes",
            Vec::new(),
            &["empty (0 bytes)", "expected a PNG, JPEG, WebP or GIF"],
        ),
        Case::invalid(
            "notes.jpg",
            "text named .jpg",
            b"Shopping list: milk, eggs\n".to_vec(),
            &[
                "not an image",
                "expected PNG, JPEG, WebP or GIF",
                "\"Shopping list: m\"",
                "(text)",
            ],
        ),
        Case::invalid(
            "drawing.svg",
            "SVG",
            br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>"#
                .to_vec(),
            &["SVG", "not supported, convert to JPEG or PNG"],
        ),
        Case::invalid(
            "IMG_0001.HEIC",
            "HEIC (ftyp box only)",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08meta".to_vec(),
            &["HEIC", "not supported, convert to JPEG or PNG"],
        ),
        Case::invalid(
            "photo.avif",
            "AVIF (ftyp box only)",
            b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf".to_vec(),
            &["AVIF", "not supported, convert to JPEG or PNG"],
        ),
        Case::invalid(
            "picture.bmp",
            "BMP, 24-bit, 4×4",
            bmp(4, 4),
            &["BMP", "not supported, convert to JPEG or PNG"],
        ),
        Case::invalid(
            "scan.tif",
            "TIFF, uncompressed RGB, 4×4",
            tiff(4, 4),
            &["TIFF", "not supported, convert to JPEG or PNG"],
        ),
    ]
}

// ---------------------------------------------------------------- generators

pub fn png(image: impl Into<image::DynamicImage>) -> Vec<u8> {
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

pub fn gradient(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 128])
    })
}

pub fn jpeg(image: &image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(image)
        .unwrap();
    bytes
}

pub fn solid(rgb: [u8; 3]) -> image::DynamicImage {
    image::RgbImage::from_pixel(64, 64, image::Rgb(rgb)).into()
}

/// `image` (RGB or grey, 8 or 16 bits) as PNG, JPEG (quality 100) or lossless WebP, with the
/// ICC profile `icc` embedded when given (iCCP chunk, APP2 segment, ICCP chunk).
pub fn tagged(
    format: image::ImageFormat,
    image: image::DynamicImage,
    icc: Option<Vec<u8>>,
) -> Vec<u8> {
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
pub fn palette_png_with_trns() -> Vec<u8> {
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
pub fn cmyk_jpeg() -> Vec<u8> {
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

/// A four-component JPEG written by libjpeg (the `mozjpeg` crate) from smooth CMYK gradients,
/// quality 95, with the Adobe APP14 marker libjpeg writes for it: stored as CMYK (transform
/// 0) or, with `ycck`, as YCCK (transform 2). The values are what Adobe's applications store
/// (inverted: 255 is no ink), which is how decoders read a four-component JPEG.
pub fn libjpeg_cmyk(width: u32, height: u32, ycck: bool) -> Vec<u8> {
    use mozjpeg::{ColorSpace, Compress};
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f64 / width as f64, y as f64 / height as f64);
            let ripple = 30.0 * ((x as f64 * 0.5).sin() * (y as f64 * 0.35).cos());
            for value in [
                255.0 * u + ripple,
                255.0 * v - ripple,
                200.0 * (1.0 - u) * (1.0 - v) + 40.0,
                255.0 - 120.0 * u * v,
            ] {
                pixels.push(value.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    let mut compress = Compress::new(ColorSpace::JCS_CMYK);
    if ycck {
        compress.set_color_space(ColorSpace::JCS_YCCK);
    }
    compress.set_size(width as usize, height as usize);
    compress.set_quality(95.0);
    let mut started = compress.start_compress(Vec::new()).unwrap();
    started.write_scanlines(&pixels).unwrap();
    started.finish().unwrap()
}

/// `jpeg` with an EXIF APP1 segment after SOI holding only the orientation tag (0x0112).
pub fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
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

pub fn animated_gif() -> Vec<u8> {
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
pub fn huge_png_header() -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    [&b"\x89PNG\r\n\x1a\n"[..], &chunk(b"IHDR", &ihdr)].concat()
}

/// A whole JPEG's headers up to its scan, then EOI.
pub fn jpeg_headers_only(jpeg: &[u8]) -> Vec<u8> {
    let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    [&jpeg[..scan], &[0xFF, 0xD9]].concat()
}

/// Whole in structure, but the first component names quantisation table 3, which the file
/// does not define: libjpeg's fatal error.
pub fn jpeg_undefined_table(jpeg: &[u8]) -> Vec<u8> {
    let mut bytes = jpeg.to_vec();
    let frame = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bytes[frame + 12] = 3; // FF C0, length, precision, height, width, count, id, sampling
    bytes
}

/// A 24-bit BMP (BITMAPINFOHEADER, bottom-up rows padded to 4 bytes) of a gradient.
pub fn bmp(width: u32, height: u32) -> Vec<u8> {
    let row = (3 * width).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut bytes = b"BM".to_vec();
    for v in [size, 0, 54, 40] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&width.to_le_bytes());
    bytes.extend_from_slice(&height.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // planes
    bytes.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
    for v in [0u32, row * height, 2835, 2835, 0, 0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for y in (0..height).rev() {
        for x in 0..width {
            bytes.extend_from_slice(&[128, (y * 60) as u8, (x * 60) as u8]); // B, G, R
        }
        bytes.resize(bytes.len() + (row - 3 * width) as usize, 0);
    }
    bytes
}

/// A little-endian baseline TIFF: uncompressed 8-bit RGB, one strip.
pub fn tiff(width: u32, height: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i * 13) as u8, 100, 200])
        .collect();
    let entries: [(u16, u16, u32, u32); 10] = [
        (256, 4, 1, width),               // ImageWidth
        (257, 4, 1, height),              // ImageLength
        (258, 3, 3, 0),                   // BitsPerSample: 8,8,8 (at `bits`)
        (259, 3, 1, 1),                   // Compression: none
        (262, 3, 1, 2),                   // Photometric: RGB
        (273, 4, 1, 0),                   // StripOffsets (at `data`)
        (277, 3, 1, 3),                   // SamplesPerPixel
        (278, 4, 1, height),              // RowsPerStrip
        (279, 4, 1, pixels.len() as u32), // StripByteCounts
        (284, 3, 1, 1),                   // PlanarConfiguration: chunky
    ];
    let ifd_len = 2 + 12 * entries.len() as u32 + 4;
    let bits = 8 + ifd_len;
    let data = bits + 6;
    let mut bytes = b"II\x2a\0".to_vec();
    bytes.extend_from_slice(&8u32.to_le_bytes());
    bytes.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        let value = match tag {
            258 => bits,
            273 => data,
            _ => value,
        };
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&kind.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        if kind == 3 && count == 1 {
            bytes.extend_from_slice(&(value as u16).to_le_bytes());
            bytes.extend_from_slice(&[0, 0]);
        } else {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    bytes.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    for _ in 0..3 {
        bytes.extend_from_slice(&8u16.to_le_bytes());
    }
    bytes.extend_from_slice(&pixels);
    bytes
}

// ---------------------------------------------------------------- files browsers read their own way

/// The chunks of a PNG after its signature: `(kind, data)`.
fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
        chunks.push((kind, png[at + 8..at + 8 + length].to_vec()));
        at += 12 + length;
    }
    chunks
}

/// `png` with `extra` chunks (whole, as [`chunk`] makes them) right after its IHDR.
fn png_with_chunks(png: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
    let ihdr_end = 8 + 25;
    [&png[..ihdr_end], &extra.concat(), &png[ihdr_end..]].concat()
}

/// A gradient PNG with a `gAMA` chunk of `gamma` (× 100,000) and no ICC profile.
pub fn png_with_gamma(gamma: u32) -> Vec<u8> {
    png_with_chunks(
        &png(gradient(48, 40)),
        &[chunk(b"gAMA", &gamma.to_be_bytes())],
    )
}

/// A gradient PNG with `gAMA` 1/2.2 and `cHRM` of Adobe RGB (1998)'s primaries (D65 white).
pub fn png_with_adobe_chromaticities() -> Vec<u8> {
    let chrm: Vec<u8> = [31270u32, 32900, 64000, 33000, 21000, 71000, 15000, 6000]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    png_with_chunks(
        &png(gradient(48, 40)),
        &[
            chunk(b"gAMA", &45455u32.to_be_bytes()),
            chunk(b"cHRM", &chrm),
        ],
    )
}

/// An APNG whose default image (flat red) is not part of its one-frame animation (a
/// gradient): browsers show the gradient.
pub fn apng_with_hidden_default_image() -> Vec<u8> {
    let (width, height) = (48u32, 40u32);
    let default = png(image::RgbImage::from_pixel(
        width,
        height,
        image::Rgb([220, 20, 20]),
    ));
    let frame = png(gradient(width, height));
    let data = |png: &[u8]| -> Vec<u8> {
        png_chunks(png)
            .into_iter()
            .filter(|(kind, _)| kind == b"IDAT")
            .flat_map(|(_, data)| data)
            .collect()
    };
    let ihdr = &default[8..8 + 25];
    let actl = [1u32.to_be_bytes(), 0u32.to_be_bytes()].concat();
    let fctl = [
        &0u32.to_be_bytes()[..],
        &width.to_be_bytes(),
        &height.to_be_bytes(),
        &0u32.to_be_bytes(),
        &0u32.to_be_bytes(),
        &1u16.to_be_bytes(),
        &10u16.to_be_bytes(),
        &[0, 0],
    ]
    .concat();
    let fdat = [&1u32.to_be_bytes()[..], &data(&frame)].concat();
    [
        &b"\x89PNG\r\n\x1a\n"[..],
        ihdr,
        &chunk(b"acTL", &actl),
        &chunk(b"IDAT", &data(&default)),
        &chunk(b"fcTL", &fctl),
        &chunk(b"fdAT", &fdat),
        &chunk(b"IEND", &[]),
    ]
    .concat()
}

/// A GIF whose one frame (32×24, stripes) is larger than its logical screen (16×12):
/// browsers show the whole frame.
pub fn gif_frame_larger_than_screen() -> Vec<u8> {
    use image::codecs::gif::GifEncoder;
    let frame = image::RgbaImage::from_fn(32, 24, |x, y| {
        image::Rgba([
            if (x / 4) % 2 == 0 { 200 } else { 30 },
            (y * 10) as u8,
            90,
            255,
        ])
    });
    let mut bytes = Vec::new();
    GifEncoder::new(&mut bytes)
        .encode_frame(image::Frame::new(frame))
        .expect("gif frame");
    // The logical screen's size, bytes 6..10 of the header.
    bytes[6..8].copy_from_slice(&16u16.to_le_bytes());
    bytes[8..10].copy_from_slice(&12u16.to_le_bytes());
    bytes
}

/// `jpeg` with three stray bytes between its first two segments: libjpeg skips them with a
/// warning ("3 extraneous bytes before marker"), and so do the browsers.
pub fn jpeg_with_stray_bytes(jpeg: &[u8]) -> Vec<u8> {
    let first_end = 4 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
    [&jpeg[..first_end], &[0x00, 0x11, 0x22], &jpeg[first_end..]].concat()
}
