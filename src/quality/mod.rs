//! What a trained classifier says of a set of images: which digits they are (the
//! census), how confidently, the classifier score (as the Inception Score, with this
//! classifier) and the Fréchet distance between its hidden features of the images
//! and of a reference set (the MNIST test set). `classifier` reads digits,
//! `frechet` computes the distance, and `sampling` draws a generator's samples as
//! `ganvas sample` and `ganvas eval` do.

pub mod classifier;
pub mod frechet;
pub mod sampling;

use serde::Serialize;

use crate::backend::cpu;
use crate::error::{Error, Result};
use crate::model::Network;
use crate::plan::{CensusClassifier, CensusReadings};
use crate::quality::classifier::predictions;
use crate::quality::classifier::LoadedClassifier;
use crate::quality::frechet::{Gaussian, Reference};

/// A classifier, and the Gaussian of its features on the reference images.
pub struct Reader {
    network: Network,
    params: Vec<f32>,
    /// Every layer but the last: its output (after the activation) is the feature
    /// space, as FID takes Inception's last hidden layer.
    features: Network,
    reference: Reference,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quality {
    pub n: usize,
    /// The share of images read as each class.
    pub class_fractions: Vec<f64>,
    /// exp(mean KL(p(y|x) || p(y))): from 1 (every image read alike) to the number of
    /// classes (each read with certainty, all classes equally often).
    pub classifier_score: f64,
    /// The mean probability of the class each image is read as.
    pub mean_confidence: f64,
    pub frechet_distance: f64,
}

impl Reader {
    pub fn new(classifier: LoadedClassifier) -> Result<Reader> {
        let LoadedClassifier {
            network,
            params,
            reference,
        } = classifier;
        let features = network.features()?;
        if features.outputs() != reference.dim {
            return Err(Error::new(format!(
                "the classifier has {} features but its reference {}",
                features.outputs(),
                reference.dim
            )));
        }
        Ok(Reader {
            network,
            params,
            features,
            reference: Reference::new(reference),
        })
    }

    /// The Gaussian of `network`'s features on `images` ([rows, pixels] in [-1, 1]):
    /// `ganvas classifier train` stores the MNIST test set's with the classifier.
    pub fn reference_of(network: &Network, params: &[f32], images: &[f32]) -> Result<Gaussian> {
        let features = network.features()?;
        Gaussian::fit(&cpu::run_network(&features, params, &[], images), features.outputs())
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn params(&self) -> &[f32] {
        &self.params
    }

    pub fn pixels(&self) -> usize {
        self.network.inputs()
    }

    /// The census and scores of `images` ([n, pixels] in [-1, 1], n ≥ 2).
    pub fn score(&self, images: &[f32]) -> Result<Quality> {
        let pixels = self.pixels();
        if images.is_empty() || !images.len().is_multiple_of(pixels) {
            return Err(Error::new(format!("the images are not rows of {pixels} pixels")));
        }
        let logits = cpu::run_network(&self.network, &self.params, &[], images);
        let features = cpu::run_network(&self.features, &self.params, &[], images);
        let gaussian = Gaussian::fit(&features, self.features.outputs())?;
        self.quality(&logits, &gaussian)
    }

    /// This classifier reading a census of `rows` of G's samples, for a plan.
    pub fn census(&self, rows: usize) -> CensusClassifier<'_> {
        CensusClassifier {
            network: &self.network,
            weights: &self.params,
            rows,
        }
    }

    /// The census and scores from what a census plan read.
    pub fn score_census(&self, readings: &CensusReadings) -> Result<Quality> {
        let rows = readings.logits.len() / self.network.outputs();
        let gaussian = Gaussian::from_sums(rows, &readings.feature_sum, &readings.feature_gram)?;
        self.quality(&readings.logits, &gaussian)
    }

