//! Latent noise drawn on the GPU (`shaders/noise.wgsl`), bit-for-bit the generator
//! of `crate::rng` up to the rounding of ln, sin and cos.

use bytemuck::{Pod, Zeroable};

use super::{groups, Access, Kernel};
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
    let stream = match p.stream {
        1 => Stream::Noise,
        2 => Stream::Init,
        3 => Stream::Shuffle,
        _ => Stream::Sample,
    };
    let index = if p.use_step_counter != 0 { step } else { p.index };
    rng::normals(seed, stream, index, &mut z[..p.count as usize]);
}

pub struct Noise(pub Kernel);

impl Noise {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let source = include_str!("../../shaders/noise.wgsl");
        Noise(Kernel::new(device, "noise", source, &[ReadWrite, Read, Uniform]))
    }

    pub fn workgroups(p: &NoiseParams) -> [u32; 3] {
        [groups(p.count as usize, 4 * 64), 1, 1]
    }
}
