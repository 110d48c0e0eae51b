//! Softmax cross-entropy on logits against target distributions
//! (`shaders/cross_entropy.wgsl`): the loss of a classifier whose targets are labels
//! gathered one-hot with the batch (`gather`).

use bytemuck::{Pod, Zeroable};

use super::matmul::View;
use super::{bindings, check_view, declare_kernel, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};

/// `accuracy_slot` when no accuracy is wanted.
pub const NO_SLOT: u32 = u32::MAX;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct CrossEntropyParams {
    pub rows: u32,
    pub classes: u32,
    pub logits_offset: u32,
    pub logits_stride: u32,
    pub targets_offset: u32,
    pub targets_stride: u32,
    pub loss_slot: u32,
    /// Where the share of rows predicted right goes; `NO_SLOT` for none.
    pub accuracy_slot: u32,
}

impl CrossEntropyParams {
    /// The mean loss of `logits` against `targets` (both [rows, classes]) added to
    /// stats slot `loss_slot`, and the accuracy to `accuracy_slot` when given.
    pub fn new(logits: View, targets: View, loss_slot: u32, accuracy_slot: Option<u32>) -> Self {
        assert!(logits.rows == targets.rows && logits.cols == targets.cols);
        CrossEntropyParams {
            rows: logits.rows as u32,
            classes: logits.cols as u32,
            logits_offset: logits.offset as u32,
            logits_stride: logits.row_stride as u32,
            targets_offset: targets.offset as u32,
            targets_stride: targets.row_stride as u32,
            loss_slot,
            accuracy_slot: accuracy_slot.unwrap_or(NO_SLOT),
        }
    }
}

/// The loss of `logits` against `targets`: its gradient into `grad`, its value and
/// accuracy into the stats.
#[derive(Clone, Debug)]
pub struct CrossEntropyOp {
    pub params: CrossEntropyParams,
    pub logits: BufferId,
    pub targets: BufferId,
    pub grad: BufferId,
}

/// The CPU reference, in the same f32 operations as the shader: the gradient of the
/// mean loss into `grad` ([rows, classes]), the mean loss and accuracy added to `stats`.
pub fn cross_entropy_cpu(p: &CrossEntropyParams, logits: &[f32], targets: &[f32], grad: &mut [f32], stats: &mut [f32]) {
    let (rows, classes) = (p.rows as usize, p.classes as usize);
    let u = |x: u32| x as usize;
    check_view(
        "cross_entropy logits",
        logits.len(),
        u(p.logits_offset),
        rows,
        classes,
        u(p.logits_stride),
        1,
    );
    check_view(
        "cross_entropy targets",
        targets.len(),
        u(p.targets_offset),
        rows,
        classes,
        u(p.targets_stride),
        1,
    );
    check_view("cross_entropy grad", grad.len(), 0, rows, classes, classes, 1);
    let inv_rows = 1.0 / p.rows as f32;
    let (mut loss_sum, mut correct) = (0.0f32, 0.0f32);
    for i in 0..rows {
        let x = &logits[u(p.logits_offset) + i * u(p.logits_stride)..][..classes];
        let t = &targets[u(p.targets_offset) + i * u(p.targets_stride)..][..classes];
        // The first largest, as the shader finds it.
        let first_max = |v: &[f32]| (1..classes).fold(0, |best, c| if v[c] > v[best] { c } else { best });
        let (predicted, target_class) = (first_max(x), first_max(t));
        let largest = x[predicted];
        let total: f32 = x.iter().map(|&v| (v - largest).exp()).sum();
        let log_total = total.ln();
        let mut loss = 0.0f32;
        for (c, g) in grad[i * classes..][..classes].iter_mut().enumerate() {
            let shifted = x[c] - largest;
            *g = ((shifted).exp() / total - t[c]) * inv_rows;
            loss += t[c] * (log_total - shifted);
        }
        loss_sum += loss;
        correct += if predicted == target_class { 1.0 } else { 0.0 };
    }
    stats[u(p.loss_slot)] += loss_sum * inv_rows;
    if p.accuracy_slot != NO_SLOT {
        stats[u(p.accuracy_slot)] += correct * inv_rows;
    }
}

pub const SOURCE: &str = include_str!("../../shaders/cross_entropy.wgsl");

bindings! {
    /// The logits and targets in, their loss gradient out, and the running sums.
    pub struct CrossEntropyBuffers {
        logits: Read,
        targets: Read,
        grad: ReadWrite,
        stats: ReadWrite,
    }
}

pub struct CrossEntropy(Kernel);

impl CrossEntropy {
    pub fn new(device: &wgpu::Device) -> Self {
        CrossEntropy(Kernel::new::<CrossEntropyBuffers>(
            device,
            "cross_entropy",
            SOURCE,
            "main",
            true,
        ))
    }

    /// One workgroup: see the shader.
    pub fn dispatch(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: &CrossEntropyBuffers,
        p: &CrossEntropyParams,
    ) -> Dispatch {
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), [1, 1, 1])
    }
}

impl KernelOp for CrossEntropyOp {
    declare_kernel!("cross_entropy", CrossEntropyBuffers, CrossEntropy, params);

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        vec![("grad", self.grad), ("logits", self.logits), ("targets", self.targets)]
    }

    fn reads(&self) -> Vec<BufferId> {
        vec![self.logits, self.targets]
    }

    /// It also adds to the stats.
    fn sole_output(&self) -> Option<BufferId> {
        None
    }

    fn run_cpu(&self, memory: &mut CpuMemory) {
        let mut grad = memory.take(self.grad);
        let (logits, targets) = (&memory.buffers[self.logits.0], &memory.buffers[self.targets.0]);
        cross_entropy_cpu(&self.params, logits, targets, &mut grad, &mut memory.stats);
        memory.buffers[self.grad.0] = grad;
    }

    fn dispatch(&self, kernel: &CrossEntropy, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = CrossEntropyBuffers {
            logits: gpu.get(self.logits),
            targets: gpu.get(self.targets),
            grad: gpu.get(self.grad),
            stats: gpu.stats,
        };
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }
}
