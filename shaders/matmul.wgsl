// C = epilogue(A · B) for row-major operands addressed through strides, so the
// forward pass (X·Wᵀ) and both backward products (G·W and Gᵀ·X) use this one
// kernel on the stored tensors without transposed copies.
// Epilogue, in order: + bias[col], activation, × derivative_from_output(gate).
// activation.wgsl is prepended to this file.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    has_bias: u32,
    a_offset: u32,
    a_row_stride: u32,
    a_col_stride: u32,
    b_offset: u32,
    b_row_stride: u32,
    b_col_stride: u32,
    c_offset: u32,
    c_row_stride: u32,
    bias_offset: u32,
    gate_offset: u32,
    gate_row_stride: u32,
    activation: u32,
    gate_activation: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> gate: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

// Three entry points; the Rust side picks one per product (`MatmulPolicy`).
//
// whole_k: each invocation owns an 8×8 block of C, sums all of K and reads its
// operands straight from storage; a workgroup of 16×4 invocations covers 32 rows ×
// 128 columns. Made for the CPU emulations (SwiftShader in Chromium, lavapipe):
// there barriers are costly and caches do the reuse (a 64×64 kernel with workgroup
// memory measured 2-10x slower), and every storage load is a per-lane gather with
// a bounds check, so what counts is loads per multiply-add: 16 per 64 here. In
// Chromium on SwiftShader, 8×8 blocks trained ~1.2x as fast as 8×4 (12 loads per
// 32) and ~1.5x as fast as 8×16 (fewer, longer-running workgroups), in alternating
// page loads; vec4 loads of contiguous operands measured no faster.
// The accumulators are vec4 registers, never an indexed array: SwiftShader
// keeps a dynamically indexed private array in memory, which measured 10x slower.
// 64 invocations: two 32-wide subgroups on GPUs, and a multiple of the emulators'
// 4- and 8-wide SIMD.
@compute @workgroup_size(16, 4)
fn whole_k(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 8u;
    let col0 = gid.x * 8u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    // Rows and columns past the edge are clamped to the last one, so every load is
    // in bounds without a branch in the loop; their results are not stored.
    let lane = vec4<u32>(0u, 1u, 2u, 3u);
    let last_row = vec4<u32>(p.m - 1u);
    let last_col = vec4<u32>(p.n - 1u);
    let a_lo = vec4<u32>(p.a_offset) + min(vec4<u32>(row0) + lane, last_row) * p.a_row_stride;
    let a_hi = vec4<u32>(p.a_offset) + min(vec4<u32>(row0 + 4u) + lane, last_row) * p.a_row_stride;
    let b_left = vec4<u32>(p.b_offset) + min(vec4<u32>(col0) + lane, last_col) * p.b_col_stride;
    let b_right = vec4<u32>(p.b_offset) + min(vec4<u32>(col0 + 4u) + lane, last_col) * p.b_col_stride;
    // left{i}, right{i}: row row0 + i, columns col0..col0 + 4 and col0 + 4..col0 + 8.
    var left0 = vec4<f32>(0.0);
    var left1 = vec4<f32>(0.0);
    var left2 = vec4<f32>(0.0);
    var left3 = vec4<f32>(0.0);
    var left4 = vec4<f32>(0.0);
    var left5 = vec4<f32>(0.0);
    var left6 = vec4<f32>(0.0);
    var left7 = vec4<f32>(0.0);
    var right0 = vec4<f32>(0.0);
    var right1 = vec4<f32>(0.0);
    var right2 = vec4<f32>(0.0);
    var right3 = vec4<f32>(0.0);
    var right4 = vec4<f32>(0.0);
    var right5 = vec4<f32>(0.0);
    var right6 = vec4<f32>(0.0);
    var right7 = vec4<f32>(0.0);
    for (var k = 0u; k < p.k; k++) {
        let bl = b_row(b_left, k);
        let br = b_row(b_right, k);
        let lo = a_column(a_lo, k);
        let hi = a_column(a_hi, k);
        left0 += lo.x * bl;
        right0 += lo.x * br;
        left1 += lo.y * bl;
        right1 += lo.y * br;
        left2 += lo.z * bl;
        right2 += lo.z * br;
        left3 += lo.w * bl;
        right3 += lo.w * br;
        left4 += hi.x * bl;
        right4 += hi.x * br;
        left5 += hi.y * bl;
        right5 += hi.y * br;
        left6 += hi.z * bl;
        right6 += hi.z * br;
        left7 += hi.w * bl;
        right7 += hi.w * br;
    }
    store_row(row0, col0, left0);
    store_row(row0, col0 + 4u, right0);
    store_row(row0 + 1u, col0, left1);
    store_row(row0 + 1u, col0 + 4u, right1);
    store_row(row0 + 2u, col0, left2);
    store_row(row0 + 2u, col0 + 4u, right2);
    store_row(row0 + 3u, col0, left3);
    store_row(row0 + 3u, col0 + 4u, right3);
    store_row(row0 + 4u, col0, left4);
    store_row(row0 + 4u, col0 + 4u, right4);
    store_row(row0 + 5u, col0, left5);
    store_row(row0 + 5u, col0 + 4u, right5);
    store_row(row0 + 6u, col0, left6);
    store_row(row0 + 6u, col0 + 4u, right6);
    store_row(row0 + 7u, col0, left7);
    store_row(row0 + 7u, col0 + 4u, right7);
}

