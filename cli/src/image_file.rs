//! Image files (PNG, JPEG, WebP, GIF) → RGBA pixels in sRGB, for the command line (native
//! only: it uses the `image` crate, libjpeg-turbo's decoder and qcms; the page decodes with the
//! browser, and the pixels are meant to be the browser's).
//!
//! What a file goes through, in order, so that every refusal says what was expected:
//! 1. 0 bytes, HEIC/AVIF (an ISO-BMFF `ftyp` box), SVG, other formats and non-images are
//!    recognised from their first bytes and refused with what to do instead.
//! 2. The size in the header is checked against [`MAX_PIXELS`] before anything is decoded
//!    (a 20000×20000 header is refused at once, whatever follows it).
//! 3. Strict structure: a PNG must hold its chunks whole up to `IEND`; a JPEG must have a scan
//!    and reach its end-of-image marker (stray bytes between segments are skipped, as libjpeg
//!    and the browsers skip them). The decoders fill truncated data with grey or black
//!    and report success, and a damaged photo would then be classified as if it were whole.
//! 4. Decoding. JPEG with libjpeg-turbo's decoder (the `mozjpeg` crate, built from C
//!    sources; accurate integer IDCT, fancy chroma upsampling), which Chromium and Firefox
//!    use with the same settings: e2e/jpeg-match.test.mjs measures 0 difference against both,
//!    baseline and progressive, 4:4:4, 4:2:2 and 4:2:0, even and odd sizes (the `image`
//!    crate's zune-jpeg differed by up to 3 levels at 4:4:4, 10 at 4:2:0 and 14 at 4:2:2).
//!    CMYK/YCCK JPEGs too, as libjpeg's CMYK turned into RGB with the browsers' formula (0
//!    difference from both on the corpus of cli/tests/common/corpus.rs). The other formats with
//!    the `image` crate. An animated GIF gives its first frame, as the page's canvas path does,
//!    on a canvas that holds it whole when it is larger than the logical screen (as both
//!    browsers; the `image` crate cut it); an APNG whose default image is not part of the
//!    animation gives the animation's first frame, as browsers show it.
//! 5. Colour management, as browsers do before drawing: an embedded ICC profile (PNG `iCCP`,
//!    JPEG `APP2`, WebP `ICCP`) that is RGB, or grey on a grey image, converts the pixels to
//!    sRGB with qcms (Firefox's colour management; 16-bit images are brought to 8 bits first).
//!    The same e2e test measures 0 difference against Firefox and 1 level against Chromium
//!    (skcms) on Adobe RGB (1998) PNG, JPEG and WebP and a linear-grey PNG. A profile that
//!    cannot be read, or is for another colour space (CMYK, Lab), is ignored and the pixels
//!    are taken as sRGB, as for untagged images ([`ColourProfile`] says which): a profile is
//!    never a reason to refuse an image. A PNG with `gAMA` (and `cHRM`) but no `iCCP`, `sRGB`
//!    or `cICP` is converted as Chromium does ([`ColourProfile::Gamma`], within 1 level of it);
//!    `cICP` alone is not applied.
//! 6. The EXIF orientation (JPEG, PNG and WebP carry it), as browsers do (CSS
//!    `image-orientation: from-image` is their default).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

pub use dynconf::preprocess::{MAX_FILE_BYTES, MAX_PIXELS};

/// Why a file cannot be classified. The messages say what was expected; the caller adds
/// the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageFileError {
    #[error("the file is empty (0 bytes); expected a PNG, JPEG, WebP or GIF image")]
    Empty,
    #[error("the file is {} MB; the limit is {} MB (the page's too): try a smaller image", mebibytes(*.0), mebibytes(MAX_FILE_BYTES))]
    FileTooLarge(u64),
    #[error("{0} images are not supported, convert to JPEG or PNG")]
    Unsupported(&'static str),
    #[error("not an image: expected PNG, JPEG, WebP or GIF, but the file starts with {0}")]
    NotAnImage(String),
    #[error("{width}×{height} pixels ({} megapixels) is too large: the limit is {} megapixels ({MAX_PIXELS} pixels)", megapixels(*width, *height), MAX_PIXELS / 1_000_000)]
    TooLarge { width: u32, height: u32 },
    #[error("the image is empty ({width}×{height} pixels)")]
    NoPixels { width: u32, height: u32 },
    #[error("damaged or truncated {format}: {detail}")]
    Damaged {
        format: &'static str,
        detail: String,
    },
}

