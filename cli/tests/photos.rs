//! `dynconf photos` on a generated folder (no dataset pixels): its summary is what `dynconf
//! classify --json` says of each photo, counted; a folder that is not a class is refused by
//! name; an unreadable photo is reported and sets the exit status.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::corpus::{self, gradient, png, solid};
use serde_json::Value;

use common::{MODEL_FLAGS as MODEL, STOP_FLAGS as STOP};

/// A fresh directory with a random CIFAR-shaped model (classes `class0` … `class9`).
fn workspace(name: &str) -> PathBuf {
    common::model_workspace(&format!("photos-{name}"), 5)
}

fn dynconf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(dir)
        .args(args)
        .args(MODEL)
        .args(STOP)
        .output()
        .expect("run dynconf")
}

fn put(dir: &Path, file: &str, bytes: Vec<u8>) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_summary_counts_what_classify_says_of_each_photo() {
    let dir = workspace("summary");
    let photos = [
        ("photos/class0/a.png", png(gradient(40, 30))),
        ("photos/class0/b.png", png(solid([200, 40, 40]))),
        ("photos/class0/c.jpg", corpus::jpeg(&gradient(33, 17))),
        ("photos/class3/a.png", png(solid([20, 90, 200]))),
        ("photos/class3/b.png", png(gradient(17, 33))),
        ("photos/other/a.png", png(solid([250, 250, 250]))),
        ("photos/other/b.png", png(gradient(64, 64))),
    ];
    for (file, bytes) in &photos {
        put(&dir, file, bytes.clone());
    }
    // A calibration beside the model brings the out-of-distribution rule (the stop flags
    // still set θ and T_max).
    put(&dir, "data/tiny.bin", common::random_cifar_batch(1, 30));
    let out = Command::new(env!("CARGO_BIN_EXE_dynconf"))
        .current_dir(&dir)
        .args([
            "calibrate",
            "--split",
            "tiny",
            "--data",
            "data",
            "--max-steps",
            "6",
        ])
        .args(MODEL)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = dynconf(&dir, &["photos", "photos", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();

    // The same photos through classify, one by one.
    let files: Vec<&str> = photos.iter().map(|(f, _)| *f).collect();
    let out = dynconf(&dir, &[&["classify", "--json"][..], &files].concat());
    assert!(out.status.success());
    let runs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let class_of = |file: &str| file.split('/').nth(1).unwrap().to_string();
    let of = |class: &str| -> Vec<&Value> {
        runs.iter()
            .filter(|r| class_of(r["file"].as_str().unwrap()) == class)
            .collect()
    };
    let right =
        |runs: &[&Value], class: &str| runs.iter().filter(|r| r["prediction"] == class).count();
    let steps = |runs: &[&Value]| {
        runs.iter()
            .map(|r| r["stop_step"].as_u64().unwrap())
            .sum::<u64>()
    };

    let (c0, c3, other) = (of("class0"), of("class3"), of("other"));
    assert_eq!(summary["images"], 5);
    assert_eq!(
        summary["correct"],
        right(&c0, "class0") + right(&c3, "class3")
    );
    assert_eq!(summary["max_steps"], 6);
    assert_eq!(summary["threshold"], 1.0);
    let mean = (steps(&c0) + steps(&c3)) as f64 / 5.0;
    assert!((summary["mean_stop_step"].as_f64().unwrap() - mean).abs() < 1e-12);
    let balanced = (right(&c0, "class0") as f64 / 3.0 + right(&c3, "class3") as f64 / 2.0) / 2.0;
    assert!((summary["class_balanced_accuracy"].as_f64().unwrap() - balanced).abs() < 1e-12);
    let classes = summary["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 2, "only the classes with a folder");
    assert_eq!(classes[0]["class"], "class0");
    assert_eq!(classes[0]["images"], 3);
    let predicted: u64 = classes[0]["predictions"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(predicted, 3);
    let sure = other
        .iter()
        .filter(|r| r["threshold_reached"] == true)
        .count();
    assert_eq!(summary["other"]["images"], 2);
    assert_eq!(summary["other"]["stopped_sure"], sure);
    // Flagged as unlike the calibration images at the stop, and the AUROC of the score: other
    // things (positives) against photos of the classes.
    let flagged = |runs: &[&Value]| {
        runs.iter()
            .filter(|r| r["out_of_distribution"] == true)
            .count()
    };
    assert_eq!(summary["flagged"], flagged(&c0) + flagged(&c3));
    let flagged_right = |runs: &[&Value], class: &str| {
        runs.iter()
            .filter(|r| r["out_of_distribution"] == true && r["prediction"] == class)
            .count()
    };
    assert_eq!(
        summary["flagged_correct"],
        flagged_right(&c0, "class0") + flagged_right(&c3, "class3")
    );
    assert_eq!(summary["other"]["flagged"], flagged(&other));
    let quiet = other
        .iter()
        .filter(|r| r["threshold_reached"] == true && r["out_of_distribution"] == false)
        .count();
    assert_eq!(summary["other"]["sure_unflagged"], quiet);
    let score = |r: &&Value| r["ood_score"].as_f64().unwrap();
    let (mut wins, mut pairs) = (0.0, 0.0);
    for o in other.iter().map(score) {
        for c in c0.iter().chain(&c3).map(score) {
            wins += if o > c {
                1.0
            } else if o == c {
                0.5
            } else {
                0.0
            };
            pairs += 1.0;
        }
    }
    assert!((summary["ood_auroc"].as_f64().unwrap() - wins / pairs).abs() < 1e-12);
    assert_eq!(summary["unreadable"].as_array().unwrap().len(), 0);

    // The text form says the same.
    let out = dynconf(&dir, &["photos", "photos"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("photos of the classes: 5;"), "{text}");
    assert!(text.contains("photos of other things: 2;"), "{text}");
    assert!(
        text.contains("AUROC of the out-of-distribution score"),
        "{text}"
    );
}

#[test]
fn a_folder_that_is_not_a_class_is_refused_by_name() {
    let dir = workspace("stray");
    put(&dir, "photos/class1/a.png", png(gradient(8, 8)));
    put(&dir, "photos/kitten/a.png", png(gradient(8, 8)));
    let out = dynconf(&dir, &["photos", "photos"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the folder `kitten` is not a class of the model")
            && stderr.contains("class0, class1"),
        "{stderr}"
    );
    let empty = workspace("empty");
    std::fs::create_dir_all(empty.join("photos/other")).unwrap();
    let out = dynconf(&empty, &["photos", "photos"]);
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no folder named after a class"));
}

#[test]
fn an_unreadable_photo_is_reported_and_the_rest_counted() {
    let dir = workspace("unreadable");
    put(&dir, "photos/class2/a.png", png(gradient(8, 8)));
    put(&dir, "photos/class2/notes.jpg", b"Shopping list".to_vec());
    let out = dynconf(&dir, &["photos", "photos", "--json"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("notes.jpg: ") && stderr.contains("1 photos could not be classified"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["images"], 1);
    assert_eq!(summary["unreadable"][0]["file"], "photos/class2/notes.jpg");
}
