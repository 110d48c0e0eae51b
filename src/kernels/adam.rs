//! One Adam step over a whole network's parameters (`shaders/adam.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{groups, Access, Kernel};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct AdamParams {
    pub n: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub _pad: [u32; 3],
}

/// The CPU reference, in the same f32 operations as the shader; `step` counts from 0.
pub fn adam_cpu(
    p: &AdamParams,
    step: u32,
    param: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
) {
    let n = p.n as usize;
    let t = (step + 1) as f32;
    let step_size = p.lr / (1.0 - p.beta1.powf(t));
    let bias_correction2_sqrt = (1.0 - p.beta2.powf(t)).sqrt();
    let moments = exp_avg[..n].iter_mut().zip(&mut exp_avg_sq[..n]);
    for ((x, &g), (m, v)) in param[..n].iter_mut().zip(&grad[..n]).zip(moments) {
        *m += (1.0 - p.beta1) * (g - *m);
        *v = p.beta2 * *v + (1.0 - p.beta2) * g * g;
        *x -= step_size * *m / (v.sqrt() / bias_correction2_sqrt + p.eps);
    }
}

pub struct Adam(pub Kernel);

impl Adam {
    pub fn new(device: &wgpu::Device) -> Self {
        use Access::*;
        let source = include_str!("../../shaders/adam.wgsl");
        Adam(Kernel::new(
            device,
            "adam",
            source,
            &[ReadWrite, Read, ReadWrite, ReadWrite, Read, Uniform],
        ))
    }

    pub fn workgroups(p: &AdamParams) -> [u32; 3] {
        [groups(p.n as usize, 256).min(65_535), 1, 1]
    }
}
