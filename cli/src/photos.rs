//! `dynconf photos`: a folder of photos sorted by class, each run as `dynconf classify` runs it,
//! summarised: accuracy at the Dynamic Confidence stop, class-balanced accuracy, per-class
//! accuracy and confusions, mean stop step, and for photos of other things how often the run
//! stops sure of one of the classes anyway; with the calibration's out-of-distribution rule, how
//! often each kind of photo is flagged "unlike the classes" at the stop, and the rule's AUROC.
//! The "other" photos are used for measuring only: the rule is fitted on the calibration images.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use dynconf::calibrate::ood;
use dynconf::crop::Crop;

use crate::args::{ModelArgs, ThresholdArgs};
use crate::classify::{parse_crop, ImageRunner};
use crate::CliResult;

/// The folder of photos of none of the classes.
pub const OTHER: &str = "other";

#[derive(Args)]
pub struct PhotosArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    stop: ThresholdArgs,
    /// A folder with one sub-folder of photos per class, named as the model's classes
    /// (`airplane`, `automobile`, …), and optionally `other` for photos of none of them.
    dir: PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// The part of each photo the network sees (as `classify --crop`).
    #[arg(long, default_value = "center", value_parser = parse_crop, allow_hyphen_values = true)]
    crop: Crop,
}

/// The summary `photos --json` prints.
#[derive(Serialize, Default)]
struct Summary {
    dir: String,
    crop: String,
    max_steps: u32,
    /// `null` without a calibration or --threshold (every run goes to T_max).
    threshold: Option<f64>,
    /// Photos of the classes.
    images: usize,
    correct: usize,
    /// At the stop step (T_max without a threshold).
    accuracy: f64,
    /// The mean of the per-class accuracies, over the classes with photos.
    class_balanced_accuracy: f64,
    mean_stop_step: f64,
    /// Photos of the classes flagged as unlike the calibration images at the stop (false
    /// alarms; `null` without an out-of-distribution rule).
    flagged: Option<usize>,
    flagged_rate: Option<f64>,
    /// Of the flagged photos of the classes, those answered right at the stop.
    flagged_correct: Option<usize>,
    classes: Vec<ClassSummary>,
    /// Photos of none of the classes (`null` without an `other` folder).
    other: Option<OtherSummary>,
    /// The out-of-distribution score at the stop as a detector of the `other` photos among
    /// all photos: the area under its ROC curve (0.5: chance, 1: perfect; `null` without a
    /// rule or without both kinds of photos).
    ood_auroc: Option<f64>,
    /// Files that could not be classified: `{file, error}`.
    unreadable: Vec<Unreadable>,
}

