//! The GPU-side step counter (`shaders/step_counter.wgsl`).

use super::{Access, Kernel};

pub struct StepCounter(pub Kernel);

impl StepCounter {
    pub fn new(device: &wgpu::Device) -> Self {
        let source = include_str!("../../shaders/step_counter.wgsl");
        StepCounter(Kernel::new(device, "step_counter", source, &[Access::ReadWrite]))
    }
}
