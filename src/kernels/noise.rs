//! Latent noise drawn on the GPU (`shaders/noise.wgsl`), bit-for-bit the generator
//! of `crate::rng` up to the rounding of ln, sin and cos.

use bytemuck::{Pod, Zeroable};

use super::matmul::View;
use super::{bindings, check_view, declare_kernel, groups, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};
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
    /// Where the values go: element i to row i / cols, column i % cols of the view.
    pub offset: u32,
    pub cols: u32,
    pub row_stride: u32,
    pub _pad: [u32; 3],
}

impl NoiseParams {
    /// New noise every step into `out`: the counter's second word is the step.
    pub fn per_step(out: View, seed: u64) -> Self {
        NoiseParams {
            use_step_counter: 1,
            ..Self::into_view(out, seed, Stream::Noise)
        }
    }

    /// The same values every time, as for the preview grid.
    pub fn fixed(out: View, seed: u64, stream: Stream, index: u32) -> Self {
        NoiseParams {
            index,
            ..Self::into_view(out, seed, stream)
        }
    }

    fn into_view(out: View, seed: u64, stream: Stream) -> Self {
        let [seed_lo, seed_hi] = rng::seed_key(seed);
        NoiseParams {
            count: (out.rows * out.cols) as u32,
            seed_lo,
            seed_hi,
            stream: stream as u32,
            offset: out.offset as u32,
            cols: out.cols as u32,
            row_stride: out.row_stride as u32,
            ..Default::default()
        }
    }
}

/// Gaussian latents into (a block of columns of) `z`.
#[derive(Clone, Debug)]
pub struct NoiseOp {
    pub params: NoiseParams,
    pub z: BufferId,
}

pub fn noise_cpu(p: &NoiseParams, step: u32, z: &mut [f32]) {
    let seed = u64::from(p.seed_lo) | (u64::from(p.seed_hi) << 32);
    // A value that names no stream is a bug in the plan: stop, as a bad view does.
    let stream = Stream::try_from(p.stream).unwrap_or_else(|e| panic!("noise stream: {e}"));
    let index = if p.use_step_counter != 0 { step } else { p.index };
    let (count, cols, stride) = (p.count as usize, p.cols as usize, p.row_stride as usize);
    let rows = count.div_ceil(cols.max(1));
    check_view("noise z", z.len(), p.offset as usize, rows, cols, stride, 1);
    let out = &mut z[p.offset as usize..];
    if stride == cols {
        return rng::normals(seed, stream, index, &mut out[..count]);
    }
    let mut values = vec![0.0; count];
    rng::normals(seed, stream, index, &mut values);
    for (row, values) in values.chunks(cols).enumerate() {
        out[row * stride..][..values.len()].copy_from_slice(values);
    }
}

pub const SOURCE: &str = concat!(
    include_str!("../../shaders/philox.wgsl"),
    include_str!("../../shaders/noise.wgsl")
);

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

impl KernelOp for NoiseOp {
    declare_kernel!("noise", NoiseBuffers, Noise, params);

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        vec![("z", self.z)]
    }

    fn reads(&self) -> Vec<BufferId> {
        Vec::new()
    }

    fn sole_output(&self) -> Option<BufferId> {
        Some(self.z)
    }

    fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], _threads: usize) {
        noise_cpu(&self.params, memory.step, out);
    }

    fn dispatch(&self, kernel: &Noise, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = NoiseBuffers {
            z: gpu.get(self.z),
            counter: gpu.counter,
        };
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }
}
