//! `dynconf classify` on awkward and broken image files, all generated (no dataset pixels):
//! each case asserts the exit code and what the message says (issue 12, item 6). The files
//! are the corpus of cli/tests/common/corpus.rs, which e2e/inputs.test.mjs uploads to the demo
//! page too (through cli/examples/input_corpus.rs).
//!
//! Valid but unusual files must classify (exit 0); broken or unsupported ones must fail with
//! exit code 1 and a message that names the file and says what was expected.

mod common;

use common::corpus::{self, gradient, png, solid, tagged, Kind};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use common::{MODEL_FLAGS as MODEL, STOP_FLAGS as STOP};

/// A fresh directory with a random CIFAR-shaped model and the files of `files`.
fn workspace(name: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = common::model_workspace(&format!("bad-inputs-{name}"), 3);
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

/// Every case of the corpus (cli/tests/common/corpus.rs): valid files classify with their size,
/// format, EXIF orientation and ICC handling; the others are refused, by name, with what was
/// expected.
#[test]
fn every_corpus_case_classifies_or_is_refused_by_name() {
    let cases = corpus::cases();
    assert!(cases.iter().any(|c| c.is_valid()) && cases.iter().any(|c| !c.is_valid()));
    for case in cases {
        match case.kind {
            Kind::Valid {
                width,
                height,
                format,
                orientation,
                icc_profile,
            } => {
                let json = classify_ok(case.name, case.bytes);
                assert_run(&json, width as u64, height as u64);
                assert_eq!(json["format"], format, "{}", case.name);
                assert_eq!(json["orientation"], orientation, "{}", case.name);
                assert_eq!(json["icc_profile"], icc_profile, "{}", case.name);
            }
            Kind::Invalid { cli_words } => {
                assert_mentions(&classify_error(case.name, case.bytes), cli_words)
            }
        }
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
    // Negative, empty and oversized squares are usage errors too, each saying why.
    for (crop, why) in [
        ("-5,0,100", "cannot be negative"),
        ("0,0,0", "has no pixels"),
        ("99999999999,0,1", "99999999999 is too large"),
    ] {
        let out = classify(&dir, &["--crop", crop, "wide.png"]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{crop}: {stderr}");
        assert_mentions(&stderr, &[crop, why]);
    }
}

#[test]
fn a_directory_is_named_as_one() {
    let dir = workspace("directory", &[]);
    std::fs::create_dir_all(dir.join("folder.jpg")).unwrap();
    let out = classify(&dir, &["folder.jpg"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_mentions(
        &stderr,
        &["error: folder.jpg: is a directory; expected an image file"],
    );
}

/// A file over the size limit the page has too (`preprocess::MAX_FILE_BYTES`, 20 MiB) is
/// refused before it is read, with the page's words.
#[test]
fn a_file_over_the_size_limit_is_refused_as_on_the_page() {
    let dir = workspace("too-big", &[]);
    let mut big = corpus::png(solid([9, 9, 9]));
    big.resize(21 * 1024 * 1024, 0); // a PNG with 21 MiB of trailing bytes
    std::fs::write(dir.join("big.png"), big).unwrap();
    let out = classify(&dir, &["big.png"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_mentions(
        &stderr,
        &["error: big.png: the file is 21.0 MB; the limit is 20.0 MB"],
    );
}

#[test]
fn a_model_file_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = workspace("model-too-big", &[("a.png", corpus::png(solid([9, 9, 9])))]);
    // A sparse file: 300 MiB long, no disk used; reading it would take the memory.
    let file = std::fs::File::create(dir.join("models/big.safetensors")).unwrap();
    file.set_len(300 * 1024 * 1024).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(&dir)
        .args(["classify", "--model", "models/big.safetensors", "a.png"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_mentions(
        &stderr,
        &["models/big.safetensors: the model file is 300.0 MB; the limit is 256 MB"],
    );
}

#[test]
fn a_run_that_never_exceeds_theta_says_so() {
    let dir = workspace("theta", &[("wide.png", png(gradient(451, 300)))]);
    // θ = 10^30 is never exceeded: the run goes to T_max and says so; θ = −10^30 stops at once.
    for (threshold, reached, stop) in [("1e30", false, 6), ("-1e30", true, 1)] {
        let run = |json: bool| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_dynconf"));
            command.current_dir(&dir).arg("classify").args(MODEL);
            command.args(["--decoder", "max_softmax:kappa=2", "--max-steps", "6"]);
            command.arg(format!("--threshold={threshold}"));
            if json {
                command.arg("--json");
            }
            let out = command.arg("wide.png").output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let json: Value = serde_json::from_str(&run(true)).unwrap();
        assert_eq!(json["threshold_reached"], reached, "{json}");
        assert_eq!(json["stop_step"], stop, "{json}");
        let text = run(false);
        let said =
            text.contains("T_max reached, θ never exceeded") && text.contains("never went above θ");
        assert_eq!(said, !reached, "{text}");
        assert_eq!(
            text.contains("← Dynamic Confidence stops"),
            reached,
            "{text}"
        );
    }
}

// ---------------------------------------------------------------- colour profiles

/// Every pixel of `decoded` within `tolerance` of `expected` (RGB), alpha opaque.
fn assert_every_pixel(
    decoded: &dynconf_cli::image_file::DecodedImage,
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
    use dynconf_cli::image_file::{decode, ColourProfile};
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
    use dynconf_cli::image_file::{decode, ColourProfile};
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
            "max_softmax:kappa=2",
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
