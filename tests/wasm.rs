//! The browser binding (src/wasm/) in a real browser: `wasm-pack test --headless --chrome
//! -- --test wasm` (or `--firefox`); `scripts/test-web.sh` runs both.
//!
//! The bindings must give the per-step outputs of the reference engine on the fixtures
//! (tests/fixtures/, written by training/fixtures.py from synthetic inputs), agree with the
//! core simulation they wrap, and turn bad input into exceptions with readable messages.
#![cfg(target_arch = "wasm32")]

use dynconf::calibrate::{self, Calibration};
use dynconf::decode::{self, Decoder};
use dynconf::snn::{Engine, Simulation};
use dynconf::wasm::{WasmCalibration, WasmSimulation};
use dynconf::Model;
use serde::Deserialize;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wasm_bindgen::{JsError, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The published model, its fixture and its calibration file (embedded in the test module).
const MODEL: &[u8] = include_bytes!("../models/dynconf-cifar10-v7.safetensors");
const FIXTURE: &str = include_str!("fixtures/dynconf-cifar10-v7.json");
const CALIBRATION: &[u8] = include_bytes!("../models/dynconf-cifar10-v7.calibration.json");

#[derive(Deserialize)]
struct Fixture {
    steps: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    pixels_chw: Vec<u8>,
    snn_outputs: Vec<Vec<f32>>,
    snn_spikes_per_layer: Vec<Vec<u32>>,
}

/// The step report as JavaScript receives it.
#[derive(Deserialize, Debug)]
struct Report {
    t: u32,
    output: Vec<f32>,
    probabilities: Vec<f32>,
    prediction: usize,
    score: f32,
    unchanged: u32,
    confident: bool,
    stop: bool,
    spikes_per_layer: Vec<u32>,
    spikes: u64,
    synaptic_ops: u64,
    cumulative_spikes: u64,
    cumulative_synaptic_ops: u64,
}

fn fixture() -> Fixture {
    serde_json::from_str(FIXTURE).expect("fixture JSON")
}

fn report(value: Result<JsValue, JsError>) -> Report {
    serde_wasm_bindgen::from_value(value.expect("step")).expect("report shape")
}

/// The message JavaScript would see on the thrown Error.
fn message(error: JsError) -> String {
    let value: JsValue = error.into();
    js_sys::Error::from(value).message().into()
}

fn error_of<T>(result: Result<T, JsError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => message(e),
    }
}

/// A w×h RGBA image holding CHW pixels of the same size (opaque).
fn rgba_from_chw(chw: &[u8], width: usize, height: usize) -> Vec<u8> {
    let plane = width * height;
    (0..plane)
        .flat_map(|i| [chw[i], chw[plane + i], chw[2 * plane + i], 255])
        .collect()
}

/// The fixture's own criterion (as in tests/fixtures.rs): spikes bit for bit, O(t) to 1e-3
/// (the global average pool's division is not on the exporter's exact grid), same argmax.
fn assert_matches_fixture(r: &Report, case: &Case, t: usize) {
    assert_eq!(
        r.spikes_per_layer,
        case.snn_spikes_per_layer[t],
        "{}: spikes at t = {}",
        case.name,
        t + 1
    );
    let expected = &case.snn_outputs[t];
    let diff = r
        .output
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        diff <= 1e-3,
        "{}: max |ΔO(t)| = {diff} at t = {}",
        case.name,
        t + 1
    );
    assert_eq!(
        r.prediction,
        decode::argmax(expected),
        "{}: prediction at t = {}",
        case.name,
        t + 1
    );
}

#[wasm_bindgen_test]
fn per_step_outputs_match_the_reference_engine() {
    let fixture = fixture();
    assert!(!fixture.cases.is_empty());
    let model = Arc::new(Model::from_bytes(MODEL).unwrap());
    let mut core = Simulation::new(model.clone(), Engine::EventDriven);
    let mut sim = WasmSimulation::new(MODEL).expect("model loads");
    for case in &fixture.cases {
        sim.set_pixels_chw(&case.pixels_chw)
            .expect("fixture pixels");
        core.set_input_f64(&dynconf::preprocess::normalize_u8(
            model.input(),
            &case.pixels_chw,
        ))
        .unwrap();
        for t in 0..fixture.steps {
            let r = report(sim.step());
            let expected = core.step();
            assert_eq!(r.t as usize, t + 1);
            // Bit for bit what the engine computes natively (same code, IEEE f32).
            assert_eq!(
                r.output,
                expected.output,
                "{}: O(t) at t = {}",
                case.name,
                t + 1
            );
            assert_eq!(r.spikes_per_layer, expected.spikes_per_layer);
            assert_eq!(r.score, expected.decision.score);
            assert_eq!(
                r.spikes,
                r.spikes_per_layer.iter().map(|&s| s as u64).sum::<u64>()
            );
            assert_matches_fixture(&r, case, t);
        }
    }
}

