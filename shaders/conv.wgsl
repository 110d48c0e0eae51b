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

// Each pass is a matrix product over an implicit operand (implicit GEMM: the
// image patches are never laid out in memory), register-blocked like matmul.wgsl's
// whole_k: each invocation owns 4 channels × 4 positions of its output, so every
// value it loads serves 4 multiply-adds where one value per output read 2 loads a
// multiply-add. Channels and positions past the edge are clamped to the last one
// (every load in bounds without a branch) and not stored. The accumulators are
// vec4 registers, never an indexed array (SwiftShader keeps one of those in memory).
// Workgroups of 64 over a 2-D grid (65,535 × 64 invocations a row of them): the
// Rust side sizes the grid to cover `ConvParams::invocations`.
const GROUP: u32 = 64u;
const LANE = vec4<u32>(0u, 1u, 2u, 3u);

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

fn gather_a(at: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(a[at.x], a[at.y], a[at.z], a[at.w]);
}

fn gather_b(at: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(b[at.x], b[at.y], b[at.z], b[at.w]);
}

// The first and one past the last small position (along one side) whose big pixel
// at·stride + k − padding lies inside `big`: the loops run over these only.
fn inside(small: u32, k: u32, big: u32) -> vec2<u32> {
    let end = min(small, (big + p.padding + p.stride - 1u - min(k, big + p.padding)) / p.stride);
    var start = 0u;
    if (p.padding > k) {
        start = (p.padding - k + p.stride - 1u) / p.stride;
    }
    return vec2<u32>(min(start, end), end);
}

// lower: small[n, o, y, x0..x0+4] for 4 channels o0..o0+4, summing (i, ky, kx).
@compute @workgroup_size(64)
fn lower(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat(gid, groups);
    let x_blocks = (p.small_width + 3u) / 4u;
    let o_blocks = (p.small_channels + 3u) / 4u;
    if (index >= p.batch * p.small_height * x_blocks * o_blocks) {
        return;
    }
    let x0 = (index % x_blocks) * 4u;
    let y = (index / x_blocks) % p.small_height;
    let o0 = (index / (x_blocks * p.small_height)) % o_blocks * 4u;
    let n = index / (x_blocks * p.small_height * o_blocks);
    let k2 = p.kernel * p.kernel;
    let big_plane = p.big_height * p.big_width;
    let o_lanes = min(vec4<u32>(o0) + LANE, vec4<u32>(p.small_channels - 1u));
    // The big column of position x0 + j at kx = 0 (negative: in the left padding).
    let bx0 = vec4<i32>((vec4<u32>(x0) + LANE) * p.stride) - vec4<i32>(i32(p.padding));
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var i = 0u; i < p.big_channels; i++) {
        let image = p.a_offset + (n * p.big_channels + i) * big_plane;
        let w_i = vec4<u32>(p.b_offset) + (o_lanes * p.big_channels + vec4<u32>(i)) * k2;
        for (var ky = 0u; ky < p.kernel; ky++) {
            // Unsigned: a row above the image wraps to a huge value and is skipped.
            let by = y * p.stride + ky - p.padding;
            if (by >= p.big_height) {
                continue;
            }
            let row = image + by * p.big_width;
            for (var kx = 0u; kx < p.kernel; kx++) {
                let bx = bx0 + vec4<i32>(i32(kx));
                let valid = (bx >= vec4<i32>(0)) & (bx < vec4<i32>(i32(p.big_width)));
                let at = vec4<u32>(row) + vec4<u32>(clamp(bx, vec4<i32>(0), vec4<i32>(i32(p.big_width) - 1)));
                let v = select(vec4<f32>(0.0), gather_a(at), valid);
                let w = gather_b(w_i + vec4<u32>(ky * p.kernel + kx));
                acc0 += w.x * v;
                acc1 += w.y * v;
                acc2 += w.z * v;
                acc3 += w.w * v;
            }
        }
    }
    let base = (n * p.small_channels + o0) * p.small_height * p.small_width + y * p.small_width + x0;
    let channel = p.small_height * p.small_width;
    store_block(base, channel, 1u, min(p.small_channels - o0, 4u), min(p.small_width - x0, 4u), acc0, acc1, acc2, acc3);
}

