//! The GPU-side step counter (`shaders/step_counter.wgsl`).

use super::{bindings, declare_kernel, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};

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

/// Advances the step: the step index that noise, gather and Adam read.
#[derive(Clone, Debug)]
pub struct AdvanceStepOp;

impl KernelOp for AdvanceStepOp {
    declare_kernel!("step_counter", StepCounterBuffers, StepCounter, no_params);

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        Vec::new()
    }

    fn reads(&self) -> Vec<BufferId> {
        Vec::new()
    }

    fn sole_output(&self) -> Option<BufferId> {
        None
    }

    fn run_cpu(&self, memory: &mut CpuMemory) {
        memory.step += 1;
    }

    fn dispatch(&self, kernel: &StepCounter, gpu: &GpuMemory, label: &str) -> Dispatch {
        kernel.dispatch(gpu.device, label, &StepCounterBuffers { counter: gpu.counter })
    }
}