/// Bytes in MB (MiB) with one decimal, as the page writes them.
fn mebibytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// Checks a file's size against [`MAX_FILE_BYTES`] (before reading it, from its metadata).
pub fn check_file_size(bytes: u64) -> Result<(), ImageFileError> {
    if bytes > MAX_FILE_BYTES {
        return Err(ImageFileError::FileTooLarge(bytes));
    }
    Ok(())
}

fn megapixels(width: u32, height: u32) -> String {
    format!("{:.1}", width as f64 * height as f64 / 1e6)
}

/// A decoded image, oriented as it is meant to be seen.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    /// Interleaved RGBA, 8 bits per channel, row-major.
    pub rgba: Vec<u8>,
    /// Width and height after the orientation is applied.
    pub width: u32,
    pub height: u32,
    /// `PNG`, `JPEG`, `WebP` or `GIF`.
    pub format: &'static str,
    /// The EXIF orientation that was applied (1 = none, 6 = rotate 90° clockwise, 8 = 90°
    /// anticlockwise, …).
    pub orientation: u8,
    /// What was done with an embedded ICC colour profile.
    pub colour: ColourProfile,
}

/// An image's embedded ICC colour profile, and what decoding did with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColourProfile {
    /// No profile: the pixels are taken as sRGB, as browsers do.
    None,
    /// An RGB or grey profile: the pixels were converted from it to sRGB (with qcms, Firefox's
    /// colour management), as browsers do before drawing.
    Converted,
    /// A profile that could not be used (unreadable, or for another colour space such as
    /// CMYK, whose pixels the decoder has already turned into RGB): ignored, the pixels are
    /// taken as sRGB. Never a reason to refuse the image.
    Ignored,
    /// No profile, but a PNG `gAMA` chunk (with or without `cHRM`) that is not sRGB's 1/2.2:
    /// converted to sRGB from the gamma and primaries it states (sRGB's without `cHRM`), as
    /// Chromium does (`"gama"` in JSON).
    #[serde(rename = "gama")]
    Gamma,
}

/// Decodes an image file's bytes (see the module docs for the checks, in order).
pub fn decode(bytes: &[u8]) -> Result<DecodedImage, ImageFileError> {
    check_file_size(bytes.len() as u64)?;
    let format = recognise(bytes)?;
    let name = format_name(format);
    if let Some((width, height)) = header_size(format, bytes) {
        check_size(width, height)?;
    }
    let png = match format {
        ImageFormat::Png => Some(check_png(bytes)?),
        ImageFormat::Jpeg => {
            check_jpeg(bytes)?;
            None
        }
        _ => None,
    };
    let damaged = |e: image::ImageError| ImageFileError::Damaged {
        format: name,
        detail: e.to_string(),
    };
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .map_err(damaged)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height)?;
    // A malformed EXIF block is no reason to refuse the pixels: it counts as no rotation.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // Likewise an ICC profile that cannot be extracted counts as none.
    let icc = decoder.icc_profile().ok().flatten();
    // Where the browsers' pixels differ from the image crate's: JPEG from libjpeg-turbo's
    // code, a GIF's first frame on a canvas that holds it, an APNG's first animation frame.
    let browsers = match format {
        ImageFormat::Jpeg => decode_jpeg(bytes)?,
        ImageFormat::Gif => Some(gif_first_frame(bytes)?),
        ImageFormat::Png if png.is_some_and(|p| p.default_image_hidden) => {
            Some(apng_first_frame(bytes).map_err(damaged)?)
        }
        _ => None,
    };
    let image = match browsers {
        Some(image) => image,
        None => DynamicImage::from_decoder(decoder).map_err(damaged)?,
    };
    let (mut image, colour) = match (icc.as_deref(), png) {
        (None, Some(chunks)) if !chunks.colour_space_chunk => gamma_to_srgb(image, &chunks),
        (icc, _) => to_srgb(image, icc),
    };
    image.apply_orientation(orientation);
    let image = image.into_rgba8();
    Ok(DecodedImage {
        width: image.width(),
        height: image.height(),
        rgba: image.into_raw(),
        format: name,
        orientation: orientation.to_exif(),
        colour,
    })
}

