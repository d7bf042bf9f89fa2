//! Which instruction set the hot kernels run with, chosen once per process.
//!
//! The kernels are plain Rust shaped so that LLVM vectorises them: fixed-size arrays of
//! output channels, the same few instructions for every lane. On x86-64 each kernel is
//! compiled twice, for the SSE2 baseline that every x86-64 CPU has and for AVX2 (vectors
//! twice as wide, same register count) behind a run-time check, so one binary runs
//! everywhere and uses the wider vectors where they exist. On wasm32 the baseline is
//! simd128 (`.cargo/config.toml`).

use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// The build's baseline target features: SSE2 on x86-64, simd128 on wasm32.
    Baseline,
    /// x86-64 with AVX2, detected at run time.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The widest instruction set the CPU offers (detected once per process).
    pub fn widest() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(detect)
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Isa {
    if std::is_x86_feature_detected!("avx2") {
        Isa::Avx2
    } else {
        Isa::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Isa {
    Isa::Baseline
}

/// Start offsets of the tiles of width `tile` that cover `0..len` (`len` is 0 or at least
/// `tile`).
/// When `tile` does not divide `len`, the last tile ends at `len` and overlaps the one
/// before it: the kernels compute each output from scratch, so the overlap is simply
/// computed twice, with the same result, instead of needing a narrower kernel.
pub(crate) fn tile_starts(len: usize, tile: usize) -> impl Iterator<Item = usize> {
    debug_assert!(tile > 0 && (len >= tile || len == 0));
    let whole = len / tile;
    (0..whole)
        .map(move |i| i * tile)
        .chain((len % tile != 0).then_some(len - tile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_range_with_an_overlapping_last_tile() {
        assert_eq!(tile_starts(12, 4).collect::<Vec<_>>(), [0, 4, 8]);
        assert_eq!(tile_starts(10, 4).collect::<Vec<_>>(), [0, 4, 6]);
        assert_eq!(tile_starts(4, 4).collect::<Vec<_>>(), [0]);
    }
}
