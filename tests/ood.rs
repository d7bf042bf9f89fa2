//! The committed v7 model's out-of-distribution rule (its calibration file's
//! `out_of_distribution`, src/calibrate/ood.rs) on live runs: about the fraction it was fitted
//! for on validation images, every image of pure noise, and a run's score the same whether it is
//! read from the live simulation or from a recorded run. Needs ../shared/cifar10 (skipped when
//! absent, failing under CI: tests/common).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::Arc;

use dynconf::calibrate::{ood, Calibration, OodDetector};
use dynconf::{cifar, eval, preprocess, Engine, Model, Simulation};

fn committed() -> (Arc<Model>, OodDetector) {
    let root = common::repo_root().join("models");
    let model =
        Model::from_bytes(&std::fs::read(root.join("dynconf-cifar10-v7.safetensors")).unwrap())
            .unwrap();
    let calibration = Calibration::from_json(
        &std::fs::read(root.join("dynconf-cifar10-v7.calibration.json")).unwrap(),
    )
    .unwrap();
    let rule = calibration
        .out_of_distribution
        .expect("the committed calibration has the out-of-distribution rule");
    (Arc::new(model), rule)
}

/// The rule's score at every step 1..=steps of the simulation's current input.
fn scores(simulation: &mut Simulation, rule: &OodDetector, steps: u32) -> Vec<f64> {
    (0..steps)
        .map(|_| {
            let report = simulation.step();
            rule.score(report.t, report.cumulative_spikes_per_layer)
                .expect("one count per IF layer")
        })
        .collect()
}

#[test]
fn flags_about_its_rate_on_validation_and_all_noise() {
    let Some(dir) = common::cifar_dir() else {
        return;
    };
    let (model, rule) = committed();
    assert_eq!(rule.layers(), model.stages().len());
    let mut simulation = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let validation = cifar::load_split(&dir, "validation").unwrap();
    let images = 300;
    let (mut flagged, mut pairs) = (0, 0);
    for i in 0..images {
        simulation
            .set_input_f64(&preprocess::normalize_u8(
                model.input(),
                validation.image(i),
            ))
            .unwrap();
        let s = scores(&mut simulation, &rule, 32);
        flagged += s.iter().filter(|&&s| OodDetector::flags(s)).count();
        pairs += s.len();
    }
    // Fitted to flag 5% of the 5,000 validation images at each step (these 300 among them).
    let rate = flagged as f64 / pairs as f64;
    assert!(
        (0.02..0.09).contains(&rate),
        "{rate} of validation steps flagged"
    );

    // Pure noise is nothing like a photograph: flagged at every step from the fourth on.
    let mut rng = common::Rng::new(7);
    for _ in 0..5 {
        let noise: Vec<u8> = (0..3 * 32 * 32).map(|_| rng.next_u64() as u8).collect();
        simulation
            .set_input_f64(&preprocess::normalize_u8(model.input(), &noise))
            .unwrap();
        let s = scores(&mut simulation, &rule, 32);
        assert!(s[3..].iter().all(|&s| OodDetector::flags(s)), "{s:?}");
    }
}

#[test]
fn recorded_runs_score_as_live_runs() {
    let (model, rule) = committed();
    let mut simulation = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let mut rng = common::Rng::new(3);
    let image: Vec<u8> = (0..3 * 32 * 32)
        .map(|_| (rng.next_u64() % 64) as u8 + 96)
        .collect();
    let input = preprocess::normalize_u8(model.input(), &image);
    simulation.set_input_f64(&input).unwrap();
    let live = scores(&mut simulation, &rule, 8);
    let run = eval::run_image(&mut simulation, None, &input, 0, 8).unwrap();
    let recording = eval::recording(&[run]);
    assert_eq!(recording.layers(), model.stages().len());
    for t in 1..=8 {
        let mut features = vec![0.0f32; recording.layers()];
        let report_features = recording.activity(0, t);
        // The recording keeps ood::activity; the live score recomputes it from the counts.
        simulation.reset();
        for _ in 0..t {
            simulation.step();
        }
        let report = simulation.report();
        ood::activity(report.t, report.cumulative_spikes_per_layer, &mut features);
        assert_eq!(features, report_features, "step {t}");
        assert_eq!(
            rule.score(report.t, report.cumulative_spikes_per_layer),
            Some(live[t - 1])
        );
    }
}
