//! A network as a list of layers (`nn.Sequential`), each in place: its shapes, its
//! state_dict name, and where its tensors lie in the network's one flat parameter
//! buffer (one buffer, so one Adam dispatch a network).

use super::{Layer, Shape};
use crate::error::{Error, Result};
use crate::kernels::activation::Activation;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkKind {
    Generator,
    Discriminator,
    /// An MNIST classifier: the features and digit reader of the quality score.
    Classifier,
}

impl NetworkKind {
    pub fn name(self) -> &'static str {
        match self {
            NetworkKind::Generator => "generator",
            NetworkKind::Discriminator => "discriminator",
            NetworkKind::Classifier => "classifier",
        }
    }

    /// Each network's initialisation draws from its own run of the stream.
    fn init_index(self) -> u32 {
        match self {
            NetworkKind::Generator => 0,
            NetworkKind::Discriminator => 1 << 16,
            NetworkKind::Classifier => 2 << 16,
        }
    }
}

/// One buffer of what a network keeps from step to step, and a checkpoint saves
/// (its gradient is scratch, remade every step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatePart {
    Parameters,
    /// Adam's first moment (`exp_avg`).
    FirstMoment,
    /// Adam's second moment (`exp_avg_sq`).
    SecondMoment,
    /// What its layers keep besides parameters (`Layer::statistics`: batch norm's
    /// running estimates); empty for most networks.
    Statistics,
}

impl StatePart {
    pub const ALL: [StatePart; 4] = [
        StatePart::Parameters,
        StatePart::FirstMoment,
        StatePart::SecondMoment,
        StatePart::Statistics,
    ];
}

/// A layer of a network, in place.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedLayer {
    pub layer: Layer,
    /// Its module in the state_dict (`model.2`; its tensors are `model.2.weight`, ...).
    pub name: String,
    pub input: Shape,
    pub output: Shape,
    /// Where its first tensor starts in the flat parameter buffer; the others follow.
    pub offset: usize,
    /// Where its statistics start in the network's flat statistics buffer.
    pub statistics_offset: usize,
}

impl PlacedLayer {
    /// Its tensors with their full names and places.
    pub fn tensors(&self) -> Vec<NamedTensor> {
        self.named(self.layer.tensors(), self.offset)
    }

    /// Its statistics with their full names and places in the statistics buffer.
    pub fn statistics(&self) -> Vec<NamedTensor> {
        self.named(self.layer.statistics(), self.statistics_offset)
    }

    /// `entries` named after this module and laid out one after another from `offset`.
    fn named(&self, entries: Vec<(&'static str, Vec<usize>)>, mut offset: usize) -> Vec<NamedTensor> {
        (entries.into_iter())
            .map(|(suffix, shape)| {
                let len = shape.iter().product();
                let tensor = NamedTensor {
                    name: format!("{}.{suffix}", self.name),
                    shape,
                    offset,
                    len,
                };
                offset += len;
                tensor
            })
            .collect()
    }
}

/// A network: its layers from input to output, as PyTorch's `nn.Sequential` runs them.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub kind: NetworkKind,
    /// One sample of what it is given (before any label beside it).
    pub input: Shape,
    pub layers: Vec<PlacedLayer>,
    pub parameter_count: usize,
    /// Values of its statistics buffer (`StatePart::Statistics`).
    pub statistics_count: usize,
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
    /// `layers` on samples of `input`, the `nn.Sequential`'s modules named `model.0`,
    /// `model.1`, ... Panics where a layer cannot take what the one before gives:
    /// every caller builds its list from widths it has checked.
    pub fn new(kind: NetworkKind, input: Shape, layers: Vec<Layer>) -> Network {
        Network::in_module("model", kind, input, layers)
    }

    /// The same with the `nn.Sequential` held as `module` (`main` in pytorch/examples'
    /// DCGAN): its modules are `main.0`, `main.1`, ...
    pub fn in_module(module: &str, kind: NetworkKind, input: Shape, layers: Vec<Layer>) -> Network {
        let (mut shape, mut offset, mut index, mut statistics_offset) = (input, 0, 0, 0);
        let mut placed = Vec::with_capacity(layers.len());
        for layer in layers {
            let output = layer
                .output(shape)
                .unwrap_or_else(|e| panic!("the {}: {e}", kind.name()));
            // Outside the Sequential a layer has no name (nor tensors).
            let name = match layer.in_sequential() {
                true => format!("{module}.{index}"),
                false => String::new(),
            };
            index += usize::from(layer.in_sequential());
            let values = |tensors: Vec<(&str, Vec<usize>)>| -> usize {
                tensors.iter().map(|(_, s)| s.iter().product::<usize>()).sum()
            };
            let (len, statistics) = (values(layer.tensors()), values(layer.statistics()));
            placed.push(PlacedLayer {
                layer,
                name,
                input: shape,
                output,
                offset,
                statistics_offset,
            });
            (shape, offset) = (output, offset + len);
            statistics_offset += statistics;
        }
        Network {
            kind,
            input,
            layers: placed,
            parameter_count: offset,
            statistics_count: statistics_offset,
        }
    }

