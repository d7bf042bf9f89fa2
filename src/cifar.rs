//! CIFAR-10 binary batches: records of 1 label byte (0..9) and 3072 pixel bytes (the
//! 32×32 red plane, then green, then blue, each row-major — already CHW).

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Width and height of a CIFAR-10 image, in pixels.
pub const IMAGE_SIDE: usize = 32;
/// Pixel bytes of one image.
pub const IMAGE_BYTES: usize = 3 * IMAGE_SIDE * IMAGE_SIDE;
/// Bytes of one record: label + pixels.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Class names in label order.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];
/// Records of `data_batch_5.bin` held out by the training code as the validation split.
pub const VALIDATION_RECORDS: Range<usize> = 5000..10000;

#[derive(Debug, thiserror::Error)]
pub enum CifarError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A batch file that does not parse: the file, then why.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: Box<CifarError>,
    },
    #[error("the batch is empty")]
    Empty,
    #[error("the batch has {0} bytes, not a whole number of {RECORD_BYTES}-byte records (is it a CIFAR-10 binary batch?)")]
    Length(usize),
    #[error("record {record} has label {label}; CIFAR-10 labels are 0..9")]
    Label { record: usize, label: u8 },
    #[error("the model expects {0} input values; CIFAR-10 images have 3×32×32")]
    ModelInput(usize),
    #[error("{path} has {records} records; split `{split}` needs records {range:?}")]
    TooShort {
        path: PathBuf,
        records: usize,
        split: String,
        range: Range<usize>,
    },
}

/// Images (CHW u8, [`IMAGE_BYTES`] each) and their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of image `i`, CHW.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * IMAGE_BYTES..][..IMAGE_BYTES]
    }

    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Keeps images `range` only.
    pub fn select(&self, range: Range<usize>) -> Batch {
        Batch {
            pixels: self.pixels[range.start * IMAGE_BYTES..range.end * IMAGE_BYTES].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }

    /// Keeps the first `n` images (all if fewer).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * IMAGE_BYTES);
    }
}

/// The official test batch's file name.
pub const TEST_FILE: &str = "test_batch.bin";

/// Whether split `split`, read from the file named `file_name`, is the official test split
/// (`test`, or `test_batch.bin` under any split name): never calibrated on.
pub fn is_test_split(split: &str, file_name: &str) -> bool {
    split == "test" || file_name == TEST_FILE
}

/// Checks that a model with `input_values` inputs takes CIFAR-10 images.
pub fn check_model_input(input_values: usize) -> Result<(), CifarError> {
    if input_values != IMAGE_BYTES {
        return Err(CifarError::ModelInput(input_values));
    }
    Ok(())
}

/// Checks a whole batch file without copying it (the one check of batches: the CLI's
/// [`parse_batch`] and the page's `checkBatch` both call it) and returns its record count:
/// not empty, whole [`RECORD_BYTES`]-byte records, labels 0..=9.
pub fn check_batch(bytes: &[u8]) -> Result<usize, CifarError> {
    if bytes.is_empty() {
        return Err(CifarError::Empty);
    }
    if bytes.len() % RECORD_BYTES != 0 {
        return Err(CifarError::Length(bytes.len()));
    }
    match bytes.chunks_exact(RECORD_BYTES).position(|r| r[0] > 9) {
        Some(record) => Err(CifarError::Label {
            record,
            label: bytes[record * RECORD_BYTES],
        }),
        None => Ok(bytes.len() / RECORD_BYTES),
    }
}

/// Parses a whole batch file ([`check_batch`], then the labels and pixels apart).
pub fn parse_batch(bytes: &[u8]) -> Result<Batch, CifarError> {
    let records = check_batch(bytes)?;
    let mut batch = Batch {
        pixels: Vec::with_capacity(records * IMAGE_BYTES),
        labels: Vec::with_capacity(records),
    };
    for chunk in bytes.chunks_exact(RECORD_BYTES) {
        batch.labels.push(chunk[0]);
        batch.pixels.extend_from_slice(&chunk[1..]);
    }
    Ok(batch)
}

/// Where a named split lives: a batch file and, optionally, a range of its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitSource {
    pub path: PathBuf,
    pub records: Option<Range<usize>>,
}

impl SplitSource {
    /// The file and records, for labelling figures: `data_batch_5.bin records 5000..9999`.
    pub fn describe(&self) -> String {
        let file = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        match &self.records {
            Some(range) => format!("{file} records {}..{}", range.start, range.end - 1),
            None => file,
        }
    }
}

/// Resolves a split name in a CIFAR-10 binary directory:
/// `test` → `test_batch.bin`; `validation` → records 5000..9999 of `data_batch_5.bin`
/// (held out by the training code); any other `NAME` → `NAME.bin`.
pub fn split_path(dir: &Path, name: &str) -> SplitSource {
    match name {
        "test" => SplitSource {
            path: dir.join(TEST_FILE),
            records: None,
        },
        "validation" => SplitSource {
            path: dir.join("data_batch_5.bin"),
            records: Some(VALIDATION_RECORDS),
        },
        other => SplitSource {
            path: dir.join(format!("{other}.bin")),
            records: None,
        },
    }
}

/// Reads a named split (see [`split_path`]) from disk.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_split(dir: &Path, name: &str) -> Result<Batch, CifarError> {
    let source = split_path(dir, name);
    let bytes = std::fs::read(&source.path).map_err(|source_error| CifarError::Io {
        path: source.path.clone(),
        source: source_error,
    })?;
    let batch = parse_batch(&bytes).map_err(|e| CifarError::File {
        path: source.path.clone(),
        source: Box::new(e),
    })?;
    match source.records {
        None => Ok(batch),
        Some(range) if range.end <= batch.len() => Ok(batch.select(range)),
        Some(range) => Err(CifarError::TooShort {
            path: source.path,
            records: batch.len(),
            split: name.to_string(),
            range,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, fill: u8) -> Vec<u8> {
        let mut r = vec![fill; RECORD_BYTES];
        r[0] = label;
        r
    }

    #[test]
    fn parses_records() {
        let bytes = [record(3, 7), record(9, 200)].concat();
        let batch = parse_batch(&bytes).unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.labels(), &[3, 9]);
        assert!(batch.image(1).iter().all(|&p| p == 200));
        assert_eq!(batch.select(1..2).labels(), &[9]);
    }

    #[test]
    fn rejects_malformed_batches() {
        assert!(matches!(parse_batch(&[]), Err(CifarError::Empty)));
        let mut short = record(1, 0);
        short.pop();
        assert!(matches!(parse_batch(&short), Err(CifarError::Length(3072))));
        let bytes = [record(1, 0), record(10, 0)].concat();
        let err = parse_batch(&bytes).unwrap_err();
        assert!(matches!(
            err,
            CifarError::Label {
                record: 1,
                label: 10
            }
        ));
        assert!(err.to_string().contains("record 1"));
    }

    #[test]
    fn resolves_split_names() {
        let dir = Path::new("/data");
        assert_eq!(
            split_path(dir, "test"),
            SplitSource {
                path: dir.join("test_batch.bin"),
                records: None
            }
        );
        assert_eq!(
            split_path(dir, "validation"),
            SplitSource {
                path: dir.join("data_batch_5.bin"),
                records: Some(5000..10000)
            }
        );
        assert_eq!(
            split_path(dir, "data_batch_1"),
            SplitSource {
                path: dir.join("data_batch_1.bin"),
                records: None
            }
        );
    }
}
