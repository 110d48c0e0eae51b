//! The batch gather from the GPU-resident training set (`shaders/gather.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::matmul::View;
use super::{bindings, check_view, groups, Dispatch, Kernel};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GatherParams {
    pub batch: u32,
    pub pixels: u32,
    pub steps_per_epoch: u32,
    /// Distance between rows of the output: `pixels`, or more where the images are
    /// the first columns of a wider input.
    pub row_stride: u32,
}

impl GatherParams {
    /// `batch` rows of `pixels` into the first columns of `out`, `steps_per_epoch`
    /// batches to an epoch.
    pub fn new(out: View, steps_per_epoch: u32) -> Self {
        assert_eq!(out.offset, 0, "gather writes from the start of its buffer");
        GatherParams {
            batch: out.rows as u32,
            pixels: out.cols as u32,
            steps_per_epoch,
            row_stride: out.row_stride as u32,
        }
    }
}

/// `images` holds one byte per pixel; `order` is the current epoch's shuffle.
pub fn gather_cpu(p: &GatherParams, step: u32, images: &[u8], order: &[u32], batch: &mut [f32]) {
    let (rows, pixels, stride) = (p.batch as usize, p.pixels as usize, p.row_stride as usize);
    check_view("gather batch", batch.len(), 0, rows, pixels, stride, 1);
    let first = (step % p.steps_per_epoch) as usize * rows;
    for row in 0..rows {
        let image = order[first + row] as usize;
        let out = &mut batch[row * stride..][..pixels];
        for (v, &byte) in out.iter_mut().zip(&images[image * pixels..][..pixels]) {
            *v = (f32::from(byte) / 255.0 - 0.5) / 0.5;
        }
    }
}

/// Bytes packed four to a little-endian u32, the layout the shader reads.
pub fn pack_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| c.iter().rev().fold(0u32, |word, &b| (word << 8) | u32::from(b)))
        .collect()
}

pub const SOURCE: &str = include_str!("../../shaders/gather.wgsl");

bindings! {
    /// The training set (`pack_bytes`), the epoch's shuffle, the step counter, and
    /// the batch it fills.
    pub struct GatherBuffers {
        images: Read,
        order: Read,
        counter: Read,
        batch: ReadWrite,
    }
}

pub struct Gather(Kernel);

impl Gather {
    pub fn new(device: &wgpu::Device) -> Self {
        Gather(Kernel::new::<GatherBuffers>(device, "gather", SOURCE, "main", true))
    }

    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &GatherBuffers, p: &GatherParams) -> Dispatch {
        let workgroups = [groups(p.batch as usize * p.pixels as usize, 256), 1, 1];
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }
}
