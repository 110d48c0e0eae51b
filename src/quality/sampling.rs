//! Samples from a generator alone, as `ganvas sample` and `ganvas eval` draw them:
//! latent vectors from a seed (the sampling stream, so the training seed gives the
//! page's preview and census samples), and for a conditional generator the digit
//! each sample is asked for, one-hot beside its latents.

use crate::backend::cpu;
use crate::error::{Error, Result};
use crate::formats::checkpoint::LoadedNetwork;
use crate::model::{TrainConfig, CLASSES};
use crate::rng::{self, Stream};

pub struct Sampler<'a> {
    generator: &'a LoadedNetwork,
    /// The width of the latent vectors.
    pub latent: usize,
    pub conditional: bool,
}

impl<'a> Sampler<'a> {
    /// A generator whose input is the default latent size plus the classes is
    /// conditional, as `checkpoint::state_from_weights` recognises it.
    pub fn new(generator: &'a LoadedNetwork) -> Sampler<'a> {
        let inputs = generator.network.inputs();
        let conditional = inputs == TrainConfig::default().latent + CLASSES;
        Sampler {
            generator,
            latent: if conditional { inputs - CLASSES } else { inputs },
            conditional,
        }
    }

    /// `n` latent vectors from `seed`.
    pub fn latents(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut z = vec![0.0; n * self.latent];
        rng::normals(seed, Stream::Sample, 0, &mut z);
        z
    }

    /// G's images for `latents` ([n, latent]), each asked for the digit `digits`
    /// gives it (a conditional generator needs one a row; others take none).
    pub fn images(&self, latents: &[f32], digits: Option<&[usize]>) -> Result<Vec<f32>> {
        let rows = latents.len() / self.latent.max(1);
        let input = match (self.conditional, digits) {
            (false, None) => latents.to_vec(),
            (false, Some(_)) => {
                return Err(Error::new(
                    "this generator is not conditional: it draws no chosen digit (train one with --conditional)",
                ))
            }
            (true, None) => return Err(Error::new("a conditional generator needs a digit for each sample")),
            (true, Some(digits)) => {
                if digits.len() != rows {
                    return Err(Error::new(format!("{} digits for {rows} samples", digits.len())));
                }
                if let Some(d) = digits.iter().find(|&&d| d >= CLASSES) {
                    return Err(Error::new(format!("the digit {d} is not one of 0 to 9")));
                }
                let mut input = Vec::with_capacity(rows * (self.latent + CLASSES));
                for (z, &digit) in latents.chunks(self.latent).zip(digits) {
                    input.extend_from_slice(z);
                    input.extend((0..CLASSES).map(|c| if c == digit { 1.0 } else { 0.0 }));
                }
                input
            }
        };
        Ok(cpu::run_network(
            &self.generator.network,
            &self.generator.params,
            &self.generator.statistics,
            &input,
        ))
    }
}
