//! Reading digits with a trained classifier (`ganvas classifier train` makes one; its
//! training step is `plan::ClassifierPlan`), and the classifier's file: its
//! state_dict with the reference Gaussian of the Fréchet distance.

use crate::backend::cpu;
use crate::error::{Error, Result};
use crate::formats::checkpoint::{infer_network, parse, read_tensors, serialize};
use crate::formats::mnist::Dataset;
use crate::model::{NamedTensor, Network, NetworkKind};
use crate::quality::frechet::Gaussian;

/// The class each row of `logits` ([rows, classes]) ranks first (the first, on ties).
pub fn predictions(logits: &[f32], classes: usize) -> Vec<usize> {
    logits
        .chunks(classes)
        .map(|row| (1..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best }))
        .collect()
}

/// The share of `data`'s images whose label `network` (with `params`) reads.
pub fn accuracy(network: &Network, params: &[f32], data: &Dataset) -> f64 {
    let logits = cpu::run_network(network, params, &[], &data.inputs());
    let read = predictions(&logits, network.outputs());
    let right = read
        .iter()
        .zip(&data.labels)
        .filter(|(p, &l)| **p == usize::from(l))
        .count();
    right as f64 / data.count as f64
}

/// A classifier as `ganvas classifier train` writes it: its state_dict, and the
/// Gaussian of its features (the last hidden layer's outputs) on the MNIST test set,
/// the reference of the Fréchet distance, as `reference.mean` [features] and
/// `reference.covariance` [features, features] (README gives the PyTorch module).
#[derive(Clone, Debug)]
pub struct LoadedClassifier {
    pub network: Network,
    pub params: Vec<f32>,
    pub reference: Gaussian,
}

pub fn classifier_to_bytes(network: &Network, params: &[f32], reference: &Gaussian) -> Result<Vec<u8>> {
    let mean: Vec<f32> = reference.mean.iter().map(|&x| x as f32).collect();
    let covariance: Vec<f32> = reference.covariance.iter().map(|&x| x as f32).collect();
    let dim = reference.dim;
    let tensors = (network.tensors().into_iter())
        .map(|t| (t.name, t.shape, &params[t.offset..][..t.len]))
        .chain([
            ("reference.mean".to_string(), vec![dim], mean.as_slice()),
            (
                "reference.covariance".to_string(),
                vec![dim, dim],
                covariance.as_slice(),
            ),
        ]);
    serialize(tensors, &[], None)
}

pub fn classifier_from_bytes(bytes: &[u8]) -> Result<LoadedClassifier> {
    let file = parse(bytes, "classifier")?;
    let network = infer_network(&file, NetworkKind::Classifier)?;
    let dim = network.features()?.outputs();
    let n = network.parameter_count;
    let mut tensors = network.tensors();
    for (name, shape) in [("reference.mean", vec![dim]), ("reference.covariance", vec![dim, dim])] {
        let offset = tensors.last().map_or(0, |t| t.offset + t.len);
        let len = shape.iter().product();
        let name = name.to_string();
        tensors.push(NamedTensor {
            name,
            shape,
            offset,
            len,
        });
    }
    let mut values = read_tensors(&file, &tensors, "classifier")
        .map_err(|e| Error::new(format!("{e} (ganvas classifier train writes classifier files)")))?;
    if values[n..].iter().any(|v| !v.is_finite()) {
        return Err(Error::new("the classifier file's reference holds a non-finite value"));
    }
    let reference = values.split_off(n);
    let (mean, covariance) = reference.split_at(dim);
    let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let reference = Gaussian {
        dim,
        mean: widen(mean),
        covariance: widen(covariance),
    };
    Ok(LoadedClassifier {
        network,
        params: values,
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy in data/ is what `ganvas classifier train` makes with its defaults
    /// (98.01% when it was made); the issue asks at least 98% of it.
    #[test]
    fn the_shipped_classifier_reads_98_percent_of_the_test_set() {
        let bytes = std::fs::read("data/classifier.safetensors").unwrap();
        let loaded = classifier_from_bytes(&bytes).unwrap();
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