#[wasm_bindgen_test]
fn set_image_at_the_model_size_equals_the_raw_pixels() {
    let fixture = fixture();
    let case = &fixture.cases[0];
    let mut by_pixels = WasmSimulation::new(MODEL).unwrap();
    by_pixels.set_pixels_chw(&case.pixels_chw).unwrap();
    let mut by_image = by_pixels.fork();
    by_image
        .set_image(&rgba_from_chw(&case.pixels_chw, 32, 32), 32, 32)
        .unwrap();
    assert_eq!(
        by_image.preview(),
        rgba_from_chw(&case.pixels_chw, 32, 32),
        "preview shows the input"
    );
    for t in 0..8 {
        let (a, b) = (report(by_pixels.step()), report(by_image.step()));
        assert_eq!(a.output, b.output, "t = {}", t + 1);
        assert_matches_fixture(&b, case, t);
    }
}

#[wasm_bindgen_test]
fn bindings_report_what_the_core_simulation_computes() {
    let fixture = fixture();
    let case = &fixture.cases[1];
    let model = Arc::new(Model::from_bytes(MODEL).unwrap());
    let mut core = Simulation::new(model.clone(), Engine::EventDriven);
    let spec = model.input().clone();
    core.set_input_f64(&dynconf::preprocess::normalize_u8(&spec, &case.pixels_chw))
        .unwrap();
    core.set_decoder(Decoder::Stability { kappa: 2.0, k: 3 });

    let mut sim = WasmSimulation::new(MODEL).unwrap();
    sim.set_decoder("stability:kappa=2,k=3").unwrap();
    assert_eq!(sim.decoder(), "stability:kappa=2,k=3");
    sim.set_pixels_chw(&case.pixels_chw).unwrap();
    sim.set_threshold(1.0);
    sim.set_max_steps(20).unwrap();
    let (mut spikes, mut ops) = (0, 0);
    for t in 1..=20u32 {
        let expected = core.step();
        let r = report(sim.step());
        assert_eq!(r.output, expected.output);
        assert_eq!(r.probabilities, expected.probabilities);
        assert_eq!(r.prediction, expected.decision.prediction);
        assert_eq!(r.score, expected.decision.score);
        assert_eq!(r.unchanged, expected.decision.unchanged);
        assert_eq!(r.synaptic_ops, expected.synaptic_ops);
        assert_eq!(r.confident, decode::is_confident(r.score, 1.0));
        assert_eq!(r.stop, r.confident || t == 20);
        spikes += r.spikes;
        ops += r.synaptic_ops;
        assert_eq!(
            (r.cumulative_spikes, r.cumulative_synaptic_ops),
            (spikes, ops)
        );
        // Spike maps: the byte view holds exactly this step's spikes.
        for layer in 0..sim.layer_count() {
            let bytes = sim.spikes(layer).unwrap();
            assert_eq!(bytes.len(), sim.spikes_len(layer).unwrap());
            assert_eq!(
                bytes.iter().map(|&b| b as u32).sum::<u32>(),
                r.spikes_per_layer[layer]
            );
            assert!(bytes
                .iter()
                .zip(core.spikes(layer))
                .all(|(&b, &s)| b as f32 == s));
        }
    }
}

#[wasm_bindgen_test]
fn run_to_reset_and_fork_repeat_the_same_run() {
    let fixture = fixture();
    let case = &fixture.cases[2];
    let mut sim = WasmSimulation::new(MODEL).unwrap();
    sim.set_pixels_chw(&case.pixels_chw).unwrap();
    let fork = sim.fork();
    let at16 = report(sim.run_to(16));
    assert_eq!((at16.t, sim.t()), (16, 16));
    assert_matches_fixture(&at16, case, 15);
    assert!(error_of(sim.run_to(8)).contains("already at t = 16"));
    sim.reset();
    assert_eq!(sim.t(), 0);
    assert_eq!(report(sim.run_to(16)).output, at16.output);
    let mut fork = fork;
    assert_eq!(
        report(fork.run_to(16)).cumulative_synaptic_ops,
        at16.cumulative_synaptic_ops
    );
}