/// Decodes a JPEG with libjpeg-turbo's decoder (mozjpeg is its fork with a different encoder):
/// accurate integer IDCT and fancy chroma upsampling, the settings of Chromium and Firefox,
/// whose pixels this matches bit for bit (e2e/jpeg-match.test.mjs); CMYK and YCCK JPEGs as
/// [`inverted_cmyk`] says. `None` for other colour spaces (left to the image crate).
fn decode_jpeg(bytes: &[u8]) -> Result<Option<DynamicImage>, ImageFileError> {
    use mozjpeg::{ColorSpace, Decompress};
    // libjpeg's errors unwind out of the decoder (mozjpeg's error manager, which neither
    // prints nor calls the panic hook); its warnings are silenced, as the browsers ignore them.
    let decoded = std::panic::catch_unwind(|| -> std::io::Result<Option<DynamicImage>> {
        let decompress = Decompress::new_mem(bytes)?;
        let grey = match decompress.color_space() {
            ColorSpace::JCS_GRAYSCALE => true,
            ColorSpace::JCS_YCbCr | ColorSpace::JCS_RGB => false,
            ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => {
                return inverted_cmyk(decompress.to_colorspace(ColorSpace::JCS_CMYK)?).map(Some)
            }
            _ => return Ok(None),
        };
        let mut started = if grey {
            decompress.grayscale()?
        } else {
            decompress.rgb()?
        };
        let (width, height) = (started.width() as u32, started.height() as u32);
        let pixels: Vec<u8> = started.read_scanlines()?;
        started.finish()?;
        let short = || std::io::Error::other("fewer rows than the frame header says");
        Ok(Some(if grey {
            DynamicImage::ImageLuma8(
                image::GrayImage::from_raw(width, height, pixels).ok_or_else(short)?,
            )
        } else {
            DynamicImage::ImageRgb8(
                image::RgbImage::from_raw(width, height, pixels).ok_or_else(short)?,
            )
        }))
    });
    match decoded {
        Ok(Ok(image)) => Ok(image),
        Ok(Err(error)) => Err(damaged("JPEG", error.to_string())),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("libjpeg failed");
            let message = message
                .strip_prefix("libjpeg fatal error: ")
                .unwrap_or(message);
            Err(damaged("JPEG", message.to_string()))
        }
    }
}

/// A four-component JPEG as the browsers show it: libjpeg gives CMYK (turning YCCK into
/// CMYK), read as Adobe's inverted CMYK (255 = no ink), whatever the APP14 marker says, and
/// each channel becomes `C·K/255`, rounded down: Chromium's `SetPixel<JCS_CMYK>` and
/// Firefox's `cmyk_convert_bgra` (e2e/jpeg-match.test.mjs on the corpus's CMYK and YCCK
/// JPEGs: 0 difference from both; the `image` crate's zune-jpeg rounded `C·K/255` to nearest
/// after its own IDCT and differed by up to 3). An embedded CMYK profile is not applied.
fn inverted_cmyk<R>(
    mut started: mozjpeg::decompress::DecompressStarted<R>,
) -> std::io::Result<DynamicImage> {
    let (width, height) = (started.width() as u32, started.height() as u32);
    let cmyk: Vec<[u8; 4]> = started.read_scanlines()?;
    started.finish()?;
    let rgb: Vec<u8> = cmyk
        .iter()
        .flat_map(|&[c, m, y, k]| [c, m, y].map(|v| (v as u32 * k as u32 / 255) as u8))
        .collect();
    image::RgbImage::from_raw(width, height, rgb)
        .map(DynamicImage::ImageRgb8)
        .ok_or_else(|| std::io::Error::other("fewer rows than the frame header says"))
}

/// The pixels in sRGB, 8 bits per channel: converted with the embedded ICC profile when
/// there is a usable one (RGB, or grey for a grey image), otherwise taken as sRGB already.
fn to_srgb(image: DynamicImage, icc: Option<&[u8]>) -> (DynamicImage, ColourProfile) {
    use qcms::{DataType, Profile};
    let Some(icc) = icc else {
        return (image, ColourProfile::None);
    };
    // The colour space signature, bytes 16..20 of the ICC header.
    let space = icc.get(16..20);
    let grey_image = !image.color().has_color();
    let transform = |from: DataType, to: DataType| {
        srgb_transform(&*Profile::new_from_slice(icc, false)?, from, to)
    };
    match space {
        Some(b"RGB ") => {
            let Some(transform) = transform(DataType::RGBA8, DataType::RGBA8) else {
                return (image, ColourProfile::Ignored);
            };
            let mut rgba = image.into_rgba8();
            transform.apply(&mut rgba);
            (DynamicImage::ImageRgba8(rgba), ColourProfile::Converted)
        }
        Some(b"GRAY") if grey_image => {
            let Some(transform) = transform(DataType::GrayA8, DataType::RGBA8) else {
                return (image, ColourProfile::Ignored);
            };
            let grey = image.into_luma_alpha8();
            let mut rgba = image::RgbaImage::new(grey.width(), grey.height());
            transform.convert(&grey, &mut rgba);
            (DynamicImage::ImageRgba8(rgba), ColourProfile::Converted)
        }
        _ => (image, ColourProfile::Ignored),
    }
}

