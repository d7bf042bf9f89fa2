use super::*;

fn p(threshold: f64, total_steps: u64, correct: u64) -> Point {
    Point {
        threshold,
        total_steps,
        correct,
    }
}

/// A deterministic generator in [0, 1).
fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Pseudo-random traces with rising scores, coarse values (ties between images), steps that
/// cannot stop (−∞) and noisy correctness.
fn sample_traces(images: usize, steps: usize) -> Traces {
    let mut next = uniform(0x2545_f491_4f6c_dd1d);
    let mut traces = Traces::new(steps);
    for _ in 0..images {
        let mut c = 0.5 * next();
        let scores: Vec<f32> = (0..steps)
            .map(|_| {
                c = (c + 0.4 * (next() - 0.3)).clamp(0.0, 3.0);
                if next() < 0.1 {
                    f32::NEG_INFINITY
                } else {
                    ((c * 10.0).round() / 10.0) as f32
                }
            })
            .collect();
        let correct: Vec<bool> = scores
            .iter()
            .map(|&s| next() < 0.4 + s as f64 / 6.0)
            .collect();
        traces.push(&scores, &correct);
    }
    traces
}

#[test]
fn front_drops_dominated_points_and_sorts_by_steps() {
    let points = [
        p(0.9, 50, 90),
        p(0.5, 20, 80),
        p(0.7, 30, 78),
        p(0.99, 80, 95),
        p(0.95, 90, 94),
    ];
    assert_eq!(
        pareto_front(&points),
        vec![p(0.5, 20, 80), p(0.9, 50, 90), p(0.99, 80, 95)]
    );
}

#[test]
fn front_breaks_ties_deterministically() {
    // Same steps: only the most accurate survives. Same point twice: lowest threshold.
    let points = [
        p(0.6, 40, 85),
        p(0.4, 40, 88),
        p(0.3, 40, 88),
        p(0.8, 60, 88),
        p(0.9, 60, 90),
    ];
    let front = pareto_front(&points);
    assert_eq!(front, vec![p(0.3, 40, 88), p(0.9, 60, 90)]);
    let mut reversed = points;
    reversed.reverse();
    assert_eq!(
        pareto_front(&reversed),
        front,
        "input order does not matter"
    );
}

#[test]
fn cheapest_reaching_compares_counts() {
    let front = [p(0.5, 20, 80), p(0.9, 50, 90), p(0.99, 80, 95)];
    assert_eq!(cheapest_reaching(&front, 85), Some(p(0.9, 50, 90)));
    assert_eq!(cheapest_reaching(&front, 90), Some(p(0.9, 50, 90)));
    assert_eq!(cheapest_reaching(&front, 96), None);
}

#[test]
fn tolerance_becomes_whole_images() {
    assert_eq!(allowed_misses(0.002, 5000), 10);
    assert_eq!(allowed_misses(0.002, 2500), 5);
    assert_eq!(
        allowed_misses(0.003, 1000),
        3,
        "0.003 · 1000 is 2.9999… in f64"
    );
    assert_eq!(allowed_misses(0.002, 4999), 9);
    assert_eq!(allowed_misses(0.0, 5000), 0);
}

#[test]
fn sweep_equals_replay_at_every_threshold() {
    let traces = sample_traces(300, 12);
    let swept = sweep(&traces);
    assert!(swept.len() > 5);
    for point in &swept {
        assert_eq!(*point, replay(&traces, point.threshold));
    }
    // Exhaustive: replaying any threshold gives one of the swept outcomes.
    for i in -20..=40 {
        let r = replay(&traces, i as f64 / 10.0 + 0.05);
        assert!(
            swept
                .iter()
                .any(|s| s.total_steps == r.total_steps && s.correct == r.correct),
            "threshold {}",
            i as f64 / 10.0 + 0.05
        );
    }
    // The lowest threshold stops every image at its first step that can stop; the last
    // point runs every image to T_max.
    let first_finite: u64 = (0..traces.images())
        .map(|i| {
            traces
                .scores(i)
                .iter()
                .position(|s| s.is_finite())
                .map_or(12, |t| t as u64 + 1)
        })
        .sum();
    assert_eq!(swept.first().unwrap().total_steps, first_finite);
    assert_eq!(swept.last().unwrap().total_steps, 300 * 12);
}

#[test]
fn chosen_threshold_reaches_full_length_within_tolerance() {
    let traces = sample_traces(400, 16);
    let full = *fixed_correct(&traces).last().unwrap();
    for tolerance in [0.0, 0.002, 0.05] {
        let (chosen, front) = choose_threshold(&traces, tolerance);
        assert!(chosen.correct + allowed_misses(tolerance, 400) >= full);
        assert!(front.contains(&chosen));
        assert_eq!(replay(&traces, chosen.threshold), chosen);
    }
}

