//! Runs as bytes, for handing them between threads that share no memory (the page's Web
//! Workers run images and pass their [`ImageRun`]s to the worker that summarises them).
//!
//! Layout (all numbers little-endian), columns rather than records so that each is one copy:
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `DCRUNS01` |
//! | 4 × 3 | u32 images n, steps T, classes C |
//! | n | labels (u8) |
//! | 4 n | quantized-ANN prediction (i32; −1: not computed) |
//! | 4 n T C | O(t) of each image, `[image][step][class]` (f32) |
//! | 8 n T | spikes of each step (u64) |
//! | 8 n T | synaptic operations of each step (u64) |
//!
//! Exact: every value goes through as its bits, so runs decoded here summarise to the same
//! figures as the runs that were encoded.

use super::ImageRun;

const MAGIC: &[u8; 8] = b"DCRUNS01";
const HEADER: usize = 8 + 12;

/// Why bytes are not runs.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("not encoded runs (no DCRUNS01 header)")]
    Magic,
    #[error("encoded runs of {images} images × {steps} steps × {classes} classes need {expected} bytes, got {actual}")]
    Length {
        images: usize,
        steps: usize,
        classes: usize,
        expected: usize,
        actual: usize,
    },
    #[error("runs of {0} steps and {1} steps cannot be encoded together")]
    Mixed(usize, usize),
}

/// Encodes runs (all of the same length and class count) as bytes.
pub fn encode(runs: &[ImageRun]) -> Result<Vec<u8>, TransferError> {
    let steps = runs.first().map_or(0, ImageRun::steps);
    let classes = runs.first().map_or(0, |r| r.classes);
    if let Some(other) = runs
        .iter()
        .find(|r| r.steps() != steps || r.classes != classes)
    {
        return Err(TransferError::Mixed(steps, other.steps()));
    }
    let n = runs.len();
    let mut bytes = Vec::with_capacity(encoded_len(n, steps, classes));
    bytes.extend_from_slice(MAGIC);
    for value in [n, steps, classes] {
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
    Ok(bytes)
}

fn encoded_len(images: usize, steps: usize, classes: usize) -> usize {
    HEADER + images * (1 + 4 + 4 * steps * classes + 16 * steps)
}

/// Decodes bytes written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<ImageRun>, TransferError> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(TransferError::Magic);
    }
    let field = |i: usize| u32::from_le_bytes(bytes[8 + 4 * i..][..4].try_into().unwrap()) as usize;
    let (n, steps, classes) = (field(0), field(1), field(2));
    let expected = n
        .checked_mul(1 + 4 + 4 * steps * classes + 16 * steps)
        .and_then(|b| b.checked_add(HEADER));
    if expected != Some(bytes.len()) {
        return Err(TransferError::Length {
            images: n,
            steps,
            classes,
            expected: expected.unwrap_or(usize::MAX),
            actual: bytes.len(),
        });
    }
    let (labels, rest) = bytes[HEADER..].split_at(n);
    let (ann, rest) = rest.split_at(4 * n);
    let (outputs, rest) = rest.split_at(4 * n * steps * classes);
    let (spikes, synaptic_ops) = rest.split_at(8 * n * steps);
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
    Ok((0..n)
        .map(|i| ImageRun {
            label: labels[i],
            ann_prediction: usize::try_from(i32::from_le_bytes(
                ann[4 * i..][..4].try_into().unwrap(),
            ))
            .ok(),
            classes,
            outputs: f32s(&outputs[4 * i * steps * classes..][..4 * steps * classes]),
            spikes: u64s(&spikes[8 * i * steps..][..8 * steps]),
            synaptic_ops: u64s(&synaptic_ops[8 * i * steps..][..8 * steps]),
        })
        .collect())
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
        }
    }

    /// A run with its outputs as bits (NaN ≠ NaN would fail a plain comparison).
    type RunBits = (u8, Option<usize>, Vec<u32>, Vec<u64>, Vec<u64>);

    fn bits(runs: &[ImageRun]) -> Vec<RunBits> {
        runs.iter()
            .map(|r| {
                (
                    r.label,
                    r.ann_prediction,
                    r.outputs.iter().map(|o| o.to_bits()).collect(),
                    r.spikes.clone(),
                    r.synaptic_ops.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let runs = vec![run(3, Some(7), 1), run(9, None, 2), run(0, Some(0), 3)];
        let bytes = encode(&runs).unwrap();
        assert_eq!(bytes.len(), encoded_len(3, 3, 4));
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
        assert_eq!(
            encode(&[run(1, None, 5), longer]),
            Err(TransferError::Mixed(3, 4))
        );
    }
}