/// The qcms transform from `profile` to sRGB, as Firefox makes it: matrix/TRC profiles (nearly
/// all photos') have one mapping whatever the intent; perceptual is Firefox's default for the
/// others.
fn srgb_transform(
    profile: &qcms::Profile,
    from: qcms::DataType,
    to: qcms::DataType,
) -> Option<qcms::Transform> {
    let mut srgb = qcms::Profile::new_sRGB();
    srgb.precache_output_transform();
    qcms::Transform::new_to(profile, &srgb, from, to, qcms::Intent::Perceptual)
}

/// sRGB's primaries and D65 white point (x, y).
const SRGB_CHROMATICITIES: [f64; 8] = [0.3127, 0.3290, 0.64, 0.33, 0.30, 0.60, 0.15, 0.06];

/// A PNG without an ICC profile or `sRGB` chunk, converted from its `gAMA` (and `cHRM`) as
/// Chromium does: a profile of the stated primaries (sRGB's without `cHRM`) and a pure power
/// curve of 1/gamma, converted to sRGB with qcms. A gamma within 0.05 of sRGB's nominal 2.2
/// without `cHRM` is taken as sRGB, as both browsers leave it (Firefox applies gamma-only
/// chunks as a plain power, `png_set_gamma(2.2, g)`, and differs from Chromium in the
/// darkest tones); an invalid gamma (0) is ignored.
fn gamma_to_srgb(image: DynamicImage, chunks: &PngChunks) -> (DynamicImage, ColourProfile) {
    use qcms::{CIE_xyY, CIE_xyYTRIPLE, DataType, Profile};
    let Some(gamma) = chunks.gamma.filter(|&g| g > 0) else {
        return (image, ColourProfile::None);
    };
    let exponent = 100_000.0 / gamma as f64;
    if chunks.chromaticities.is_none() && (exponent - 2.2).abs() <= 0.05 {
        return (image, ColourProfile::None);
    }
    let c = chunks
        .chromaticities
        .map_or(SRGB_CHROMATICITIES, |c| c.map(|v| v as f64 / 100_000.0));
    let xy = |x: f64, y: f64| CIE_xyY { x, y, Y: 1.0 };
    let transform = Profile::new_rgb_with_gamma_set(
        xy(c[0], c[1]),
        CIE_xyYTRIPLE {
            red: xy(c[2], c[3]),
            green: xy(c[4], c[5]),
            blue: xy(c[6], c[7]),
        },
        exponent as f32,
        exponent as f32,
        exponent as f32,
    )
    .and_then(|profile| srgb_transform(&profile, DataType::RGBA8, DataType::RGBA8));
    let Some(transform) = transform else {
        return (image, ColourProfile::Ignored); // primaries that make no matrix
    };
    let mut rgba = image.into_rgba8();
    transform.apply(&mut rgba);
    (DynamicImage::ImageRgba8(rgba), ColourProfile::Gamma)
}

