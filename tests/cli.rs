//! The `dynconf` command line on a random model and a synthetic CIFAR-format batch.
#![cfg(not(target_arch = "wasm32"))] // reads files / runs the native CLI

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A fresh directory with a random model (`models/m.safetensors`) and data batches.
fn workspace(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("models/m.safetensors"),
        common::random_cifar_model(3).build(),
    )
    .unwrap();
    std::fs::write(dir.join("data/tiny.bin"), common::random_cifar_batch(1, 30)).unwrap();
    std::fs::write(
        dir.join("data/test_batch.bin"),
        common::random_cifar_batch(2, 20),
    )
    .unwrap();
    dir
}

fn dynconf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run dynconf")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "dynconf failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn failure(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "expected exit code 1");
    String::from_utf8(output.stderr.clone()).unwrap()
}

const DATA: [&str; 2] = ["--data", "data"];
const MODEL: [&str; 2] = ["--model", "models/m.safetensors"];

#[test]
fn calibrate_then_eval() {
    let dir = workspace("calibrate-eval");
    let out = stdout(&dynconf(
        &dir,
        &[
            &["calibrate", "--split", "tiny", "--max-steps", "8"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(
        out.contains("kappa=30") && out.contains("divide-by-t") && out.contains("← chosen"),
        "{out}"
    );

    let calibration: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("models/m.calibration.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "split",
        "images",
        "max_steps",
        "decoding",
        "threshold",
        "tolerance",
        "front",
        "fixed",
        "oracle",
        "decodings_compared",
        "trace",
    ] {
        assert!(calibration.get(key).is_some(), "calibration lacks {key}");
    }
    assert_eq!(calibration["images"], 30);
    assert_eq!(
        calibration["decodings_compared"].as_array().unwrap().len(),
        7
    );
    let encoded: dynconf::calibrate::EncodedTraces =
        serde_json::from_value(calibration["trace"].clone()).unwrap();
    let traces = dynconf::calibrate::Traces::decode(&encoded).unwrap();
    assert_eq!((traces.images(), traces.steps()), (30, 8));
    let threshold = calibration["threshold"].as_f64().unwrap();

    let json = stdout(&dynconf(
        &dir,
        &[
            &["eval", "--split", "test", "--max-steps", "8", "--json"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert_eq!(json.lines().count(), 1, "one JSON object on one line");
    let summary: Value = serde_json::from_str(&json).unwrap();
    let mut keys: Vec<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "ann_accuracy",
            "dynamic",
            "fixed",
            "fixed_full",
            "images",
            "latency_reduction",
            "max_steps",
            "oracle",
            "seconds"
        ]
    );
    assert_eq!(summary["images"], 20);
    assert_eq!(summary["fixed"].as_array().unwrap().len(), 8);
    assert_eq!(summary["dynamic"]["threshold"].as_f64().unwrap(), threshold);
    for accuracy in [
        &summary["ann_accuracy"],
        &summary["dynamic"]["accuracy"],
        &summary["fixed_full"]["accuracy"],
        &summary["oracle"]["accuracy"],
    ] {
        let a = accuracy.as_f64().unwrap();
        assert!((0.0..=1.0).contains(&a));
    }
    let mean_steps = summary["dynamic"]["mean_steps"].as_f64().unwrap();
    assert!((1.0..=8.0).contains(&mean_steps));

    let table = stdout(&dynconf(
        &dir,
        &[
            &["eval", "--split", "test", "--max-steps", "8"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(
        table.contains("Dynamic Confidence")
            && table.contains("oracle")
            && table.contains("images/s"),
        "{table}"
    );
}

#[test]
fn dense_and_event_engines_report_the_same_numbers() {
    let dir = workspace("engines");
    let run = |engine: &str| {
        let args = [
            &[
                "eval",
                "--split",
                "tiny",
                "--max-steps",
                "6",
                "--threshold",
                "0.5",
                "--json",
                "--engine",
                engine,
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat();
        let mut summary: Value = serde_json::from_str(&stdout(&dynconf(&dir, &args))).unwrap();
        summary.as_object_mut().unwrap().remove("seconds");
        summary
    };
    assert_eq!(run("dense"), run("event"));
}

#[test]
fn classify_shows_each_step_and_the_stop() {
    let dir = workspace("classify");
    let image = image::RgbImage::from_fn(48, 40, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 6) as u8, 128])
    });
    image.save(dir.join("picture.png")).unwrap();
    let out = stdout(&dynconf(
        &dir,
        &[
            &[
                "classify",
                "picture.png",
                "--max-steps",
                "5",
                "--threshold",
                "0.0",
            ][..],
            &MODEL,
        ]
        .concat(),
    ));
    assert!(out.contains("48×40"), "{out}");
    assert_eq!(
        out.matches("← Dynamic Confidence stops").count(),
        1,
        "{out}"
    );
    assert!(out.contains("after 1 of 5 steps"), "{out}");
}

#[test]
fn errors_are_messages_with_exit_code_one() {
    let dir = workspace("errors");
    let missing_model = failure(&dynconf(
        &dir,
        &[
            "eval",
            "--data",
            "data",
            "--split",
            "tiny",
            "--model",
            "nowhere.safetensors",
            "--threshold",
            "0.9",
        ],
    ));
    assert!(
        missing_model.contains("cannot read model nowhere.safetensors"),
        "{missing_model}"
    );

    let no_threshold = failure(&dynconf(
        &dir,
        &[&["eval", "--split", "tiny"][..], &DATA, &MODEL].concat(),
    ));
    assert!(
        no_threshold.contains("no threshold") && no_threshold.contains("calibrate"),
        "{no_threshold}"
    );

    let no_data = failure(&dynconf(
        &dir,
        &[
            &["eval", "--split", "validation", "--threshold", "0.9"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(
        no_data.contains("data_batch_5.bin") && no_data.contains("CIFAR-10"),
        "{no_data}"
    );

    std::fs::write(dir.join("data/broken.bin"), [0u8; 100]).unwrap();
    let broken = failure(&dynconf(
        &dir,
        &[
            &["eval", "--split", "broken", "--threshold", "0.9"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(broken.contains("100 bytes"), "{broken}");

    let test_split = failure(&dynconf(
        &dir,
        &[&["calibrate", "--split", "test"][..], &DATA, &MODEL].concat(),
    ));
    assert!(test_split.contains("test split"), "{test_split}");

    std::fs::write(dir.join("models/bad.safetensors"), b"garbage").unwrap();
    let bad_model = failure(&dynconf(
        &dir,
        &["classify", "x.png", "--model", "models/bad.safetensors"],
    ));
    assert!(
        bad_model.contains("models/bad.safetensors") && bad_model.contains("safetensors"),
        "{bad_model}"
    );

    let missing_image = failure(&dynconf(
        &dir,
        &[
            &["classify", "nothing.png", "--threshold", "0.5"][..],
            &MODEL,
        ]
        .concat(),
    ));
    assert!(missing_image.contains("nothing.png"), "{missing_image}");
}
