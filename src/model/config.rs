//! The hyperparameters of a run and of the classifier, their one validation, and
//! the networks they make, as lists of layers.

use serde::{Deserialize, Serialize};

use super::network::perceptron;
use super::{Convolution, Layer, Network, NetworkKind, Shape};
use crate::error::{Error, ErrorKind, Result};
use crate::kernels::activation::Activation;

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
    /// The conditional GAN (Mirza and Osindero, 2014): a one-hot digit label beside
    /// G's latents and beside D's image.
    pub conditional: bool,
    /// Which networks: the lecture's perceptrons (through the hidden widths above) or
    /// the deep convolutional GAN.
    pub model: Model,
}

/// The networks of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Model {
    /// The original MLP GAN: `generator_hidden`, `discriminator_hidden`.
    #[default]
    Mlp,
    /// pytorch/examples' DCGAN (Radford, Metz and Chintala, 2015) on square images of
    /// `image_size` (32 or 64) with `channels` (1 or 3), `width` being its ngf = ndf.
    Dcgan {
        image_size: usize,
        channels: usize,
        width: usize,
    },
}

/// MNIST's side, and the side the DCGAN takes it at: 2 pixels of background a side.
pub const MNIST_SIDE: usize = 28;
pub const DCGAN_MNIST_SIDE: usize = 32;

/// The DCGAN's widths: pytorch/examples' ngf = ndf.
pub const DCGAN_WIDTH: usize = 64;
pub const MAX_DCGAN_WIDTH: usize = 512;

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
            conditional: false,
            model: Model::Mlp,
        }
    }
}

/// `inputs`, then `hidden`, then `outputs`.
fn widths(inputs: usize, hidden: &[usize], outputs: usize) -> Vec<usize> {
    std::iter::once(inputs)
        .chain(hidden.iter().copied())
        .chain([outputs])
        .collect()
}

fn bad(field: &str, why: String) -> Result<()> {
    Err(Error::of(ErrorKind::Settings, format!("{field} {why}")))
}

/// Each config's hidden widths, batch and Adam settings are checked alike.
fn check_hidden(field: &str, widths: &[usize]) -> Result<()> {
    if widths.len() > MAX_HIDDEN_LAYERS {
        let why = format!("has {} layers; at most {MAX_HIDDEN_LAYERS} are supported", widths.len());
        return bad(field, why);
    }
    match widths.iter().find(|w| !(1..=MAX_WIDTH).contains(*w)) {
        Some(w) => bad(field, format!("has a width of {w}; widths must be 1 to {MAX_WIDTH}")),
        None => Ok(()),
    }
}

fn check_batch(batch: usize) -> Result<()> {
    match (1..=MAX_BATCH).contains(&batch) {
        true => Ok(()),
        false => bad("batch", format!("is {batch}; it must be 1 to {MAX_BATCH}")),
    }
}

fn check_adam(rates: &[(&str, f32)], beta1: f64, beta2: f64, eps: f32) -> Result<()> {
    for &(field, rate) in rates {
        if !(rate > 0.0 && rate <= MAX_LEARNING_RATE) {
            let why = format!("is {rate}; it must be above 0 and at most {MAX_LEARNING_RATE}");
            return bad(field, why);
        }
    }
    for (field, beta) in [("beta1", beta1), ("beta2", beta2)] {
        if !(0.0..1.0).contains(&beta) {
            return bad(field, format!("is {beta}; it must be at least 0 and below 1"));
        }
    }
    if !(eps.is_finite() && eps > 0.0) {
        return bad("eps", format!("is {eps}; it must be a positive number"));
    }
    Ok(())
}

/// Hyperparameters of the MNIST classifier (`ganvas classifier train`): an MLP
/// pixels → hidden… → classes with LeakyReLU, softmax cross-entropy, Adam.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassifierConfig {
    pub hidden: Vec<usize>,
    pub batch: usize,
    pub lr: f32,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f32,
    pub seed: u64,
}

impl Default for ClassifierConfig {
    /// 784-512-128-10: the 128 features of the last hidden layer keep the Fréchet
    /// distance's eigendecompositions quick enough for the page; at least 98% on the
    /// MNIST test set after 30 epochs (README gives each seed's figure).
    fn default() -> Self {
        ClassifierConfig {
            hidden: vec![512, 128],
            batch: 64,
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            seed: 0,
        }
    }
}

