//! What `dynconf eval --json` prints and the page's "Evaluate all" downloads: one schema,
//! built here for both.

use serde::Serialize;

use super::Summary;
use crate::calibrate::Calibration;

/// The whole evaluation report (`dynconf eval --json`): the split, the [`Summary`]'s keys,
/// where the Dynamic Confidence rule came from, and the wall time of running the images.
#[derive(Serialize)]
pub struct EvalReport<'a> {
    /// The split's name as given to `--split` (on the page: the batch file's name less `.bin`).
    pub split: &'a str,
    #[serde(flatten)]
    pub summary: &'a Summary,
    pub dynamic_rule: &'a DynamicRule,
    /// Seconds spent running the images (not summarising them).
    pub seconds: f64,
}

/// Where `dynamic`'s decoder and threshold come from, and whether its figures are in-sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DynamicRule {
    /// `calibration` or `command line`.
    pub source: &'static str,
    /// The calibration's images, when it comes from one.
    pub calibrated_on: Option<String>,
    /// Whether these images are, or include, the ones the threshold was calibrated on; `None`
    /// for a threshold from the command line.
    pub in_sample: Option<bool>,
}

impl DynamicRule {
    /// The rule of a threshold taken from `calibration`, evaluated on split `split` read from
    /// the batch file named `file` (e.g. `validation`, `data_batch_5.bin`). In-sample when
    /// the split has the calibration's name or comes from the file it was calibrated on
    /// (`data_batch_5` holds the `validation` records).
    pub fn from_calibration(calibration: &Calibration, split: &str, file: &str) -> Self {
        // The calibration's split is written as "NAME (DESCRIPTION)", the description naming
        // the file.
        let (name, description) = calibration
            .split
            .split_once(" (")
            .unwrap_or((&calibration.split, ""));
        let same_file = !file.is_empty()
            && description
                .split(|c: char| c.is_whitespace() || c == ')')
                .any(|word| word == file);
        DynamicRule {
            source: "calibration",
            calibrated_on: Some(calibration.split.clone()),
            in_sample: Some(name == split || same_file),
        }
    }

    /// A decoder and threshold given on the command line.
    pub fn command_line() -> Self {
        DynamicRule {
            source: "command line",
            calibrated_on: None,
            in_sample: None,
        }
    }

    /// One line for the text report.
    pub fn describe(&self) -> String {
        match (self.in_sample, &self.calibrated_on) {
            (Some(true), Some(on)) => format!("in-sample: calibrated on these images, {on}"),
            (Some(false), Some(on)) => format!("held out: calibrated on {on}"),
            _ => "threshold from the command line".into(),
        }
    }
}

/// How `dynconf calibrate` names the images it calibrated on: `NAME (DESCRIPTION)`, e.g.
/// `validation (data_batch_5.bin records 5000..9999)` or `data_batch_1 (first 500 images of
/// data_batch_1.bin)` when only the first `limit` of the split's images were used.
pub fn calibration_split(name: &str, description: &str, limit: Option<usize>) -> String {
    match limit {
        Some(n) => format!("{name} (first {n} images of {description})"),
        None => format!("{name} ({description})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calibrated_on(split: &str) -> Calibration {
        let json = include_str!("../../models/dynconf-cifar10-v7.calibration.json");
        let mut c = Calibration::from_json(json.as_bytes()).unwrap();
        c.split = split.into();
        c
    }

    #[test]
    fn in_sample_by_name_or_by_file() {
        let validation = calibrated_on("validation (data_batch_5.bin records 5000..9999)");
        let rule = |split, file| DynamicRule::from_calibration(&validation, split, file).in_sample;
        assert_eq!(rule("validation", "data_batch_5.bin"), Some(true));
        assert_eq!(rule("data_batch_5", "data_batch_5.bin"), Some(true));
        assert_eq!(rule("test", "test_batch.bin"), Some(false));
        assert_eq!(rule("data_batch_1", "data_batch_1.bin"), Some(false));
        let limited = calibrated_on(&calibration_split("mine", "mine.bin", Some(40)));
        assert_eq!(limited.split, "mine (first 40 images of mine.bin)");
        assert_eq!(
            DynamicRule::from_calibration(&limited, "mine", "mine.bin").in_sample,
            Some(true)
        );
        assert_eq!(
            DynamicRule::from_calibration(&limited, "other", "other.bin").in_sample,
            Some(false)
        );
    }
}
