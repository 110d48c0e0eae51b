//! Bias gradient: column sums of dY (`shaders/bias_grad.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{check_view, groups, Access, Kernel};

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

pub struct BiasGrad(pub Kernel);

impl BiasGrad {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let source = include_str!("../../shaders/bias_grad.wgsl");
        BiasGrad(Kernel::new(device, "bias_grad", source, &[Read, ReadWrite, Uniform]))
    }

    pub fn workgroups(p: &BiasGradParams) -> [u32; 3] {
        [groups(p.cols as usize, 64), 1, 1]
    }
}
