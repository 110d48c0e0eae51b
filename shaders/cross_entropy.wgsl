// Softmax cross-entropy on logits, mean over `rows` rows of `classes` logits each,
// against target distributions (a one-hot label is one): writes
// dLoss/dlogit = (softmax(x) - t) / rows into `grad` ([rows, classes]), adds the mean
// loss to the running stats and, when asked, the share of rows whose largest logit
// is the target's largest class (the first, on ties).

struct Params {
    rows: u32,
    classes: u32,
    logits_offset: u32,
    logits_stride: u32,
    targets_offset: u32,
    targets_stride: u32,
    loss_slot: u32,
    // NO_SLOT: no accuracy.
    accuracy_slot: u32,
}

const NO_SLOT: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// One workgroup reduces the whole batch, as bce.wgsl does: no float atomics needed.
const THREADS: u32 = 256u;
var<workgroup> partial: array<vec2<f32>, THREADS>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
    let inv_rows = 1.0 / f32(p.rows);
    var sums = vec2<f32>(0.0);
    for (var i = t; i < p.rows; i += THREADS) {
        let x0 = p.logits_offset + i * p.logits_stride;
        let t0 = p.targets_offset + i * p.targets_stride;
        // log-sum-exp from the largest logit, so no exp overflows.
        var largest = logits[x0];
        var predicted = 0u;
        var target_class = 0u;
        var target_largest = targets[t0];
        for (var c = 1u; c < p.classes; c++) {
            if (logits[x0 + c] > largest) {
                largest = logits[x0 + c];
                predicted = c;
            }
            if (targets[t0 + c] > target_largest) {
                target_largest = targets[t0 + c];
                target_class = c;
            }
        }
        var total = 0.0;
        for (var c = 0u; c < p.classes; c++) {
            total += exp(logits[x0 + c] - largest);
        }
        let log_total = log(total);
        // -sum t·log softmax(x) = sum t·(largest + log total - x).
        var loss = 0.0;
        for (var c = 0u; c < p.classes; c++) {
            let shifted = logits[x0 + c] - largest;
            let wanted = targets[t0 + c];
            grad[i * p.classes + c] = (exp(shifted) / total - wanted) * inv_rows;
            loss += wanted * (log_total - shifted);
        }
        sums += vec2<f32>(loss, select(0.0, 1.0, predicted == target_class));
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
        stats[p.loss_slot] += partial[0].x * inv_rows;
        if (p.accuracy_slot != NO_SLOT) {
            stats[p.accuracy_slot] += partial[0].y * inv_rows;
        }
    }
}
