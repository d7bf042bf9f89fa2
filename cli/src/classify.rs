//! `dynconf classify`: image files run step by step, with where Dynamic Confidence stops.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use dynconf::calibrate::{OodDetector, Reliability};
use dynconf::crop::Crop;
use dynconf::{preprocess, Decoder, Engine, Simulation, StepReport, StopRule};
use dynconf_cli::image_file::{self, ColourProfile};

use crate::args::{ModelArgs, ThresholdArgs};
use crate::files::{load_model, read_calibration};
use crate::output::stdout_closed;
use crate::CliResult;

#[derive(Args)]
pub struct ClassifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    stop: ThresholdArgs,
    /// Image files (PNG, JPEG, WebP, GIF). A file that cannot be read is reported and
    /// skipped; the exit status is then 1.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print one JSON object per image, one per line (an unreadable file gives
    /// `{"file", "error"}`).
    #[arg(long)]
    json: bool,
    /// The part of each image the network sees: `center` (the largest centred square),
    /// `full` (the whole image, squashed to 32×32) or `X,Y,SIZE` (a square, in pixels of the
    /// image after its EXIF orientation; the page shows the crop you chose this way).
    #[arg(long, default_value = "center", value_parser = parse_crop, allow_hyphen_values = true)]
    crop: Crop,
}

pub(crate) fn parse_crop(text: &str) -> Result<Crop, String> {
    text.parse()
        .map_err(|e: dynconf::crop::CropError| e.to_string())
}

/// What running image files needs: the model's simulation with the decoder set, the stop
/// rule (calibration, then flags), and from the calibration the reliability table for the
/// decoder and the out-of-distribution rule.
pub(crate) struct ImageRunner {
    pub(crate) simulation: Simulation,
    pub(crate) rule: StopRule,
    reliability: Option<Reliability>,
    ood: Option<OodDetector>,
}

impl ImageRunner {
    /// From the model flags and the stop flags; says on stderr when there is no stop rule.
    pub(crate) fn new(model: &ModelArgs, stop: &ThresholdArgs) -> CliResult<ImageRunner> {
        let loaded = load_model(&model.model)?;
        let calibration = read_calibration(&model.model, &loaded)?;
        let resolved = stop.resolve(calibration.as_ref())?;
        if resolved.is_none() {
            eprintln!("note: no calibration file and no --threshold; showing every step without a stop decision");
        }
        let (decoder, threshold) =
            resolved.unwrap_or((stop.decoder.unwrap_or(Decoder::PAPER), f64::INFINITY));
        let rule = StopRule {
            threshold,
            max_steps: model.max_steps(calibration.as_ref()),
        };
        let reliability = calibration
            .as_ref()
            .and_then(|c| c.reliability_of(&decoder))
            .cloned();
        let ood = calibration
            .as_ref()
            .and_then(|c| c.out_of_distribution.clone());
        let mut simulation = Simulation::new(Arc::clone(&loaded.model), Engine::EventDriven);
        simulation.set_decoder(decoder);
        Ok(ImageRunner {
            simulation,
            rule,
            reliability,
            ood,
        })
    }

    /// One image file, as [`classify_file`] runs it.
    pub(crate) fn run(&mut self, path: &Path, crop: &Crop) -> CliResult<Classification> {
        classify_file(
            path,
            &mut self.simulation,
            &self.rule,
            self.reliability.as_ref(),
            self.ood.as_ref(),
            crop,
        )
    }
}

