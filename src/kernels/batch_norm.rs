//! `nn.BatchNorm2d` (`shaders/batch_norm.wgsl`): per-channel statistics over a batch
//! of images, the normalisation with γ and β (and the activation after it), and its
//! backward pass, as four passes. The shader says what each reads and writes.

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

use super::{bindings, check_view, grid_2d, BufferId, CpuMemory, Dispatch, GpuMemory, GpuTarget, Kernel, KernelOp};
use crate::kernels::activation::Activation;

/// The passes, in the order a training step runs them (the shader's entry points).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchNormPass {
    Statistics,
    Normalize,
    ReduceGradient,
    InputGradient,
}

impl BatchNormPass {
    const ALL: [BatchNormPass; 4] = [
        BatchNormPass::Statistics,
        BatchNormPass::Normalize,
        BatchNormPass::ReduceGradient,
        BatchNormPass::InputGradient,
    ];

    fn entry_point(self) -> &'static str {
        match self {
            BatchNormPass::Statistics => "statistics",
            BatchNormPass::Normalize => "normalize",
            BatchNormPass::ReduceGradient => "reduce_gradient",
            BatchNormPass::InputGradient => "input_gradient",
        }
    }

    /// One workgroup per channel (the reductions), or one invocation per value.
    fn per_channel(self) -> bool {
        matches!(self, BatchNormPass::Statistics | BatchNormPass::ReduceGradient)
    }
}

/// Field order matches `Params` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct BatchNormParams {
    pub batch: u32,
    pub channels: u32,
    /// Values in one channel of one image: H·W.
    pub plane: u32,
    pub x_offset: u32,
    pub out_offset: u32,
    pub weight_offset: u32,
    pub bias_offset: u32,
    pub batch_offset: u32,
    pub running_offset: u32,
    pub grad_weight_offset: u32,
    pub grad_bias_offset: u32,
    pub dy_offset: u32,
    pub activation: u32,
    /// 1: normalise by the batch's statistics; 0: by the running estimates.
    pub training: u32,
    /// 1: γ's and β's gradients are added to what the grads hold (a second pass of
    /// the same network in one step, as PyTorch accumulates them).
    pub accumulate: u32,
    /// 0: the reduction leaves the grads alone (D carrying G's gradient through).
    pub write_grads: u32,
    pub momentum: f32,
    pub eps: f32,
    pub _pad: [u32; 2],
}

/// PyTorch's defaults for `nn.BatchNorm2d`.
pub const MOMENTUM: f32 = 0.1;
pub const EPS: f32 = 1e-5;

impl BatchNormParams {
    /// Values in one channel over the batch: N·H·W.
    fn count(&self) -> usize {
        self.batch as usize * self.plane as usize
    }

    fn values(&self) -> usize {
        self.count() * self.channels as usize
    }

    fn activation(&self) -> Activation {
        Activation::try_from(self.activation).unwrap_or_else(|e| panic!("batch_norm activation: {e}"))
    }
}

/// One pass over plan buffers (those it does not use may be any buffer the pass
/// does not write).
#[derive(Clone, Debug)]
pub struct BatchNormOp {
    pub pass: BatchNormPass,
    pub params: BatchNormParams,
    pub x: BufferId,
    /// The network's parameters (γ, β).
    pub weights: BufferId,
    pub dy: BufferId,
    /// The layer's scratch: [mean, inv_std, Σdy, Σdy·x̂] by channel.
    pub batch: BufferId,
    /// The network's running statistics: [mean, var] by channel, then the count.
    pub running: BufferId,
    pub out: BufferId,
    /// The network's gradients.
    pub grads: BufferId,
}

/// What the CPU reference reads and writes: the buffers of `BatchNormOp`.
pub struct BatchNormData<'a> {
    pub x: &'a [f32],
    pub weights: &'a [f32],
    pub dy: &'a [f32],
    pub batch: &'a mut [f32],
    pub running: &'a mut [f32],
    pub out: &'a mut [f32],
    pub grads: &'a mut [f32],
}