/// A GIF's first frame as browsers draw it: on a canvas of the logical screen enlarged to hold
/// the frame (a frame larger than the screen is shown whole; the `image` crate cut it to the
/// screen), transparent where the frame does not cover it.
fn gif_first_frame(bytes: &[u8]) -> Result<DynamicImage, ImageFileError> {
    let failed = |e: gif::DecodingError| damaged("GIF", e.to_string());
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    // Enough for the largest image accepted, no more.
    options.set_memory_limit(gif::MemoryLimit::Bytes(
        std::num::NonZeroU64::new(MAX_PIXELS * 4).expect("a positive limit"),
    ));
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(failed)?;
    let (screen_width, screen_height) = (decoder.width() as u32, decoder.height() as u32);
    let frame = decoder
        .read_next_frame()
        .map_err(failed)?
        .ok_or_else(|| damaged("GIF", "no image in the file".into()))?;
    let (left, top) = (frame.left as u32, frame.top as u32);
    let (width, height) = (frame.width as u32, frame.height as u32);
    let canvas_width = screen_width.max(left + width);
    let canvas_height = screen_height.max(top + height);
    check_size(canvas_width, canvas_height)?;
    let mut canvas = image::RgbaImage::new(canvas_width, canvas_height);
    let pixels = image::RgbaImage::from_raw(width, height, frame.buffer.to_vec())
        .ok_or_else(|| damaged("GIF", "a frame shorter than its size".into()))?;
    image::imageops::replace(&mut canvas, &pixels, left as i64, top as i64);
    Ok(DynamicImage::ImageRgba8(canvas))
}

/// The first frame of an APNG's animation (for files whose default image is not part of it).
fn apng_first_frame(bytes: &[u8]) -> image::ImageResult<DynamicImage> {
    use image::AnimationDecoder;
    let decoder = image::codecs::png::PngDecoder::new(Cursor::new(bytes))?.apng()?;
    let frame = decoder.into_frames().next().ok_or_else(|| {
        image::ImageError::Decoding(image::error::DecodingError::new(
            ImageFormat::Png.into(),
            "an animation without frames",
        ))
    })??;
    Ok(DynamicImage::ImageRgba8(frame.into_buffer()))
}

fn check_size(width: u32, height: u32) -> Result<(), ImageFileError> {
    if width == 0 || height == 0 {
        return Err(ImageFileError::NoPixels { width, height });
    }
    if width as u64 * height as u64 > MAX_PIXELS {
        return Err(ImageFileError::TooLarge { width, height });
    }
    Ok(())
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Hdr => "HDR (Radiance)",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Farbfeld => "farbfeld",
        _ => "this format's",
    }
}

/// The format from the first bytes: PNG, JPEG, WebP or GIF, or why not.
fn recognise(bytes: &[u8]) -> Result<ImageFormat, ImageFileError> {
    if bytes.is_empty() {
        return Err(ImageFileError::Empty);
    }
    if let Some(kind) = iso_media(bytes) {
        return Err(ImageFileError::Unsupported(kind));
    }
    if is_svg(bytes) {
        return Err(ImageFileError::Unsupported("SVG (vector)"));
    }
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif)) => {
            Ok(f)
        }
        Ok(other) => Err(ImageFileError::Unsupported(format_name(other))),
        Err(_) => Err(ImageFileError::NotAnImage(describe_start(bytes))),
    }
}

/// HEIC/HEIF, AVIF or other ISO-BMFF media (`....ftyp` + brands).
fn iso_media(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 12 || &bytes[4..8] != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = size.clamp(12, bytes.len());
    // The major brand, then the compatible brands (skipping the minor version).
    let brands =
        std::iter::once(&bytes[8..12]).chain(bytes.get(16..end).unwrap_or(&[]).chunks_exact(4));
    let mut kind = "ISO media (MP4, MOV or HEIF)";
    for brand in brands {
        match brand {
            b"avif" | b"avis" => return Some("AVIF"),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                kind = "HEIC/HEIF"
            }
            _ => {}
        }
    }
    Some(kind)
}

fn is_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    (text.starts_with("<?xml") || text.starts_with("<svg") || text.starts_with("<!DOCTYPE svg"))
        && text.contains("<svg")
}

/// The first bytes, as text when they read as text, else in hex.
fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(16)];
    let printable = head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\n' || b == b'\r' || b == b'\t');
    if printable {
        let text: String = String::from_utf8_lossy(head)
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let more = if bytes.len() > head.len() { "…" } else { "" };
        format!("{text:?}{more} (text)")
    } else {
        let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("the bytes {}", hex.join(" "))
    }
}

/// Width and height from the header, without decoding (PNG's IHDR, JPEG's SOF, GIF's screen).
fn header_size(format: ImageFormat, bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    match format {
        ImageFormat::Png if bytes.get(12..16) == Some(b"IHDR") => Some((be32(16)?, be32(20)?)),
        ImageFormat::Gif => {
            let le16 = |at: usize| {
                bytes
                    .get(at..at + 2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as u32)
            };
            Some((le16(6)?, le16(8)?))
        }
        ImageFormat::Jpeg => jpeg_segments(bytes).ok()?.size,
        _ => None,
    }
}

