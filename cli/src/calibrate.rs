//! `dynconf calibrate` (choose the decoder and threshold on a validation split, write the
//! calibration file) and `dynconf decoders` (the same comparison, printed).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use dynconf::calibrate::{self, Calibration, CalibrationSettings, CrossFit, Figures};
use dynconf::cifar;
use dynconf::eval::{self, report};
use dynconf::{Decoder, Engine};

use crate::args::{CompareArgs, DataArgs, ModelArgs};
use crate::batch::run_batch;
use crate::files::{calibration_path, load_data, load_model, split_file_name, LoadedModel};
use crate::output::{percent, threshold_text};
use crate::CliResult;

#[derive(Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    compare: CompareArgs,
    /// Where to write the calibration (default: next to the model).
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct DecodersArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    compare: CompareArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs a split to T_max and calibrates every candidate on it (with cross-fitting).
fn run_calibration(
    loaded: &LoadedModel,
    model_args: &ModelArgs,
    data: &DataArgs,
    compare: &CompareArgs,
) -> CliResult<Calibration> {
    let batch = load_data(data, &loaded.model)?;
    let folds = compare.crossfit.folds as usize;
    if batch.len() < folds {
        return Err(format!(
            "cannot cross-fit {} images in {folds} folds: pass --folds {} or use more images",
            batch.len(),
            batch.len().max(2)
        ));
    }
    let runs = run_batch(
        &loaded.model,
        &batch,
        // A new calibration: the user's T_max, else the default (not an old calibration's).
        model_args.max_steps(None),
        Engine::EventDriven,
        false,
    )?;
    let candidates = if compare.decoders.is_empty() {
        calibrate::default_candidates()
    } else {
        compare.decoders.clone()
    };
    eprintln!(
        "comparing {} decoders on {} images, with {}-fold cross-fitting…",
        candidates.len(),
        runs.len(),
        compare.crossfit.folds
    );
    let start = Instant::now();
    let settings = CalibrationSettings {
        split: report::calibration_split(
            &data.split,
            &cifar::split_path(&data.data, &data.split).describe(),
            // --limit N took the first N images (fewer: the whole split).
            data.limit.filter(|&n| n == runs.len()),
        ),
        model_sha256: loaded.sha256.clone(),
        tolerance: compare.tolerance,
        folds: compare.crossfit.folds as usize,
        seed: compare.crossfit.seed,
    };
    let calibration = calibrate::calibrate(&eval::recording(&runs), &candidates, &settings)?;
    eprintln!("compared in {:.1} s", start.elapsed().as_secs_f64());
    Ok(calibration)
}

fn figures(f: &Figures) -> String {
    format!("{:>8} {:>6.2}", percent(f.accuracy), f.mean_steps)
}

fn crossfit_figures(c: &CrossFit) -> String {
    let reduction = match c.latency.reduction {
        Some(r) => format!(
            "{:.1}% vs T={}",
            100.0 * r,
            c.latency.reference_steps.unwrap_or(0)
        ),
        None => "none".into(),
    };
    format!(
        "{:>8} {:>6.2}  ±{:.2} pts ±{:.2} steps  {reduction}",
        percent(c.accuracy),
        c.mean_steps,
        100.0 * c.accuracy_sd,
        c.mean_steps_sd
    )
}

fn print_decoders(calibration: &Calibration) {
    let full = calibration.fixed.last().map_or(0.0, |f| f.accuracy);
    say!(
        "{} images, T_max {}: T_max accuracy {}; each threshold is the cheapest within {} images of it",
        calibration.images,
        calibration.max_steps,
        percent(full),
        calibrate::allowed_misses(calibration.tolerance, calibration.images)
    );
    say!(
        "\n  {:<32} {:>15} | cross-fitted ({} folds): accuracy, mean steps, spread, latency reduction",
        "decoder (chosen on all images)",
        "in-sample",
        calibration.crossfit.k
    );
    for d in &calibration.decoders {
        let mark = chosen_mark(&d.decoder, calibration);
        say!(
            "  {:<32} {} | {}{mark}",
            d.decoder.to_string(),
            figures(&d.in_sample),
            crossfit_figures(&d.crossfit)
        );
    }
    say!(
        "  {:<32} {} | {}",
        "the whole choice (any decoder)",
        figures(&calibration.in_sample),
        crossfit_figures(&calibration.crossfit)
    );
    say!(
        "\noracle: accuracy {}  mean steps {:.2}",
        percent(calibration.oracle.accuracy),
        calibration.oracle.mean_steps
    );
    print_reliability(calibration);
}