pub fn run(args: ClassifyArgs) -> CliResult<()> {
    let mut runner = ImageRunner::new(&args.model, &args.stop)?;
    let mut failures = 0;
    for path in &args.images {
        if stdout_closed() {
            break;
        }
        // A bad file is reported and skipped; the exit status says so at the end.
        let result = runner.run(path, &args.crop);
        match result {
            Ok(run) if args.json => say!(
                "{}",
                serde_json::to_string(&run).map_err(|e| e.to_string())?
            ),
            Ok(run) => print_classification(&run),
            Err(message) => {
                failures += 1;
                eprintln!("error: {}: {message}", path.display());
                if args.json {
                    let json =
                        serde_json::json!({"file": path.display().to_string(), "error": message});
                    say!("{json}");
                }
            }
        }
    }
    match failures {
        0 => Ok(()),
        n => Err(format!(
            "{n} of {} images could not be classified (see above)",
            args.images.len()
        )),
    }
}

/// One image's run, as `classify --json` prints it (one object per line).
#[derive(Serialize)]
pub(crate) struct Classification {
    file: String,
    format: &'static str,
    /// After the EXIF orientation is applied.
    width: u32,
    height: u32,
    /// The EXIF orientation applied (1: none).
    orientation: u8,
    /// The embedded ICC colour profile: `none`, `converted` (the pixels were converted from it
    /// to sRGB, as browsers do) or `ignored` (unreadable or not RGB/grey: taken as sRGB).
    icc_profile: image_file::ColourProfile,
    /// The crop as asked for (`center`, `full` or `X,Y,SIZE`).
    crop: String,
    /// The pixels it took: `[x, y, width, height]`.
    crop_rect: [u32; 4],
    decoder: Decoder,
    /// `null` without a calibration or --threshold (no stop decision).
    threshold: Option<f64>,
    /// At the stop step (at T_max without a threshold).
    pub(crate) prediction: String,
    /// The decoder's score s(t) at that step.
    score: f32,
    /// The largest of the class probabilities softmax(O(t)/d) shown beside the run.
    confidence: f32,
    /// How often the leading class was right on the calibration images at about this step and score
    /// (the calibration's reliability table; `null` without one): what the page shows.
    chance: Option<f64>,
    /// Where Dynamic Confidence stops (`null` without a threshold): the first step whose
    /// score is above θ, or T_max when none is.
    pub(crate) stop_step: Option<u32>,
    /// Whether the score went above θ (`false`: the run stopped at T_max without being
    /// confident; `null` without a threshold).
    pub(crate) threshold_reached: Option<bool>,
    /// At that step: whether the IF layers' activity is unlike that on the calibration images
    /// (the calibration's out-of-distribution rule, src/calibrate/ood.rs; `null` without one).
    pub(crate) out_of_distribution: Option<bool>,
    /// The rule's score at that step: squared Mahalanobis distance over the step's threshold,
    /// flagged above 1 (`null` without a rule).
    pub(crate) ood_score: Option<f64>,
    max_steps: u32,
    steps: Vec<StepPoint>,
}

#[derive(Serialize)]
struct StepPoint {
    t: u32,
    prediction: String,
    score: f32,
    confidence: f32,
    chance: Option<f64>,
    out_of_distribution: Option<bool>,
    ood_score: Option<f64>,
}

