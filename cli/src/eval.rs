//! `dynconf eval`: accuracy and cost of fixed-length runs, Dynamic Confidence and the
//! oracle on a split.

use std::time::Instant;

use clap::Args;

use dynconf::calibrate::{self, Calibration};
use dynconf::eval::report::{DynamicRule, EvalReport};
use dynconf::eval::{self, Confusion, CrossFitSettings, Summary};

use crate::args::{CrossFitArgs, DataArgs, EngineArg, ModelArgs, ThresholdArgs};
use crate::batch::run_batch;
use crate::files::{calibration_for, calibration_path, load_data, load_model, split_file_name};
use crate::output::{percent, threshold_text};
use crate::CliResult;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    stop: ThresholdArgs,
    #[command(flatten)]
    crossfit: CrossFitArgs,
    /// Propagation engine (both give identical spikes).
    #[arg(long, value_enum, default_value_t = EngineArg::Event)]
    engine: EngineArg,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Skip the quantized-ANN pass (no ANN accuracy), e.g. to time the SNN alone.
    #[arg(long)]
    no_ann: bool,
}

/// Where `dynamic`'s rule comes from for these flags (see [`DynamicRule`]).
fn dynamic_rule(args: &EvalArgs, calibration: Option<&Calibration>) -> DynamicRule {
    match calibration {
        Some(c) if args.stop.threshold.is_none() => {
            DynamicRule::from_calibration(c, &args.data.split, &split_file_name(&args.data))
        }
        _ => DynamicRule::command_line(),
    }
}

pub fn run(args: EvalArgs) -> CliResult<()> {
    let loaded = load_model(&args.model.model)?;
    let calibration = calibration_for(&args.stop, &args.model.model, &loaded)?;
    let (decoder, threshold) = args.stop.resolve(calibration.as_ref())?.ok_or_else(|| {
        format!(
            "no threshold: run `dynconf calibrate --model {}` first (it writes {}), or pass --decoder and --threshold",
            args.model.model.display(),
            calibration_path(&args.model.model).display()
        )
    })?;
    let model = &loaded.model;
    let batch = load_data(&args.data, model)?;
    let start = Instant::now();
    let runs = run_batch(
        model,
        &batch,
        args.model.max_steps(calibration.as_ref()),
        args.engine.into(),
        !args.no_ann,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let settings = CrossFitSettings {
        tolerance: calibration
            .as_ref()
            .map_or(calibrate::DEFAULT_TOLERANCE, |c| c.tolerance),
        folds: args.crossfit.folds as usize,
        seed: args.crossfit.seed,
        ..CrossFitSettings::default()
    };
    let summary = eval::summarize(&runs, model, decoder, threshold, &settings);
    let rule = dynamic_rule(&args, calibration.as_ref());
    if args.json {
        let json = serde_json::to_string(&EvalReport {
            split: &args.data.split,
            summary: &summary,
            dynamic_rule: &rule,
            seconds,
        })
        .map_err(|e| e.to_string())?;
        say!("{json}");
    } else {
        print_eval(&summary, &args, &rule, seconds);
    }
    Ok(())
}

fn print_eval(s: &Summary, args: &EvalArgs, rule: &DynamicRule, seconds: f64) {
    say!(
        "model {}  split {} ({} images)  T_max {}",
        args.model.model.display(),
        args.data.split,
        s.images,
        s.max_steps
    );
    if let Some(ann) = s.ann_accuracy {
        say!("quantized ANN accuracy   {}", percent(ann));
    }
    say!("\nfixed length\n   T  accuracy");
    for f in &s.fixed {
        say!("{:>4}  {:>8}", f.steps, percent(f.accuracy));
    }
    let d = &s.dynamic;
    let print_rule = || {
        say!(
            "\nDynamic Confidence at {} θ = {} ({})",
            d.decoder,
            threshold_text(d.threshold, None),
            rule.describe()
        );
        say!(
            "  accuracy {}  mean steps {:.2}",
            percent(d.accuracy),
            d.mean_steps
        );
        say!("  latency reduction {}", d.latency);
    };
    // Held-out figures first: the calibrated rule when it was fitted elsewhere, else the
    // cross-fitting.
    let held_out_rule = rule.in_sample == Some(false);
    if held_out_rule {
        print_rule();
    }
    let cross_fitted_label = if held_out_rule {
        "cross-fitted on this split itself, for comparison"
    } else {
        "cross-fitted"
    };
    match &s.dynamic_crossfit {
        Some(c) => {
            say!(
                "\nDynamic Confidence, {cross_fitted_label} ({} folds, seed {}: decoder and threshold chosen on {} of {} folds, scored on the other)",
                c.k,
                c.seed,
                c.k - 1,
                c.k
            );
            say!(
                "  accuracy {} (T_max {})  mean steps {:.2}  (spread over folds: ±{:.2} points, ±{:.2} steps)",
                percent(c.accuracy),
                percent(c.full_accuracy),
                c.mean_steps,
                100.0 * c.accuracy_sd,
                c.mean_steps_sd
            );
            say!("  latency reduction {}", c.latency);
        }
        None => say!(
            "\nDynamic Confidence, cross-fitted: not computed ({} images are fewer than {} folds)",
            s.images,
            args.crossfit.folds
        ),
    }
    if !held_out_rule {
        print_rule();
    }
    say!(
        "oracle (stop at first correct step)  accuracy {}  mean steps {:.2}",
        percent(s.oracle.accuracy),
        s.oracle.mean_steps
    );
    say!("\ncost per inference        DC     T={}", s.max_steps);
    say!(
        "  spikes per neuron {:>8.3} {:>8.3}",
        d.spikes_per_neuron,
        s.fixed_full.spikes_per_neuron
    );
    say!(
        "  synaptic ops      {:>8.3e} {:>8.3e}",
        d.synops,
        s.fixed_full.synops
    );
    say!(
        "\nper class (accuracy)       DC     T={}   images",
        s.max_steps
    );
    let dynamic = Confusion::per_class(&s.confusion.dynamic);
    let full = Confusion::per_class(&s.confusion.t_max);
    for (class, name) in s.classes.iter().enumerate() {
        let cell = |a: Option<f64>| a.map_or_else(|| "-".into(), percent);
        say!(
            "  {name:<20} {:>8} {:>8} {:>7}",
            cell(dynamic[class]),
            cell(full[class]),
            s.confusion.t_max[class].iter().sum::<u64>()
        );
    }
    say!(
        "\n{:.1} images/s ({seconds:.1} s)",
        s.images as f64 / seconds.max(1e-9)
    );
}