/// The chosen decoder's step-and-score-to-accuracy table and each family's held-out check.
fn print_reliability(calibration: &Calibration) {
    let Some(table) = calibration.reliability_of(&calibration.decoder) else {
        return;
    };
    say!(
        "\nreliability of {} (how often the leading class was right, by step and score; the page's \"right … of the time\"):",
        calibration.decoder
    );
    for group in &table.groups {
        let cells: Vec<String> = group
            .bins
            .iter()
            .map(|bin| {
                let from = bin.from.map_or("−∞".to_string(), |s| format!("{s:.4}"));
                format!("≥{from} {}", percent(bin.accuracy()))
            })
            .collect();
        say!(
            "  steps {:>2}–{:<2} {}",
            group.first_step,
            group.last_step,
            cells.join(", ")
        );
    }
    for d in &calibration.decoders {
        if let Some(r) = &d.reliability {
            say!(
                "  {:<32} held-out calibration error {:.2} pts",
                d.decoder.to_string(),
                100.0 * r.crossfit_error
            );
        }
    }
}

/// The out-of-distribution rule's false alarms on the calibration images.
fn print_ood(calibration: &Calibration) {
    if let Some(ood) = &calibration.out_of_distribution {
        say!(
            "\nout-of-distribution rule (IF-layer activity of {} layers unlike these images'): fitted to flag {} of these images at each step; held out (cross-fitted) {}",
            ood.layers(),
            percent(ood.false_alarm),
            percent(ood.crossfit_false_alarm)
        );
    }
}

/// Marks the calibration's chosen decoder in a table row.
fn chosen_mark(decoder: &Decoder, calibration: &Calibration) -> &'static str {
    if *decoder == calibration.decoder {
        "  ← chosen"
    } else {
        ""
    }
}

pub fn run(args: CalibrateArgs) -> CliResult<()> {
    let file = split_file_name(&args.data);
    if cifar::is_test_split(&args.data.split, &file) {
        return Err(format!("calibrating on the test split ({file}) would tune the threshold on test data; use --split validation"));
    }
    let loaded = load_model(&args.model.model)?;
    let calibration = run_calibration(&loaded, &args.model, &args.data, &args.compare)?;
    say!("calibration on {}", calibration.split);
    say!("\n  every candidate, in-sample        threshold  mean steps  accuracy  front points");
    for row in &calibration.candidates {
        let mark = chosen_mark(&row.decoder, &calibration);
        say!(
            "  {:<32} {:>10} {:>11.2} {:>9}  {:>12}{mark}",
            row.decoder.to_string(),
            threshold_text(row.threshold, Some(4)),
            row.mean_steps,
            percent(row.accuracy),
            row.front_points
        );
    }
    say!("");
    print_decoders(&calibration);
    print_ood(&calibration);

    let path = args
        .output
        .clone()
        .unwrap_or_else(|| calibration_path(&args.model.model));
    let json = serde_json::to_string(&calibration).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    say!("wrote {}", path.display());
    Ok(())
}

#[derive(Serialize)]
struct DecoderRow<'a> {
    name: &'a str,
    params: Decoder,
    threshold: f64,
    in_sample: &'a Figures,
    crossfit: &'a CrossFit,
}

pub fn run_decoders(args: DecodersArgs) -> CliResult<()> {
    if args.data.split == "test" {
        eprintln!("note: the test split's figures are for reporting; choose a decoder on --split validation");
    }
    let loaded = load_model(&args.model.model)?;
    let calibration = run_calibration(&loaded, &args.model, &args.data, &args.compare)?;
    if args.json {
        let rows: Vec<DecoderRow> = calibration
            .decoders
            .iter()
            .map(|d| DecoderRow {
                name: &d.family,
                params: d.decoder,
                threshold: d.threshold,
                in_sample: &d.in_sample,
                crossfit: &d.crossfit,
            })
            .collect();
        let json = serde_json::json!({
            "split": calibration.split,
            "images": calibration.images,
            "max_steps": calibration.max_steps,
            "tolerance": calibration.tolerance,
            "decoders": rows,
            "chosen": {"params": calibration.decoder, "threshold": calibration.threshold,
                       "in_sample": calibration.in_sample, "crossfit": calibration.crossfit},
            "oracle": calibration.oracle,
        });
        say!("{json}");
    } else {
        say!("decoders on {}", calibration.split);
        print_decoders(&calibration);
    }
    Ok(())
}
