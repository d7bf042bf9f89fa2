//! The `dynconf` command line on a random model and a synthetic CIFAR-format batch.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A fresh directory with a random model (`models/m.safetensors`) and data batches.
fn workspace(name: &str) -> PathBuf {
    let dir = common::model_workspace(&format!("cli-{name}"), 3);
    std::fs::create_dir_all(dir.join("data")).unwrap();
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

/// `dynconf eval --json` with `args`, its wall-clock `seconds` removed (they differ run to run).
fn eval_json(dir: &Path, args: &[&str]) -> Value {
    let mut summary: Value = serde_json::from_str(&stdout(&dynconf(dir, args))).unwrap();
    summary.as_object_mut().unwrap().remove("seconds");
    summary
}

fn failure(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "expected exit code 1");
    String::from_utf8(output.stderr.clone()).unwrap()
}

const DATA: [&str; 2] = ["--data", "data"];
use common::MODEL_FLAGS as MODEL;

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
    for name in [
        "max_softmax:kappa=30",
        "divide_by_t",
        "margin:kappa=2",
        "entropy:kappa=4",
        "stability:kappa=8,k=3",
        "learned",
        "← chosen",
        "cross-fitted",
    ] {
        assert!(out.contains(name), "{name} missing: {out}");
    }

    let calibration: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("models/m.calibration.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "format",
        "model_sha256",
        "split",
        "images",
        "max_steps",
        "tolerance",
        "decoder",
        "threshold",
        "in_sample",
        "crossfit",
        "fixed",
        "oracle",
        "decoders",
        "candidates",
    ] {
        assert!(calibration.get(key).is_some(), "calibration lacks {key}");
    }
    assert_eq!(calibration["images"], 30);
    assert_eq!(calibration["candidates"].as_array().unwrap().len(), 44);
    assert_eq!(calibration["decoders"].as_array().unwrap().len(), 5);
    assert_eq!(
        calibration["crossfit"]["folds"].as_array().unwrap().len(),
        5
    );
    let model_bytes = std::fs::read(dir.join("models/m.safetensors")).unwrap();
    assert_eq!(
        calibration["model_sha256"],
        dynconf::calibrate::sha256_hex(&model_bytes)
    );
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
            "classes",
            "confusion",
            "dynamic",
            "dynamic_crossfit",
            "dynamic_rule",
            "fixed",
            "fixed_full",
            "front",
            "images",
            "max_steps",
            "oracle",
            "seconds",
            "split"
        ]
    );
    let crossfit = &summary["dynamic_crossfit"];
    for key in ["accuracy", "mean_steps", "latency_reduction", "folds"] {
        assert!(crossfit.get(key).is_some(), "dynamic_crossfit lacks {key}");
    }
    let folds = crossfit["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 5);
    assert_eq!(
        folds
            .iter()
            .map(|f| f["images"].as_u64().unwrap())
            .sum::<u64>(),
        20
    );
    assert!(summary["dynamic"].get("latency_reduction").is_some());
    // Confusion matrices: one row per true label, every image counted once; their diagonals
    // are the accuracies at T_max and under Dynamic Confidence.
    assert_eq!(summary["classes"].as_array().unwrap().len(), 10);
    for (which, accuracy) in [
        ("t_max", &summary["fixed_full"]["accuracy"]),
        ("dynamic", &summary["dynamic"]["accuracy"]),
    ] {
        let matrix: Vec<Vec<u64>> =
            serde_json::from_value(summary["confusion"][which].clone()).unwrap();
        assert_eq!(matrix.len(), 10);
        assert_eq!(matrix.iter().flatten().sum::<u64>(), 20, "{which}");
        let diagonal: u64 = (0..10).map(|c| matrix[c][c]).sum();
        assert_eq!(
            diagonal as f64 / 20.0,
            accuracy.as_f64().unwrap(),
            "{which}"
        );
    }
    // The front: by increasing mean steps, each point more accurate than the one before.
    let front = summary["front"].as_array().unwrap();
    assert!(!front.is_empty());
    for pair in front.windows(2) {
        assert!(pair[0]["mean_steps"].as_f64() < pair[1]["mean_steps"].as_f64());
        assert!(pair[0]["accuracy"].as_f64() < pair[1]["accuracy"].as_f64());
    }
    // Calibrated on `tiny`, evaluated on `test`: the calibrated rule is held out.
    assert_eq!(summary["dynamic_rule"]["source"], "calibration");
    assert_eq!(summary["dynamic_rule"]["in_sample"], false);
    // Any compared decoder runs at its calibrated threshold.
    let margin: Value = serde_json::from_str(&stdout(&dynconf(
        &dir,
        &[
            &[
                "eval",
                "--split",
                "tiny",
                "--max-steps",
                "8",
                "--json",
                "--decoder",
                "margin:kappa=2",
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    )))
    .unwrap();
    let row = calibration["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["decoder"]["kind"] == "margin" && c["decoder"]["kappa"] == 2.0)
        .unwrap();
    assert_eq!(margin["dynamic"]["threshold"], row["threshold"]);
    assert_eq!(margin["dynamic_rule"]["in_sample"], true);
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

    // Fewer images than folds: the figures without the cross-fitting, said so.
    let few: Value = serde_json::from_str(&stdout(&dynconf(
        &dir,
        &[
            &[
                "eval",
                "--split",
                "test",
                "--max-steps",
                "8",
                "--json",
                "--limit",
                "3",
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    )))
    .unwrap();
    assert!(few["dynamic_crossfit"].is_null(), "{few}");
    let few_table = stdout(&dynconf(
        &dir,
        &[
            &[
                "eval",
                "--split",
                "test",
                "--max-steps",
                "8",
                "--limit",
                "3",
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(few_table.contains("fewer than 5 folds"), "{few_table}");

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
            && table.contains("per class (accuracy)")
            && table.contains("class9")
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
                "--decoder",
                "max_softmax:kappa=2",
                "--json",
                "--engine",
                engine,
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat();
        eval_json(&dir, &args)
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
                "--decoder",
                "max_softmax:kappa=1",
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

/// T_max is the calibration's wherever one is loaded (the core's `StopRule::max_steps_for`),
/// 32 without one, and `--max-steps` overrides both.
#[test]
fn t_max_comes_from_the_calibration_unless_overridden() {
    let dir = workspace("t-max");
    image::RgbImage::from_fn(40, 40, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 6) as u8, 90])
    })
    .save(dir.join("picture.png"))
    .unwrap();
    let classify = |extra: &[&str]| -> Value {
        let args = [&["classify", "picture.png", "--json"][..], &MODEL, extra].concat();
        serde_json::from_str(stdout(&dynconf(&dir, &args)).trim()).unwrap()
    };
    let uncalibrated = classify(&[]);
    assert_eq!(uncalibrated["max_steps"], 32);
    assert_eq!(uncalibrated["steps"].as_array().unwrap().len(), 32);

    stdout(&dynconf(
        &dir,
        &[
            &["calibrate", "--split", "tiny", "--max-steps", "11"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    let calibrated = classify(&[]);
    assert_eq!(calibrated["max_steps"], 11);
    assert_eq!(calibrated["steps"].as_array().unwrap().len(), 11);
    let stop = calibrated["stop_step"].as_u64().unwrap();
    assert!((1..=11).contains(&stop), "{calibrated}");
    // The stop is the first step whose score is above θ, else T_max.
    let threshold = calibrated["threshold"].as_f64().unwrap();
    let scores: Vec<f64> = calibrated["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    let first_confident = scores.iter().position(|&s| s > threshold);
    assert_eq!(stop as usize, first_confident.map_or(11, |i| i + 1));
    assert_eq!(
        calibrated["threshold_reached"].as_bool(),
        Some(first_confident.is_some())
    );
    assert_eq!(classify(&["--max-steps", "7"])["max_steps"], 7);
    // How often the leading class was right at each step's score, from the calibration's
    // table (what the page shows); none without a calibration.
    assert!(uncalibrated["chance"].is_null(), "{uncalibrated}");
    let chance = calibrated["chance"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&chance), "{calibrated}");
    let stop_point = &calibrated["steps"][stop as usize - 1];
    assert_eq!(stop_point["chance"].as_f64(), Some(chance));
    // The out-of-distribution rule of the calibration, at the stop and at every step: flagged
    // exactly when the score is above 1; none without a calibration.
    assert!(
        uncalibrated["out_of_distribution"].is_null(),
        "{uncalibrated}"
    );
    assert!(uncalibrated["ood_score"].is_null(), "{uncalibrated}");
    for point in calibrated["steps"].as_array().unwrap() {
        let score = point["ood_score"].as_f64().unwrap();
        assert!(score >= 0.0, "{point}");
        assert_eq!(
            point["out_of_distribution"].as_bool(),
            Some(score > 1.0),
            "{point}"
        );
    }
    assert_eq!(calibrated["ood_score"], stop_point["ood_score"]);
    assert_eq!(
        calibrated["out_of_distribution"],
        stop_point["out_of_distribution"]
    );

    let eval = eval_json(
        &dir,
        &[&["eval", "--split", "test", "--json"][..], &DATA, &MODEL].concat(),
    );
    assert_eq!(eval["max_steps"], 11, "{eval}");
    let overridden = eval_json(
        &dir,
        &[
            &["eval", "--split", "test", "--json", "--max-steps", "6"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    );
    assert_eq!(overridden["max_steps"], 6);
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
            &[
                "eval",
                "--split",
                "validation",
                "--threshold",
                "0.9",
                "--decoder",
                "max_softmax:kappa=2",
            ][..],
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
            &[
                "eval",
                "--split",
                "broken",
                "--threshold",
                "0.9",
                "--decoder",
                "max_softmax:kappa=2",
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(
        broken.contains("100 bytes") && broken.contains("broken.bin"),
        "{broken}"
    );

    let test_split = failure(&dynconf(
        &dir,
        &[&["calibrate", "--split", "test"][..], &DATA, &MODEL].concat(),
    ));
    assert!(test_split.contains("test split"), "{test_split}");
    // The test batch under its file's name is the test split too.
    let test_file = failure(&dynconf(
        &dir,
        &[&["calibrate", "--split", "test_batch"][..], &DATA, &MODEL].concat(),
    ));
    assert!(
        test_file.contains("test split (test_batch.bin)"),
        "{test_file}"
    );

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
            &[
                "classify",
                "nothing.png",
                "--threshold",
                "0.5",
                "--decoder",
                "max_softmax:kappa=2",
            ][..],
            &MODEL,
        ]
        .concat(),
    ));
    assert!(missing_image.contains("nothing.png"), "{missing_image}");
}

#[test]
fn decoders_prints_each_familys_crossfitted_figures() {
    let dir = workspace("decoders");
    let json = stdout(&dynconf(
        &dir,
        &[
            &[
                "decoders",
                "--split",
                "tiny",
                "--max-steps",
                "6",
                "--json",
                "--folds",
                "3",
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    let report: Value = serde_json::from_str(&json).unwrap();
    let decoders = report["decoders"].as_array().unwrap();
    let names: Vec<&str> = decoders
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["max_softmax", "margin", "entropy", "stability", "learned"]
    );
    for d in decoders {
        assert!(d["params"]["kind"].is_string(), "{d}");
        for key in ["accuracy", "mean_steps", "latency_reduction"] {
            assert!(d["crossfit"].get(key).is_some(), "{key} missing in {d}");
        }
        assert_eq!(d["crossfit"]["folds"].as_array().unwrap().len(), 3);
    }
    assert!(
        !dir.join("models/m.calibration.json").exists(),
        "decoders writes no calibration"
    );
    let table = stdout(&dynconf(
        &dir,
        &[
            &["decoders", "--split", "tiny", "--max-steps", "6"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(
        table.contains("cross-fitted") && table.contains("learned"),
        "{table}"
    );
    // Any split, the test split included (nothing is written; `calibrate` refuses it).
    let on_test = dynconf(
        &dir,
        &[
            &["decoders", "--split", "test", "--max-steps", "6"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    );
    assert!(stdout(&on_test).contains("cross-fitted"));
    assert!(String::from_utf8_lossy(&on_test.stderr).contains("for reporting"));
}

#[test]
fn a_calibration_of_another_model_is_refused() {
    let dir = workspace("mismatch");
    stdout(&dynconf(
        &dir,
        &[
            &["calibrate", "--split", "tiny", "--max-steps", "4"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    std::fs::write(
        dir.join("models/m.safetensors"),
        common::random_cifar_model(4).build(),
    )
    .unwrap();
    let refused = failure(&dynconf(
        &dir,
        &[
            &["eval", "--split", "tiny", "--max-steps", "4"][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    ));
    assert!(
        refused.contains("m.calibration.json does not belong to models/m.safetensors")
            && refused.contains("dynconf calibrate --model models/m.safetensors"),
        "{refused}"
    );
    // With --decoder and --threshold nothing comes from the calibration: it is only noted.
    let flags = dynconf(
        &dir,
        &[
            &[
                "eval",
                "--split",
                "tiny",
                "--max-steps",
                "4",
                "--decoder",
                "max_softmax:kappa=2",
                "--threshold",
                "1",
            ][..],
            &DATA,
            &MODEL,
        ]
        .concat(),
    );
    stdout(&flags);
    assert!(
        String::from_utf8_lossy(&flags.stderr).contains("not using the calibration"),
        "{}",
        String::from_utf8_lossy(&flags.stderr)
    );

    let bad_tolerance = failure_code(
        &dynconf(
            &dir,
            &[
                &["calibrate", "--split", "tiny", "--tolerance", "5"][..],
                &DATA,
                &MODEL,
            ]
            .concat(),
        ),
        2,
    );
    assert!(
        bad_tolerance.contains("fraction in [0, 1]"),
        "{bad_tolerance}"
    );
    let bad_decoder = failure_code(
        &dynconf(
            &dir,
            &[
                &[
                    "decoders",
                    "--split",
                    "tiny",
                    "--decoders",
                    "margin:kappa=0",
                ][..],
                &DATA,
                &MODEL,
            ]
            .concat(),
        ),
        2,
    );
    assert!(
        bad_decoder.contains("kappa must be finite and positive"),
        "{bad_decoder}"
    );
}

fn failure_code(output: &Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit code {code}"
    );
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A residual network built by PyTorch code of someone else's and converted by
/// training/export_torch.py (format 2, `tests/fixtures/resnet-tiny.safetensors`) runs through
/// every command: calibrate, eval (both engines, the same numbers), classify.
#[test]
fn a_residual_network_runs_through_calibrate_eval_and_classify() {
    let dir = workspace("residual");
    let fixture = common::repo_root().join("tests/fixtures/resnet-tiny.safetensors");
    std::fs::copy(fixture, dir.join("models/r.safetensors")).unwrap();
    let model = ["--model", "models/r.safetensors"];
    let out = stdout(&dynconf(
        &dir,
        &[
            &["calibrate", "--split", "tiny", "--max-steps", "8"][..],
            &DATA,
            &model,
        ]
        .concat(),
    ));
    assert!(out.contains("← chosen"), "{out}");
    assert!(dir.join("models/r.calibration.json").exists());
    let eval = |engine: &str| {
        let args = [
            &[
                "eval",
                "--split",
                "test",
                "--max-steps",
                "8",
                "--json",
                "--engine",
                engine,
            ][..],
            &DATA,
            &model,
        ]
        .concat();
        eval_json(&dir, &args)
    };
    let summary = eval("event");
    assert_eq!(summary, eval("dense"));
    assert_eq!(summary["images"], 20, "{summary}");
    assert!(summary["dynamic"]["mean_steps"].as_f64().unwrap() <= 8.0);

    let image = image::RgbImage::from_fn(40, 40, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 6) as u8, 90])
    });
    image.save(dir.join("picture.png")).unwrap();
    let out = stdout(&dynconf(
        &dir,
        &[
            &["classify", "--json", "--max-steps", "8", "picture.png"][..],
            &model,
        ]
        .concat(),
    ));
    let result: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(result["steps"].as_array().unwrap().len(), 8, "{result}");
    assert!(result["prediction"].is_string(), "{result}");
    assert!(result["stop_step"].is_u64(), "{result}");
}
