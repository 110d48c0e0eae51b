//! The digit census: G on fixed latents, its images read by the MNIST classifier, on
//! the backend that trains G and from G's own parameter buffer, so nothing but the
//! result travels. The plan reduces what the quality score needs on the device: the
//! classifier's logits for each sample, and the sum and Gram matrix of its features
//! (the last hidden layer's outputs), from which `quality::Reader::score_census`
//! fits the Gaussian of the Fréchet distance. A conditional G is asked for the
//! digits 0-9 in turn.

use std::sync::Arc;

use super::{
    forward, label_block, sample_latents, BufferContents, BufferId, Builder, Generation, Layers, Op, Plan, Slot,
};
use crate::error::{Error, Result};
use crate::kernels::bias_grad::{BiasGradOp, BiasGradParams};
use crate::kernels::labels::{LabelsOp, LabelsParams};
use crate::kernels::matmul::{MatmulOp, MatmulParams, View};
use crate::model::{Network, CLASSES, DCGAN_MNIST_SIDE, MAX_BUFFER_FLOATS, MNIST_SIDE};

/// Whether a census can read G's images of `pixels` with `classifier`: images of
/// its size, or larger gray squares whose centre is (the DCGAN's padded MNIST).
pub fn census_reads(classifier: &Network, pixels: usize) -> bool {
    classifier.inputs() == pixels || centred_sides(classifier, pixels).is_some()
}

/// The sides of G's images and of the classifier's where G draws MNIST as the DCGAN
/// takes it (32×32 gray, the digits in the centre 28×28) and the classifier reads
/// MNIST's 28×28 through a linear first layer.
fn centred_sides(classifier: &Network, pixels: usize) -> Option<(usize, usize)> {
    let (side, inner) = (DCGAN_MNIST_SIDE, MNIST_SIDE);
    let linear = classifier.tensors().first().is_some_and(|t| t.shape.len() == 2);
    (pixels == side * side && classifier.inputs() == inner * inner && linear).then_some((side, inner))
}

/// A classifier of 28×28 images as one of `pixels` (a larger gray square) that reads
/// their centre: its first layer's weights placed on the centre pixels, zero on the
/// border, so it computes exactly what the classifier computes on the centre crop.
/// None where the images are not such a square.
fn reading_centre(classifier: &Network, weights: &[f32], pixels: usize) -> Option<(Network, Vec<f32>)> {
    let (side, inner) = centred_sides(classifier, pixels)?;
    let first = classifier.tensors().first().cloned()?;
    if weights.len() != classifier.parameter_count {
        return None;
    }
    let mut widths = classifier.widths();
    widths[0] = pixels;
    let wide = Network::from_widths(classifier.kind, &widths);
    let margin = (side - inner) / 2;
    let outputs = first.shape[0];
    let mut values = vec![0.0; wide.parameter_count];
    for o in 0..outputs {
        for y in 0..inner {
            let from = &weights[first.offset + o * inner * inner + y * inner..][..inner];
            values[o * pixels + (y + margin) * side + margin..][..inner].copy_from_slice(from);
        }
    }
    // Everything after the first weight (its bias, the later layers) as it was.
    let rest = first.offset + first.len;
    values[outputs * pixels..].copy_from_slice(&weights[rest..]);
    Some((wide, values))
}

/// Samples a census reads. Fewer make the Fréchet distance larger (its estimate is
/// biased upwards at small counts), more cost more: 2,048 samples cost about eight
/// batch-64 training steps.
pub const CENSUS_ROWS: usize = 2048;

#[derive(Clone, Debug)]
pub struct Census {
    pub rows: usize,
    pub classifier: Network,
    /// The classifier's parameters, loaded once into `classifier_params`.
    pub weights: Arc<[f32]>,
    pub classifier_params: BufferId,
    pub ops: Vec<Op>,
    /// [rows, classes]
    pub logits: BufferId,
    /// [features]
    pub feature_sum: BufferId,
    /// [features, features]
    pub feature_gram: BufferId,
    /// A conditional G's digit for each sample (`every_digit`), loaded once.
    pub digits: Option<BufferContents>,
}