impl ClassifierConfig {
    /// The ranges a GAN's config is held to, for `image_count` images of `pixels`.
    pub fn validate_for(&self, pixels: usize, image_count: usize) -> Result<()> {
        check_hidden("hidden", &self.hidden)?;
        check_batch(self.batch)?;
        check_adam(&[("lr", self.lr)], self.beta1, self.beta2, self.eps)?;
        if !(1..=MAX_PIXELS).contains(&pixels) {
            return bad(
                "pixels",
                format!("is {pixels}; images of 1 to {MAX_PIXELS} are supported"),
            );
        }
        if self.batch > image_count {
            let why = format!(
                "is {}, more than the {image_count} images of the training set",
                self.batch
            );
            return bad("batch", why);
        }
        let widest = self.hidden.iter().fold(pixels, |w, &h| w.max(h));
        let parameters = self.network(pixels, CLASSES).parameter_count;
        if parameters > MAX_BUFFER_FLOATS || self.batch * widest > MAX_BUFFER_FLOATS {
            return bad("hidden", "makes a network too large for a GPU buffer".to_string());
        }
        Ok(())
    }

    /// Linear and LeakyReLU layers from `pixels` to `classes` logits (the softmax is
    /// the loss's).
    pub fn network(&self, pixels: usize, classes: usize) -> Network {
        let layers = perceptron(&widths(pixels, &self.hidden, classes), None);
        Network::new(NetworkKind::Classifier, Shape::features(pixels), layers)
    }
}

/// The largest batch the core trains with; the page's form and links take it from here.
pub const MAX_BATCH: usize = 4096;
pub const MAX_LATENT: usize = 4096;
pub const MAX_WIDTH: usize = 8192;
pub const MAX_HIDDEN_LAYERS: usize = 16;
/// Floats in one buffer of a plan: WebGPU's default limit of 128 MiB a binding.
pub const MAX_BUFFER_FLOATS: usize = 128 << 20 >> 2;
/// Pixels of one image (256×256 grey; 147×147 colour). With the width limits, every
/// offset of a network's parameters fits 32 bits, as the shaders and wasm32 need.
pub const MAX_PIXELS: usize = 1 << 16;
pub const MAX_LEARNING_RATE: f32 = 1.0;
/// Digits.
pub const CLASSES: usize = 10;

