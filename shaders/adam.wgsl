// Adam over every parameter of one network (kept in one buffer), as torch.optim.Adam
// computes it: m ← lerp(m, g, 1-β1), v ← β2·v + (1-β2)·g², p ← p - lr/(1-β1ᵗ) · m /
// (√v / √(1-β2ᵗ) + eps). t comes from the GPU step counter, so nothing is uploaded per step.

struct Params {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
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

// Elementwise: 256 (the portable maximum) keeps the workgroup count under the
// 65535 limit up to 16.7M parameters; past that the loop strides over the rest.
const THREADS: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    // The counter holds the index of the step in progress; Adam's t counts from 1.
    let t = f32(counter.step + 1u);
    let step_size = p.lr / (1.0 - pow(p.beta1, t));
    let bias_correction2_sqrt = sqrt(1.0 - pow(p.beta2, t));
    for (var i = gid.x; i < p.n; i += groups.x * THREADS) {
        let g = grad[i];
        let m = exp_avg[i] + (1.0 - p.beta1) * (g - exp_avg[i]);
        let v = p.beta2 * exp_avg_sq[i] + (1.0 - p.beta2) * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] -= step_size * m / (sqrt(v) / bias_correction2_sqrt + p.eps);
    }
}
