//! ganvas: the classic MNIST GAN, trained by WGSL compute shaders through wgpu
//! (natively or in the browser), with a CPU backend that runs the same plan.
//!
//! - `model`: the networks and hyperparameters; `state`: a run at a given step.
//! - `plan`: the training step as a list of kernel launches over named buffers.
//! - `kernels`: one module per WGSL file in `shaders/`, each with its CPU reference.
//! - `cpu` and `gpu`: the two backends that execute a plan; `engine`: either one
//!   behind one interface, for the command line, the bench and the page.
//! - `mnist`, `checkpoint`, `npy`, `settings`: what users hand in (data, safetensors
//!   files, arrays, links), each parser refusing bad input with an error, never a panic.
//! - `web`: the page's entry points; `web::bindings` wraps them for wasm.
//! - `frechet`: the Fréchet distance between Gaussians of feature vectors;
//!   `classifier`: reading digits with a trained classifier; `quality`: the census and
//!   scores of a set of images; `sampling`: a generator's samples, by seed and digit.

pub mod activation;
pub mod animation;
pub mod checkpoint;
pub mod classifier;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod frechet;
pub mod gpu;
pub mod grid;
#[cfg(not(target_arch = "wasm32"))]
pub mod image_folder;
pub mod image_shape;
pub mod kernels;
pub mod mnist;
pub mod model;
pub mod npy;
pub mod picture_size;
pub mod plan;
pub mod quality;
pub mod rng;
pub mod sampling;
pub mod settings;
pub mod state;
pub mod web;
pub mod zip;

pub use error::{Error, Result};
