//! Writes the fuzzers' seed corpora (fuzz/, `scripts/fuzz.sh`) from the test generators: valid
//! and awkward inputs for each target, so that the fuzzers start inside the formats.
//!
//!   cargo run --release -p dynconf-cli --example fuzz_seeds -- DIR
//!
//! DIR gets one folder per target: `model_file` (random chain, int8 and residual models, the
//! graph fixtures), `calibration_json` (a calibration of a random model on random images),
//! `cifar_batch` (random batches), `worker_transfer` (encoded runs) and `image_file` (the
//! bad-input corpus of cli/tests/bad_inputs.rs, valid and broken files alike).

#[allow(dead_code)] // the reference maths is for the tests
#[path = "../tests/common/icc.rs"]
mod icc;

#[allow(dead_code)] // the generators the tests use on their own
#[path = "../tests/common/corpus.rs"]
mod corpus;

#[path = "../../tests/common/mod.rs"]
mod library;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dynconf::calibrate::{self, CalibrationSettings};
use dynconf::eval::{self, transfer};
use dynconf::{Engine, Model, Simulation};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let folder = dir.join(target);
    std::fs::create_dir_all(&folder).expect("cannot create the seed folder");
    std::fs::write(folder.join(name), bytes).expect("cannot write a seed");
}

/// Every image of a small random CIFAR-shaped model, `steps` steps each.
fn runs(model: &Arc<Model>, images: u64, steps: u32) -> Vec<eval::ImageRun> {
    let mut simulation = Simulation::new(Arc::clone(model), Engine::EventDriven);
    (0..images)
        .map(|i| {
            let input = library::random_input(i, model.input().len());
            eval::run_image(&mut simulation, None, &input, (i % 10) as u8, steps).unwrap()
        })
        .collect()
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: fuzz_seeds DIR"));
    let root = library::repo_root();

    let models = [
        ("chain", library::random_model(1).build()),
        ("int8", library::random_int8_model(2).build()),
        ("residual", library::random_residual_model(3).build()),
        (
            "residual-int8",
            library::random_residual_int8_model(4).build(),
        ),
        ("cifar", library::random_cifar_model(5).build()),
    ];
    for (name, bytes) in &models {
        write(&dir, "model_file", name, bytes);
    }
    for fixture in ["resnet-tiny", "vgg-tiny"] {
        let path = root.join(format!("tests/fixtures/{fixture}.safetensors"));
        write(&dir, "model_file", fixture, &std::fs::read(path).unwrap());
    }

    let cifar = Arc::new(Model::from_bytes(&models[4].1).unwrap());
    let recorded = runs(&cifar, 12, 6);
    let settings = CalibrationSettings {
        split: "seeds".into(),
        model_sha256: calibrate::sha256_hex(&models[4].1),
        tolerance: calibrate::DEFAULT_TOLERANCE,
        folds: 3,
        seed: 0,
    };
    let calibration = calibrate::calibrate(
        &eval::recording(&recorded),
        &calibrate::default_candidates(),
        &settings,
    )
    .unwrap();
    write(
        &dir,
        "calibration_json",
        "random-model",
        serde_json::to_string(&calibration).unwrap().as_bytes(),
    );

    for (seed, records) in [(1, 1), (2, 3)] {
        let name = format!("records-{records}");
        write(
            &dir,
            "cifar_batch",
            &name,
            &library::random_cifar_batch(seed, records),
        );
    }

    write(
        &dir,
        "worker_transfer",
        "three-runs",
        &transfer::encode(&recorded[..3]).unwrap(),
    );
    write(
        &dir,
        "worker_transfer",
        "none",
        &transfer::encode(&[]).unwrap(),
    );

    for case in corpus::cases() {
        write(&dir, "image_file", case.name, &case.bytes);
    }
    eprintln!("seeds written to {}", dir.display());
}