/// `run()` stops where stepping by hand stops (the core's stop rule), and T_max is bounded.
#[wasm_bindgen_test]
fn run_stops_where_the_steps_say_stop() {
    let fixture = fixture();
    let case = &fixture.cases[1];
    let mut stepped = WasmSimulation::new(MODEL).unwrap();
    stepped.set_decoder("max_softmax:kappa=4").unwrap();
    stepped.set_threshold(0.5);
    stepped.set_max_steps(24).unwrap();
    stepped.set_pixels_chw(&case.pixels_chw).unwrap();
    let mut ran = stepped.fork();
    let mut last = report(stepped.step());
    while !last.stop {
        last = report(stepped.step());
    }
    let at_stop = report(ran.run());
    assert_eq!((at_stop.t, at_stop.stop), (last.t, true));
    assert_eq!(at_stop.output, last.output);
    assert!(last.confident || last.t == 24);
    for bad in [0, dynconf::decode::MAX_STEPS_LIMIT + 1] {
        assert!(error_of(ran.set_max_steps(bad)).contains("T_max must be between 1 and"));
        ran.reset();
        assert!(error_of(ran.run_to(bad)).contains("between 1 and"));
    }
}

#[wasm_bindgen_test]
fn model_info_describes_the_if_layers() {
    let sim = WasmSimulation::new(MODEL).unwrap();
    let info: serde_json::Value = serde_wasm_bindgen::from_value(sim.info().unwrap()).unwrap();
    let model = Model::from_bytes(MODEL).unwrap();
    assert_eq!(info["name"], model.name());
    assert_eq!(
        info["classes"].as_array().unwrap().len(),
        model.classes().len()
    );
    assert_eq!(
        info["neurons"].as_u64().unwrap() as usize,
        model.neuron_count()
    );
    let layers = info["layers"].as_array().unwrap();
    assert_eq!(layers.len(), sim.layer_count());
    assert_eq!(layers[0]["name"], model.stages()[0].name.as_str());
    assert!(
        info["metadata"]["format"] == "dynconf-snn",
        "metadata is a plain object"
    );
}

