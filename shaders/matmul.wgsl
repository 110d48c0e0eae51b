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

// Each invocation owns an 8-row × 4-column block of C and reads its operands
// straight from storage; a workgroup of 16×4 invocations covers 32 rows × 64
// columns. Measured on the two CPU-emulated adapters this project can test on
// (SwiftShader in Chromium, lavapipe), against the 64×64-tiled kernel with
// workgroup memory it replaced: 2-10x faster; there, barriers are costly and
// caches do the reuse, and at this model's sizes (batch 64, layers up to 1024
// wide) a 64×64 tiling launches as few as 16 workgroups. 8×4 blocks measured
// ~15% faster than 4×4 on SwiftShader; vec4 loads of contiguous operands
// measured no faster there and are left out.
// The accumulators are eight vec4 registers, never an indexed array: SwiftShader
// keeps a dynamically indexed private array in memory, which measured 10x slower.
// 64 invocations: two 32-wide subgroups on GPUs, and a multiple of the emulators'
// 4- and 8-wide SIMD.
const ROWS_PER_GROUP: u32 = 32u;
const COLS_PER_GROUP: u32 = 64u;

@compute @workgroup_size(16, 4)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 8u;
    let col0 = gid.x * 4u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    // Rows and columns past the edge are clamped to the last one, so every load is
    // in bounds without a branch in the loop; their results are not stored.
    let lane = vec4<u32>(0u, 1u, 2u, 3u);
    let last_row = vec4<u32>(p.m - 1u);
    let a_lo = vec4<u32>(p.a_offset) + min(vec4<u32>(row0) + lane, last_row) * p.a_row_stride;
    let a_hi = vec4<u32>(p.a_offset) + min(vec4<u32>(row0 + 4u) + lane, last_row) * p.a_row_stride;
    let b_start = vec4<u32>(p.b_offset) + min(vec4<u32>(col0) + lane, vec4<u32>(p.n - 1u)) * p.b_col_stride;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    for (var k = 0u; k < p.k; k++) {
        let ak = vec4<u32>(k * p.a_col_stride);
        let bi = b_start + vec4<u32>(k * p.b_row_stride);
        let bv = vec4<f32>(b[bi.x], b[bi.y], b[bi.z], b[bi.w]);
        let lo = a_lo + ak;
        let hi = a_hi + ak;
        acc0 += a[lo.x] * bv;
        acc1 += a[lo.y] * bv;
        acc2 += a[lo.z] * bv;
        acc3 += a[lo.w] * bv;
        acc4 += a[hi.x] * bv;
        acc5 += a[hi.y] * bv;
        acc6 += a[hi.z] * bv;
        acc7 += a[hi.w] * bv;
    }

    let acc = array<vec4<f32>, 8>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);
    for (var i = 0u; i < 8u; i++) {
        let row = row0 + i;
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if (row < p.m && col < p.n) {
                var v = acc[i][j];
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
}