// split_k: for hardware GPUs, where it runs most products (MatmulPolicy). On an
// H200 whole_k's time (with 8×4 blocks) followed K, ~0.2 µs per k whatever the
// product's size: each invocation's loop is a chain of memory latencies, and a
// 64×256 product was only 8 workgroups, too few to hide them. Here each 4×4 block
// of C is shared by K_SLICES invocations, each summing a quarter of K, and their
// sums meet in workgroup memory: a 4x shorter chain, and 8x the invocations of
// that whole_k. A workgroup of 8×8×4 covers 32×32 outputs; 256 invocations is
// WebGPU's default limit, and the three slices' sums (12 KB) fit its default 16 KB
// of workgroup memory.
const K_SLICES: u32 = 4u;
// One slice's sums: 64 invocations × 4 rows, a vec4 each.
const SLICE_SUMS: u32 = 256u;
var<workgroup> slice_sums: array<vec4<f32>, SLICE_SUMS * (K_SLICES - 1u)>;

@compute @workgroup_size(8, 8, 4)
fn split_k(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
    let row0 = group.y * 32u + local.y * 4u;
    let col0 = group.x * 32u + local.x * 4u;
    // No early return: every invocation must reach the barrier. Out-of-range rows
    // and columns are clamped as in whole_k and not stored.
    let lane = vec4<u32>(0u, 1u, 2u, 3u);
    let a_rows = vec4<u32>(p.a_offset) + min(vec4<u32>(row0) + lane, vec4<u32>(p.m - 1u)) * p.a_row_stride;
    let b_cols = vec4<u32>(p.b_offset) + min(vec4<u32>(col0) + lane, vec4<u32>(p.n - 1u)) * p.b_col_stride;
    let per_slice = (p.k + K_SLICES - 1u) / K_SLICES;
    let k_begin = min(local.z * per_slice, p.k);
    let k_end = min(k_begin + per_slice, p.k);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var k = k_begin;
    // Four k at a time, all eight loads issued before the first multiply, so their
    // latencies overlap. On an H200 this made training 2-9% faster: the gradient
    // products up to 1.8x, the forward ones (B a transposed weight) ~10% slower.
    for (; k + 4u <= k_end; k += 4u) {
        let a0 = a_column(a_rows, k);
        let a1 = a_column(a_rows, k + 1u);
        let a2 = a_column(a_rows, k + 2u);
        let a3 = a_column(a_rows, k + 3u);
        let b0 = b_row(b_cols, k);
        let b1 = b_row(b_cols, k + 1u);
        let b2 = b_row(b_cols, k + 2u);
        let b3 = b_row(b_cols, k + 3u);
        acc0 += a0.x * b0 + a1.x * b1 + a2.x * b2 + a3.x * b3;
        acc1 += a0.y * b0 + a1.y * b1 + a2.y * b2 + a3.y * b3;
        acc2 += a0.z * b0 + a1.z * b1 + a2.z * b2 + a3.z * b3;
        acc3 += a0.w * b0 + a1.w * b1 + a2.w * b2 + a3.w * b3;
    }
    for (; k < k_end; k++) {
        let bv = b_row(b_cols, k);
        let av = a_column(a_rows, k);
        acc0 += av.x * bv;
        acc1 += av.y * bv;
        acc2 += av.z * bv;
        acc3 += av.w * bv;
    }
    let slot = (local.y * 8u + local.x) * 4u;
    if (local.z > 0u) {
        let base = (local.z - 1u) * SLICE_SUMS + slot;
        slice_sums[base] = acc0;
        slice_sums[base + 1u] = acc1;
        slice_sums[base + 2u] = acc2;
        slice_sums[base + 3u] = acc3;
    }
    workgroupBarrier();
    if (local.z == 0u) {
        // Slices added in order 0, 1, 2, 3, so the result does not depend on timing.
        for (var s = 0u; s < K_SLICES - 1u; s++) {
            let base = s * SLICE_SUMS + slot;
            acc0 += slice_sums[base];
            acc1 += slice_sums[base + 1u];
            acc2 += slice_sums[base + 2u];
            acc3 += slice_sums[base + 3u];
        }
        store_row(row0, col0, acc0);
        store_row(row0 + 1u, col0, acc1);
        store_row(row0 + 2u, col0, acc2);
        store_row(row0 + 3u, col0, acc3);
    }
}