#[wasm_bindgen_test]
fn calibration_offers_each_decoders_front_for_this_model_only() {
    let calibration = WasmCalibration::new(CALIBRATION).expect("calibration file loads");
    let file = Calibration::from_json(CALIBRATION).unwrap();
    let summary: serde_json::Value =
        serde_wasm_bindgen::from_value(calibration.summary().unwrap()).unwrap();
    assert_eq!(summary["t_max"], file.max_steps);
    assert_eq!(summary["split"], file.split.as_str());
    assert_eq!(
        summary["fixed"].as_array().unwrap().len(),
        file.max_steps as usize
    );
    assert_eq!(summary["crossfit"]["accuracy"], file.crossfit.accuracy);
    let decoders = summary["decoders"].as_array().unwrap();
    assert_eq!(decoders.len(), file.decoders.len());
    let fixed: Vec<u64> = file.fixed.iter().map(|f| f.correct).collect();
    for (view, family) in decoders.iter().zip(&file.decoders) {
        let front = view["front"].as_array().unwrap();
        assert_eq!(front.len(), family.front.len());
        // Each point carries the one latency-reduction rule's figures.
        for (point, stored) in front.iter().zip(&family.front) {
            let latency = calibrate::latency_reduction(&fixed, stored, file.images);
            assert_eq!(point["threshold"], stored.threshold);
            assert_eq!(
                point["latency_reference_steps"].as_u64(),
                latency.reference_steps.map(u64::from)
            );
        }
        // The calibrated threshold is a point of the front.
        assert!(family.front.iter().any(|p| p.threshold == family.threshold));
    }
    let chosen = summary["chosen"].as_u64().unwrap() as usize;
    assert_eq!(file.decoders[chosen].decoder, file.decoder);

    let mut sim = WasmSimulation::new(MODEL).unwrap();
    assert_eq!(sim.model_sha256(), calibrate::sha256_hex(MODEL));
    sim.use_calibration(&calibration).unwrap();
    assert_eq!(
        (sim.threshold(), sim.max_steps()),
        (file.threshold, file.max_steps)
    );
    assert_eq!(sim.decoder(), file.decoder.to_string());
    // Each step reports how often the leading class was right at its score (the chosen
    // decoder's table) and each class's chance, summing to 1.
    sim.set_pixels_chw(&[128u8; 3 * 32 * 32]).unwrap();
    let report: serde_json::Value = serde_wasm_bindgen::from_value(sim.step().unwrap()).unwrap();
    let table = file
        .reliability_of(&file.decoder)
        .expect("a reliability table");
    let score = report["score"]
        .as_f64()
        .map_or(f32::NEG_INFINITY, |s| s as f32);
    assert_eq!(report["chance"].as_f64(), Some(table.chance(1, score)));
    let chances: Vec<f64> = report["chances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    assert!(
        (chances.iter().sum::<f64>() - 1.0).abs() < 1e-5,
        "{chances:?}"
    );
    let prediction = report["prediction"].as_u64().unwrap() as usize;
    assert_eq!(chances[prediction] as f32, table.chance(1, score) as f32);
    assert_eq!(report["chance_steps"], serde_json::json!([1, 1]));
    // And the out-of-distribution rule's score of the IF layers' activity, flagged above 1:
    // the core's score of the same run.
    let rule = file
        .out_of_distribution
        .as_ref()
        .expect("an out-of-distribution rule");
    let counts: Vec<u64> = report["spikes_per_layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    let ood_score = rule.score(1, &counts).unwrap();
    assert_eq!(report["ood_score"].as_f64(), Some(ood_score));
    assert_eq!(
        report["out_of_distribution"].as_bool(),
        Some(ood_score > 1.0)
    );
    assert_eq!(
        summary["out_of_distribution"]["crossfit_false_alarm"].as_f64(),
        Some(rule.crossfit_false_alarm)
    );
    // A decoder set as text has no table: no chance.
    sim.set_decoder("max_softmax:kappa=3").unwrap();
    sim.reset();
    let report: serde_json::Value = serde_wasm_bindgen::from_value(sim.step().unwrap()).unwrap();
    assert!(
        report["chance"].is_null() && report["chances"].is_null(),
        "{report}"
    );
    // The out-of-distribution rule does not depend on the decoder.
    assert!(report["ood_score"].is_f64(), "{report}");
    sim.use_decoder(&calibration, 1).unwrap();
    assert_eq!(sim.decoder(), file.decoders[1].decoder.to_string());
    assert_eq!(sim.threshold(), file.decoders[1].threshold);
    assert!(error_of(sim.use_decoder(&calibration, 99)).contains("does not exist"));

    // A calibration of another model is refused by name.
    let mut other = file.clone();
    other.model_sha256 = calibrate::sha256_hex(b"another model");
    let other = WasmCalibration::new(&serde_json::to_vec(&other).unwrap()).unwrap();
    assert!(error_of(sim.use_calibration(&other)).contains("another model"));
}

#[wasm_bindgen_test]
fn decoder_scores_are_the_native_bits() {
    for (decoder, bits) in decode::golden_scores() {
        let score = decoder.score(&decode::GOLDEN_OUTPUT, 7, 3);
        assert_eq!(score.to_bits(), bits, "{decoder}: {score}");
    }
}

#[wasm_bindgen_test]
fn bad_input_is_rejected_with_a_message() {
    assert!(error_of(WasmSimulation::new(b"not a model")).contains("cannot load the model"));
    assert!(error_of(WasmSimulation::new(&[])).contains("cannot load the model"));
    assert!(
        error_of(WasmSimulation::new(&MODEL[..MODEL.len() / 2])).contains("cannot load the model")
    );

    let mut sim = WasmSimulation::new(MODEL).unwrap();
    let wrong_length = error_of(sim.set_image(&[0; 10], 2, 2));
    assert!(
        wrong_length.contains("10 bytes") && wrong_length.contains("16"),
        "{wrong_length}"
    );
    assert!(error_of(sim.set_image(&[], 0, 0)).contains("empty"));
    assert!(error_of(sim.set_image(&[], 0, 7)).contains("empty"));
    assert!(error_of(sim.set_pixels_chw(&[0; 100])).contains("expects 3072"));
    assert!(error_of(sim.set_decoder("softmax")).contains("unknown decoder"));
    assert!(error_of(sim.spikes_ptr(99)).contains("does not exist"));
    assert!(error_of(WasmCalibration::new(b"{}")).contains("calibration"));
    assert!(error_of(WasmCalibration::new(b"\x89PNG")).contains("calibration"));

    // The simulation is still usable after the errors.
    sim.set_image(&[200; 4 * 5 * 3], 5, 3).unwrap();
    assert_eq!(report(sim.step()).t, 1);
}

/// The test module's allocator, counting: the bytes allocated now and the most since
/// [`reset_peak`], so that a test measures the memory of the work it names whatever ran
/// before it (linear memory only grows, and earlier tests leave free space in it).
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts a new peak from the bytes allocated now, and returns them.
fn reset_peak() -> usize {
    let now = ALLOCATED.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

const MB: usize = 1 << 20;

#[wasm_bindgen_test]
fn an_image_above_16_8_megapixels_in_strips_gives_the_native_input_in_bounded_memory() {
    // 4200 × 4011 = 16,846,200 pixels: width · height · 255 exceeds 2³², which wrapped in
    // 32-bit usize (the image reached the network white). Natively, and now here, a solid
    // grey image is exactly grey at 32×32 (src/preprocess.rs tests the native side).
    let (width, height) = (4200usize, 4011usize);
    let rows = 62; // about 1 MB per strip, as the page sends them
    let strip: Vec<u8> = (0..rows * width)
        .flat_map(|_| [128, 128, 128, 255])
        .collect();
    let mut sim = WasmSimulation::new(MODEL).unwrap();
    // Around the work the test names: the image, begun, sent in strips, ended.
    let before = reset_peak();
    sim.begin_image(width as u32, height as u32).unwrap();
    let mut sent = 0;
    while sent < height {
        let n = rows.min(height - sent);
        sim.push_rows(&strip[..n * width * 4]).unwrap();
        sent += n;
    }
    sim.end_image().unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    console_log!(
        "the engine allocated at most {:.2} MB more while taking a 4200×4011 image in {}-row strips (the whole image is {:.1} MB)",
        peak as f64 / MB as f64,
        rows,
        (width * height * 4) as f64 / MB as f64
    );
    assert!(
        peak <= MB,
        "taking the image in strips allocated {peak} bytes at its peak"
    );

    assert_eq!(sim.preview(), [128, 128, 128, 255].repeat(32 * 32));
    // The same input as the native resize (exactly 128 everywhere): the same run.
    let mut native = WasmSimulation::new(MODEL).unwrap();
    native.set_pixels_chw(&[128; 3 * 32 * 32]).unwrap();
    for t in 0..4 {
        assert_eq!(
            report(sim.step()).output,
            report(native.step()).output,
            "t = {}",
            t + 1
        );
    }
}

#[wasm_bindgen_test]
fn strips_of_any_height_give_what_set_image_gives() {
    let mut sim = WasmSimulation::new(MODEL).unwrap();
    for (width, height) in [(37usize, 29usize), (550, 5), (1, 1)] {
        // Varied colours and alpha (alpha is composited over white).
        let rgba: Vec<u8> = (0..width * height * 4)
            .map(|i| ((i * 7919 + i / 3 * 104729) % 256) as u8)
            .collect();
        sim.set_image(&rgba, width as u32, height as u32).unwrap();
        let whole: Vec<Vec<f32>> = (0..3).map(|_| report(sim.step()).output).collect();
        let preview = sim.preview();
        for strip in 1..=height {
            sim.begin_image(width as u32, height as u32).unwrap();
            for rows in rgba.chunks(strip * width * 4) {
                sim.push_rows(rows).unwrap();
            }
            sim.end_image().unwrap();
            assert_eq!(
                sim.preview(),
                preview,
                "{width}×{height}, {strip}-row strips"
            );
            for (t, output) in whole.iter().enumerate() {
                assert_eq!(
                    &report(sim.step()).output,
                    output,
                    "{width}×{height}, {strip}-row strips, t = {}",
                    t + 1
                );
            }
        }
    }
}

#[wasm_bindgen_test]
fn bad_strips_are_rejected_with_a_message_and_keep_the_input() {
    let mut sim = WasmSimulation::new(MODEL).unwrap();
    sim.set_image(&[200; 4 * 5 * 3], 5, 3).unwrap();
    let preview = sim.preview();
    assert!(error_of(sim.push_rows(&[0; 20])).contains("no image was begun"));
    assert!(error_of(sim.end_image()).contains("no image was begun"));
    assert!(error_of(sim.begin_image(0, 3)).contains("empty"));

    sim.begin_image(5, 3).unwrap();
    let strip = error_of(sim.push_rows(&[0; 21]));
    assert!(
        strip.contains("21 bytes") && strip.contains("20 bytes"),
        "{strip}"
    );
    // A refused strip drops the image: more rows need a new begin_image.
    assert!(error_of(sim.push_rows(&[0; 20])).contains("no image was begun"));

    sim.begin_image(5, 3).unwrap();
    sim.push_rows(&[0; 40]).unwrap();
    assert!(error_of(sim.push_rows(&[0; 40])).contains("3 rows, but 4 were sent"));
    sim.begin_image(5, 3).unwrap();
    sim.push_rows(&[0; 40]).unwrap();
    assert!(error_of(sim.end_image()).contains("3 rows, but only 2 were sent"));

    assert_eq!(sim.preview(), preview, "the input is unchanged");
    assert_eq!(report(sim.step()).t, 1);
}

/// `n` records (label, CHW pixels) made from the fixture cases' pixels, shifted per record.
fn records(n: usize) -> Vec<u8> {
    let cases = fixture().cases;
    (0..n)
        .flat_map(|i| {
            let pixels = &cases[i % cases.len()].pixels_chw;
            std::iter::once((i % 10) as u8)
                .chain(pixels.iter().map(move |&p| p.wrapping_add(i as u8)))
        })
        .collect()
}

#[wasm_bindgen_test]
fn a_batch_evaluated_in_chunks_reports_what_the_core_reports() {
    use dynconf::eval::{self, report, CrossFitSettings};
    use dynconf::wasm::{check_batch, WasmEvaluationSummary, WasmEvaluator};
    let (n, steps) = (12, 6);
    let bytes = records(n);
    assert_eq!(check_batch(&bytes, "mine.bin").unwrap(), n as u32);

    // Two workers' chunks, added out of order.
    let mut evaluator = WasmEvaluator::new(MODEL, steps, true).unwrap();
    let mut summary = WasmEvaluationSummary::new(MODEL, n as u32).unwrap();
    let cut = 5 * dynconf::cifar::RECORD_BYTES;
    let later = evaluator.run(&bytes[cut..]).unwrap();
    summary.add(5, &later).unwrap();
    assert_eq!(summary.received(), 7);
    assert!(
        error_of(summary.report("mine", "mine.bin", CALIBRATION, 1.0))
            .contains("image 0 of 12 has not been run")
    );
    summary
        .add(0, &evaluator.run(&bytes[..cut]).unwrap())
        .unwrap();
    let json = summary
        .report("mine", "mine.bin", CALIBRATION, 1.5)
        .unwrap();

    // The same images through the core, as `dynconf eval` runs them.
    let model = Arc::new(Model::from_bytes(MODEL).unwrap());
    let calibration = Calibration::from_json(CALIBRATION).unwrap();
    let mut simulation = Simulation::new(Arc::clone(&model), Engine::EventDriven);
    let mut ann = dynconf::ann::QuantizedAnn::new(&model);
    let runs: Vec<_> = bytes
        .chunks_exact(dynconf::cifar::RECORD_BYTES)
        .map(|r| {
            let input = dynconf::preprocess::normalize_u8(model.input(), &r[1..]);
            eval::run_image(&mut simulation, Some(&mut ann), &input, r[0], steps).unwrap()
        })
        .collect();
    let settings = CrossFitSettings {
        tolerance: calibration.tolerance,
        ..CrossFitSettings::default()
    };
    let core = eval::summarize(
        &runs,
        &model,
        calibration.decoder,
        calibration.threshold,
        &settings,
    );
    let rule = report::DynamicRule::from_calibration(&calibration, "mine", "mine.bin");
    let expected = serde_json::to_string(&report::EvalReport {
        split: "mine",
        summary: &core,
        dynamic_rule: &rule,
        seconds: 1.5,
    })
    .unwrap();
    assert_eq!(json, expected);

    // A calibration made on the batch; never on the test batch.
    let made =
        Calibration::from_json(summary.calibrate("mine", "mine.bin").unwrap().as_bytes()).unwrap();
    assert_eq!(made.split, "mine (mine.bin)");
    assert_eq!(made.images, n);
    assert!(error_of(summary.calibrate("test", "test_batch.bin")).contains("test data"));

    // Refusals name the file and say why, in the CLI's words.
    assert!(error_of(check_batch(&bytes[1..], "cut.bin")).starts_with("cut.bin: the batch has"));
    let mut bad_label = bytes.clone();
    bad_label[dynconf::cifar::RECORD_BYTES] = 12;
    assert_eq!(
        error_of(check_batch(&bad_label, "x.bin")),
        "x.bin: record 1 has label 12; CIFAR-10 labels are 0..9"
    );
    assert!(error_of(check_batch(&[], "empty.bin")).contains("the batch is empty"));
    assert!(error_of(summary.add(10, &later)).contains("do not fit"));
    assert!(error_of(summary.report("mine", "mine.bin", b"{}", 0.0))
        .contains("cannot use the calibration file"));
}

/// `text` parsed by the browser's `JSON.parse`: a value as the page holds it.
fn js_json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("JSON")
}

#[wasm_bindgen_test]
fn the_cifar_record_layout_and_the_pixel_limit_are_the_cores() {
    use dynconf::wasm::{
        cifar_image_side, cifar_record_bytes, max_image_file_bytes, max_image_pixels,
    };
    assert_eq!(cifar_record_bytes() as usize, dynconf::cifar::RECORD_BYTES);
    assert_eq!(cifar_record_bytes(), 3073);
    assert_eq!(cifar_image_side() as usize, dynconf::cifar::IMAGE_SIDE);
    // A label byte, then the three colour planes of side × side pixels.
    let side = cifar_image_side();
    assert_eq!(1 + 3 * side * side, cifar_record_bytes());
    assert_eq!(max_image_pixels(), dynconf::preprocess::MAX_PIXELS as f64);
    assert_eq!(max_image_pixels(), 40e6);
    assert_eq!(
        max_image_file_bytes(),
        dynconf::preprocess::MAX_FILE_BYTES as f64
    );
    assert_eq!(max_image_file_bytes(), 20.0 * 1024.0 * 1024.0);
}

#[wasm_bindgen_test]
fn the_test_split_is_the_cores() {
    use dynconf::wasm::is_test_split;
    let cases = [
        ("test", "test.bin", true),
        ("test_batch", "test_batch.bin", true),
        ("mine", "test_batch.bin", true),
        ("data_batch_5", "data_batch_5.bin", false),
        ("validation", "data_batch_5.bin", false),
        ("testing", "testing.bin", false),
    ];
    for (split, file, expected) in cases {
        assert_eq!(is_test_split(split, file), expected, "{split} from {file}");
        assert_eq!(
            is_test_split(split, file),
            dynconf::cifar::is_test_split(split, file)
        );
    }
}

#[wasm_bindgen_test]
fn decoder_text_writes_the_eval_jsons_decoders_as_dynconf_does() {
    use dynconf::wasm::decoder_text;
    let text = |json: &str| decoder_text(js_json(json));
    assert_eq!(
        text(r#"{"kind":"stability","kappa":4,"k":2}"#).unwrap(),
        "stability:kappa=4,k=2"
    );
    assert_eq!(
        text(r#"{"kind":"max_softmax","kappa":2.5}"#).unwrap(),
        "max_softmax:kappa=2.5"
    );
    assert_eq!(text(r#"{"kind":"divide_by_t"}"#).unwrap(), "divide_by_t");
    // Every decoder of the calibration file (the learned one included) as its JSON holds it.
    let file = Calibration::from_json(CALIBRATION).unwrap();
    let mut decoders: Vec<Decoder> = file.decoders.iter().map(|d| d.decoder).collect();
    decoders.push(file.decoder);
    assert!(decoders
        .iter()
        .any(|d| matches!(d, Decoder::Learned { .. })));
    for decoder in decoders {
        let json = serde_json::to_string(&decoder).unwrap();
        assert_eq!(text(&json).unwrap(), decoder.to_string(), "{json}");
    }
    assert!(error_of(text(r#"{"kind":"psychic"}"#)).starts_with("not a decoder"));
    assert!(error_of(text(r#""max_softmax:kappa=4""#)).starts_with("not a decoder"));
}

#[wasm_bindgen_test]
fn per_class_accuracy_is_the_cores() {
    use dynconf::eval::Confusion;
    use dynconf::wasm::per_class_accuracy;
    let per_class = |json: &str| -> Vec<Option<f64>> {
        serde_wasm_bindgen::from_value(per_class_accuracy(js_json(json)).unwrap()).unwrap()
    };
    assert_eq!(
        per_class("[[3,1,0],[0,0,0],[2,0,2]]"),
        vec![Some(0.75), None, Some(0.5)]
    );
    let matrix = vec![vec![5, 0, 1], vec![2, 7, 1], vec![0, 0, 0]];
    assert_eq!(
        per_class(&serde_json::to_string(&matrix).unwrap()),
        Confusion::per_class(&matrix)
    );
    // A class with no images is null in JavaScript.
    let js = per_class_accuracy(js_json("[[1,0],[0,0]]")).unwrap();
    assert!(js_sys::Reflect::get(&js, &JsValue::from(1))
        .unwrap()
        .is_null());
    assert!(error_of(per_class_accuracy(js_json("[[1,0],[2]]"))).contains("row 1 has 1 counts"));
    assert!(
        error_of(per_class_accuracy(js_json(r#"[["a"]]"#))).starts_with("not a confusion matrix")
    );
}

#[wasm_bindgen_test]
fn the_simulations_kappa_and_probability_scores_follow_its_decoder() {
    let mut sim = WasmSimulation::new(MODEL).unwrap();
    // The paper's decoder until told otherwise.
    assert_eq!(sim.kappa(), Some(30.0));
    assert!(sim.scores_max_probability());
    for text in [
        "max_softmax:kappa=4",
        "divide_by_t",
        "margin:kappa=2",
        "entropy:kappa=0.5",
        "stability:kappa=8,k=3",
    ] {
        sim.set_decoder(text).unwrap();
        let decoder: Decoder = text.parse().unwrap();
        // κ is the divisor of the class probabilities wherever it does not grow with t.
        let kappa = (decoder.divisor(1) == decoder.divisor(2)).then(|| decoder.divisor(1));
        assert_eq!(sim.kappa(), kappa, "{text}");
        assert_eq!(
            sim.scores_max_probability(),
            decoder.scores_max_probability(),
            "{text}"
        );
    }
    // A calibration's families, the learned one included (no κ, not a probability).
    let calibration = WasmCalibration::new(CALIBRATION).unwrap();
    let file = Calibration::from_json(CALIBRATION).unwrap();
    for (index, family) in file.decoders.iter().enumerate() {
        sim.use_decoder(&calibration, index).unwrap();
        assert_eq!(
            sim.scores_max_probability(),
            family.decoder.scores_max_probability()
        );
        if matches!(family.decoder, Decoder::Learned { .. }) {
            assert_eq!(sim.kappa(), None);
            assert!(!sim.scores_max_probability());
        }
    }
}

#[wasm_bindgen_test]
fn crop_text_reads_crops_as_the_cli_and_writes_them_as_it_does() {
    use dynconf::crop::Crop;
    use dynconf::wasm::crop_text;
    for (typed, written) in [
        ("center", "center"),
        ("centre", "center"),
        (" Center ", "center"),
        ("full", "full"),
        ("FULL", "full"),
        ("120,0,300", "120,0,300"),
        (" 120 , 0 , 300 ", "120,0,300"),
    ] {
        assert_eq!(crop_text(typed).unwrap(), written, "{typed:?}");
        assert_eq!(
            crop_text(typed).unwrap(),
            typed.parse::<Crop>().unwrap().to_string()
        );
    }
    for bad in ["middle", "1,2", "-1,0,5", "1,2,0", "", "99999999999,0,1"] {
        assert_eq!(
            error_of(crop_text(bad)),
            bad.parse::<Crop>().unwrap_err().to_string(),
            "{bad:?}"
        );
    }
}