impl TrainConfig {
    /// Parses the JSON of a config (from a checkpoint, the page or a link), naming the
    /// field that is malformed; fields left out take their defaults. Does not check
    /// ranges: `validate` does.
    pub fn from_json(json: &str) -> Result<TrainConfig> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::of(ErrorKind::Settings, format!("the config is not valid JSON ({e})")))?;
        let serde_json::Value::Object(fields) = value else {
            return Err(Error::of(ErrorKind::Settings, "the config is not a JSON object"));
        };
        // Each field alone first, so the error names the one that does not parse.
        for (name, field) in &fields {
            let alone = serde_json::Value::Object([(name.clone(), field.clone())].into_iter().collect());
            serde_json::from_value::<TrainConfig>(alone)
                .map_err(|e| Error::of(ErrorKind::Settings, format!("the config's {name} is not valid ({e})")))?;
        }
        serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| Error::of(ErrorKind::Settings, format!("the config is not valid ({e})")))
    }

    /// Checks every field's range, whatever the data; the error names the field.
    /// Every plan is built from a config that passed this (`Plan::training`).
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_LATENT).contains(&self.latent) {
            return bad("latent", format!("is {}; it must be 1 to {MAX_LATENT}", self.latent));
        }
        check_hidden("generator_hidden", &self.generator_hidden)?;
        check_hidden("discriminator_hidden", &self.discriminator_hidden)?;
        check_batch(self.batch)?;
        let rates = [
            ("generator_lr", self.generator_lr),
            ("discriminator_lr", self.discriminator_lr),
        ];
        check_adam(&rates, self.beta1, self.beta2, self.eps)?;
        match self.model {
            Model::Mlp => Ok(()),
            Model::Dcgan { .. } if self.conditional => bad(
                "conditional",
                "is not built for the DCGAN: train the conditional GAN with the MLP".to_string(),
            ),
            Model::Dcgan { image_size, .. } if image_size != 32 && image_size != 64 => {
                bad("image_size", format!("is {image_size}; the DCGAN takes 32 or 64"))
            }
            Model::Dcgan { channels, .. } if channels != 1 && channels != 3 => bad(
                "channels",
                format!("is {channels}; the DCGAN takes 1 (gray) or 3 (colour)"),
            ),
            Model::Dcgan { width, .. } if !(1..=MAX_DCGAN_WIDTH).contains(&width) => {
                bad("width", format!("is {width}; it must be 1 to {MAX_DCGAN_WIDTH}"))
            }
            Model::Dcgan { .. } => Ok(()),
        }
    }

    /// `validate_images`, and the batch against a training set of `image_count` images.
    pub fn validate_for(&self, image_pixels: usize, image_count: usize) -> Result<()> {
        self.validate_images(image_pixels)?;
        if self.batch > image_count {
            return Err(Error::of(
                ErrorKind::Settings,
                format!(
                    "batch is {}, more than the {image_count} images of the training set",
                    self.batch
                ),
            ));
        }
        Ok(())
    }

    /// `validate`, and the networks and buffers for images of `image_pixels` pixels.
    pub fn validate_images(&self, image_pixels: usize) -> Result<()> {
        self.validate()?;
        if !(1..=MAX_PIXELS).contains(&image_pixels) {
            return Err(Error::of(
                ErrorKind::Settings,
                format!("images of {image_pixels} pixels are not supported (1 to {MAX_PIXELS})"),
            ));
        }
        if let Model::Dcgan {
            image_size, channels, ..
        } = self.model
        {
            if image_pixels != channels * image_size * image_size {
                return Err(Error::of(
                    ErrorKind::Settings,
                    format!(
                        "the DCGAN of {channels}-channel {image_size}×{image_size} images cannot train on images of {image_pixels} values"
                    ),
                ));
            }
        }
        for net in [self.generator(image_pixels), self.discriminator(image_pixels)] {
            if net.parameter_count > MAX_BUFFER_FLOATS {
                return Err(Error::of(
                    ErrorKind::Settings,
                    format!(
                        "the {} would have {} parameters; at most {MAX_BUFFER_FLOATS} fit a GPU buffer",
                        net.kind.name(),
                        net.parameter_count
                    ),
                ));
            }
        }
        // D sees the real and the generated batch at once: 2·batch rows of its widest layer.
        let layer_widths = |net: Network| {
            let sides = net.layers.iter().flat_map(|l| [l.input.len(), l.output.len()]);
            sides.max().unwrap_or(0)
        };
        let widest = layer_widths(self.generator(image_pixels)).max(layer_widths(self.discriminator(image_pixels)));
        if 2 * self.batch * widest > MAX_BUFFER_FLOATS {
            return Err(Error::of(
                ErrorKind::Settings,
                format!(
                    "batch is {}: 2 × batch × {widest} (the widest layer) floats do not fit a GPU buffer",
                    self.batch
                ),
            ));
        }
        Ok(())
    }

    /// The one-hot label's width beside each network's input: the classes when
    /// conditional, else 0.
    pub fn labels(&self) -> usize {
        if self.conditional {
            CLASSES
        } else {
            0
        }
    }

    /// The original G: latents (and a label, when conditional) through Linear and
    /// LeakyReLU layers to the image's pixels, ending in Tanh.
    pub fn generator(&self, image_pixels: usize) -> Network {
        if let Model::Dcgan {
            image_size,
            channels,
            width,
        } = self.model
        {
            return dcgan_generator(self.latent, image_size, channels, width);
        }
        self.labelled(
            NetworkKind::Generator,
            self.latent,
            &self.generator_hidden,
            image_pixels,
            Activation::Tanh,
        )
    }

    /// The original D: an image (and a label, when conditional) through Linear and
    /// LeakyReLU layers to one output, ending in Sigmoid (which the plan fuses into
    /// the loss, so D is run up to its logit).
    pub fn discriminator(&self, image_pixels: usize) -> Network {
        if let Model::Dcgan {
            image_size,
            channels,
            width,
        } = self.model
        {
            return dcgan_discriminator(image_size, channels, width);
        }
        let hidden = &self.discriminator_hidden;
        self.labelled(NetworkKind::Discriminator, image_pixels, hidden, 1, Activation::Sigmoid)
    }

    fn labelled(
        &self,
        kind: NetworkKind,
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        last: Activation,
    ) -> Network {
        let mut layers = Vec::new();
        if self.conditional {
            layers.push(Layer::Labels { classes: CLASSES });
        }
        layers.extend(perceptron(&widths(inputs + self.labels(), hidden, outputs), Some(last)));
        Network::new(kind, Shape::features(inputs), layers)
    }
}

