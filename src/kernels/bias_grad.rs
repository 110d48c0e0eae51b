//! Bias gradient: column sums of dY (`shaders/bias_grad.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{bindings, check_view, declare_kernel, groups, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct BiasGradParams {
    pub rows: u32,
    pub cols: u32,
    pub input_offset: u32,
    pub output_offset: u32,
}

/// db[output_offset..] = column sums of dY's rows.
#[derive(Clone, Debug)]
pub struct BiasGradOp {
    pub params: BiasGradParams,
    pub dy: BufferId,
    pub db: BufferId,
}

pub fn bias_grad_cpu(p: &BiasGradParams, dy: &[f32], db: &mut [f32]) {
    let (rows, cols) = (p.rows as usize, p.cols as usize);
    check_view("bias_grad dY", dy.len(), p.input_offset as usize, rows, cols, cols, 1);
    check_view("bias_grad db", db.len(), p.output_offset as usize, 1, cols, 0, 1);
    let out = &mut db[p.output_offset as usize..][..cols];
    out.fill(0.0);
    for row in dy[p.input_offset as usize..].chunks(cols).take(rows) {
        for (sum, v) in out.iter_mut().zip(row) {
            *sum += v;
        }
    }
}

pub const SOURCE: &str = include_str!("../../shaders/bias_grad.wgsl");

bindings! {
    pub struct BiasGradBuffers {
        dy: Read,
        db: ReadWrite,
    }
}

pub struct BiasGrad(Kernel);

impl BiasGrad {
    pub fn new(device: &wgpu::Device) -> Self {
        BiasGrad(Kernel::new::<BiasGradBuffers>(
            device,
            "bias_grad",
            SOURCE,
            "main",
            true,
        ))
    }

    pub fn dispatch(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: &BiasGradBuffers,
        p: &BiasGradParams,
    ) -> Dispatch {
        let workgroups = [groups(p.cols as usize, 64), 1, 1];
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }
}

impl KernelOp for BiasGradOp {
    declare_kernel!("bias_grad", BiasGradBuffers, BiasGrad, params);

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        vec![("db", self.db), ("dy", self.dy)]
    }

    fn reads(&self) -> Vec<BufferId> {
        vec![self.dy]
    }

    fn sole_output(&self) -> Option<BufferId> {
        Some(self.db)
    }

    fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], _threads: usize) {
        bias_grad_cpu(&self.params, memory.get(self.dy), out);
    }

    fn dispatch(&self, kernel: &BiasGrad, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = BiasGradBuffers {
            dy: gpu.get(self.dy),
            db: gpu.get(self.db),
        };
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }
}
