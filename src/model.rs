//! The two networks' shapes, their parameters laid out in one flat buffer each,
//! and PyTorch's `nn.Linear` initialisation.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::rng::{self, Stream};

/// Hyperparameters of a run. The defaults are the PyTorch original's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub latent: usize,
    pub generator_hidden: Vec<usize>,
    pub discriminator_hidden: Vec<usize>,
    pub batch: usize,
    pub generator_lr: f32,
    pub discriminator_lr: f32,
    /// f64 like PyTorch's Python floats, so that 1 - β is exact before rounding.
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f32,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            latent: 100,
            generator_hidden: vec![256, 512, 1024],
            discriminator_hidden: vec![512, 256],
            batch: 64,
            generator_lr: 2e-4,
            discriminator_lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Checks what would otherwise fail deep inside a backend.
    pub fn validate(&self, image_pixels: usize, image_count: usize) -> Result<(), String> {
        let widths = self.generator_hidden.iter().chain(&self.discriminator_hidden);
        if self.latent == 0 || widths.clone().any(|&w| w == 0) {
            return Err("layer widths and the latent size must be at least 1".into());
        }
        if self.latent > 4096 || widths.clone().any(|&w| w > 8192) {
            return Err("layer widths above 8192 (latent above 4096) are not supported".into());
        }
        if self.batch == 0 || self.batch > image_count || self.batch > 4096 {
            return Err(format!(
                "batch must be between 1 and {} (the training set has {image_count} images)",
                image_count.min(4096)
            ));
        }
        let rates = [self.generator_lr, self.discriminator_lr, self.eps];
        if rates.iter().any(|r| !r.is_finite() || *r <= 0.0) {
            return Err("learning rates and eps must be positive".into());
        }
        if ![self.beta1, self.beta2].iter().all(|b| (0.0..1.0).contains(b)) {
            return Err("beta1 and beta2 must be in [0, 1)".into());
        }
        if image_pixels == 0 {
            return Err("images must have at least one pixel".into());
        }
        Ok(())
    }

    pub fn generator(&self, image_pixels: usize) -> Network {
        let mut widths = vec![self.latent];
        widths.extend(&self.generator_hidden);
        widths.push(image_pixels);
        Network::from_widths(NetworkKind::Generator, &widths)
    }

    pub fn discriminator(&self, image_pixels: usize) -> Network {
        let mut widths = vec![image_pixels];
        widths.extend(&self.discriminator_hidden);
        widths.push(1);
        Network::from_widths(NetworkKind::Discriminator, &widths)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkKind {
    Generator,
    Discriminator,
}

impl NetworkKind {
    pub fn name(self) -> &'static str {
        match self {
            NetworkKind::Generator => "generator",
            NetworkKind::Discriminator => "discriminator",
        }
    }
}

/// One `nn.Linear` and the activation after it, with where its tensors sit
/// in the network's flat parameter buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearLayer {
    pub inputs: usize,
    pub outputs: usize,
    pub activation: Activation,
    /// Offset of the [outputs, inputs] row-major weight, as PyTorch stores it.
    pub weight_offset: usize,
    pub bias_offset: usize,
}

/// An MLP as in the original `nn.Sequential`: Linear, activation, Linear, ...
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub kind: NetworkKind,
    pub layers: Vec<LinearLayer>,
    pub parameter_count: usize,
}

/// A tensor of the state_dict: its PyTorch name, shape and place in the flat buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
}

impl Network {
    /// Layer widths from input to output. G ends in tanh; D ends in logits, since its
    /// sigmoid is fused into the loss.
    pub fn from_widths(kind: NetworkKind, widths: &[usize]) -> Self {
        let last = match kind {
            NetworkKind::Generator => Activation::Tanh,
            NetworkKind::Discriminator => Activation::Identity,
        };
        let mut offset = 0;
        let count = widths.len() - 1;
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let layer = LinearLayer {
                    inputs: w[0],
                    outputs: w[1],
                    activation: if i + 1 == count { last } else { Activation::LeakyRelu },
                    weight_offset: offset,
                    bias_offset: offset + w[0] * w[1],
                };
                offset += w[0] * w[1] + w[1];
                layer
            })
            .collect();
        Network {
            kind,
            layers,
            parameter_count: offset,
        }
    }

    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.inputs())
            .chain(self.layers.iter().map(|l| l.outputs))
            .collect()
    }

    /// The state_dict entries: `model.{2i}.weight` and `.bias`, since activations
    /// take the odd indices of the original `nn.Sequential`.
    pub fn tensors(&self) -> Vec<NamedTensor> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                [
                    NamedTensor {
                        name: format!("model.{}.weight", 2 * i),
                        shape: vec![l.outputs, l.inputs],
                        offset: l.weight_offset,
                        len: l.outputs * l.inputs,
                    },
                    NamedTensor {
                        name: format!("model.{}.bias", 2 * i),
                        shape: vec![l.outputs],
                        offset: l.bias_offset,
                        len: l.outputs,
                    },
                ]
            })
            .collect()
    }

    /// PyTorch's default for `nn.Linear`: weight and bias uniform in ±1/sqrt(fan_in).
    pub fn initial_parameters(&self, seed: u64) -> Vec<f32> {
        let mut params = vec![0.0; self.parameter_count];
        let net_index = match self.kind {
            NetworkKind::Generator => 0,
            NetworkKind::Discriminator => 1 << 16,
        };
        for (i, tensor) in self.tensors().iter().enumerate() {
            let fan_in = self.layers[i / 2].inputs;
            let bound = 1.0 / (fan_in as f32).sqrt();
            let dst = &mut params[tensor.offset..tensor.offset + tensor.len];
            rng::uniform_symmetric(seed, Stream::Init, net_index + i as u32, bound, dst);
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_networks_have_the_original_state_dict() {
        let config = TrainConfig::default();
        let g = config.generator(784);
        let names: Vec<(String, Vec<usize>)> = g.tensors().into_iter().map(|t| (t.name, t.shape)).collect();
        assert_eq!(names[0], ("model.0.weight".to_string(), vec![256, 100]));
        assert_eq!(names[7], ("model.6.bias".to_string(), vec![784]));
        assert_eq!(g.parameter_count, 1_486_352);
        let d = config.discriminator(784);
        assert_eq!(d.tensors()[4].name, "model.4.weight");
        assert_eq!(d.tensors()[4].shape, vec![1, 256]);
        assert_eq!(d.parameter_count, 533_505);
    }

    #[test]
    fn initialisation_stays_within_the_fan_in_bound() {
        let d = TrainConfig::default().discriminator(784);
        let p = d.initial_parameters(3);
        let layer = &d.layers[0];
        let w = &p[layer.weight_offset..layer.bias_offset];
        let bound = 1.0 / 784f32.sqrt();
        assert!(w.iter().all(|x| x.abs() <= bound));
        // A uniform on ±b has standard deviation b/sqrt(3).
        let mean_sq = w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32;
        assert!((mean_sq.sqrt() / (bound / 3f32.sqrt()) - 1.0).abs() < 0.01);
    }
}
