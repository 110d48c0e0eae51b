//! The batch gather from the GPU-resident training set (`shaders/gather.wgsl`): the
//! images of the next batch, or their labels one-hot.

use bytemuck::{Pod, Zeroable};

use super::matmul::View;
use super::{bindings, check_view, declare_kernel, groups, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GatherParams {
    pub batch: u32,
    /// Values in a row of the output: an image's pixels, or the classes of a label.
    pub width: u32,
    pub steps_per_epoch: u32,
    /// Where the output starts, and the distance between its rows: 0 and `width`,
    /// or a block of columns of a wider input.
    pub row_stride: u32,
    pub offset: u32,
    /// 0: items are images of `width` bytes; 1: items are one-byte labels, one-hot.
    pub one_hot: u32,
    pub _pad: [u32; 2],
}

impl GatherParams {
    /// The batch's images (as many pixels as `out` has columns) into `out`;
    /// `steps_per_epoch` batches to an epoch.
    pub fn images(out: View, steps_per_epoch: u32) -> Self {
        GatherParams {
            batch: out.rows as u32,
            width: out.cols as u32,
            steps_per_epoch,
            row_stride: out.row_stride as u32,
            offset: out.offset as u32,
            ..Default::default()
        }
    }

    /// The same batch's labels, one-hot over as many classes as `out` has columns.
    pub fn one_hot_labels(out: View, steps_per_epoch: u32) -> Self {
        GatherParams {
            one_hot: 1,
            ..Self::images(out, steps_per_epoch)
        }
    }
}

/// What a gather reads from the training set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Items {
    Images,
    Labels,
}

/// The step's batch of `items`, in the epoch's order, into (a block of) `batch`.
#[derive(Clone, Debug)]
pub struct GatherOp {
    pub params: GatherParams,
    pub items: Items,
    pub batch: BufferId,
}

/// `items` holds the training set's bytes (images, one byte a pixel, or labels, one
/// byte each); `order` is the current epoch's shuffle.
pub fn gather_cpu(p: &GatherParams, step: u32, items: &[u8], order: &[u32], batch: &mut [f32]) {
    let (rows, width, stride) = (p.batch as usize, p.width as usize, p.row_stride as usize);
    let offset = p.offset as usize;
    check_view("gather batch", batch.len(), offset, rows, width, stride, 1);
    let first = (step % p.steps_per_epoch) as usize * rows;
    for row in 0..rows {
        let item = order[first + row] as usize;
        let out = &mut batch[offset + row * stride..][..width];
        if p.one_hot != 0 {
            let class = usize::from(items[item]);
            out.iter_mut()
                .enumerate()
                .for_each(|(c, v)| *v = if c == class { 1.0 } else { 0.0 });
        } else {
            for (v, &byte) in out.iter_mut().zip(&items[item * width..][..width]) {
                *v = (f32::from(byte) / 255.0 - 0.5) / 0.5;
            }
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
    /// The training set's images or labels (`pack_bytes`), the epoch's shuffle, the
    /// step counter, and the batch it fills.
    pub struct GatherBuffers {
        items: Read,
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
        let workgroups = [groups(p.batch as usize * p.width as usize, 256), 1, 1];
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }
}

impl KernelOp for GatherOp {
    declare_kernel!("gather", GatherBuffers, Gather, params);

    fn kernel_label(&self) -> &'static str {
        match self.items {
            Items::Images => "gather images",
            Items::Labels => "gather labels",
        }
    }

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        vec![("batch", self.batch)]
    }

    fn reads(&self) -> Vec<BufferId> {
        Vec::new()
    }

    fn sole_output(&self) -> Option<BufferId> {
        Some(self.batch)
    }

    fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], _threads: usize) {
        let items = match self.items {
            Items::Images => &memory.images,
            Items::Labels => &memory.labels,
        };
        gather_cpu(&self.params, memory.step, items, &memory.order, out);
    }

    fn dispatch(&self, kernel: &Gather, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = GatherBuffers {
            items: match self.items {
                Items::Images => gpu.images,
                Items::Labels => gpu.labels,
            },
            order: gpu.order,
            counter: gpu.counter,
            batch: gpu.get(self.batch),
        };
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }
}
