//! Binary cross-entropy on logits with the sigmoid fused in (`shaders/bce.wgsl`).
//!
//! loss(x, y) = max(x, 0) − x·y + ln(1 + e^−|x|), which equals PyTorch's
//! `BCELoss(sigmoid(x), y)` wherever that is finite and unclamped. They part where
//! the f32 sigmoid saturates: for x ≳ 17 (or x ≲ −88) PyTorch's log(1 − p) (or log p)
//! hits its −100 clamp, so it reports a loss of 100 and a vanishing gradient,
//! while this form keeps the exact loss |x| and the gradient ±1/n.

use bytemuck::{Pod, Zeroable};

use super::{bindings, declare_kernel, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};
use crate::kernels::activation::sigmoid;

/// Where the running sums live in the stats buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum StatSlot {
    DiscriminatorLoss = 0,
    GeneratorLoss = 1,
    /// Mean D(x) on real images.
    ProbabilityReal = 2,
    /// Mean D(G(z)) on generated images, before the discriminator update.
    ProbabilityFake = 3,
}

pub const STAT_SLOTS: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct BceParams {
    pub n: u32,
    /// Rows [0, positives) have target 1, the rest target 0.
    pub positives: u32,
    pub loss_slot: u32,
    pub record_probabilities: u32,
}

/// BCE on `logits`: its gradient into `grad`, its value (and D's outputs) into the stats.
#[derive(Clone, Debug)]
pub struct BceOp {
    pub params: BceParams,
    pub logits: BufferId,
    pub grad: BufferId,
}

/// The CPU reference: the gradient of the mean loss, and the stats added to `stats`.
pub fn bce_cpu(p: &BceParams, logits: &[f32], grad: &mut [f32], stats: &mut [f32; STAT_SLOTS]) {
    let n = p.n as usize;
    let inv_n = 1.0 / p.n as f32;
    let (mut loss, mut prob_pos, mut prob_neg) = (0.0f32, 0.0f32, 0.0f32);
    for (i, (&x, g)) in logits[..n].iter().zip(&mut grad[..n]).enumerate() {
        let positive = i < p.positives as usize;
        let y = if positive { 1.0 } else { 0.0 };
        let prob = sigmoid(x);
        *g = (prob - y) * inv_n;
        loss += x.max(0.0) - x * y + (1.0 + (-x.abs()).exp()).ln();
        if positive {
            prob_pos += prob;
        } else {
            prob_neg += prob;
        }
    }
    stats[p.loss_slot as usize] += loss * inv_n;
    // Each group's mean where it has rows: a DCGAN's D sees the real and the fake
    // half in a pass each.
    if p.record_probabilities != 0 && p.positives > 0 {
        stats[StatSlot::ProbabilityReal as usize] += prob_pos / p.positives as f32;
    }
    if p.record_probabilities != 0 && p.n > p.positives {
        stats[StatSlot::ProbabilityFake as usize] += prob_neg / (p.n - p.positives) as f32;
    }
}

pub const SOURCE: &str = concat!(
    include_str!("../../shaders/activation.wgsl"),
    include_str!("../../shaders/bce.wgsl")
);

bindings! {
    /// The logits in, their loss gradient out, and the running sums (`StatSlot`).
    pub struct BceBuffers {
        logits: Read,
        grad: ReadWrite,
        stats: ReadWrite,
    }
}

pub struct Bce(Kernel);

impl Bce {
    pub fn new(device: &wgpu::Device) -> Self {
        Bce(Kernel::new::<BceBuffers>(device, "bce", SOURCE, "main", true))
    }

    /// One workgroup: see the shader.
    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &BceBuffers, p: &BceParams) -> Dispatch {
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), [1, 1, 1])
    }
}

impl KernelOp for BceOp {
    declare_kernel!("bce", BceBuffers, Bce, params);

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        vec![("grad", self.grad), ("logits", self.logits)]
    }

    fn reads(&self) -> Vec<BufferId> {
        vec![self.logits]
    }

    /// It also adds to the stats.
    fn sole_output(&self) -> Option<BufferId> {
        None
    }

    fn run_cpu(&self, memory: &mut CpuMemory) {
        let mut grad = memory.take(self.grad);
        bce_cpu(
            &self.params,
            &memory.buffers[self.logits.0],
            &mut grad,
            &mut memory.stats,
        );
        memory.buffers[self.grad.0] = grad;
    }

    fn dispatch(&self, kernel: &Bce, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = BceBuffers {
            logits: gpu.get(self.logits),
            grad: gpu.get(self.grad),
            stats: gpu.stats,
        };
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }
}
