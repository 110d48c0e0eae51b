//! One module of a network, as PyTorch's `nn.Sequential` holds them: the shape it
//! gives, its tensors (their state_dict names and shapes) and their initialisation.
//! How the plan runs each kind of layer is in `plan/layers.rs`.

use crate::error::{Error, Result};
use crate::kernels::activation::Activation;
use crate::rng::{self, Stream};

/// What one sample is at some point of a network: `channels` planes of `height` ×
/// `width` values, PyTorch's (C, H, W); a row of features is (F, 1, 1). A batch of
/// them is N such samples one after another, as PyTorch lays out (N, C, H, W).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Shape {
    /// A row of `count` features.
    pub fn features(count: usize) -> Shape {
        Shape {
            channels: count,
            height: 1,
            width: 1,
        }
    }

    /// Values in one sample.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_row(&self) -> bool {
        self.height == 1 && self.width == 1
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// `nn.Linear(inputs, outputs)` on rows: weight [outputs, inputs], bias [outputs].
    Linear { inputs: usize, outputs: usize },
    /// An elementwise activation module (`nn.LeakyReLU(0.2)`, `nn.Tanh()`, `nn.Sigmoid()`).
    Activation(Activation),
    /// `torch.cat([x, F.one_hot(y, classes)], 1)`: the conditional GAN's label beside
    /// its input, before the `nn.Sequential` (so it takes no index there). Whatever
    /// feeds the network writes the label's columns; the layer computes nothing.
    Labels { classes: usize },
}

impl Layer {
    /// The shape it gives for samples of `input`, or why it cannot take them.
    pub fn output(&self, input: Shape) -> Result<Shape> {
        match *self {
            Layer::Linear { inputs, outputs } if input.is_row() && input.channels == inputs => {
                Ok(Shape::features(outputs))
            }
            Layer::Linear { inputs, .. } => Err(Error::new(format!(
                "a linear layer of {inputs} inputs cannot take samples of {input:?}"
            ))),
            Layer::Activation(_) => Ok(input),
            Layer::Labels { classes } if input.is_row() => Ok(Shape::features(input.channels + classes)),
            Layer::Labels { .. } => Err(Error::new(format!("labels go beside rows, not {input:?}"))),
        }
    }

    /// Whether it is a module of the `nn.Sequential`, counted in its state_dict
    /// indices (`model.0`, `model.1`, ...).
    pub fn in_sequential(&self) -> bool {
        !matches!(self, Layer::Labels { .. })
    }

    /// Whether its output depends on the other samples of its batch (a batch norm in
    /// training): such a layer must see the real and the generated batch apart.
    pub fn normalises_by_batch(&self) -> bool {
        match self {
            Layer::Linear { .. } | Layer::Activation(_) | Layer::Labels { .. } => false,
        }
    }

    /// Its tensors in the state_dict, each a name after its module's and a shape.
    pub fn tensors(&self) -> Vec<(&'static str, Vec<usize>)> {
        match *self {
            Layer::Linear { inputs, outputs } => vec![("weight", vec![outputs, inputs]), ("bias", vec![outputs])],
            Layer::Activation(_) | Layer::Labels { .. } => Vec::new(),
        }
    }

    /// Fills its tensor `tensor` (an index into `tensors()`) as PyTorch initialises
    /// its module, drawing from the initialisation stream's `index`.
    pub fn initialise(&self, tensor: usize, seed: u64, index: u32, values: &mut [f32]) {
        match *self {
            // PyTorch's `nn.Linear` default: weight and bias uniform in ±1/sqrt(fan_in).
            Layer::Linear { inputs, .. } => {
                let bound = 1.0 / (inputs as f32).sqrt();
                rng::uniform_symmetric(seed, Stream::Init, index, bound, values);
            }
            Layer::Activation(_) | Layer::Labels { .. } => {
                unreachable!("layer {self:?} has no tensor {tensor}")
            }
        }
    }
}