    fn quality(&self, logits: &[f32], gaussian: &Gaussian) -> Result<Quality> {
        let classes = self.network.outputs();
        let n = logits.len() / classes;
        if n < 2 {
            return Err(Error::new("scores need at least 2 images"));
        }
        let probabilities: Vec<f64> = logits.chunks(classes).flat_map(softmax).collect();
        let read = predictions(logits, classes);
        let mut class_fractions = vec![0.0; classes];
        read.iter().for_each(|&c| class_fractions[c] += 1.0 / n as f64);
        let mut marginal = vec![0.0; classes];
        for row in probabilities.chunks(classes) {
            marginal.iter_mut().zip(row).for_each(|(m, p)| *m += p / n as f64);
        }
        let kl = |row: &[f64]| -> f64 {
            let terms = row.iter().zip(&marginal).filter(|(p, _)| **p > 0.0);
            terms.map(|(p, m)| p * (p / m).ln()).sum()
        };
        let mean_kl = probabilities.chunks(classes).map(kl).sum::<f64>() / n as f64;
        let mean_confidence = probabilities
            .chunks(classes)
            .zip(&read)
            .map(|(row, &c)| row[c])
            .sum::<f64>()
            / n as f64;
        Ok(Quality {
            n,
            class_fractions,
            classifier_score: mean_kl.exp(),
            mean_confidence,
            frechet_distance: self.reference.distance(gaussian)?,
        })
    }
}

/// For samples each asked for a digit (`asked`, one a row of `logits`), the share
/// of each digit's samples read as that digit (NaN for a digit never asked for).
pub fn agreement(logits: &[f32], classes: usize, asked: &[usize]) -> Vec<f64> {
    let mut hits = vec![0usize; classes];
    let mut counts = vec![0usize; classes];
    for (read, &digit) in predictions(logits, classes).into_iter().zip(asked) {
        if digit < classes {
            counts[digit] += 1;
            hits[digit] += usize::from(read == digit);
        }
    }
    hits.iter().zip(&counts).map(|(&h, &c)| h as f64 / c as f64).collect()
}

fn softmax(logits: &[f32]) -> Vec<f64> {
    let largest = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits.iter().map(|&x| f64::from(x - largest).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|v| v / total).collect()
}

/// Gray images of `side` × `side` cut to their centre `to` × `to`: what a classifier
/// of MNIST's 28×28 reads of the DCGAN's 32×32 (MNIST padded by 2 a side), so both
/// models' samples are read alike.
pub fn centre_crop(images: &[f32], side: usize, to: usize) -> Vec<f32> {
    let margin = (side - to.min(side)) / 2;
    let to = to.min(side);
    images
        .chunks_exact(side * side)
        .flat_map(|image| (margin..margin + to).flat_map(move |row| &image[row * side + margin..][..to]))
        .copied()
        .collect()
}

/// Images from a `.npy` as `ganvas sample` writes them: float32 [N, pixels] in
/// [-1, 1], N ≥ 2; anything else is refused, saying what it is.
pub fn images_from_npy(bytes: &[u8], pixels: usize) -> Result<Vec<f32>> {
    let (rows, cols, values) = crate::formats::npy::from_bytes(bytes)?;
    if cols != pixels {
        return Err(Error::new(format!(
            "the array has {cols} columns; the classifier reads images of {pixels} pixels"
        )));
    }
    if rows < 2 {
        return Err(Error::new(format!(
            "the array holds {rows} image(s); scores need at least 2"
        )));
    }
    if let Some(v) = values.iter().find(|v| !(-1.0..=1.0).contains(*v)) {
        return Err(Error::new(format!(
            "the array holds {v}: images must be in [-1, 1], as ganvas sample writes them"
        )));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_crop_keeps_the_middle_of_each_image() {
        let images: Vec<f32> = (0..32).map(|v| v as f32).collect();
        // Two 4×4 images to their centre 2×2.
        assert_eq!(
            centre_crop(&images, 4, 2),
            vec![5.0, 6.0, 9.0, 10.0, 21.0, 22.0, 25.0, 26.0]
        );
        assert_eq!(centre_crop(&images, 4, 4), images);
    }
    use crate::backend::cpu::{CpuThreads, CpuTrainer};
    use crate::formats::mnist::Dataset;
    use crate::model::state::NetworkState;
    use crate::model::{ClassifierConfig, CLASSES};
    use crate::plan::ClassifierPlan;

    /// A classifier trained for 400 steps: enough to read most digits.
    fn reader(test: &Dataset) -> Reader {
        let train = Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
        let config = ClassifierConfig {
            hidden: vec![32],
            batch: 64,
            lr: 1e-3,
            ..Default::default()
        };
        let plan = ClassifierPlan::training(&config, train.pixels(), CLASSES, train.count).unwrap();
        let network = plan.network.clone();
        let initial = NetworkState::initial(&network, 0);
        let mut trainer = CpuTrainer::from_networks(plan, &train, 0, &[&initial]).on_threads(CpuThreads::new(2));
        trainer.train(400);
        let params = trainer.networks().swap_remove(0).params;
        let reference = Reader::reference_of(&network, &params, &test.inputs()).unwrap();
        Reader::new(LoadedClassifier {
            network,
            params,
            reference,
        })
        .unwrap()
    }

    #[test]
    fn the_test_set_scores_as_data_and_noise_as_noise() {
        let test = Dataset::load_test_set(std::path::Path::new("data/mnist")).unwrap();
        let reader = reader(&test);
        let own = reader.score(&test.inputs()).unwrap();
        // The reference against itself: the distance is rounding only.
        assert!(own.frechet_distance < 1e-6, "{own:?}");
        assert!(own.class_fractions.iter().all(|f| (0.07..0.14).contains(f)), "{own:?}");
        assert!((own.class_fractions.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(own.classifier_score > 6.0 && own.mean_confidence > 0.8, "{own:?}");
        // Half the test set against the whole: close. Uniform noise: far.
        let half = reader.score(&test.inputs()[..5000 * 784]).unwrap();
        let mut noise = vec![0.0; 2000 * 784];
        crate::rng::uniform_symmetric(1, crate::rng::Stream::Sample, 0, 1.0, &mut noise);
        let far = reader.score(&noise).unwrap();
        assert!(half.frechet_distance * 20.0 < far.frechet_distance, "{half:?} {far:?}");
        // Every image one digit: the census shows it and the score falls to ~1.
        let ones: Vec<f32> = (0..test.count)
            .filter(|&i| test.labels[i] == 1)
            .flat_map(|i| test.inputs_of(i))
            .collect();
        let collapsed = reader.score(&ones).unwrap();
        assert!(
            collapsed.class_fractions[1] > 0.9 && collapsed.classifier_score < 1.5,
            "{collapsed:?}"
        );
    }

    #[test]
    fn npy_images_must_be_rows_of_pixels_in_range() {
        let ok = crate::formats::npy::to_bytes(2, 4, &[0.0, 1.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(images_from_npy(&ok, 4).unwrap().len(), 8);
        assert!(images_from_npy(&ok, 5).unwrap_err().message.contains("4 columns"));
        let one = crate::formats::npy::to_bytes(1, 4, &[0.0; 4]);
        assert!(images_from_npy(&one, 4).unwrap_err().message.contains("at least 2"));
        let big = crate::formats::npy::to_bytes(2, 2, &[0.0, 2.0, 0.0, 0.0]);
        assert!(images_from_npy(&big, 2).unwrap_err().message.contains("[-1, 1]"));
        let nan = crate::formats::npy::to_bytes(2, 2, &[0.0, f32::NAN, 0.0, 0.0]);
        assert!(images_from_npy(&nan, 2).is_err());
    }
}