// raise: big[n, i, by, bx_j] for 4 channels i0..i0+4 and 4 columns of one phase,
// bx_j = px + stride·(q0 + j), summing (o, ky, kx) over the taps that reach them:
// ky ≡ by + padding and kx ≡ px + padding (mod stride), the same for all four, whose
// small positions are then y = (by + padding − ky) / stride and x_j = X + j − tx.
@compute @workgroup_size(64)
fn raise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat(gid, groups);
    let per_phase = (p.big_width + p.stride - 1u) / p.stride;
    let q_blocks = (per_phase + 3u) / 4u;
    let i_blocks = (p.big_channels + 3u) / 4u;
    if (index >= p.batch * p.big_height * p.stride * q_blocks * i_blocks) {
        return;
    }
    let q0 = (index % q_blocks) * 4u;
    let px = (index / q_blocks) % p.stride;
    let by = (index / (q_blocks * p.stride)) % p.big_height;
    let i0 = (index / (q_blocks * p.stride * p.big_height)) % i_blocks * 4u;
    let n = index / (q_blocks * p.stride * p.big_height * i_blocks);
    let k2 = p.kernel * p.kernel;
    let plane = p.small_height * p.small_width;
    let i_lanes = min(vec4<u32>(i0) + LANE, vec4<u32>(p.big_channels - 1u));
    let ry = (by + p.padding) % p.stride;
    let rx = (px + p.padding) % p.stride;
    let y_first = i32((by + p.padding - ry) / p.stride);
    let x_first = vec4<i32>(vec4<u32>((px + p.padding - rx) / p.stride + q0) + LANE);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var o = 0u; o < p.small_channels; o++) {
        let image = p.a_offset + (n * p.small_channels + o) * plane;
        let w_o = vec4<u32>(p.b_offset) + (vec4<u32>(o * p.big_channels) + i_lanes) * k2;
        var y = y_first;
        for (var ky = ry; ky < p.kernel; ky += p.stride) {
            if (y >= 0 && y < i32(p.small_height)) {
                let row = image + u32(y) * p.small_width;
                var x = x_first;
                for (var kx = rx; kx < p.kernel; kx += p.stride) {
                    let valid = (x >= vec4<i32>(0)) & (x < vec4<i32>(i32(p.small_width)));
                    let at = vec4<u32>(row) + vec4<u32>(clamp(x, vec4<i32>(0), vec4<i32>(i32(p.small_width) - 1)));
                    let v = select(vec4<f32>(0.0), gather_a(at), valid);
                    let w = gather_b(w_o + vec4<u32>(ky * p.kernel + kx));
                    acc0 += w.x * v;
                    acc1 += w.y * v;
                    acc2 += w.z * v;
                    acc3 += w.w * v;
                    x -= vec4<i32>(1);
                }
            }
            y -= 1;
        }
    }
    let big_plane = p.big_height * p.big_width;
    let base = (n * p.big_channels + i0) * big_plane + by * p.big_width + px + q0 * p.stride;
    // Columns of this phase (none where the image is narrower than px).
    var count = 0u;
    if (px < p.big_width) {
        count = (p.big_width - px + p.stride - 1u) / p.stride;
    }
    let columns = min(count - min(q0, count), 4u);
    store_block(base, big_plane, p.stride, min(p.big_channels - i0, 4u), columns, acc0, acc1, acc2, acc3);
}

// Writes epilogue(acc_r[j]) for r < rows, j < columns to C at base + r·row_step +
// j·column_step (lower and raise).
fn store_block(
    base: u32,
    row_step: u32,
    column_step: u32,
    rows: u32,
    columns: u32,
    acc0: vec4<f32>,
    acc1: vec4<f32>,
    acc2: vec4<f32>,
    acc3: vec4<f32>,
) {
    for (var j = 0u; j < columns; j++) {
        let at = base + j * column_step;
        if (rows > 0u) {
            c[p.c_offset + at] = epilogue(acc0[j], at);
        }
        if (rows > 1u) {
            c[p.c_offset + at + row_step] = epilogue(acc1[j], at + row_step);
        }
        if (rows > 2u) {
            c[p.c_offset + at + 2u * row_step] = epilogue(acc2[j], at + 2u * row_step);
        }
        if (rows > 3u) {
            c[p.c_offset + at + 3u * row_step] = epilogue(acc3[j], at + 3u * row_step);
        }
    }
}

// What C holds at `at` where the pass adds to it (a second pass of one network in
// a step adds its gradient to the first's), else 0 (whatever C held, NaN too).
fn kept(at: u32) -> f32 {
    return select(0.0, c[at], p.accumulate != 0u);
}

// A block of dW (weight, weight_split): dW[o0..o0+4, i0..i0+4, ky, kx], and the
// small positions (ys × xs) whose big pixel at that tap lies inside the image.
struct WeightBlock {
    o0: u32,
    i0: u32,
    ky: u32,
    kx: u32,
    o_lanes: vec4<u32>,
    i_lanes: vec4<u32>,
    ys: vec2<u32>,
    xs: vec2<u32>,
}

fn weight_blocks() -> u32 {
    return (p.small_channels + 3u) / 4u * ((p.big_channels + 3u) / 4u) * p.kernel * p.kernel;
}