/// The CPU reference of one pass: sums in f64 (the shader's tree of f32 sums is
/// within a few ulp of them), the rest as the shader computes it. Channels' sums, or
/// images' values, side by side on up to `threads` threads (the same bits on any).
pub fn batch_norm_cpu(pass: BatchNormPass, p: &BatchNormParams, d: BatchNormData, threads: usize) {
    let (channels, plane, count) = (p.channels as usize, p.plane as usize, p.count());
    let u = |x: u32| x as usize;
    check_view("batch_norm x", d.x.len(), u(p.x_offset), 1, p.values(), 0, 1);
    check_view(
        "batch_norm batch",
        d.batch.len(),
        u(p.batch_offset),
        1,
        4 * channels,
        0,
        1,
    );
    let planes = |values, c| channel_planes(p, values, c);
    let x = &d.x[u(p.x_offset)..][..p.values()];
    let (mean_at, inv_at) = (u(p.batch_offset), u(p.batch_offset) + channels);
    match pass {
        BatchNormPass::Statistics => {
            check_view(
                "batch_norm running",
                d.running.len(),
                u(p.running_offset),
                1,
                2 * channels + 1,
                0,
                1,
            );
            let moments = per_channel(channels, threads, |c| {
                let mean = sum_over(planes(x, c).zip(planes(x, c)), |v, _| f64::from(v)) / count as f64;
                let var = sum_over(planes(x, c).zip(planes(x, c)), |v, _| (f64::from(v) - mean).powi(2)) / count as f64;
                (mean, var)
            });
            for (c, (mean, var)) in moments.into_iter().enumerate() {
                d.batch[mean_at + c] = mean as f32;
                d.batch[inv_at + c] = 1.0 / (var as f32 + p.eps).sqrt();
                let unbiased = var * count as f64 / (count.max(2) - 1) as f64;
                let m = p.momentum;
                let running = &mut d.running[u(p.running_offset)..];
                running[c] = (1.0 - m) * running[c] + m * mean as f32;
                running[channels + c] = (1.0 - m) * running[channels + c] + m * unbiased as f32;
            }
            d.running[u(p.running_offset) + 2 * channels] += 1.0;
        }
        BatchNormPass::Normalize => {
            check_view("batch_norm out", d.out.len(), u(p.out_offset), 1, p.values(), 0, 1);
            let out = &mut d.out[u(p.out_offset)..][..p.values()];
            // Each channel's y = γ·(x − mean)·inv_std + β as a scale and a shift.
            let affine: Vec<(f32, f32, f32, f32)> = (0..channels)
                .map(|c| {
                    let (mean, inv_std) = match p.training {
                        0 => {
                            let running = &d.running[u(p.running_offset)..];
                            (running[c], 1.0 / (running[channels + c] + p.eps).sqrt())
                        }
                        _ => (d.batch[mean_at + c], d.batch[inv_at + c]),
                    };
                    (
                        mean,
                        inv_std,
                        d.weights[u(p.weight_offset) + c],
                        d.weights[u(p.bias_offset) + c],
                    )
                })
                .collect();
            per_image(out, channels * plane, threads, |n, image| {
                let from = &x[n * channels * plane..][..channels * plane];
                for ((to, from), &(mean, inv_std, gamma, beta)) in
                    image.chunks_mut(plane).zip(from.chunks(plane)).zip(&affine)
                {
                    for (y, &v) in to.iter_mut().zip(from) {
                        *y = gamma * ((v - mean) * inv_std) + beta;
                    }
                    p.activation().forward_slice(to);
                }
            });
        }
        BatchNormPass::ReduceGradient => {
            let dy = &d.dy[u(p.dy_offset)..][..p.values()];
            let batch = &*d.batch;
            let sums = per_channel(channels, threads, |c| {
                let (mean, inv_std) = (batch[mean_at + c], batch[inv_at + c]);
                let sum_dy = sum_over(planes(dy, c).zip(planes(dy, c)), |g, _| f64::from(g));
                let sum_dy_xhat = sum_over(planes(dy, c).zip(planes(x, c)), |g, v| {
                    f64::from(g * ((v - mean) * inv_std))
                });
                (sum_dy, sum_dy_xhat)
            });
            for (c, (sum_dy, sum_dy_xhat)) in sums.into_iter().enumerate() {
                d.batch[mean_at + 2 * channels + c] = sum_dy as f32;
                d.batch[mean_at + 3 * channels + c] = sum_dy_xhat as f32;
                if p.write_grads == 0 {
                    continue;
                }
                let keep = if p.accumulate != 0 { 1.0 } else { 0.0 };
                let (w, b) = (u(p.grad_weight_offset) + c, u(p.grad_bias_offset) + c);
                d.grads[w] = keep * d.grads[w] + sum_dy_xhat as f32;
                d.grads[b] = keep * d.grads[b] + sum_dy as f32;
            }
        }
        BatchNormPass::InputGradient => {
            let dy = &d.dy[u(p.dy_offset)..][..p.values()];
            let out = &mut d.out[u(p.out_offset)..][..p.values()];
            let n = count as f32;
            let batch = &*d.batch;
            per_image(out, channels * plane, threads, |image, values| {
                let (g, from) = (&dy[image * channels * plane..], &x[image * channels * plane..]);
                for (c, ((to, g), from)) in values
                    .chunks_mut(plane)
                    .zip(g.chunks(plane))
                    .zip(from.chunks(plane))
                    .enumerate()
                {
                    let (mean, inv_std) = (batch[mean_at + c], batch[inv_at + c]);
                    let sum_dy = batch[mean_at + 2 * channels + c];
                    let sum_dy_xhat = batch[mean_at + 3 * channels + c];
                    let gamma = d.weights[u(p.weight_offset) + c];
                    for ((y, &g), &v) in to.iter_mut().zip(g).zip(from) {
                        let xhat = (v - mean) * inv_std;
                        *y = gamma * inv_std * (g - sum_dy / n - xhat * sum_dy_xhat / n);
                    }
                }
            });
        }
    }
}