// tiled: the classic GPU matrix product; on an H200 the fastest entry point for
// forward products of 128 or more blocks (MatmulPolicy).
// A workgroup of 16×16 invocations owns a 64×64 block of C, 4×4 per invocation,
// and walks K in steps of TILE_K: it copies a 64×TILE_K slab of A and of B into
// workgroup memory, neighbouring invocations reading neighbouring addresses
// whichever stride is 1, then every invocation multiplies out of the slabs. Each
// element read from storage then serves 64 products, where split_k and whole_k read
// it from storage (or cache) for every 4 or 8. 256 invocations is WebGPU's default
// limit; the two slabs take 8 KiB of its 16 KiB of workgroup memory.
const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
// slab[k * 16 + i] holds rows (or columns) 4i..4i + 3 at k, so each invocation reads
// its 4 rows and 4 columns at k as one vec4 each.
var<workgroup> a_slab: array<vec4<f32>, TILE_K * TILE / 4u>;
var<workgroup> b_slab: array<vec4<f32>, TILE_K * TILE / 4u>;

@compute @workgroup_size(16, 16)
fn tiled(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let row0 = group.y * TILE;
    let col0 = group.x * TILE;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    // The loop bound and the stride tests are uniform, so every invocation reaches
    // every barrier.
    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        for (var e = t; e < TILE * TILE_K; e += 256u) {
            var r = e % TILE;
            var ka = e / TILE;
            if (p.a_col_stride == 1u) {
                r = e / TILE_K;
                ka = e % TILE_K;
            }
            var value = 0.0;
            if (row0 + r < p.m && k0 + ka < p.k) {
                value = a[p.a_offset + (row0 + r) * p.a_row_stride + (k0 + ka) * p.a_col_stride];
            }
            a_slab[ka * 16u + r / 4u][r % 4u] = value;
            var col = e % TILE;
            var kb = e / TILE;
            if (p.b_col_stride != 1u) {
                col = e / TILE_K;
                kb = e % TILE_K;
            }
            value = 0.0;
            if (k0 + kb < p.k && col0 + col < p.n) {
                value = b[p.b_offset + (k0 + kb) * p.b_row_stride + (col0 + col) * p.b_col_stride];
            }
            b_slab[kb * 16u + col / 4u][col % 4u] = value;
        }
        workgroupBarrier();
        for (var k = 0u; k < TILE_K; k++) {
            let av = a_slab[k * 16u + local.y];
            let bv = b_slab[k * 16u + local.x];
            acc0 += av.x * bv;
            acc1 += av.y * bv;
            acc2 += av.z * bv;
            acc3 += av.w * bv;
        }
        workgroupBarrier();
    }
    let row = row0 + local.y * 4u;
    let col = col0 + local.x * 4u;
    store_row(row, col, acc0);
    store_row(row + 1u, col, acc1);
    store_row(row + 2u, col, acc2);
    store_row(row + 3u, col, acc3);
}

// A[rows, k] and B[k, cols] for four rows or columns given by their offsets at k = 0.
fn a_column(rows: vec4<u32>, k: u32) -> vec4<f32> {
    let i = rows + vec4<u32>(k * p.a_col_stride);
    return vec4<f32>(a[i.x], a[i.y], a[i.z], a[i.w]);
}

fn b_row(cols: vec4<u32>, k: u32) -> vec4<f32> {
    let i = cols + vec4<u32>(k * p.b_row_stride);
    return vec4<f32>(b[i.x], b[i.y], b[i.z], b[i.w]);
}

// Writes epilogue(sums) to C[row, col..col + 4], skipping what lies outside C.
fn store_row(row: u32, col0: u32, sums: vec4<f32>) {
    if (row >= p.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j;
        if (col < p.n) {
            var v = sums[j];
            if (p.has_bias != 0u) {
                v += bias[p.bias_offset + col];
            }
            v = activate(v, p.activation);
            if (p.gate_activation != ACT_IDENTITY) {
                v *= derivative_from_output(gate[p.gate_offset + row * p.gate_row_stride + col], p.gate_activation);
            }
            c[p.c_offset + row * p.c_row_stride + col] = v;
        }
    }
}