fn weight_block(index: u32) -> WeightBlock {
    let k2 = p.kernel * p.kernel;
    let i_blocks = (p.big_channels + 3u) / 4u;
    var b: WeightBlock;
    b.ky = index % k2 / p.kernel;
    b.kx = index % p.kernel;
    b.i0 = (index / k2) % i_blocks * 4u;
    b.o0 = index / (k2 * i_blocks) * 4u;
    b.o_lanes = min(vec4<u32>(b.o0) + LANE, vec4<u32>(p.small_channels - 1u));
    b.i_lanes = min(vec4<u32>(b.i0) + LANE, vec4<u32>(p.big_channels - 1u));
    b.ys = inside(p.small_height, b.ky, p.big_height);
    b.xs = inside(p.small_width, b.kx, p.big_width);
    return b;
}

// Where dW[o0 + r, i0 + j, ky, kx] lies in C.
fn weight_at(b: WeightBlock, r: u32, j: u32) -> u32 {
    return p.c_offset + (((b.o0 + r) * p.big_channels + b.i0 + j) * p.kernel + b.ky) * p.kernel + b.kx;
}

// weight: a block of dW, summing (n, y, x) over its positions.
@compute @workgroup_size(64)
fn weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = flat(gid, groups);
    if (index >= weight_blocks()) {
        return;
    }
    let block = weight_block(index);
    let plane = p.small_height * p.small_width;
    let big_plane = p.big_height * p.big_width;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var n = 0u; n < p.batch; n++) {
        let small_n = vec4<u32>(p.a_offset) + (vec4<u32>(n * p.small_channels) + block.o_lanes) * plane;
        let big_n = vec4<u32>(p.b_offset) + (vec4<u32>(n * p.big_channels) + block.i_lanes) * big_plane;
        for (var y = block.ys.x; y < block.ys.y; y++) {
            let small_row = small_n + vec4<u32>(y * p.small_width);
            let big_row = big_n + vec4<u32>((y * p.stride + block.ky - p.padding) * p.big_width + block.kx - p.padding);
            for (var x = block.xs.x; x < block.xs.y; x++) {
                let sv = gather_a(small_row + vec4<u32>(x));
                let bv = gather_b(big_row + vec4<u32>(x * p.stride));
                acc0 += sv.x * bv;
                acc1 += sv.y * bv;
                acc2 += sv.z * bv;
                acc3 += sv.w * bv;
            }
        }
    }
    let rows = min(p.small_channels - block.o0, 4u);
    for (var j = 0u; j < min(p.big_channels - block.i0, 4u); j++) {
        if (rows > 0u) {
            let at = weight_at(block, 0u, j);
            c[at] = kept(at) + acc0[j];
        }
        if (rows > 1u) {
            let at = weight_at(block, 1u, j);
            c[at] = kept(at) + acc1[j];
        }
        if (rows > 2u) {
            let at = weight_at(block, 2u, j);
            c[at] = kept(at) + acc2[j];
        }
        if (rows > 3u) {
            let at = weight_at(block, 3u, j);
            c[at] = kept(at) + acc3[j];
        }
    }
}

// weight_split: weight for hardware GPUs, whose time there follows each
// invocation's chain of dependent loads (matmul.wgsl's split_k measured that on an
// H200): weight gives one invocation a block's whole sum, batch × positions long
// (16,384 for a DCGAN's first layer, whose 256 blocks fill 4 workgroups). Here a
// workgroup of SLICES invocations shares one block, each summing every SLICES-th
// of its positions (neighbouring invocations, neighbouring pixels), and one
// invocation per output adds the slices' sums in order, so the result does not
// depend on timing. The slices' sums take 4 KiB of workgroup memory.
const SLICES: u32 = 64u;
var<workgroup> slice_sums: array<vec4<f32>, 256>;

