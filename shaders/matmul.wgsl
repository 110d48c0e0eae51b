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

// A 64×64 output tile per workgroup of 16×16 invocations, 4×4 outputs each:
// 256 invocations is the portable maximum, and 4×4 register blocking reads each
// tile element from workgroup memory once per 4 products. The two 16×64 k-slices
// take 8 KiB of the 16 KiB of workgroup memory WebGPU guarantees.
const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS: u32 = 256u;

var<workgroup> a_tile: array<f32, 1024>; // [TILE_K][TILE]: a_tile[k * TILE + row]
var<workgroup> b_tile: array<f32, 1024>; // [TILE_K][TILE]: b_tile[k * TILE + col]

fn load_a(row: u32, k: u32) -> f32 {
    if (row < p.m && k < p.k) {
        return a[p.a_offset + row * p.a_row_stride + k * p.a_col_stride];
    }
    return 0.0;
}

fn load_b(k: u32, col: u32) -> f32 {
    if (k < p.k && col < p.n) {
        return b[p.b_offset + k * p.b_row_stride + col * p.b_col_stride];
    }
    return 0.0;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let t = lid.y * 16u + lid.x;

    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        for (var j = 0u; j < 4u; j++) {
            let e = t + j * THREADS;
            // Neighbouring invocations load along whichever index is contiguous in memory.
            if (p.a_col_stride == 1u) {
                a_tile[(e % TILE_K) * TILE + e / TILE_K] = load_a(row0 + e / TILE_K, k0 + e % TILE_K);
            } else {
                a_tile[(e / TILE) * TILE + e % TILE] = load_a(row0 + e % TILE, k0 + e / TILE);
            }
            if (p.b_col_stride == 1u) {
                b_tile[(e / TILE) * TILE + e % TILE] = load_b(k0 + e / TILE, col0 + e % TILE);
            } else {
                b_tile[(e % TILE_K) * TILE + e / TILE_K] = load_b(k0 + e % TILE_K, col0 + e / TILE_K);
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk * TILE + lid.y * 4u + i];
                bv[i] = b_tile[kk * TILE + lid.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] += av[i] * bv[j];
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let row = row0 + lid.y * 4u + i;
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x * 4u + j;
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
