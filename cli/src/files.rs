//! Reading the files a command needs: the model, its calibration, a CIFAR-10 split.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dynconf::calibrate::{self, Calibration};
use dynconf::cifar::{self, Batch};
use dynconf::Model;

use crate::args::{DataArgs, ThresholdArgs};
use crate::CliResult;

/// A model and the SHA-256 of its file.
pub struct LoadedModel {
    pub model: Arc<Model>,
    pub sha256: String,
}

pub fn load_model(path: &Path) -> CliResult<LoadedModel> {
    // Refused by size before it is read (the core's limit, the page's too).
    if let Ok(metadata) = std::fs::metadata(path) {
        dynconf::model::check_file_size(metadata.len())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read model {}: {e}\n  (train and export one with training/, or pass --model PATH)",
            path.display()
        )
    })?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(LoadedModel {
        model: Arc::new(model),
        sha256: calibrate::sha256_hex(&bytes),
    })
}

/// `models/x.safetensors` → `models/x.calibration.json`.
pub fn calibration_path(model: &Path) -> PathBuf {
    model.with_extension("calibration.json")
}

/// The calibration file next to the model, checked to belong to it.
pub fn read_calibration(model_path: &Path, model: &LoadedModel) -> CliResult<Option<Calibration>> {
    let path = calibration_path(model_path);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let again = format!(
        "calibrate the model again with `dynconf calibrate --model {} --split validation`",
        model_path.display()
    );
    let calibration =
        Calibration::from_json(&bytes).map_err(|e| format!("{}: {e}; {again}", path.display()))?;
    calibration.check_model(&model.sha256).map_err(|e| {
        format!(
            "{} does not belong to {}: {e}; {again}",
            path.display(),
            model_path.display()
        )
    })?;
    Ok(Some(calibration))
}

/// The calibration for a command with these flags: when `--decoder` and `--threshold` both
/// are given nothing is taken from it, so a calibration that cannot be used is only noted.
pub fn calibration_for(
    stop: &ThresholdArgs,
    model_path: &Path,
    model: &LoadedModel,
) -> CliResult<Option<Calibration>> {
    match read_calibration(model_path, model) {
        Err(e) if stop.threshold.is_some() && stop.decoder.is_some() => {
            eprintln!("note: not using the calibration: {e}");
            Ok(None)
        }
        other => other,
    }
}

/// The split the flags name, cut to `--limit`; refuses a model that does not take CIFAR-10
/// images and an empty result.
pub fn load_data(args: &DataArgs, model: &Model) -> CliResult<Batch> {
    cifar::check_model_input(model.input().len()).map_err(|e| e.to_string())?;
    let mut batch = cifar::load_split(&args.data, &args.split).map_err(|e| {
        format!("{e}\n  (CIFAR-10 binary batches: see ../shared/cifar10/README.md, or the official cifar-10-binary.tar.gz)")
    })?;
    if let Some(limit) = args.limit {
        batch.truncate(limit);
    }
    if batch.is_empty() {
        return Err("no images to run".into());
    }
    Ok(batch)
}

/// The file name of the split the flags name (`data_batch_5.bin`, `test_batch.bin`, ...).
pub fn split_file_name(args: &DataArgs) -> String {
    cifar::split_path(&args.data, &args.split)
        .path
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
}
