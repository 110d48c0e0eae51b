// The convolutions of a DCGAN, as `nn.Conv2d` and `nn.ConvTranspose2d` (no bias)
// lay out their tensors: images N × C × H × W, weights [small_channels,
// big_channels, k, k]. One geometry, three passes over it, each an entry point:
//   lower:  small = conv(big, W)      Conv2d forward, ConvTranspose2d's input gradient
//   raise:  big = conv_transpose(small, W)   Conv2d's input gradient, ConvTranspose2d forward
//   weight: dW = Σ_n,positions small ⊗ big   both layers' weight gradient
// where small[n, o, y, x] reads big[n, i, y·stride − padding + ky, x·stride − padding + kx].
// Epilogue (lower and raise): activation, then × derivative_from_output(gate).
// activation.wgsl is prepended to this file.

struct Params {
    batch: u32,
    big_channels: u32,
    big_height: u32,
    big_width: u32,
    small_channels: u32,
    small_height: u32,
    small_width: u32,
    kernel: u32,
    stride: u32,
    padding: u32,
    a_offset: u32,
    b_offset: u32,
    c_offset: u32,
    gate_offset: u32,
    activation: u32,
    gate_activation: u32,
    pass_kind: u32,
    accumulate: u32,
    _pad1: u32,
    _pad2: u32,
}

// a: the image summed over (big for lower, small for raise and weight); b: the
// weights (lower, raise) or the big image (weight); c: what the pass writes.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// One output value per invocation, over a 2-D grid of workgroups (65,535 × 64
// values a row of them): the Rust side sizes the grid to cover `count` values.
const GROUP: u32 = 64u;

fn flat(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * GROUP;
}

fn epilogue(value: f32, at: u32) -> f32 {
    var v = activate(value, p.activation);
    if (p.gate_activation != 0u) {
        v *= derivative_from_output(gate[p.gate_offset + at], p.gate_activation);
    }
    return v;
}

@compute @workgroup_size(64)
fn lower(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat(gid, groups);
    let plane = p.small_height * p.small_width;
    if (index >= p.batch * p.small_channels * plane) {
        return;
    }
    let x = index % p.small_width;
    let y = (index / p.small_width) % p.small_height;
    let o = (index / plane) % p.small_channels;
    let n = index / (plane * p.small_channels);
    let k2 = p.kernel * p.kernel;
    let big_plane = p.big_height * p.big_width;
    var sum = 0.0;
    for (var i = 0u; i < p.big_channels; i++) {
        let image = p.a_offset + (n * p.big_channels + i) * big_plane;
        let weights = p.b_offset + (o * p.big_channels + i) * k2;
        for (var ky = 0u; ky < p.kernel; ky++) {
            // Unsigned: a row above the image wraps to a huge value and is skipped.
            let by = y * p.stride + ky - p.padding;
            if (by >= p.big_height) {
                continue;
            }
            for (var kx = 0u; kx < p.kernel; kx++) {
                let bx = x * p.stride + kx - p.padding;
                if (bx < p.big_width) {
                    sum += a[image + by * p.big_width + bx] * b[weights + ky * p.kernel + kx];
                }
            }
        }
    }
    c[p.c_offset + index] = epilogue(sum, index);
}

@compute @workgroup_size(64)
fn raise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat(gid, groups);
    let big_plane = p.big_height * p.big_width;
    if (index >= p.batch * p.big_channels * big_plane) {
        return;
    }
    let bx = index % p.big_width;
    let by = (index / p.big_width) % p.big_height;
    let i = (index / big_plane) % p.big_channels;
    let n = index / (big_plane * p.big_channels);
    let k2 = p.kernel * p.kernel;
    let plane = p.small_height * p.small_width;
    // The kernel offsets that reach this pixel from a small position: ky ≡ by +
    // padding (mod stride), and y = (by + padding − ky) / stride within the image.
    let ry = (by + p.padding) % p.stride;
    let rx = (bx + p.padding) % p.stride;
    var sum = 0.0;
    for (var o = 0u; o < p.small_channels; o++) {
        let image = p.a_offset + (n * p.small_channels + o) * plane;
        let weights = p.b_offset + (o * p.big_channels + i) * k2;
        for (var ky = ry; ky < p.kernel; ky += p.stride) {
            let y = (by + p.padding - ky) / p.stride;
            if (by + p.padding < ky || y >= p.small_height) {
                continue;
            }
            for (var kx = rx; kx < p.kernel; kx += p.stride) {
                let x = (bx + p.padding - kx) / p.stride;
                if (bx + p.padding >= kx && x < p.small_width) {
                    sum += a[image + y * p.small_width + x] * b[weights + ky * p.kernel + kx];
                }
            }
        }
    }
    c[p.c_offset + index] = epilogue(sum, index);
}

@compute @workgroup_size(64)
fn weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat(gid, groups);
    let k2 = p.kernel * p.kernel;
    if (index >= p.small_channels * p.big_channels * k2) {
        return;
    }
    let kx = index % p.kernel;
    let ky = (index / p.kernel) % p.kernel;
    let i = (index / k2) % p.big_channels;
    let o = index / (k2 * p.big_channels);
    let plane = p.small_height * p.small_width;
    let big_plane = p.big_height * p.big_width;
    var sum = 0.0;
    for (var n = 0u; n < p.batch; n++) {
        let small = p.a_offset + (n * p.small_channels + o) * plane;
        let big = p.b_offset + (n * p.big_channels + i) * big_plane;
        for (var y = 0u; y < p.small_height; y++) {
            let by = y * p.stride + ky - p.padding;
            if (by >= p.big_height) {
                continue;
            }
            for (var x = 0u; x < p.small_width; x++) {
                let bx = x * p.stride + kx - p.padding;
                if (bx < p.big_width) {
                    sum += a[small + y * p.small_width + x] * b[big + by * p.big_width + bx];
                }
            }
        }
    }
    // A second pass of one network in a step adds its gradient to the first's.
    let keep = select(0.0, 1.0, p.accumulate != 0u);
    c[p.c_offset + index] = keep * c[p.c_offset + index] + sum;
}
