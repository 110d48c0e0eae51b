// Adam over every parameter of one network (kept in one buffer), as torch.optim.Adam
// computes it: m ← lerp(m, g, 1-β1), v ← β2·v + (1-β2)·g², p ← p - lr/(1-β1ᵗ) · m /
// (√v / √(1-β2ᵗ) + eps). t comes from the GPU step counter, so nothing is uploaded per step.

struct Params {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    // 1 - β and ln β are rounded from f64 on the CPU, as PyTorch rounds its Python
    // floats: 1 - β2 formed in f32 would be 1.3e-5 off for β2 = 0.999.
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    ln_beta1: f32,
    ln_beta2: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Counter {
    step: u32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(4) var<storage, read> counter: Counter;
@group(0) @binding(5) var<uniform> p: Params;

// 1 - βᵗ without the cancellation of 1 - pow(β, t): with β2 = 0.999, a pow off by
// one ulp would put a 1e-4 relative error into the bias correction. As -expm1(t·ln β),
// from its Taylor series where the argument is small.
fn one_minus_pow(ln_beta: f32, t: f32) -> f32 {
    let x = t * ln_beta;
    if (abs(x) < 0.1) {
        return -x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0)))));
    }
    return 1.0 - exp(x);
}

// Elementwise: 256 (the portable maximum) keeps the workgroup count under the
// 65535 limit up to 16.7M parameters; past that the loop strides over the rest.
const THREADS: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    // The counter holds the index of the step in progress; Adam's t counts from 1.
    let t = f32(counter.step + 1u);
    let step_size = p.lr / one_minus_pow(p.ln_beta1, t);
    let bias_correction2_sqrt = sqrt(one_minus_pow(p.ln_beta2, t));
    for (var i = gid.x; i < p.n; i += groups.x * THREADS) {
        let g = grad[i];
        let m = exp_avg[i] + p.one_minus_beta1 * (g - exp_avg[i]);
        let v = p.beta2 * exp_avg_sq[i] + p.one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] -= step_size * m / (sqrt(v) / bias_correction2_sqrt + p.eps);
    }
}
