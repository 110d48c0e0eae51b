//! Reading digits with a trained classifier (`ganvas classifier train` makes one; its
//! training step is `plan::ClassifierPlan`).

use crate::cpu;
use crate::mnist::Dataset;
use crate::model::Network;

/// The class each row of `logits` ([rows, classes]) ranks first (the first, on ties).
pub fn predictions(logits: &[f32], classes: usize) -> Vec<usize> {
    logits
        .chunks(classes)
        .map(|row| (1..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best }))
        .collect()
}

/// The share of `data`'s images whose label `network` (with `params`) reads.
pub fn accuracy(network: &Network, params: &[f32], data: &Dataset) -> f64 {
    let logits = cpu::run_network(network, params, &data.inputs());
    let read = predictions(&logits, network.outputs());
    let right = read
        .iter()
        .zip(&data.labels)
        .filter(|(p, &l)| **p == usize::from(l))
        .count();
    right as f64 / data.count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy in data/ is what `ganvas classifier train` makes with its defaults
    /// (98.01% when it was made); the issue asks at least 98% of it.
    #[test]
    fn the_shipped_classifier_reads_98_percent_of_the_test_set() {
        let bytes = std::fs::read("data/classifier.safetensors").unwrap();
        let loaded = crate::checkpoint::classifier_from_bytes(&bytes).unwrap();
        assert_eq!(loaded.network.widths(), [784, 512, 128, 10]);
        let test = Dataset::load_test_set(std::path::Path::new("data/mnist")).unwrap();
        let share = accuracy(&loaded.network, &loaded.params, &test);
        assert!(share >= 0.98, "{share}");
    }

    #[test]
    fn predictions_take_the_first_largest_logit() {
        let logits = [0.0, 2.0, 1.0, 5.0, 5.0, -1.0, f32::NEG_INFINITY, -3.0, -2.0];
        assert_eq!(predictions(&logits, 3), [1, 0, 2]);
    }
}
