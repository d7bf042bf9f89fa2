//! Fully connected layer; its input is the previous map flattened in C, H, W order.

use super::Real;

/// A linear layer. Weights are kept transposed, `[in][out]`, so every form adds one
/// contiguous column per input: the dense form here over every input in CHW order, the
/// engine's channels-last forms pixel by pixel (its event form over the non-zero inputs
/// only; skipping zeros changes no sum).
#[derive(Clone, Debug)]
pub struct Linear {
    /// Number of inputs: the previous map's values, flattened CHW.
    pub in_features: usize,
    /// Number of outputs (for the last layer, one per class).
    pub out_features: usize,
    weight_columns: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    /// `weight` is `[out][in]`, as in the file.
    pub fn new(weight: &[f32], bias: Vec<f32>, in_features: usize) -> Self {
        let out_features = bias.len();
        assert_eq!(
            weight.len(),
            out_features * in_features,
            "linear weight length"
        );
        let mut weight_columns = vec![0.0; weight.len()];
        for (out, row) in weight.chunks_exact(in_features).enumerate() {
            for (input, &w) in row.iter().enumerate() {
                weight_columns[input * out_features + out] = w;
            }
        }
        Linear {
            in_features,
            out_features,
            weight_columns,
            bias,
        }
    }

    /// Weight of the synapse from `input` to `output`.
    pub fn weight(&self, output: usize, input: usize) -> f32 {
        self.weight_columns[input * self.out_features + output]
    }

    /// One value per output.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// The weights from input `input` (CHW index) to every output.
    pub(crate) fn column(&self, input: usize) -> &[f32] {
        &self.weight_columns[input * self.out_features..][..self.out_features]
    }

    /// `output = bias + W · input`, adding the inputs' columns in index (CHW) order.
    pub fn forward_dense<T: Real>(&self, input: &[T], output: &mut [T]) {
        for (o, &b) in output.iter_mut().zip(&self.bias) {
            *o = T::from_f32(b);
        }
        for (i, &x) in input.iter().enumerate() {
            for (o, &w) in output.iter_mut().zip(self.column(i)) {
                *o += x * T::from_f32(w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_form_is_the_matrix_product() {
        // weight [out=2][in=3]
        let linear = Linear::new(&[1.0, 2.0, 3.0, -1.0, 0.5, 0.25], vec![0.5, -0.5], 3);
        let input = [1.0f32, 0.0, 1.0 / 3.0];
        let mut dense = [0.0f32; 2];
        linear.forward_dense(&input, &mut dense);
        assert_eq!(dense, [0.5 + 1.0 + 1.0, -0.5 - 1.0 + 0.25 / 3.0]);
        assert_eq!(linear.weight(1, 2), 0.25);
    }
}