impl Plan {
    /// This plan with a census of `rows` samples read by `classifier` (with `weights`):
    /// the latents are the preview's (the training seed's sampling stream), extended,
    /// so its first rows are the preview grid and `ganvas eval --seed` with the
    /// training seed draws the same samples.
    pub fn with_census(mut self, classifier: &Network, weights: &[f32], rows: usize) -> Result<Plan> {
        // The DCGAN's 32×32 are MNIST's 28×28 padded: the classifier reads their centre.
        let centred = reading_centre(classifier, weights, self.pixels);
        let (classifier, weights) = match &centred {
            Some((network, weights)) => (network, &weights[..]),
            None => (classifier, weights),
        };
        let features = classifier
            .features()
            .ok()
            .filter(|_| classifier.inputs() == self.pixels);
        let Some(features) = features else {
            return Err(Error::new(format!(
                "the census needs a classifier of images of {} pixels with a hidden layer; this one has widths {:?}",
                self.pixels,
                classifier.widths()
            )));
        };
        if weights.len() != classifier.parameter_count {
            return Err(Error::new("the classifier's weights do not fit its layers"));
        }
        let widest = (self.generator.layers.iter().chain(&classifier.layers))
            .map(|l| l.output.len().max(l.input.len()))
            .max()
            .unwrap_or(0);
        // A wide G (a DCGAN wider than 64 on 32×32 MNIST) takes fewer samples, as
        // many as its widest layer fits in a GPU buffer, rather than no census.
        let rows = rows.min(MAX_BUFFER_FLOATS / widest.max(1));
        if rows < 2 {
            return Err(Error::new(format!(
                "a census reads at least 2 samples; here {rows} (asked for, or all that fit a GPU buffer beside this G)"
            )));
        }
        let mut b = Builder {
            buffers: std::mem::take(&mut self.buffers),
        };
        let generation = Generation::new(
            &mut b,
            "census",
            &self.generator,
            self.generator_buffers.weights(),
            rows,
        );
        let mut ops = vec![sample_latents(generation.input, &self.config)];
        let mut digits = None;
        if let Some(slot) = label_block(&self.generator, generation.input) {
            let table = b.add("census.digits", rows);
            ops.push(Op::Labels(LabelsOp {
                params: LabelsParams::from_table(slot.view, 0),
                table: Some(table),
                out: slot.buffer,
            }));
            let every = every_digit(rows).into_iter().map(|d| d as f32).collect();
            digits = Some((table, every));
        }
        ops.extend(generation.ops);

        let classifier_params = b.add("classifier.params", classifier.parameter_count);
        let layers = Layers::new(&mut b, "classifier", classifier, classifier_params, rows);
        let classes = classifier.outputs();
        let logits = b.add("census.logits", rows * classes);
        let images = Slot::whole(generation.images, rows, self.pixels);
        forward(&mut ops, &layers, images, Slot::whole(logits, rows, classes));

        // The classifier's features are the output of its last hidden stage.
        let feature_rows = layers.hidden[layers.hidden.len() - 1];
        let dim = features.outputs();
        let (feature_sum, feature_gram) = (
            b.add("census.feature_sum", dim),
            b.add("census.feature_gram", dim * dim),
        );
        let f = View::new(0, rows, dim);
        ops.push(Op::Matmul(MatmulOp {
            params: MatmulParams::weight_gradient(f, f, View::new(0, dim, dim)),
            a: feature_rows,
            b: feature_rows,
            bias: feature_rows,
            gate: feature_rows,
            c: feature_gram,
        }));
        ops.push(Op::BiasGrad(BiasGradOp {
            params: BiasGradParams {
                rows: rows as u32,
                cols: dim as u32,
                input_offset: 0,
                output_offset: 0,
            },
            dy: feature_rows,
            db: feature_sum,
        }));
        self.buffers = b.buffers;
        self.census = Some(Census {
            rows,
            classifier: classifier.clone(),
            weights: weights.into(),
            classifier_params,
            ops,
            logits,
            feature_sum,
            feature_gram,
            digits,
        });
        Ok(self)
    }

    /// What one census costs, in training steps (as `preview_cost`); 0 without one.
    pub fn census_cost(&self) -> f64 {
        let census = self.census.as_ref().map_or(&[][..], |c| &c.ops);
        super::matmul_flops(census) / super::matmul_flops(&self.step)
    }
}

/// What a census plan computes on either backend (`plan::Census`): the classifier's
/// logits for each sample, and the sum and Gram matrix of their features.
#[derive(Clone, Debug, PartialEq)]
pub struct CensusReadings {
    pub logits: Vec<f32>,
    pub feature_sum: Vec<f32>,
    pub feature_gram: Vec<f32>,
}

/// A classifier to read a census of G's samples with: its network and weights, and
/// how many samples.
#[derive(Clone, Copy, Debug)]
pub struct CensusClassifier<'a> {
    pub network: &'a Network,
    pub weights: &'a [f32],
    pub rows: usize,
}

/// Digits 0-9 in turn, for `n` samples: each digit equally often, as the census asks.
pub fn every_digit(n: usize) -> Vec<usize> {
    (0..n).map(|i| i % CLASSES).collect()
}