    /// The original MLP of `kind` through these widths (the first its input, label
    /// included): Linear and LeakyReLU(0.2) layers, and G's Tanh or D's Sigmoid last.
    /// What a state_dict's weight shapes tell of a network.
    pub fn from_widths(kind: NetworkKind, widths: &[usize]) -> Network {
        let last = match kind {
            NetworkKind::Generator => Some(Activation::Tanh),
            NetworkKind::Discriminator => Some(Activation::Sigmoid),
            NetworkKind::Classifier => None,
        };
        Network::new(kind, Shape::features(widths[0]), perceptron(widths, last))
    }

    /// The values a row of its first computing layer takes: the input and, for a
    /// conditional network, the label beside it.
    pub fn inputs(&self) -> usize {
        self.layers
            .iter()
            .find(|l| !matches!(l.layer, Layer::Labels { .. }))
            .map_or(self.input.len(), |l| l.input.len())
    }

    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(self.input.len(), |l| l.output.len())
    }

    /// Where a label sits beside the input, when the network takes one: its first
    /// column and its classes.
    pub fn label_columns(&self) -> Option<(usize, usize)> {
        self.layers.iter().find_map(|l| match l.layer {
            Layer::Labels { classes } => Some((l.input.len(), classes)),
            _ => None,
        })
    }

    /// The input's width, then each linear layer's output width.
    pub fn widths(&self) -> Vec<usize> {
        let outputs = self.layers.iter().filter_map(|l| match l.layer {
            Layer::Linear { outputs, .. } => Some(outputs),
            _ => None,
        });
        std::iter::once(self.inputs()).chain(outputs).collect()
    }

    /// Whether any layer's output depends on the rest of its batch (`Layer::normalises_by_batch`).
    pub fn normalises_by_batch(&self) -> bool {
        self.layers.iter().any(|l| l.layer.normalises_by_batch())
    }

    /// The state_dict entries, layer by layer.
    pub fn tensors(&self) -> Vec<NamedTensor> {
        self.layers.iter().flat_map(PlacedLayer::tensors).collect()
    }

    /// The state_dict's other entries (batch norm's running estimates), layer by layer.
    pub fn statistics(&self) -> Vec<NamedTensor> {
        self.layers.iter().flat_map(PlacedLayer::statistics).collect()
    }

    /// Every statistic as PyTorch starts it.
    pub fn initial_statistics(&self) -> Vec<f32> {
        self.layers.iter().flat_map(|l| l.layer.initial_statistics()).collect()
    }

    /// Values of one part of its state.
    pub fn part_len(&self, part: StatePart) -> usize {
        match part {
            StatePart::Statistics => self.statistics_count,
            _ => self.parameter_count,
        }
    }

    /// The network up to its last layer with tensors (and what follows it), on the
    /// same parameter buffer: a classifier's features, which the Fréchet distance
    /// compares. An error where no layer with tensors would be left.
    pub fn features(&self) -> Result<Network> {
        let with_tensors = |l: &PlacedLayer| !l.layer.tensors().is_empty();
        let last = self.layers.iter().rposition(with_tensors);
        match last.filter(|&i| self.layers[..i].iter().any(with_tensors)) {
            Some(i) => Ok(Network {
                layers: self.layers[..i].to_vec(),
                ..self.clone()
            }),
            None => Err(Error::new(format!(
                "the {} has no hidden layer to take features from",
                self.kind.name()
            ))),
        }
    }

    /// Every tensor initialised as PyTorch initialises its module.
    pub fn initial_parameters(&self, seed: u64) -> Vec<f32> {
        let mut params = vec![0.0; self.parameter_count];
        let mut index = self.kind.init_index();
        for layer in &self.layers {
            for (i, tensor) in layer.tensors().iter().enumerate() {
                let values = &mut params[tensor.offset..][..tensor.len];
                layer.layer.initialise(i, seed, index, values);
                index += 1;
            }
        }
        params
    }
}

/// `nn.Sequential(Linear, LeakyReLU(0.2), ..., Linear[, last])` through `widths`.
pub(super) fn perceptron(widths: &[usize], last: Option<Activation>) -> Vec<Layer> {
    let mut layers = Vec::new();
    for (i, pair) in widths.windows(2).enumerate() {
        layers.push(Layer::Linear {
            inputs: pair[0],
            outputs: pair[1],
        });
        if i + 2 < widths.len() {
            layers.push(Layer::Activation(Activation::LeakyRelu));
        }
    }
    layers.extend(last.map(Layer::Activation));
    layers
}
