//! Latent noise drawn on the GPU (`shaders/noise.wgsl`), bit-for-bit the generator
//! of `crate::rng` up to the rounding of ln, sin and cos.

use bytemuck::{Pod, Zeroable};

use super::{bindings, groups, Dispatch, Kernel};
use crate::rng::{self, Stream};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct NoiseParams {
    pub count: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub stream: u32,
    pub index: u32,
    pub use_step_counter: u32,
    pub _pad: [u32; 2],
}

impl NoiseParams {
    /// New noise every step: the counter's second word is the step.
    pub fn per_step(count: usize, seed: u64) -> Self {
        let [seed_lo, seed_hi] = rng::seed_key(seed);
        NoiseParams {
            count: count as u32,
            seed_lo,
            seed_hi,
            stream: Stream::Noise as u32,
            use_step_counter: 1,
            ..Default::default()
        }
    }

    /// The same batch every time, as for the preview grid.
    pub fn fixed(count: usize, seed: u64, stream: Stream, index: u32) -> Self {
        let [seed_lo, seed_hi] = rng::seed_key(seed);
        NoiseParams {
            count: count as u32,
            seed_lo,
            seed_hi,
            stream: stream as u32,
            index,
            ..Default::default()
        }
    }
}

pub fn noise_cpu(p: &NoiseParams, step: u32, z: &mut [f32]) {
    let seed = u64::from(p.seed_lo) | (u64::from(p.seed_hi) << 32);
    // A value that names no stream is a bug in the plan: stop, as a bad view does.
    let stream = Stream::try_from(p.stream).unwrap_or_else(|e| panic!("noise stream: {e}"));
    let index = if p.use_step_counter != 0 { step } else { p.index };
    rng::normals(seed, stream, index, &mut z[..p.count as usize]);
}

pub const SOURCE: &str = include_str!("../../shaders/noise.wgsl");

bindings! {
    pub struct NoiseBuffers {
        z: ReadWrite,
        counter: Read,
    }
}

pub struct Noise(Kernel);

impl Noise {
    pub fn new(device: &wgpu::Device) -> Self {
        Noise(Kernel::new::<NoiseBuffers>(device, "noise", SOURCE, "main", true))
    }

    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &NoiseBuffers, p: &NoiseParams) -> Dispatch {
        let workgroups = [groups(p.count as usize, 4 * 64), 1, 1];
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }
}
