//! ganvas: the classic MNIST GAN, trained by WGSL compute shaders through wgpu
//! (natively or in the browser), with a CPU backend that runs the same plan.
//!
//! - `model`: the networks and hyperparameters; `state`: a run at a given step.
//! - `plan`: the training step as a list of kernel launches over named buffers.
//! - `kernels`: one module per WGSL file in `shaders/`, each with its CPU reference.
//! - `cpu` and `gpu`: the two backends that execute a plan.
//! - `mnist`, `checkpoint`: data and safetensors files.

pub mod activation;
pub mod checkpoint;
pub mod cpu;
pub mod error;
pub mod gpu;
pub mod grid;
pub mod kernels;
pub mod mnist;
pub mod model;
pub mod npy;
pub mod plan;
pub mod rng;
pub mod state;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