@compute @workgroup_size(64)
fn weight_split(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) slice: u32,
) {
    // One workgroup per block: the test is uniform, so every invocation left reaches
    // the barrier.
    let index = group.x + group.y * groups.x;
    if (index >= weight_blocks()) {
        return;
    }
    let block = weight_block(index);
    let plane = p.small_height * p.small_width;
    let big_plane = p.big_height * p.big_width;
    let row_length = block.xs.y - block.xs.x;
    let per_image = (block.ys.y - block.ys.x) * row_length;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var j = slice; j < p.batch * per_image; j += SLICES) {
        let n = j / per_image;
        let y = block.ys.x + (j % per_image) / row_length;
        let x = block.xs.x + j % row_length;
        let small_at = vec4<u32>(p.a_offset + y * p.small_width + x) + (vec4<u32>(n * p.small_channels) + block.o_lanes) * plane;
        let big_pixel = (y * p.stride + block.ky - p.padding) * p.big_width + x * p.stride + block.kx - p.padding;
        let big_at = vec4<u32>(p.b_offset + big_pixel) + (vec4<u32>(n * p.big_channels) + block.i_lanes) * big_plane;
        let sv = gather_a(small_at);
        let bv = gather_b(big_at);
        acc0 += sv.x * bv;
        acc1 += sv.y * bv;
        acc2 += sv.z * bv;
        acc3 += sv.w * bv;
    }
    slice_sums[slice * 4u] = acc0;
    slice_sums[slice * 4u + 1u] = acc1;
    slice_sums[slice * 4u + 2u] = acc2;
    slice_sums[slice * 4u + 3u] = acc3;
    workgroupBarrier();
    // Invocation r·4 + j adds up output (o0 + r, i0 + j).
    let r = slice / 4u;
    let j = slice % 4u;
    if (r >= min(p.small_channels - block.o0, 4u) || j >= min(p.big_channels - block.i0, 4u)) {
        return;
    }
    var sum = 0.0;
    for (var t = 0u; t < SLICES; t++) {
        sum += slice_sums[t * 4u + r][j];
    }
    let at = weight_at(block, r, j);
    c[at] = kept(at) + sum;
}

// lower_tiled: lower as a tiled matrix product, matmul.wgsl's `tiled` over the
// implicit operand: C[o, col] = Σ_r W[o, r] · patch[r, col], r = (i, ky, kx) and
// col = (n, y, x). A workgroup of 16×16 owns 64 channels × 64 positions, 4 × 4 an
// invocation, and walks r in slabs of 16 copied into workgroup memory: W's rows
// along r and the patches' columns along the positions (each invocation loads the
// same column every time, so it works out that column's image and corner once).
const SLAB: u32 = 16u;
var<workgroup> w_slab: array<vec4<f32>, 256>;
var<workgroup> patch_slab: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn lower_tiled(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let o0 = group.y * 64u;
    let col0 = group.x * 64u;
    let k2 = p.kernel * p.kernel;
    let reduce = p.big_channels * k2;
    let positions = p.small_height * p.small_width;
    let columns = p.batch * positions;
    let big_plane = p.big_height * p.big_width;
    let lc = t % 64u;
    let col = col0 + lc;
    let pos = col % positions;
    let image = p.a_offset + (col / positions) * p.big_channels * big_plane;
    let by0 = i32((pos / p.small_width) * p.stride) - i32(p.padding);
    let bx0 = i32((pos % p.small_width) * p.stride) - i32(p.padding);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var r0 = 0u; r0 < reduce; r0 += SLAB) {
        for (var j = 0u; j < 4u; j++) {
            let o = t / SLAB + 16u * j;
            let rw = t % SLAB;
            var w = 0.0;
            if (o0 + o < p.small_channels && r0 + rw < reduce) {
                w = b[p.b_offset + (o0 + o) * reduce + r0 + rw];
            }
            w_slab[rw * 16u + o / 4u][o % 4u] = w;
            let kr = t / 64u + 4u * j;
            let r = r0 + kr;
            var v = 0.0;
            if (col < columns && r < reduce) {
                let kk = r % k2;
                let by = by0 + i32(kk / p.kernel);
                let bx = bx0 + i32(kk % p.kernel);
                if (by >= 0 && by < i32(p.big_height) && bx >= 0 && bx < i32(p.big_width)) {
                    v = a[image + (r / k2) * big_plane + u32(by) * p.big_width + u32(bx)];
                }
            }
            patch_slab[kr * 16u + lc / 4u][lc % 4u] = v;
        }
        workgroupBarrier();
        for (var k = 0u; k < SLAB; k++) {
            let wv = w_slab[k * 16u + local.y];
            let pv = patch_slab[k * 16u + local.x];
            acc0 += wv.x * pv;
            acc1 += wv.y * pv;
            acc2 += wv.z * pv;
            acc3 += wv.w * pv;
        }
        workgroupBarrier();
    }
    let o = o0 + local.y * 4u;
    let first = col0 + local.x * 4u;
    store_columns(o, first, acc0);
    store_columns(o + 1u, first, acc1);
    store_columns(o + 2u, first, acc2);
    store_columns(o + 3u, first, acc3);
}

// Writes epilogue(sums[j]) to small[n, o, pos] for the columns first + j = (n, pos)
// (lower_tiled), skipping what lies outside C.
fn store_columns(o: u32, first: u32, sums: vec4<f32>) {
    let positions = p.small_height * p.small_width;
    if (o >= p.small_channels) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let col = first + j;
        if (col < p.batch * positions) {
            let at = ((col / positions) * p.small_channels + o) * positions + col % positions;
            c[p.c_offset + at] = epilogue(sums[j], at);
        }
    }
}
