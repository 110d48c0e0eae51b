//! ganvas: the classic MNIST GAN, trained by WGSL compute shaders through wgpu
//! (natively or in the browser), with a CPU backend that runs the same plan.
//!
//! The folders are layers; each imports only from those above it in this list
//! (`tests/architecture.rs` checks it):
//! - `error`, `rng`: errors that say what is wrong; the counter-based random numbers
//!   that both backends draw alike.
//! - `kernels`: one module per WGSL file in `shaders/`, each with its CPU reference,
//!   and the registry that lists them all (the plan's `Op`).
//! - `model`: networks as lists of layers, the hyperparameters that make them, and
//!   a run's state at a step.
//! - `plan`: a training step, and what runs on request, as lists of kernel
//!   launches over named buffers. `formats`: what users hand in and take away
//!   (MNIST, checkpoints, arrays, links, pictures, grids, GIFs), each parser
//!   refusing bad input with an error, never a panic.
//! - `backend`: the CPU and GPU trainers that run a plan, and `Engine`, either one
//!   behind one interface for the command line, the bench and the page.
//! - `quality`: the digit census and scores of G's samples (the classifier, the
//!   Fréchet distance) and sampling a generator alone.
//! - `web`: the page's entry points; `web::bindings` wraps them for wasm.

pub mod backend;
pub mod error;
pub mod formats;
pub mod kernels;
pub mod model;
pub mod plan;
pub mod quality;
pub mod rng;
pub mod web;

pub use error::{Error, Result};
