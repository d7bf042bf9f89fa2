//! Runs as bytes, for handing them between threads that share no memory (the page's Web
//! Workers run images and pass their [`ImageRun`]s to the worker that summarises them).
//!
//! Layout (all numbers little-endian), columns rather than records so that each is one copy:
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `DCRUNS02` |
//! | 4 × 4 | u32 images n, steps T, classes C, IF layers L |
//! | n | labels (u8) |
//! | 4 n | quantized-ANN prediction (i32; −1: not computed) |
//! | 4 n T C | O(t) of each image, `[image][step][class]` (f32) |
//! | 8 n T | spikes of each step (u64) |
//! | 8 n T | synaptic operations of each step (u64) |
//! | 4 n T L | activity of each IF layer at each step, `[image][step][layer]` (f32) |
//!
//! Exact: every value goes through as its bits, so runs decoded here summarise to the same
//! figures as the runs that were encoded.

use super::ImageRun;

const MAGIC: &[u8; 8] = b"DCRUNS02";
const HEADER: usize = 8 + 16;

/// Why bytes are not runs.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("not encoded runs (no DCRUNS02 header)")]
    Magic,
    #[error("encoded runs of {images} images × {steps} steps × {classes} classes × {layers} layers need {expected} bytes, got {actual}")]
    Length {
        images: usize,
        steps: usize,
        classes: usize,
        layers: usize,
        expected: usize,
        actual: usize,
    },
    #[error("runs of {0} steps and {1} steps cannot be encoded together")]
    Mixed(usize, usize),
    #[error("encoded runs of {steps} steps × {classes} classes: a run needs at least one step and two classes")]
    Empty { steps: usize, classes: usize },
    #[error("image {image}: {what} {value} is not a class of {classes}")]
    Class {
        image: usize,
        what: &'static str,
        value: usize,
        classes: usize,
    },
    #[error("image {image}: ANN prediction {value} is neither a class nor -1 (none)")]
    Prediction { image: usize, value: i32 },
    #[error("runs of {actual} {what} do not belong here: expected {expected}")]
    Unexpected {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
}

/// Encodes runs (all of the same length and class count) as bytes.
pub fn encode(runs: &[ImageRun]) -> Result<Vec<u8>, TransferError> {
    let steps = runs.first().map_or(0, ImageRun::steps);
    let classes = runs.first().map_or(0, |r| r.classes);
    let layers = runs.first().map_or(0, ImageRun::layers);
    if let Some(other) = runs
        .iter()
        .find(|r| r.steps() != steps || r.classes != classes || r.activity.len() != steps * layers)
    {
        return Err(TransferError::Mixed(steps, other.steps()));
    }
    let n = runs.len();
    let mut bytes = Vec::with_capacity(encoded_len(n, steps, classes, layers));
    bytes.extend_from_slice(MAGIC);
    for value in [n, steps, classes, layers] {
        bytes.extend_from_slice(&(value as u32).to_le_bytes());
    }
    bytes.extend(runs.iter().map(|r| r.label));
    for run in runs {
        let ann = run.ann_prediction.map_or(-1, |p| p as i32);
        bytes.extend_from_slice(&ann.to_le_bytes());
    }
    for run in runs {
        run.outputs
            .iter()
            .for_each(|o| bytes.extend_from_slice(&o.to_le_bytes()));
    }
    for run in runs {
        run.spikes
            .iter()
            .for_each(|s| bytes.extend_from_slice(&s.to_le_bytes()));
    }
    for run in runs {
        run.synaptic_ops
            .iter()
            .for_each(|s| bytes.extend_from_slice(&s.to_le_bytes()));
    }
    for run in runs {
        run.activity
            .iter()
            .for_each(|a| bytes.extend_from_slice(&a.to_le_bytes()));
    }
    Ok(bytes)
}

fn encoded_len(images: usize, steps: usize, classes: usize, layers: usize) -> usize {
    HEADER + images * (1 + 4 + 4 * steps * classes + 16 * steps + 4 * steps * layers)
}