#[test]
fn oracle_and_fixed_accuracy() {
    let mut traces = Traces::new(3);
    traces.push(&[0.0; 3], &[false, true, true]);
    traces.push(&[0.0; 3], &[false, false, false]);
    traces.push(&[0.0; 3], &[true, false, true]);
    traces.push(&[0.0; 3], &[false, false, true]);
    assert_eq!(
        oracle(&traces),
        Oracle {
            accuracy: 0.75,
            mean_steps: (2 + 3 + 1 + 3) as f64 / 4.0
        }
    );
    assert_eq!(fixed_correct(&traces), vec![1, 1, 3]);
}

#[test]
fn latency_reduction_names_its_reference_or_its_absence() {
    let fixed = [50, 70, 80, 90];
    // 80 correct in 2.5 mean steps (4 images → total 10): reference T = 3.
    let reduction = latency_reduction(&fixed, &p(0.0, 250, 80), 100);
    assert_eq!(reduction.reference_steps, Some(3));
    assert!((reduction.reduction.unwrap() - (1.0 - 2.5 / 3.0)).abs() < 1e-12);
    // More steps than the reference: a negative reduction, said so.
    let negative = latency_reduction(&fixed, &p(0.0, 350, 80), 100);
    assert!(negative.reduction.unwrap() < 0.0);
    assert!(negative.to_string().starts_with("negative"));
    // More accurate than every fixed length: no reference.
    let none = latency_reduction(&fixed, &p(0.0, 300, 91), 100);
    assert_eq!(none.reference_steps, None);
    assert!(none.to_string().starts_with("none"));
}

#[test]
fn thresholds_survive_json_exactly() {
    for threshold in [0.1f32 as f64, 1.234_567_9f32 as f64, (2.5f64).next_down()] {
        let json = serde_json::to_string(&p(threshold, 1, 1)).unwrap();
        let back: Point = serde_json::from_str(&json).unwrap();
        assert_eq!(back.threshold.to_bits(), threshold.to_bits(), "{json}");
    }
}

#[test]
fn best_prefers_fewer_steps_then_more_correct() {
    let make = |steps: u64, correct: u64| Calibrated {
        decoder: Decoder::PAPER,
        chosen: p(0.9, steps, correct),
        front: vec![],
    };
    let calibrated = [make(60, 90), make(50, 89), make(50, 90), make(50, 90)];
    assert_eq!(best_of(&calibrated, 0..4), Some(2));
    assert_eq!(best_of(&calibrated, [0, 1]), Some(1));
}

/// A recording whose outputs grow towards a per-image class, noisy at first.
fn sample_recording(images: usize, steps: usize) -> Recording {
    let mut next = uniform(7);
    let mut recording = Recording::new(steps, 3);
    for i in 0..images {
        let label = (i % 3) as u8;
        let drift = if next() < 0.8 {
            label as usize
        } else {
            (label as usize + 1) % 3
        };
        let mut sum = [0.0f32; 3];
        let mut outputs = Vec::new();
        for _ in 0..steps {
            for (k, s) in sum.iter_mut().enumerate() {
                *s += (next() as f32) + if k == drift { 0.6 } else { 0.0 };
            }
            outputs.extend_from_slice(&sum);
        }
        recording.push(&outputs, label);
    }
    recording
}

#[test]
fn folds_are_a_stratified_seeded_partition() {
    let labels: Vec<u8> = (0..103).map(|i| (i * 7 % 10) as u8).collect();
    let folds = crossfit::folds(&labels, 5, 1);
    let mut all: Vec<usize> = folds.concat();
    all.sort_unstable();
    assert_eq!(all, (0..103).collect::<Vec<_>>());
    for class in 0..10u8 {
        let per_fold: Vec<usize> = folds
            .iter()
            .map(|f| f.iter().filter(|&&i| labels[i] == class).count())
            .collect();
        let (lo, hi) = (
            per_fold.iter().min().unwrap(),
            per_fold.iter().max().unwrap(),
        );
        assert!(hi - lo <= 1, "class {class}: {per_fold:?}");
    }
    assert_eq!(folds, crossfit::folds(&labels, 5, 1), "seeded");
    assert_ne!(folds, crossfit::folds(&labels, 5, 2), "the seed matters");
}