fn damaged(format: &'static str, detail: String) -> ImageFileError {
    ImageFileError::Damaged { format, detail }
}

/// What the chunks of a PNG say beyond its pixels, for decoding it as browsers do.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct PngChunks {
    /// An APNG (`acTL`) whose default image (`IDAT`) has no `fcTL` before it: not a frame of
    /// the animation. Browsers show the animation's first frame instead.
    default_image_hidden: bool,
    /// `gAMA`: the file's gamma × 100,000 (45,455 for 1/2.2).
    gamma: Option<u32>,
    /// `cHRM`: white point and red, green, blue primaries (x, y) × 100,000.
    chromaticities: Option<[u32; 8]>,
    /// `iCCP`, `sRGB` or `cICP`: colour information that takes precedence over `gAMA`/`cHRM`.
    colour_space_chunk: bool,
}

/// Every chunk whole, at least one IDAT, and the IEND chunk reached; what the chunks before
/// the image data say ([`PngChunks`]).
fn check_png(bytes: &[u8]) -> Result<PngChunks, ImageFileError> {
    let mut at = 8;
    let mut image_data = false;
    let mut animated = false;
    let mut frame_control = false;
    let mut chunks = PngChunks::default();
    loop {
        let Some(header) = bytes.get(at..at + 8) else {
            return Err(damaged(
                "PNG",
                format!(
                    "the file ends after {} bytes, before the IEND chunk (truncated)",
                    bytes.len()
                ),
            ));
        };
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = String::from_utf8_lossy(&header[4..8]).into_owned();
        let end = at + 12 + length;
        if end > bytes.len() {
            return Err(damaged(
                "PNG",
                format!(
                    "the file ends after {} bytes, inside the {kind} chunk that needs {end} (truncated)",
                    bytes.len()
                ),
            ));
        }
        let data = &bytes[at + 8..at + 8 + length];
        let be32 = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        match kind.as_str() {
            "IDAT" if !image_data => {
                image_data = true;
                chunks.default_image_hidden = animated && !frame_control;
            }
            "IDAT" => {}
            "IEND" if image_data => return Ok(chunks),
            "IEND" => return Err(damaged("PNG", "no image data (no IDAT chunk)".into())),
            "acTL" => animated = true,
            "fcTL" => frame_control = true,
            // Colour chunks count before the image data only, as in decoders.
            "gAMA" if !image_data && length == 4 => chunks.gamma = Some(be32(0)),
            "cHRM" if !image_data && length == 32 => {
                chunks.chromaticities = Some(std::array::from_fn(|k| be32(4 * k)))
            }
            "iCCP" | "sRGB" | "cICP" if !image_data => chunks.colour_space_chunk = true,
            _ => {}
        }
        at = end;
    }
}

struct JpegSegments {
    /// Width and height from the frame header.
    size: Option<(u32, u32)>,
}

/// Walks the JPEG's markers: a frame header, at least one scan, and the end-of-image marker
/// after the last scan's data.
fn jpeg_segments(bytes: &[u8]) -> Result<JpegSegments, ImageFileError> {
    let truncated = |what: &str| {
        damaged(
            "JPEG",
            format!(
                "the file ends after {} bytes, {what} (truncated)",
                bytes.len()
            ),
        )
    };
    let mut at = 2; // after SOI
    let mut size = None;
    let mut scans = 0;
    loop {
        // Stray bytes before a marker are skipped, as libjpeg does (with a warning, "N
        // extraneous bytes before marker"; Chromium and Firefox decode such files), then fill
        // bytes (0xFF) may precede it.
        while bytes.get(at).is_some_and(|&b| b != 0xFF) {
            at += 1;
        }
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        // Only the end of the file stops the search for a marker.
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return Err(truncated("before the end-of-image marker"));
        };
        at += 2;
        match marker {
            0xD9 if scans > 0 => return Ok(JpegSegments { size }),
            0xD9 => {
                return Err(damaged(
                    "JPEG",
                    "no image data: the file has headers but no scan".into(),
                ))
            }
            0x01 | 0xD0..=0xD7 => continue, // no length
            _ => {}
        }
        let Some(length) = bytes
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        else {
            return Err(truncated("inside a segment header"));
        };
        let end = at + length;
        if length < 2 || end > bytes.len() {
            return Err(truncated(&format!(
                "inside the segment of marker FF{marker:02X}"
            )));
        }
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame && length >= 7 {
            let height = u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]) as u32;
            let width = u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]) as u32;
            size = Some((width, height));
        }
        at = end;
        if marker == 0xDA {
            scans += 1;
            // Entropy-coded data: up to the next marker that is not a stuffed 0x00 or a
            // restart marker.
            loop {
                match bytes.get(at..at + 2) {
                    None => {
                        return Err(truncated(
                            "inside the image data, before the end-of-image marker",
                        ))
                    }
                    Some([0xFF, next])
                        if *next != 0x00 && !(0xD0..=0xD7).contains(next) && *next != 0xFF =>
                    {
                        break
                    }
                    _ => at += 1,
                }
            }
        }
    }
}