/// `f(c)` for every channel, side by side on up to `threads` threads.
fn per_channel<T: Send>(channels: usize, threads: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    match threads > 1 {
        true => (0..channels).into_par_iter().map(f).collect(),
        false => (0..channels).map(f).collect(),
    }
}

/// `f(n, image)` on each image of `out` (`len` values an image), side by side on up
/// to `threads` threads.
fn per_image(out: &mut [f32], len: usize, threads: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    match threads > 1 {
        true => out.par_chunks_mut(len).enumerate().for_each(|(n, image)| f(n, image)),
        false => out.chunks_mut(len).enumerate().for_each(|(n, image)| f(n, image)),
    }
}

/// Σ term(a, b) over paired planes' values, in f64, kept as 8 running sums side by
/// side and added at the end: one chain of dependent adds ran the reductions at a
/// fraction of the core's speed. The order is fixed by the planes alone, so the
/// result is the same on any number of threads.
fn sum_over<'a>(pairs: impl Iterator<Item = (&'a [f32], &'a [f32])>, term: impl Fn(f32, f32) -> f64) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0.0f64; LANES];
    for (a, b) in pairs {
        let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
        for (a, b) in a_chunks.zip(b_chunks) {
            for (lane, (&a, &b)) in lanes.iter_mut().zip(a.iter().zip(b)) {
                *lane += term(a, b);
            }
        }
        for (lane, (&a, &b)) in lanes.iter_mut().zip(a_rest.iter().zip(b_rest)) {
            *lane += term(a, b);
        }
    }
    lanes.iter().sum()
}

/// Channel `c`'s values in an N × C × H × W batch: one plane an image.
fn channel_planes<'a>(p: &BatchNormParams, values: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + 'a {
    let (plane, images) = (p.plane as usize, p.batch as usize);
    let (start, step) = (c * plane, p.channels as usize * plane);
    (0..images).map(move |n| &values[start + n * step..][..plane])
}

pub const SOURCE: &str = concat!(
    include_str!("../../shaders/activation.wgsl"),
    include_str!("../../shaders/batch_norm.wgsl")
);

bindings! {
    pub struct BatchNormBuffers {
        x: Read,
        params: Read,
        dy: Read,
        batch: ReadWrite,
        running: ReadWrite,
        out: ReadWrite,
        grads: ReadWrite,
    }
}

/// The invocations of one workgroup (`GROUP` in the shader).
const GROUP: usize = 64;

/// One pass's pipeline.
pub struct BatchNorm {
    kernel: Kernel,
    pub pass: BatchNormPass,
}

impl BatchNorm {
    pub fn new(device: &wgpu::Device, pass: BatchNormPass) -> Self {
        let kernel = Kernel::new::<BatchNormBuffers>(device, "batch_norm", SOURCE, pass.entry_point(), true);
        BatchNorm { kernel, pass }
    }

    /// A workgroup per channel for the reductions, else one invocation per value.
    pub fn dispatch(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: &BatchNormBuffers,
        p: &BatchNormParams,
    ) -> Dispatch {
        let workgroups = match self.pass.per_channel() {
            true => [p.channels, 1, 1],
            false => grid_2d(p.values(), GROUP),
        };
        self.kernel
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }
}

pub struct BatchNormPipelines {
    passes: Vec<BatchNorm>,
}

impl BatchNormOp {
    /// Which of `batch`, `running`, `out` and `grads` the pass writes.
    fn writes(&self) -> [bool; 4] {
        match self.pass {
            BatchNormPass::Statistics => [true, true, false, false],
            BatchNormPass::Normalize | BatchNormPass::InputGradient => [false, false, true, false],
            BatchNormPass::ReduceGradient => [true, false, false, self.params.write_grads != 0],
        }
    }