#[derive(Serialize)]
struct ClassSummary {
    class: String,
    images: usize,
    correct: usize,
    accuracy: f64,
    mean_stop_step: f64,
    /// Predicted class → photos, the right one included.
    predictions: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct OtherSummary {
    images: usize,
    /// Runs that went above θ before T_max: sure of one of the classes.
    stopped_sure: usize,
    stopped_sure_rate: f64,
    mean_stop_step: f64,
    /// Flagged as unlike the calibration images at the stop (`null` without a rule).
    flagged: Option<usize>,
    flagged_rate: Option<f64>,
    /// Stopped sure and not flagged: what a visitor would take as a confident answer.
    sure_unflagged: Option<usize>,
    predictions: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct Unreadable {
    file: String,
    error: String,
}

/// The image files of `dir`, sorted by name (hidden files left out).
fn files_in(dir: &Path) -> CliResult<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

pub fn run(args: PhotosArgs) -> CliResult<()> {
    let mut runner = ImageRunner::new(&args.model, &args.stop)?;
    let classes: Vec<String> = runner.simulation.model().classes().to_vec();
    let entries = std::fs::read_dir(&args.dir)
        .map_err(|e| format!("cannot read the photo folder {}: {e}", args.dir.display()))?;
    let mut folders: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    folders.sort();
    if let Some(stray) = folders.iter().find(|n| *n != OTHER && !classes.contains(n)) {
        return Err(format!(
            "{}: the folder `{stray}` is not a class of the model; expected one folder per class ({}) and `{OTHER}`",
            args.dir.display(),
            classes.join(", ")
        ));
    }
    if !folders.iter().any(|n| classes.contains(n)) {
        return Err(format!(
            "{}: no folder named after a class; expected one folder per class ({}) and `{OTHER}`",
            args.dir.display(),
            classes.join(", ")
        ));
    }
    let rule = runner.rule;
    let decided = rule.threshold.is_finite();
    let mut summary = Summary {
        dir: args.dir.display().to_string(),
        crop: args.crop.to_string(),
        max_steps: rule.max_steps,
        threshold: decided.then_some(rule.threshold),
        ..Default::default()
    };
    let (mut steps, mut accuracies) = (0u64, Vec::new());
    // Out-of-distribution scores at the stop: photos of the classes, photos of other things.
    let (mut class_scores, mut other_scores) = (Vec::new(), Vec::new());
    let (mut class_flagged, mut flagged_correct) = (None, None);
    // Progress on a terminal only (a log keeps the summary).
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress = |n: usize| {
        if terminal {
            eprint!("\r{n} photos run");
        }
    };
    let mut done = 0;
    for class in classes.iter().chain(std::iter::once(&OTHER.to_string())) {
        let dir = args.dir.join(class);
        if !dir.is_dir() {
            continue;
        }
        let (mut images, mut correct, mut class_steps, mut sure) = (0, 0, 0u64, 0);
        let (mut flagged, mut sure_unflagged) = (None, None);
        let mut predictions = BTreeMap::new();
        for file in files_in(&dir)? {
            let run = match runner.run(&file, &args.crop) {
                Ok(run) => run,
                Err(error) => {
                    summary.unreadable.push(Unreadable {
                        file: file.display().to_string(),
                        error,
                    });
                    continue;
                }
            };
            done += 1;
            progress(done);
            images += 1;
            correct += (run.prediction == *class) as usize;
            class_steps += run.stop_step.unwrap_or(rule.max_steps) as u64;
            let stopped_sure = run.threshold_reached == Some(true);
            sure += stopped_sure as usize;
            if let (Some(flag), Some(score)) = (run.out_of_distribution, run.ood_score) {
                *flagged.get_or_insert(0) += flag as usize;
                if class != OTHER {
                    *flagged_correct.get_or_insert(0) +=
                        (flag && run.prediction == *class) as usize;
                }
                *sure_unflagged.get_or_insert(0) += (stopped_sure && !flag) as usize;
                if class == OTHER {
                    &mut other_scores
                } else {
                    &mut class_scores
                }
                .push(score);
            }
            *predictions.entry(run.prediction).or_insert(0) += 1;
        }
        let mean = class_steps as f64 / images.max(1) as f64;
        if class == OTHER {
            summary.other = Some(OtherSummary {
                images,
                stopped_sure: sure,
                stopped_sure_rate: sure as f64 / images.max(1) as f64,
                mean_stop_step: mean,
                flagged,
                flagged_rate: flagged.map(|f| f as f64 / images.max(1) as f64),
                sure_unflagged,
                predictions,
            });
        } else {
            summary.images += images;
            summary.correct += correct;
            steps += class_steps;
            if let Some(f) = flagged {
                *class_flagged.get_or_insert(0) += f;
            }
            let accuracy = correct as f64 / images.max(1) as f64;
            if images > 0 {
                accuracies.push(accuracy);
            }
            summary.classes.push(ClassSummary {
                class: class.clone(),
                images,
                correct,
                accuracy,
                mean_stop_step: mean,
                predictions,
            });
        }
    }
    if terminal {
        eprintln!();
    }
    summary.accuracy = summary.correct as f64 / summary.images.max(1) as f64;
    summary.class_balanced_accuracy =
        accuracies.iter().sum::<f64>() / accuracies.len().max(1) as f64;
    summary.mean_stop_step = steps as f64 / summary.images.max(1) as f64;
    summary.flagged = class_flagged;
    summary.flagged_correct = flagged_correct;
    summary.flagged_rate = class_flagged.map(|f| f as f64 / summary.images.max(1) as f64);
    summary.ood_auroc = ood::auroc(&other_scores, &class_scores);
    if args.json {
        say!(
            "{}",
            serde_json::to_string(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print_summary(&summary);
    }
    for u in &summary.unreadable {
        eprintln!("error: {}: {}", u.file, u.error);
    }
    match summary.unreadable.len() {
        0 => Ok(()),
        n => Err(format!("{n} photos could not be classified (see above)")),
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn print_summary(s: &Summary) {
    let threshold = s
        .threshold
        .map_or("no threshold (every run to T_max)".to_string(), |t| {
            format!("θ = {t:.6}")
        });
    say!(
        "{}: crop {}, T_max {}, {threshold}",
        s.dir,
        s.crop,
        s.max_steps
    );
    say!(
        "photos of the classes: {}; right at the stop {} ({} of {}); class-balanced {}; mean stop step {:.2}",
        s.images,
        percent(s.accuracy),
        s.correct,
        s.images,
        percent(s.class_balanced_accuracy),
        s.mean_stop_step
    );
    say!(
        "  {:<12} {:>6} {:>6} {:>9} {:>10}  taken for",
        "class",
        "photos",
        "right",
        "accuracy",
        "mean stop"
    );
    for c in &s.classes {
        let mut wrong: Vec<(&String, &usize)> = c
            .predictions
            .iter()
            .filter(|(p, _)| **p != c.class)
            .collect();
        wrong.sort_by(|a, b| b.1.cmp(a.1));
        let wrong: Vec<String> = wrong.iter().map(|(p, n)| format!("{p} {n}")).collect();
        say!(
            "  {:<12} {:>6} {:>6} {:>9} {:>10.2}  {}",
            c.class,
            c.images,
            c.correct,
            percent(c.accuracy),
            c.mean_stop_step,
            wrong.join(", ")
        );
    }
    if let Some(o) = &s.other {
        say!(
            "photos of other things: {}; the run stopped sure of a class on {} ({} of them); mean stop step {:.2}",
            o.images,
            percent(o.stopped_sure_rate),
            o.stopped_sure,
            o.mean_stop_step
        );
    }
    if let (Some(f), Some(rate), Some(right)) = (s.flagged, s.flagged_rate, s.flagged_correct) {
        say!(
            "flagged unlike the calibration images at the stop: photos of the classes {} ({f} of {}; right on {} of the flagged, {} of the others)",
            percent(rate),
            s.images,
            percent(right as f64 / f.max(1) as f64),
            percent((s.correct - right) as f64 / (s.images - f).max(1) as f64)
        );
    }
    if let Some(o) = &s.other {
        if let (Some(f), Some(rate), Some(quiet)) = (o.flagged, o.flagged_rate, o.sure_unflagged) {
            say!(
                "  photos of other things {} ({f} of {}); sure of a class and not flagged {} ({quiet})",
                percent(rate),
                o.images,
                percent(quiet as f64 / o.images.max(1) as f64)
            );
        }
    }
    if let Some(auroc) = s.ood_auroc {
        say!("  AUROC of the out-of-distribution score, other things against photos of the classes: {auroc:.3}");
    }
}