fn check_jpeg(bytes: &[u8]) -> Result<(), ImageFileError> {
    let segments = jpeg_segments(bytes)?;
    if segments.size.is_none() {
        return Err(damaged("JPEG", "no frame header (SOF marker)".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb(pixel(x, y)));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95)
            .encode_image(&image)
            .unwrap();
        bytes
    }

    /// An EXIF APP1 segment holding only the orientation, inserted after SOI.
    fn with_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend_from_slice(&[0, 1]); // one entry
        tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let length = (app1.len() + 2) as u16;
        [
            &jpeg[..2],
            &[0xFF, 0xE1],
            &length.to_be_bytes(),
            &app1,
            &jpeg[2..],
        ]
        .concat()
    }

    #[test]
    fn exif_orientation_is_applied() {
        // Red on the left half, blue on the right: after rotating 90° clockwise (6) the red
        // half is on top; anticlockwise (8), at the bottom.
        let plain = jpeg(
            32,
            16,
            |x, _| if x < 16 { [255, 0, 0] } else { [0, 0, 255] },
        );
        for (orientation, red_on_top) in [(6, true), (8, false)] {
            let image = decode(&with_orientation(&plain, orientation)).unwrap();
            assert_eq!(
                (image.width, image.height, image.orientation),
                (16, 32, orientation)
            );
            let red = |y: u32| image.rgba[(y * 16 + 8) as usize * 4] > 200;
            assert_eq!(red(4), red_on_top, "orientation {orientation}");
            assert_eq!(red(28), !red_on_top, "orientation {orientation}");
        }
        assert_eq!(decode(&plain).unwrap().orientation, 1);
    }

    #[test]
    fn truncated_and_header_only_jpegs_are_errors() {
        let whole = jpeg(64, 64, |x, y| [x as u8 * 4, y as u8 * 4, 99]);
        assert!(decode(&whole).is_ok());
        for cut in [whole.len() - 2, whole.len() / 2, 700] {
            let message = decode(&whole[..cut]).unwrap_err().to_string();
            assert!(message.contains("truncated"), "{cut}: {message}");
        }
        // Headers up to the scan, then EOI.
        let scan = whole.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let headers = [&whole[..scan], &[0xFF, 0xD9]].concat();
        let message = decode(&headers).unwrap_err().to_string();
        assert!(message.contains("no scan"), "{message}");
    }

    #[test]
    fn header_sizes_are_checked_before_decoding() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&20000u32.to_be_bytes());
        png.extend_from_slice(&20000u32.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            decode(&png).unwrap_err(),
            ImageFileError::TooLarge {
                width: 20000,
                height: 20000
            }
        );
    }

    #[test]
    fn what_is_not_an_image_is_named() {
        assert_eq!(decode(b"").unwrap_err(), ImageFileError::Empty);
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(
            decode(heic).unwrap_err(),
            ImageFileError::Unsupported("HEIC/HEIF")
        );
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";
        assert_eq!(
            decode(avif).unwrap_err(),
            ImageFileError::Unsupported("AVIF")
        );
        let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
        assert!(matches!(decode(svg), Err(ImageFileError::Unsupported(s)) if s.contains("SVG")));
        let text = decode(b"Hello, this is not a JPEG")
            .unwrap_err()
            .to_string();
        assert!(text.contains("\"Hello, this is n\"… (text)"), "{text}");
        assert_eq!(
            decode(b"BM\0\0\0\0\0\0\0\0").unwrap_err(),
            ImageFileError::Unsupported("BMP")
        );
    }
}
