//! Bias gradient: column sums of dY (`shaders/bias_grad.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{bindings, check_view, groups, Dispatch, Kernel};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct BiasGradParams {
    pub rows: u32,
    pub cols: u32,
    pub input_offset: u32,
    pub output_offset: u32,
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
