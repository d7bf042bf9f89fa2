//! Integrate-and-fire neurons with reset by subtraction: the SNN side of a QCFS activation.

/// State of one IF layer: membrane potentials and this step's spikes (0.0 or 1.0, so the
/// spike map is directly the input vector of the next layer's dense form).
///
/// Currents, potentials and the threshold share one unit: that of the layer's input current
/// (the pre-activation of the layer before it). The neurons have no spatial layout of their
/// own: potentials and spikes are in the order of the currents given to [`IfNeurons::step`]
/// (channels-last, HWC, in [`crate::snn::Simulation`]).
#[derive(Clone, Debug)]
pub struct IfNeurons {
    threshold: f32,
    potential: Vec<f32>,
    spikes: Vec<f32>,
}

impl IfNeurons {
    /// `count` neurons of threshold `threshold`, at their initial potential.
    pub fn new(threshold: f32, count: usize) -> Self {
        let mut neurons = IfNeurons {
            threshold,
            potential: vec![0.0; count],
            spikes: vec![0.0; count],
        };
        neurons.reset();
        neurons
    }

    /// v(0) = θ/2, the "shift" of QCFS that removes the rounding bias; no spikes yet.
    pub fn reset(&mut self) {
        self.potential.fill(self.threshold / 2.0);
        self.spikes.fill(0.0);
    }

    /// Advances one time step with input current `current` (one value per neuron, added to
    /// the potential once per step); returns the number of neurons that fired in this step.
    pub fn step(&mut self, current: &[f32]) -> u32 {
        assert_eq!(current.len(), self.potential.len(), "IF layer input length");
        let theta = self.threshold;
        let mut fired = 0;
        // Written with a boolean per neuron (not `*s as u32`, a saturating float conversion)
        // so that the loop vectorises: compare, select, subtract, count.
        for ((v, s), &i) in self.potential.iter_mut().zip(&mut self.spikes).zip(current) {
            *v += i; // charge
            let fire = *v >= theta; // fire
            *s = if fire { 1.0 } else { 0.0 };
            *v -= if fire { theta } else { 0.0 }; // reset by subtraction
            fired += fire as u32;
        }
        fired
    }

    /// Firing threshold θ, which is also the amount a spike subtracts.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Membrane potentials after the latest step, one per neuron.
    pub fn potential(&self) -> &[f32] {
        &self.potential
    }

    /// This step's spikes, 1.0 where a neuron fired and 0.0 elsewhere, one per neuron.
    pub fn spikes(&self) -> &[f32] {
        &self.spikes
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.potential.len()
    }

    /// Whether the layer has no neurons.
    pub fn is_empty(&self) -> bool {
        self.potential.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_current_gives_the_qcfs_count_after_l_steps() {
        // After T steps from θ/2 the spike count is clamp(floor(T·I/θ + 1/2), 0, T).
        let theta = 2.0;
        let currents = [-1.0f32, 0.0, 0.49, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];
        let mut neurons = IfNeurons::new(theta, currents.len());
        let steps = 4;
        let mut counts = vec![0u32; currents.len()];
        for _ in 0..steps {
            neurons.step(&currents);
            for (c, &s) in counts.iter_mut().zip(neurons.spikes()) {
                *c += s as u32;
            }
        }
        let expected: Vec<u32> = currents
            .iter()
            .map(|&i| {
                (steps as f32 * i / theta + 0.5)
                    .floor()
                    .clamp(0.0, steps as f32) as u32
            })
            .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn reset_restores_half_threshold() {
        let mut neurons = IfNeurons::new(1.0, 2);
        assert_eq!(neurons.step(&[0.625, 0.25]), 1);
        assert_eq!(neurons.potential(), &[0.125, 0.75]);
        neurons.reset();
        assert_eq!(neurons.potential(), &[0.5, 0.5]);
        assert_eq!(neurons.spikes(), &[0.0, 0.0]);
    }
}
