//! The GPU-side step counter (`shaders/step_counter.wgsl`).

use super::{bindings, Dispatch, Kernel};

pub const SOURCE: &str = include_str!("../../shaders/step_counter.wgsl");

bindings! {
    pub struct StepCounterBuffers {
        counter: ReadWrite,
    }
}

pub struct StepCounter(Kernel);

impl StepCounter {
    pub fn new(device: &wgpu::Device) -> Self {
        StepCounter(Kernel::new::<StepCounterBuffers>(
            device,
            "step_counter",
            SOURCE,
            "main",
            false,
        ))
    }

    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &StepCounterBuffers) -> Dispatch {
        self.0.dispatch(device, label, buffers, &[], [1, 1, 1])
    }
}
