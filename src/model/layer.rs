//! One module of a network, as PyTorch's `nn.Sequential` holds them: the shape it
//! gives, its tensors (their state_dict names and shapes) and their initialisation.
//! How the plan runs each kind of layer is in `plan/layers.rs`.

use crate::error::{Error, Result};
use crate::kernels::activation::Activation;
use crate::kernels::conv::ConvGeometry;
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
    /// `nn.Conv2d(inputs, outputs, kernel, stride, padding, bias=False)`: weight
    /// [outputs, inputs, kernel, kernel].
    Conv2d(Convolution),
    /// `nn.ConvTranspose2d(inputs, outputs, kernel, stride, padding, bias=False)`:
    /// weight [inputs, outputs, kernel, kernel].
    ConvTranspose2d(Convolution),
    /// `nn.BatchNorm2d(channels)`: weight (γ) and bias (β) [channels], and the
    /// running statistics it keeps besides (`statistics`).
    BatchNorm2d { channels: usize },
}

/// A convolution's channels and its square kernel's size, stride and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Convolution {
    pub inputs: usize,
    pub outputs: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Convolution {
    /// The side a `Conv2d` of this gives for `side`.
    fn lowered(&self, side: usize) -> Option<usize> {
        ConvGeometry::small_side(side, self.kernel, self.stride, self.padding)
    }

    /// The side a `ConvTranspose2d` of this gives for `side`: (side − 1)·stride −
    /// 2·padding + kernel, as PyTorch computes it.
    fn raised(&self, side: usize) -> Option<usize> {
        ((side.max(1) - 1) * self.stride + self.kernel)
            .checked_sub(2 * self.padding)
            .filter(|&s| s > 0)
    }
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
            Layer::Conv2d(c) | Layer::ConvTranspose2d(c) if input.channels != c.inputs => Err(Error::new(format!(
                "a convolution of {} input channels cannot take samples of {input:?}",
                c.inputs
            ))),
            Layer::Conv2d(c) => match (c.lowered(input.height), c.lowered(input.width)) {
                (Some(height), Some(width)) => Ok(Shape {
                    channels: c.outputs,
                    height,
                    width,
                }),
                _ => Err(Error::new(format!(
                    "a {0}×{0} kernel does not fit samples of {input:?}",
                    c.kernel
                ))),
            },
            Layer::ConvTranspose2d(c) => match (c.raised(input.height), c.raised(input.width)) {
                (Some(height), Some(width)) => Ok(Shape {
                    channels: c.outputs,
                    height,
                    width,
                }),
                _ => Err(Error::new(format!(
                    "a transposed convolution of {c:?} gives nothing for {input:?}"
                ))),
            },
            Layer::BatchNorm2d { channels } if channels == input.channels => Ok(input),
            Layer::BatchNorm2d { channels } => Err(Error::new(format!(
                "a batch norm of {channels} channels cannot take samples of {input:?}"
            ))),
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
        matches!(self, Layer::BatchNorm2d { .. })
    }

    /// Its tensors in the state_dict, each a name after its module's and a shape.
    pub fn tensors(&self) -> Vec<(&'static str, Vec<usize>)> {
        match *self {
            Layer::Linear { inputs, outputs } => vec![("weight", vec![outputs, inputs]), ("bias", vec![outputs])],
            Layer::Conv2d(c) => vec![("weight", vec![c.outputs, c.inputs, c.kernel, c.kernel])],
            Layer::ConvTranspose2d(c) => vec![("weight", vec![c.inputs, c.outputs, c.kernel, c.kernel])],
            Layer::BatchNorm2d { channels } => vec![("weight", vec![channels]), ("bias", vec![channels])],
            Layer::Activation(_) | Layer::Labels { .. } => Vec::new(),
        }
    }

    /// What it keeps besides its parameters, trained by no gradient: a batch norm's
    /// running estimates and the count of batches they have seen (PyTorch's
    /// buffers; the count, an int64 there, is a float here, exact to 2²⁴ batches).
    pub fn statistics(&self) -> Vec<(&'static str, Vec<usize>)> {
        match *self {
            Layer::BatchNorm2d { channels } => vec![
                ("running_mean", vec![channels]),
                ("running_var", vec![channels]),
                ("num_batches_tracked", vec![]),
            ],
            _ => Vec::new(),
        }
    }

    /// Its statistics as PyTorch starts them: mean 0, variance 1, no batch seen.
    pub fn initial_statistics(&self) -> Vec<f32> {
        match *self {
            Layer::BatchNorm2d { channels } => [vec![0.0; channels], vec![1.0; channels], vec![0.0]].concat(),
            _ => Vec::new(),
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
            // pytorch/examples' DCGAN `weights_init`: convolutions N(0, 0.02), batch
            // norm weight N(1, 0.02) and bias 0.
            Layer::Conv2d(_) | Layer::ConvTranspose2d(_) => {
                rng::normals(seed, Stream::Init, index, values);
                values.iter_mut().for_each(|v| *v *= 0.02);
            }
            Layer::BatchNorm2d { .. } if tensor == 0 => {
                rng::normals(seed, Stream::Init, index, values);
                values.iter_mut().for_each(|v| *v = 1.0 + 0.02 * *v);
            }
            Layer::BatchNorm2d { .. } => values.fill(0.0),
            Layer::Activation(_) | Layer::Labels { .. } => {
                unreachable!("layer {self:?} has no tensor {tensor}")
            }
        }
    }
}