    /// The buffers the pass writes.
    fn written(&self) -> Vec<BufferId> {
        let slots = [self.batch, self.running, self.out, self.grads];
        slots
            .into_iter()
            .zip(self.writes())
            .filter_map(|(id, w)| w.then_some(id))
            .collect()
    }
}

impl KernelOp for BatchNormOp {
    const NAME: &'static str = "batch_norm";
    const SOURCE: &'static str = SOURCE;
    const BINDINGS: &'static [(&'static str, super::Access)] = <BatchNormBuffers<'static> as super::Bindings>::LAYOUT;
    const HAS_PARAMS: bool = true;
    type Pipelines = BatchNormPipelines;

    fn pipelines<'a>(target: &GpuTarget, mut ops: impl Iterator<Item = &'a Self>) -> BatchNormPipelines {
        let passes = match ops.next() {
            None => Vec::new(),
            Some(_) => BatchNormPass::ALL
                .map(|pass| BatchNorm::new(target.device, pass))
                .into(),
        };
        BatchNormPipelines { passes }
    }

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        let mut bound = vec![("x", self.x), ("batch", self.batch)];
        match self.pass {
            BatchNormPass::Statistics => bound.push(("running", self.running)),
            BatchNormPass::Normalize => bound.extend([("out", self.out), ("params", self.weights)]),
            BatchNormPass::ReduceGradient => bound.extend([("dy", self.dy), ("grads", self.grads)]),
            BatchNormPass::InputGradient => bound.extend([("out", self.out), ("dy", self.dy)]),
        }
        bound
    }

    fn kernel_label(&self) -> &'static str {
        match self.pass {
            BatchNormPass::Statistics => "batch_norm.statistics",
            BatchNormPass::Normalize => "batch_norm.normalize",
            BatchNormPass::ReduceGradient => "batch_norm.reduce_gradient",
            BatchNormPass::InputGradient => "batch_norm.input_gradient",
        }
    }

    fn reads(&self) -> Vec<BufferId> {
        let written = self.written();
        let read = [self.x, self.weights, self.dy, self.batch, self.running];
        read.into_iter().filter(|id| !written.contains(id)).collect()
    }

    fn sole_output(&self) -> Option<BufferId> {
        match self.written()[..] {
            [one] => Some(one),
            _ => None,
        }
    }

    fn run_cpu(&self, memory: &mut CpuMemory) {
        let slots = [self.batch, self.running, self.out, self.grads];
        let writes = self.writes();
        let written = self.written();
        assert!(
            written.iter().enumerate().all(|(i, id)| !written[..i].contains(id)),
            "{:?} writes one buffer through two bindings",
            self.pass
        );
        // What the pass writes moves out while the rest is read. `batch` and
        // `running` (a few floats a channel) are copied where it only reads them;
        // a binding it neither reads nor writes gets nothing.
        let [mut batch, mut running, mut out, mut grads] = std::array::from_fn(|i| match (writes[i], i < 2) {
            (true, _) => Vec::new(),
            (false, true) => memory.get(slots[i]).to_vec(),
            (false, false) => Vec::new(),
        });
        for (i, values) in [&mut batch, &mut running, &mut out, &mut grads].into_iter().enumerate() {
            if writes[i] {
                *values = memory.take(slots[i]);
            }
        }
        let data = BatchNormData {
            x: memory.get(self.x),
            weights: memory.get(self.weights),
            dy: memory.get(self.dy),
            batch: &mut batch,
            running: &mut running,
            out: &mut out,
            grads: &mut grads,
        };
        batch_norm_cpu(self.pass, &self.params, data, memory.threads);
        for (i, values) in [batch, running, out, grads].into_iter().enumerate() {
            if writes[i] {
                memory.buffers[slots[i].0] = values;
            }
        }
    }

    fn dispatch(&self, pipelines: &BatchNormPipelines, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = BatchNormBuffers {
            x: gpu.get(self.x),
            params: gpu.get(self.weights),
            dy: gpu.get(self.dy),
            batch: gpu.get(self.batch),
            running: gpu.get(self.running),
            out: gpu.get(self.out),
            grads: gpu.get(self.grads),
        };
        let pass = BatchNormPass::ALL.iter().position(|p| *p == self.pass).expect("a pass");
        pipelines.passes[pass].dispatch(gpu.device, label, &buffers, &self.params)
    }
}