/// Decodes bytes written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<ImageRun>, TransferError> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(TransferError::Magic);
    }
    let field = |i: usize| u32::from_le_bytes(bytes[8 + 4 * i..][..4].try_into().unwrap()) as usize;
    let (n, steps, classes, layers) = (field(0), field(1), field(2), field(3));
    // Checked: the fields come from outside, and usize is 32 bits on wasm32. Once the total
    // equals the length, every product below is at most the length.
    let per_image = steps
        .checked_mul(classes)
        .and_then(|sc| sc.checked_mul(4))
        .and_then(|outputs| outputs.checked_add(steps.checked_mul(16)?))
        .and_then(|b| b.checked_add(steps.checked_mul(layers)?.checked_mul(4)?))
        .and_then(|b| b.checked_add(1 + 4));
    let expected = per_image
        .and_then(|p| n.checked_mul(p))
        .and_then(|b| b.checked_add(HEADER));
    if expected != Some(bytes.len()) {
        return Err(TransferError::Length {
            images: n,
            steps,
            classes,
            layers,
            expected: expected.unwrap_or(usize::MAX),
            actual: bytes.len(),
        });
    }
    if n > 0 && (steps == 0 || classes < 2) {
        return Err(TransferError::Empty { steps, classes });
    }
    let (labels, rest) = bytes[HEADER..].split_at(n);
    let (ann, rest) = rest.split_at(4 * n);
    let (outputs, rest) = rest.split_at(4 * n * steps * classes);
    let (spikes, rest) = rest.split_at(8 * n * steps);
    let (synaptic_ops, activity) = rest.split_at(8 * n * steps);
    let f32s = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let u64s = |b: &[u8]| -> Vec<u64> {
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    (0..n)
        .map(|i| {
            let class = |what, value: usize| {
                if value < classes {
                    Ok(value)
                } else {
                    Err(TransferError::Class {
                        image: i,
                        what,
                        value,
                        classes,
                    })
                }
            };
            let ann = i32::from_le_bytes(ann[4 * i..][..4].try_into().unwrap());
            let ann_prediction = match ann {
                -1 => None,
                p if p < 0 => return Err(TransferError::Prediction { image: i, value: p }),
                p => Some(class("ANN prediction", p as usize)?),
            };
            Ok(ImageRun {
                label: class("label", labels[i] as usize)? as u8,
                ann_prediction,
                classes,
                outputs: f32s(&outputs[4 * i * steps * classes..][..4 * steps * classes]),
                spikes: u64s(&spikes[8 * i * steps..][..8 * steps]),
                synaptic_ops: u64s(&synaptic_ops[8 * i * steps..][..8 * steps]),
                activity: f32s(&activity[4 * i * steps * layers..][..4 * steps * layers]),
            })
        })
        .collect()
}

