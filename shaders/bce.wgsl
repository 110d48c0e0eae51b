// Binary cross-entropy on logits, sigmoid fused in, mean over n rows: rows below
// `positives` have target 1, the rest 0. Writes dLoss/dlogit and adds the mean loss
// (and, when asked, the mean probability of each target group) to the running stats.
// activation.wgsl is prepended to this file.

struct Params {
    n: u32,
    positives: u32,
    loss_slot: u32,
    record_probabilities: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// Stats slots; same as `StatSlot` in src/kernels/bce.rs.
const PROBABILITY_POSITIVE: u32 = 2u;
const PROBABILITY_NEGATIVE: u32 = 3u;

// A single workgroup reduces the whole batch, so the running sums need no atomics
// (WGSL has no float atomics); 256 is the portable maximum.
const THREADS: u32 = 256u;
var<workgroup> partial: array<vec3<f32>, THREADS>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
    let inv_n = 1.0 / f32(p.n);
    var sums = vec3<f32>(0.0);
    for (var i = t; i < p.n; i += THREADS) {
        let x = logits[i];
        let positive = i < p.positives;
        let y = select(0.0, 1.0, positive);
        let prob = sigmoid(x);
        grad[i] = (prob - y) * inv_n;
        // max(x,0) - x·y + log(1 + e^-|x|) never overflows; WGSL has no log1p, and
        // the plain log(1 + e) is off from it by less than 1e-7 absolute.
        sums.x += max(x, 0.0) - x * y + log(1.0 + exp(-abs(x)));
        if (positive) {
            sums.y += prob;
        } else {
            sums.z += prob;
        }
    }
    partial[t] = sums;
    workgroupBarrier();
    for (var half = THREADS / 2u; half > 0u; half /= 2u) {
        if (t < half) {
            partial[t] += partial[t + half];
        }
        workgroupBarrier();
    }
    if (t == 0u) {
        let total = partial[0];
        stats[p.loss_slot] += total.x * inv_n;
        // Each group's mean where it has rows (a DCGAN's D sees each half alone).
        if (p.record_probabilities != 0u && p.positives > 0u) {
            stats[PROBABILITY_POSITIVE] += total.y / f32(p.positives);
        }
        if (p.record_probabilities != 0u && p.n > p.positives) {
            stats[PROBABILITY_NEGATIVE] += total.z / f32(p.n - p.positives);
        }
    }
}