#[test]
fn crossfit_scores_every_image_once_held_out() {
    let recording = sample_recording(200, 8);
    let candidates = default_candidates();
    let calibrator = Calibrator::new(&recording, &candidates, DEFAULT_TOLERANCE);
    let groups = vec![(0..candidates.len()).collect::<Vec<_>>()];
    let fits = crossfit::crossfit_groups(&calibrator, &groups, 5, 0).unwrap();
    let fit = &fits[0];
    assert_eq!(fit.folds.len(), 5);
    assert_eq!(fit.folds.iter().map(|f| f.images).sum::<usize>(), 200);
    assert!(fit.mean_steps >= 1.0 && fit.mean_steps <= 8.0);
    let correct: f64 = fit.folds.iter().map(|f| f.accuracy * f.images as f64).sum();
    assert!((correct - fit.correct as f64).abs() < 1e-6);
    assert!(crossfit::crossfit_groups(&calibrator, &groups, 1, 0).is_err());
    assert!(crossfit::crossfit_groups(&calibrator, &groups, 500, 0).is_err());
}

#[test]
fn calibration_chooses_and_records_every_family() {
    let recording = sample_recording(150, 8);
    let settings = CalibrationSettings {
        split: "synthetic".into(),
        model_sha256: sha256_hex(b"model"),
        tolerance: DEFAULT_TOLERANCE,
        folds: 5,
        seed: 0,
    };
    let calibration = calibrate(&recording, &default_candidates(), &settings).unwrap();
    let families: Vec<&str> = calibration
        .decoders
        .iter()
        .map(|d| d.family.as_str())
        .collect();
    assert_eq!(
        families,
        ["max_softmax", "margin", "entropy", "stability", "learned"]
    );
    assert_eq!(calibration.candidates.len(), default_candidates().len());
    let best = calibration
        .decoders
        .iter()
        .min_by_key(|d| d.in_sample.total_steps)
        .unwrap();
    assert_eq!(
        calibration.in_sample.total_steps,
        best.in_sample.total_steps
    );
    // The chosen threshold replays to the recorded figures.
    let traces = recording.traces(&calibration.decoder);
    let point = replay(&traces, calibration.threshold);
    assert_eq!(point.total_steps, calibration.in_sample.total_steps);
    assert_eq!(point.correct, calibration.in_sample.correct);
    // Round trip through the file, and the model check.
    let json = serde_json::to_vec(&calibration).unwrap();
    let back = Calibration::from_json(&json).unwrap();
    assert_eq!(back, calibration);
    assert!(back.check_model(&sha256_hex(b"model")).is_ok());
    let err = back.check_model(&sha256_hex(b"other")).unwrap_err();
    assert!(err.contains("another model"), "{err}");
    assert!(Calibration::from_json(br#"{"split": "x"}"#)
        .unwrap_err()
        .contains("older calibration file"));
    // Every compared decoder keeps its threshold.
    for row in &calibration.candidates {
        assert_eq!(back.threshold_of(&row.decoder), Some(row.threshold));
    }
    assert_eq!(back.threshold_of(&Decoder::MaxSoftmax { kappa: 3.0 }), None);

    // Each family's reliability table counts every (image, step) pair of its decoder, and its
    // right answers are the traces' own.
    for family in &calibration.decoders {
        let table = family.reliability.as_ref().expect("a reliability table");
        table.check().unwrap();
        let traces = recording.traces(&family.decoder);
        let bins = || table.groups.iter().flat_map(|g| &g.bins);
        let pairs: u64 = bins().map(|b| b.pairs).sum();
        let correct: u64 = bins().map(|b| b.correct).sum();
        assert_eq!(pairs as usize, traces.images() * traces.steps());
        assert_eq!(correct, fixed_correct(&traces).iter().sum::<u64>());
        assert_eq!(back.reliability_of(&family.decoder), Some(table));
    }
    // A crafted table is refused by what is wrong with it, naming the decoder.
    let mut crafted = calibration.clone();
    let table = crafted.decoders[1].reliability.as_mut().unwrap();
    table.groups[0].bins[0].correct = table.groups[0].bins[0].pairs + 1;
    let err = Calibration::from_json(&serde_json::to_vec(&crafted).unwrap()).unwrap_err();
    assert!(
        err.contains("decoder margin") && err.contains("right of"),
        "{err}"
    );
    // Files made before the table still load, without one.
    let mut older = calibration.clone();
    older.decoders.iter_mut().for_each(|d| d.reliability = None);
    let json = serde_json::to_string(&older).unwrap();
    assert!(!json.contains("reliability"));
    let older = Calibration::from_json(json.as_bytes()).unwrap();
    assert_eq!(older.reliability_of(&calibration.decoder), None);
}

#[test]
fn sha256_matches_a_known_digest() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