/// [`decode`], then checks the runs against their receiver: a model of `classes` classes and
/// `layers` IF layers and, when runs were received already, their length in `steps`. The one check of runs that come
/// from outside (the page's Web Workers), so that a crafted message is refused by name.
pub fn decode_for(
    bytes: &[u8],
    classes: usize,
    layers: usize,
    steps: Option<usize>,
) -> Result<Vec<ImageRun>, TransferError> {
    let runs = decode(bytes)?;
    if let Some(run) = runs.first() {
        let unexpected = |what, expected, actual| TransferError::Unexpected {
            what,
            expected,
            actual,
        };
        if run.classes != classes {
            return Err(unexpected("classes", classes, run.classes));
        }
        if run.layers() != layers {
            return Err(unexpected("IF layers", layers, run.layers()));
        }
        if let Some(steps) = steps.filter(|&s| s != run.steps()) {
            return Err(unexpected("steps", steps, run.steps()));
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: u8, ann: Option<usize>, seed: u32) -> ImageRun {
        let (steps, classes) = (3, 4);
        ImageRun {
            label,
            ann_prediction: ann,
            classes,
            // Values whose bits matter: negative zero, a subnormal, NaN payloads are not
            // produced by the engine but must survive anyway.
            outputs: (0..steps * classes)
                .map(|k| f32::from_bits(seed.wrapping_mul(2654435761).wrapping_add(k as u32)))
                .collect(),
            spikes: (0..steps as u64)
                .map(|t| t * 1_000_000_007 + seed as u64)
                .collect(),
            synaptic_ops: (0..steps as u64)
                .map(|t| u64::MAX - t - seed as u64)
                .collect(),
            activity: (0..steps * 2)
                .map(|k| seed as f32 + k as f32 / 8.0)
                .collect(),
        }
    }

    /// A run with its outputs as bits (NaN ≠ NaN would fail a plain comparison).
    type RunBits = (u8, Option<usize>, Vec<u32>, Vec<u64>, Vec<u64>, Vec<u32>);

    fn bits(runs: &[ImageRun]) -> Vec<RunBits> {
        runs.iter()
            .map(|r| {
                (
                    r.label,
                    r.ann_prediction,
                    r.outputs.iter().map(|o| o.to_bits()).collect(),
                    r.spikes.clone(),
                    r.synaptic_ops.clone(),
                    r.activity.iter().map(|a| a.to_bits()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let runs = vec![run(3, Some(2), 1), run(1, None, 2), run(0, Some(0), 3)];
        let bytes = encode(&runs).unwrap();
        assert_eq!(bytes.len(), encoded_len(3, 3, 4, 2));
        assert_eq!(bits(&decode(&bytes).unwrap()), bits(&runs));
        assert_eq!(decode(&encode(&[]).unwrap()).unwrap(), vec![]);
    }

    #[test]
    fn refuses_what_is_not_runs() {
        let bytes = encode(&[run(1, None, 5)]).unwrap();
        assert_eq!(decode(b"hello"), Err(TransferError::Magic));
        assert_eq!(decode(&bytes[1..]), Err(TransferError::Magic));
        let cut = decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(cut.to_string().contains("need"), "{cut}");
        let mut longer = run(1, None, 5);
        longer.spikes.push(0);
        longer.synaptic_ops.push(0);
        longer.outputs.extend([0.0; 4]);
        longer.activity.extend([0.0; 2]);
        assert_eq!(
            encode(&[run(1, None, 5), longer]),
            Err(TransferError::Mixed(3, 4))
        );
    }

    /// Crafted headers: sizes that overflow (on wasm32 usize is 32 bits, as `u32` here),
    /// empty runs, labels and predictions outside the classes, runs for another model.
    #[test]
    fn refuses_crafted_runs_by_name() {
        let header = |n: u32, steps: u32, classes: u32| {
            let mut bytes = MAGIC.to_vec();
            for v in [n, steps, classes, 2] {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            bytes
        };
        for (n, steps, classes) in [
            (1, u32::MAX, u32::MAX),
            (u32::MAX, 1 << 30, 4),
            (2, 1 << 31, 2),
        ] {
            let error = decode(&header(n, steps, classes)).unwrap_err();
            assert!(matches!(error, TransferError::Length { .. }), "{error}");
        }
        let mut empty = header(1, 0, 4);
        empty.extend_from_slice(&[0, 0, 0, 0, 0]);
        assert_eq!(
            decode(&empty),
            Err(TransferError::Empty {
                steps: 0,
                classes: 4
            })
        );
        let good = encode(&[run(1, Some(2), 5), run(3, None, 6)]).unwrap();
        let mut label = good.clone();
        label[HEADER + 1] = 4; // image 1's label; the runs have 4 classes
        assert!(decode(&label)
            .unwrap_err()
            .to_string()
            .contains("image 1: label 4 is not a class of 4"));
        let mut prediction = good.clone();
        prediction[HEADER + 2..HEADER + 6].copy_from_slice(&9i32.to_le_bytes());
        assert!(decode(&prediction)
            .unwrap_err()
            .to_string()
            .contains("ANN prediction 9"));
        let mut negative = good.clone();
        negative[HEADER + 2..HEADER + 6].copy_from_slice(&(-7i32).to_le_bytes());
        assert_eq!(
            decode(&negative),
            Err(TransferError::Prediction {
                image: 0,
                value: -7
            })
        );
        assert_eq!(decode_for(&good, 4, 2, Some(3)).unwrap().len(), 2);
        assert!(decode_for(&good, 4, 7, None)
            .unwrap_err()
            .to_string()
            .contains("runs of 2 IF layers do not belong here: expected 7"));
        assert!(decode_for(&good, 10, 2, None)
            .unwrap_err()
            .to_string()
            .contains("runs of 4 classes do not belong here: expected 10"));
        assert!(decode_for(&good, 4, 2, Some(32))
            .unwrap_err()
            .to_string()
            .contains("expected 32"));
    }
}
