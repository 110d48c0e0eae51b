// `nn.BatchNorm2d` over images N × C × H × W: each channel normalised by the mean
// and variance of its N·H·W values (training) or by its running estimates
// (evaluation), then scaled by γ and shifted by β; an activation after it runs in
// its epilogue. Four entry points, in the order a training step runs them:
//   statistics:      per channel, the batch's mean and 1/√(var + eps) into `batch`,
//                    and the running estimates updated as PyTorch does (momentum,
//                    unbiased variance), with the count of batches tracked
//   normalize:       y = act(γ·(x − mean)·inv_std + β), from `batch` or `running`
//   reduce_gradient: per channel, Σ dy and Σ dy·x̂ into `batch`, and γ's and β's
//                    gradients unless they are not asked for (x̂ = (x − mean)·inv_std)
//   input_gradient:  dx = γ·inv_std·(dy − Σdy/M − x̂·Σ(dy·x̂)/M), M = N·H·W
// activation.wgsl is prepended to this file.

struct Params {
    batch: u32,
    channels: u32,
    plane: u32,
    x_offset: u32,
    out_offset: u32,
    weight_offset: u32,
    bias_offset: u32,
    batch_offset: u32,
    running_offset: u32,
    grad_weight_offset: u32,
    grad_bias_offset: u32,
    dy_offset: u32,
    activation: u32,
    training: u32,
    accumulate: u32,
    write_grads: u32,
    momentum: f32,
    eps: f32,
    _pad1: u32,
    _pad2: u32,
}

// x: the layer's input; params: the network's (γ, β); dy: the gradient at the
// layer's output before its activation; batch: [mean, inv_std, Σdy, Σdy·x̂] by
// channel; running: [mean, var] by channel, then the count of batches tracked;
// out: y or dx; grads: the network's gradients (γ's, β's).
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> batch: array<f32>;
@group(0) @binding(4) var<storage, read_write> running: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> grads: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

const GROUP: u32 = 64u;
var<workgroup> partial: array<vec2<f32>, GROUP>;

// The channel's `i`-th of its N·H·W values.
fn at(c: u32, i: u32) -> u32 {
    let n = i / p.plane;
    return (n * p.channels + c) * p.plane + i % p.plane;
}

// Sums the workgroup's partial pairs into partial[0] (every invocation calls it).
fn reduce(lane: u32, value: vec2<f32>) -> vec2<f32> {
    partial[lane] = value;
    workgroupBarrier();
    for (var half = GROUP / 2u; half > 0u; half /= 2u) {
        if (lane < half) {
            partial[lane] += partial[lane + half];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

// One workgroup per channel; each invocation sums every 64th value.
@compute @workgroup_size(64)
fn statistics(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let c = group.x;
    let count = p.batch * p.plane;
    var sum = 0.0;
    for (var i = lane; i < count; i += GROUP) {
        sum += x[p.x_offset + at(c, i)];
    }
    let mean = reduce(lane, vec2<f32>(sum, 0.0)).x / f32(count);
    // The variance about the mean, in a second pass: no cancellation.
    var squares = 0.0;
    for (var i = lane; i < count; i += GROUP) {
        let d = x[p.x_offset + at(c, i)] - mean;
        squares += d * d;
    }
    let var_biased = reduce(lane, vec2<f32>(squares, 0.0)).x / f32(count);
    if (lane == 0u) {
        batch[p.batch_offset + c] = mean;
        batch[p.batch_offset + p.channels + c] = inverseSqrt(var_biased + p.eps);
        let unbiased = var_biased * f32(count) / f32(max(count, 2u) - 1u);
        let m = p.momentum;
        running[p.running_offset + c] = (1.0 - m) * running[p.running_offset + c] + m * mean;
        let v = p.running_offset + p.channels + c;
        running[v] = (1.0 - m) * running[v] + m * unbiased;
        if (c == 0u) {
            running[p.running_offset + 2u * p.channels] += 1.0;
        }
    }
}

// The value an invocation of the per-value passes owns: the Rust side lays their
// workgroups out as a 2-D grid (`kernels::grid_2d`).
fn value_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * GROUP;
}

fn channel_of(index: u32) -> u32 {
    return (index / p.plane) % p.channels;
}

// The mean and inverse deviation normalising channel `c`.
fn normaliser(c: u32) -> vec2<f32> {
    if (p.training != 0u) {
        return vec2<f32>(batch[p.batch_offset + c], batch[p.batch_offset + p.channels + c]);
    }
    let var_running = running[p.running_offset + p.channels + c];
    return vec2<f32>(running[p.running_offset + c], inverseSqrt(var_running + p.eps));
}

@compute @workgroup_size(64)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = value_index(gid, groups);
    if (index >= p.batch * p.channels * p.plane) {
        return;
    }
    let c = channel_of(index);
    let norm = normaliser(c);
    let xhat = (x[p.x_offset + index] - norm.x) * norm.y;
    let y = params[p.weight_offset + c] * xhat + params[p.bias_offset + c];
    out[p.out_offset + index] = activate(y, p.activation);
}

@compute @workgroup_size(64)
fn reduce_gradient(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let c = group.x;
    let count = p.batch * p.plane;
    let mean = batch[p.batch_offset + c];
    let inv_std = batch[p.batch_offset + p.channels + c];
    var sums = vec2<f32>(0.0);
    for (var i = lane; i < count; i += GROUP) {
        let j = at(c, i);
        let g = dy[p.dy_offset + j];
        sums += vec2<f32>(g, g * (x[p.x_offset + j] - mean) * inv_std);
    }
    let total = reduce(lane, sums);
    if (lane == 0u) {
        batch[p.batch_offset + 2u * p.channels + c] = total.x;
        batch[p.batch_offset + 3u * p.channels + c] = total.y;
        if (p.write_grads == 0u) {
            return;
        }
        let keep = select(0.0, 1.0, p.accumulate != 0u);
        grads[p.grad_weight_offset + c] = keep * grads[p.grad_weight_offset + c] + total.y;
        grads[p.grad_bias_offset + c] = keep * grads[p.grad_bias_offset + c] + total.x;
    }
}

@compute @workgroup_size(64)
fn input_gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = value_index(gid, groups);
    if (index >= p.batch * p.channels * p.plane) {
        return;
    }
    let c = channel_of(index);
    let count = f32(p.batch * p.plane);
    let mean = batch[p.batch_offset + c];
    let inv_std = batch[p.batch_offset + p.channels + c];
    let sum_dy = batch[p.batch_offset + 2u * p.channels + c];
    let sum_dy_xhat = batch[p.batch_offset + 3u * p.channels + c];
    let xhat = (x[p.x_offset + index] - mean) * inv_std;
    let g = dy[p.dy_offset + index];
    out[p.out_offset + index] = params[p.weight_offset + c] * inv_std * (g - sum_dy / count - xhat * sum_dy_xhat / count);
}
