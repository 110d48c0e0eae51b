//! The models: networks as lists of layers (`Layer`, `Network`, as PyTorch's
//! `nn.Sequential` holds its modules) and the hyperparameters that make them
//! (`TrainConfig` for the GAN, `ClassifierConfig` for the digit reader), with their
//! one validation; and `state`, what a run is at a given step.

mod config;
mod layer;
mod network;
pub mod state;

pub use config::*;
pub use layer::{Convolution, Layer, Shape};
pub use network::{NamedTensor, Network, NetworkKind, PlacedLayer, StatePart};
