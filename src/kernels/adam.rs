//! One Adam step over a whole network's parameters (`shaders/adam.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{bindings, declare_kernel, groups, BufferId, CpuMemory, Dispatch, GpuMemory, Kernel, KernelOp};

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct AdamParams {
    pub n: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub one_minus_beta1: f32,
    pub one_minus_beta2: f32,
    pub ln_beta1: f32,
    pub ln_beta2: f32,
    pub _pad: [u32; 3],
}

impl AdamParams {
    pub fn new(n: usize, lr: f32, beta1: f64, beta2: f64, eps: f32) -> Self {
        AdamParams {
            n: n as u32,
            lr,
            beta1: beta1 as f32,
            beta2: beta2 as f32,
            eps,
            one_minus_beta1: (1.0 - beta1) as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            ln_beta1: beta1.ln() as f32,
            ln_beta2: beta2.ln() as f32,
            _pad: [0; 3],
        }
    }
}

/// One Adam step over a network's parameters, from their gradient; its moments in
/// `exp_avg` and `exp_avg_sq`.
#[derive(Clone, Debug)]
pub struct AdamOp {
    pub params: AdamParams,
    pub param: BufferId,
    pub grad: BufferId,
    pub exp_avg: BufferId,
    pub exp_avg_sq: BufferId,
}

/// 1 - βᵗ as the shader computes it: -expm1(t·ln β), by Taylor series for small arguments.
pub fn one_minus_pow(ln_beta: f32, t: f32) -> f32 {
    let x = t * ln_beta;
    if x.abs() < 0.1 {
        -x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0)))))
    } else {
        1.0 - x.exp()
    }
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
    let step_size = p.lr / one_minus_pow(p.ln_beta1, t);
    let bias_correction2_sqrt = one_minus_pow(p.ln_beta2, t).sqrt();
    let moments = exp_avg[..n].iter_mut().zip(&mut exp_avg_sq[..n]);
    for ((x, &g), (m, v)) in param[..n].iter_mut().zip(&grad[..n]).zip(moments) {
        *m += p.one_minus_beta1 * (g - *m);
        *v = p.beta2 * *v + p.one_minus_beta2 * g * g;
        *x -= step_size * *m / (v.sqrt() / bias_correction2_sqrt + p.eps);
    }
}

/// `adam_cpu` on up to `threads` threads, each updating its own run of parameters: every
/// element is updated exactly as `adam_cpu` updates it.
pub fn adam_cpu_threaded(
    p: &AdamParams,
    step: u32,
    param: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    threads: usize,
) {
    // Handing a run to a pool thread and joining it measured ~2.5 µs; updating 25k
    // parameters takes ~25 µs.
    const MIN_PER_THREAD: usize = 25_000;
    let n = p.n as usize;
    let threads = threads.min(n / MIN_PER_THREAD);
    if threads <= 1 {
        return adam_cpu(p, step, param, grad, exp_avg, exp_avg_sq);
    }
    let chunk = n.div_ceil(threads);
    let mut params = *p;
    rayon::scope(|scope| {
        let runs = param[..n].chunks_mut(chunk).zip(grad[..n].chunks(chunk));
        let moments = exp_avg[..n].chunks_mut(chunk).zip(exp_avg_sq[..n].chunks_mut(chunk));
        // The first run stays on this thread while the others run on their own.
        for (i, ((x, g), (m, v))) in runs.zip(moments).enumerate().rev() {
            params.n = x.len() as u32;
            if i == 0 {
                adam_cpu(&params, step, x, g, m, v);
            } else {
                scope.spawn(move |_| adam_cpu(&params, step, x, g, m, v));
            }
        }
    });
}

pub const SOURCE: &str = include_str!("../../shaders/adam.wgsl");

bindings! {
    /// A network's parameters, their gradient and Adam's moments; Adam's step count
    /// is the GPU step counter's.
    pub struct AdamBuffers {
        param: ReadWrite,
        grad: Read,
        exp_avg: ReadWrite,
        exp_avg_sq: ReadWrite,
        counter: Read,
    }
}

pub struct Adam(Kernel);

impl Adam {
    pub fn new(device: &wgpu::Device) -> Self {
        Adam(Kernel::new::<AdamBuffers>(device, "adam", SOURCE, "main", true))
    }

    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &AdamBuffers, p: &AdamParams) -> Dispatch {
        let workgroups = [groups(p.n as usize, 256).min(65_535), 1, 1];
        self.0
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }
}

impl KernelOp for AdamOp {
    declare_kernel!("adam", AdamBuffers, Adam, params);

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        vec![("param", self.param), ("grad", self.grad)]
    }

    fn reads(&self) -> Vec<BufferId> {
        vec![self.grad]
    }

    /// It writes three buffers.
    fn sole_output(&self) -> Option<BufferId> {
        None
    }

    fn run_cpu(&self, memory: &mut CpuMemory) {
        let (mut p, mut m, mut v) = (
            memory.take(self.param),
            memory.take(self.exp_avg),
            memory.take(self.exp_avg_sq),
        );
        let grad = memory.get(self.grad);
        adam_cpu_threaded(&self.params, memory.step, &mut p, grad, &mut m, &mut v, memory.threads);
        memory.buffers[self.param.0] = p;
        memory.buffers[self.exp_avg.0] = m;
        memory.buffers[self.exp_avg_sq.0] = v;
    }

    fn dispatch(&self, kernel: &Adam, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = AdamBuffers {
            param: gpu.get(self.param),
            grad: gpu.get(self.grad),
            exp_avg: gpu.get(self.exp_avg),
            exp_avg_sq: gpu.get(self.exp_avg_sq),
            counter: gpu.counter,
        };
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minus_pow_is_accurate_from_the_first_step_on() {
        for beta in [0.5f64, 0.9, 0.999, 0.9999] {
            let ln_beta = beta.ln() as f32;
            for t in [1, 2, 3, 10, 69, 70, 100, 1000, 10_000, 1_000_000] {
                let want = 1.0 - beta.powi(t);
                let got = f64::from(one_minus_pow(ln_beta, t as f32));
                // ln β rounded to f32 carries a 6e-8 relative error into t·ln β.
                assert!(((got - want) / want).abs() < 5e-7, "beta {beta} t {t}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn threaded_update_equals_the_single_threaded_one_to_the_bit() {
        let n = 250_001; // three runs of unequal length on three threads
        let values = |seed: u32| -> Vec<f32> {
            (0..n as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 8e6 - 1.0)
                .collect()
        };
        let p = AdamParams::new(n, 2e-4, 0.5, 0.999, 1e-8);
        let grad = values(1);
        let (mut x, mut m, mut v) = (
            values(2),
            values(3),
            values(4).iter().map(|v| v.abs()).collect::<Vec<_>>(),
        );
        let (mut x2, mut m2, mut v2) = (x.clone(), m.clone(), v.clone());
        adam_cpu(&p, 6, &mut x, &grad, &mut m, &mut v);
        adam_cpu_threaded(&p, 6, &mut x2, &grad, &mut m2, &mut v2, 3);
        let bits = |a: &[f32]| a.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(bits(&x) == bits(&x2) && bits(&m) == bits(&m2) && bits(&v) == bits(&v2));
    }
}
