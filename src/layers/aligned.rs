//! Weights stored from a cache-line boundary.

/// Bytes per cache line on the CPUs the kernels target.
const LINE: usize = 64;

/// Values (f32 by default; the event path's integer weights are i8 or i16) whose first element
/// starts a 64-byte cache line. The kernels load weight rows at offsets that are multiples of
/// 16 values, so every vector load then stays within one line; from the 16-byte boundary the
/// allocator gives, every other 32-byte load would straddle two lines and cost two.
#[derive(Debug, Default)]
pub struct CacheAligned<T = f32> {
    /// `len` values from offset `start`, which puts them on a line boundary.
    buffer: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Copy + Default> CacheAligned<T> {
    /// A copy of `values`, starting on a cache line.
    pub fn new(values: &[T]) -> Self {
        let slack = LINE / std::mem::size_of::<T>() - 1;
        let mut buffer = vec![T::default(); values.len() + slack];
        // The buffer never reallocates, so the offset found now stays right.
        let start = buffer.as_ptr().align_offset(LINE).min(slack);
        buffer[start..start + values.len()].copy_from_slice(values);
        CacheAligned {
            buffer,
            start,
            len: values.len(),
        }
    }

    /// The values (`len` of them, the first on a cache line).
    pub fn as_slice(&self) -> &[T] {
        &self.buffer[self.start..self.start + self.len]
    }
}

impl<T: Copy + Default> Clone for CacheAligned<T> {
    /// A fresh allocation has its own offset to the next line.
    fn clone(&self) -> Self {
        CacheAligned::new(self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_start_on_a_line_and_survive_cloning() {
        let values: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let aligned = CacheAligned::new(&values);
        assert_eq!(aligned.as_slice(), values.as_slice());
        assert_eq!(aligned.as_slice().as_ptr() as usize % LINE, 0);
        let copy = aligned.clone();
        assert_eq!(copy.as_slice(), values.as_slice());
        assert_eq!(copy.as_slice().as_ptr() as usize % LINE, 0);

        let bytes: Vec<i8> = (0..1000).map(|i| (i % 200 - 100) as i8).collect();
        let aligned = CacheAligned::new(&bytes);
        assert_eq!(aligned.as_slice(), bytes.as_slice());
        assert_eq!(aligned.as_slice().as_ptr() as usize % LINE, 0);
    }
}
