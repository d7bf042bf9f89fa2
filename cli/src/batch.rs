//! Running a whole split: every image to T_max, in parallel, with a progress bar.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use dynconf::ann::QuantizedAnn;
use dynconf::cifar::Batch;
use dynconf::eval::{self, ImageRun};
use dynconf::{preprocess, Engine, Model, Simulation};

use crate::CliResult;

/// Runs every image to `max_steps` in parallel, one simulation per worker thread.
pub fn run_batch(
    model: &Arc<Model>,
    batch: &Batch,
    max_steps: u32,
    engine: Engine,
    with_ann: bool,
) -> CliResult<Vec<ImageRun>> {
    let progress = ProgressBar::new(batch.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  eta {eta}")
            .expect("valid template"),
    );
    let runs = (0..batch.len())
        .into_par_iter()
        .map_init(
            || {
                (
                    Simulation::new(Arc::clone(model), engine),
                    with_ann.then(|| QuantizedAnn::new(model)),
                )
            },
            |(simulation, ann), i| {
                let input = preprocess::normalize_u8(model.input(), batch.image(i));
                let run =
                    eval::run_image(simulation, ann.as_mut(), &input, batch.label(i), max_steps);
                progress.inc(1);
                run
            },
        )
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string());
    progress.finish_and_clear();
    runs
}
