//! One-hot class labels (`shaders/labels.wgsl`): the conditional GAN's fake labels,
//! drawn uniformly on the GPU each step (the same bits as `rng::uniform_class`), or
//! the preview's, read from a table of classes.

use bytemuck::{Pod, Zeroable};

use super::matmul::View;
use super::{bindings, check_view, declare_kernel, groups, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};
use crate::rng;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LabelsParams {
    pub rows: u32,
    pub classes: u32,
    pub offset: u32,
    pub row_stride: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub index: u32,
    pub use_step_counter: u32,
    pub from_table: u32,
    pub table_offset: u32,
    pub _pad: [u32; 2],
}

impl LabelsParams {
    /// New uniform labels every step into `out` (one column a class): the counter's
    /// second word is the step, so two ops with the same seed write the same labels.
    pub fn per_step(out: View, seed: u64) -> Self {
        assert!((1..=256).contains(&out.cols), "1 to 256 classes, not {}", out.cols);
        let [seed_lo, seed_hi] = rng::seed_key(seed);
        LabelsParams {
            rows: out.rows as u32,
            classes: out.cols as u32,
            offset: out.offset as u32,
            row_stride: out.row_stride as u32,
            seed_lo,
            seed_hi,
            use_step_counter: 1,
            ..Default::default()
        }
    }

    /// Row r's class is `table[table_offset + r]`.
    pub fn from_table(out: View, table_offset: usize) -> Self {
        LabelsParams {
            use_step_counter: 0,
            from_table: 1,
            table_offset: table_offset as u32,
            ..Self::per_step(out, 0)
        }
    }
}

/// One-hot labels into (a block of) `out`: drawn, or from `table` (classes, one a row).
#[derive(Clone, Debug)]
pub struct LabelsOp {
    pub params: LabelsParams,
    pub table: Option<BufferId>,
    pub out: BufferId,
}

/// The CPU reference. A table class outside [0, classes) gives an all-zero row, as
/// in the shader, where no column matches it.
pub fn labels_cpu(p: &LabelsParams, step: u32, table: &[f32], out: &mut [f32]) {
    let (rows, classes, stride) = (p.rows as usize, p.classes as usize, p.row_stride as usize);
    check_view("labels out", out.len(), p.offset as usize, rows, classes, stride, 1);
    if p.from_table != 0 {
        check_view("labels table", table.len(), p.table_offset as usize, 1, rows, 0, 1);
    }
    let seed = u64::from(p.seed_lo) | (u64::from(p.seed_hi) << 32);
    let index = if p.use_step_counter != 0 { step } else { p.index };
    for row in 0..rows {
        let class = match p.from_table != 0 {
            true => table[p.table_offset as usize + row] as u32,
            false => rng::uniform_class(seed, row as u32, index, p.classes),
        };
        let one_hot = &mut out[p.offset as usize + row * stride..][..classes];
        for (c, v) in one_hot.iter_mut().enumerate() {
            *v = if c as u32 == class { 1.0 } else { 0.0 };
        }
    }
}

pub const SOURCE: &str = concat!(
    include_str!("../../shaders/philox.wgsl"),
    include_str!("../../shaders/labels.wgsl")
);

bindings! {
    pub struct LabelsBuffers {
        out: ReadWrite,
        counter: Read,
        table: Read,
    }
}

pub struct Labels(Kernel);

impl Labels {
    pub fn new(device: &wgpu::Device) -> Self {
        Labels(Kernel::new::<LabelsBuffers>(device, "labels", SOURCE, "main", true))
    }

    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &LabelsBuffers, p: &LabelsParams) -> Dispatch {
        let workgroups = [groups((p.rows * p.classes) as usize, 64), 1, 1];
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }
}

impl KernelOp for LabelsOp {
    declare_kernel!("labels", LabelsBuffers, Labels, params);

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        let mut bound = vec![("out", self.out)];
        bound.extend(self.table.map(|t| ("table", t)));
        bound
    }

    fn reads(&self) -> Vec<BufferId> {
        self.table.into_iter().collect()
    }

    fn sole_output(&self) -> Option<BufferId> {
        Some(self.out)
    }

    fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], _threads: usize) {
        let table = self.table.map_or(&[][..], |t| memory.get(t));
        labels_cpu(&self.params, memory.step, table, out);
    }

    fn dispatch(&self, kernel: &Labels, gpu: &GpuMemory, label: &str) -> Dispatch {
        // Without a table, the kernel's table binding is never read: the counter,
        // already bound read-only, stands in.
        let buffers = LabelsBuffers {
            out: gpu.get(self.out),
            counter: gpu.counter,
            table: self.table.map_or(gpu.counter, |t| gpu.get(t)),
        };
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }
}