/// Stride-2 layers between 4×4 and `image_size` (3 for 32, 4 for 64): the DCGAN's
/// depth.
fn dcgan_depth(image_size: usize) -> usize {
    (image_size / 4).trailing_zeros() as usize
}

/// A 4×4 convolution of `inputs` to `outputs` channels at `stride` and `padding`.
fn four(inputs: usize, outputs: usize, stride: usize, padding: usize) -> Convolution {
    Convolution {
        inputs,
        outputs,
        kernel: 4,
        stride,
        padding,
    }
}

/// pytorch/examples' DCGAN G (`main`): ConvTranspose2d(nz, ngf·2^(d−1), 4, 1, 0) from
/// the latent's 1×1 to 4×4, then BatchNorm2d, ReLU and a ConvTranspose2d(·, ·/2, 4, 2, 1)
/// doubling the side, d − 1 times, and BatchNorm2d, ReLU, ConvTranspose2d(ngf, nc, 4, 2, 1)
/// and Tanh last.
fn dcgan_generator(latent: usize, image_size: usize, channels: usize, ngf: usize) -> Network {
    let depth = dcgan_depth(image_size);
    let mut width = ngf << (depth - 1);
    let mut layers = vec![Layer::ConvTranspose2d(four(latent, width, 1, 0))];
    for _ in 1..depth {
        layers.extend([
            Layer::BatchNorm2d { channels: width },
            Layer::Activation(Activation::Relu),
            Layer::ConvTranspose2d(four(width, width / 2, 2, 1)),
        ]);
        width /= 2;
    }
    layers.extend([
        Layer::BatchNorm2d { channels: width },
        Layer::Activation(Activation::Relu),
        Layer::ConvTranspose2d(four(width, channels, 2, 1)),
        Layer::Activation(Activation::Tanh),
    ]);
    Network::in_module("main", NetworkKind::Generator, Shape::features(latent), layers)
}

/// pytorch/examples' DCGAN D (`main`): Conv2d(nc, ndf, 4, 2, 1) and LeakyReLU(0.2),
/// then Conv2d(·, 2·, 4, 2, 1), BatchNorm2d and LeakyReLU halving the side until
/// 4×4, and Conv2d(ndf·2^(d−1), 1, 4, 1, 0) and Sigmoid last.
fn dcgan_discriminator(image_size: usize, channels: usize, ndf: usize) -> Network {
    let depth = dcgan_depth(image_size);
    let mut layers = vec![
        Layer::Conv2d(four(channels, ndf, 2, 1)),
        Layer::Activation(Activation::LeakyRelu),
    ];
    let mut width = ndf;
    for _ in 1..depth {
        layers.extend([
            Layer::Conv2d(four(width, 2 * width, 2, 1)),
            Layer::BatchNorm2d { channels: 2 * width },
            Layer::Activation(Activation::LeakyRelu),
        ]);
        width *= 2;
    }
    layers.extend([
        Layer::Conv2d(four(width, 1, 1, 0)),
        Layer::Activation(Activation::Sigmoid),
    ]);
    let image = Shape {
        channels,
        height: image_size,
        width: image_size,
    };
    Network::in_module("main", NetworkKind::Discriminator, image, layers)
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
        let w = &p[..784 * 512];
        let bound = 1.0 / 784f32.sqrt();
        assert!(w.iter().all(|x| x.abs() <= bound));
        // A uniform on ±b has standard deviation b/sqrt(3).
        let mean_sq = w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32;
        assert!((mean_sq.sqrt() / (bound / 3f32.sqrt()) - 1.0).abs() < 0.01);
    }
}