/// One image file run as `classify` runs it: decoded as browsers decode it, cropped, run to the
/// stop rule and on to T_max.
fn classify_file(
    path: &Path,
    simulation: &mut Simulation,
    rule: &StopRule,
    reliability: Option<&Reliability>,
    ood: Option<&OodDetector>,
    crop: &Crop,
) -> CliResult<Classification> {
    if path.is_dir() {
        return Err("is a directory; expected an image file (PNG, JPEG, WebP or GIF)".into());
    }
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the file: {e}"))?
        .len();
    image_file::check_file_size(size).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let image = image_file::decode(&bytes).map_err(|e| e.to_string())?;
    let rect = crop
        .rect(image.width, image.height)
        .map_err(|e| e.to_string())?;
    let model = Arc::clone(simulation.model());
    let input = preprocess::prepare_image(
        model.input(),
        &image.rgba,
        image.width as usize,
        image.height as usize,
        4,
        crop,
    )
    .map_err(|e| e.to_string())?;
    simulation
        .set_input_f64(&input)
        .map_err(|e| e.to_string())?;
    let mut steps = Vec::with_capacity(rule.max_steps as usize);
    let point = |report: &StepReport<'_>| {
        let ood_score = ood.and_then(|d| d.score(report.t, report.cumulative_spikes_per_layer));
        StepPoint {
            t: report.t,
            prediction: model.classes()[report.decision.prediction].clone(),
            score: report.decision.score,
            confidence: report.probabilities.iter().copied().fold(0.0, f32::max),
            chance: reliability.map(|r| r.chance(report.t, report.decision.score)),
            out_of_distribution: ood_score.map(OodDetector::flags),
            ood_score,
        }
    };
    // Dynamic Confidence's run (the core's stop rule), then the rest of the steps to T_max
    // for comparison.
    let stop = simulation.run(rule, |report| steps.push(point(report)));
    simulation.run(&StopRule::fixed(rule.max_steps), |report| {
        steps.push(point(report))
    });
    let decided = rule.threshold.is_finite();
    let shown = &steps[stop.t as usize - 1];
    Ok(Classification {
        file: path.display().to_string(),
        format: image.format,
        width: image.width,
        height: image.height,
        orientation: image.orientation,
        icc_profile: image.colour,
        crop: crop.to_string(),
        crop_rect: [rect.x, rect.y, rect.width, rect.height],
        decoder: simulation.decoder(),
        threshold: decided.then_some(rule.threshold),
        prediction: shown.prediction.clone(),
        score: shown.score,
        confidence: shown.confidence,
        chance: shown.chance,
        stop_step: decided.then_some(stop.t),
        threshold_reached: decided.then_some(stop.confident),
        out_of_distribution: shown.out_of_distribution,
        ood_score: shown.ood_score,
        max_steps: rule.max_steps,
        steps,
    })
}

fn print_classification(run: &Classification) {
    let rotated = match run.orientation {
        1 => String::new(),
        o => format!(", EXIF orientation {o} applied"),
    };
    let colour = match run.icc_profile {
        ColourProfile::None => "",
        ColourProfile::Converted => ", colour: converted from embedded ICC profile to sRGB",
        ColourProfile::Gamma => ", colour: converted from the PNG's gAMA/cHRM chunks to sRGB",
        ColourProfile::Ignored => {
            ", colour: embedded ICC profile ignored (unreadable or not RGB), taken as sRGB"
        }
    };
    let [x, y, w, h] = run.crop_rect;
    say!(
        "{} ({}×{} {}{rotated}{colour}), crop {} ({w}×{h} pixels at {x},{y}), decoder {}",
        run.file,
        run.width,
        run.height,
        run.format,
        run.crop,
        run.decoder
    );
    say!("     t  prediction         score  confidence");
    for step in &run.steps {
        let mark = if Some(step.t) != run.stop_step {
            ""
        } else if run.threshold_reached == Some(true) {
            "  ← Dynamic Confidence stops"
        } else {
            "  ← T_max reached, θ never exceeded"
        };
        say!(
            "  {:>4}  {:<12} {:>10.4}  {:>10.4}{mark}",
            step.t,
            step.prediction,
            step.score,
            step.confidence
        );
    }
    match (run.stop_step, run.threshold, run.threshold_reached) {
        (Some(t), Some(threshold), Some(true)) => say!(
            "  → {} after {t} of {} steps (score above θ = {threshold:.6})",
            run.prediction,
            run.max_steps
        ),
        (Some(t), Some(threshold), _) => say!(
            "  → {} at T_max = {t}: the score never went above θ = {threshold:.6} (not confident)",
            run.prediction
        ),
        _ => {}
    }
    if let (Some(true), Some(score)) = (run.out_of_distribution, run.ood_score) {
        say!(
            "  ! unlike the calibration images (out-of-distribution score {score:.2} > 1): \
             `chance`, measured on those images, may not hold for this one"
        );
    }
    say!("");
}
