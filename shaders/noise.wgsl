// Standard normal latent vectors from Philox4x32-10 and Box-Muller, the same bits
// as src/rng.rs: element i of step s comes from counter (i / 4, s, stream, 0).

struct Params {
    count: u32,
    seed_lo: u32,
    seed_hi: u32,
    stream: u32,
    // The second counter word: the GPU step counter while training, so each step
    // draws new noise; `index` for a fixed batch (the preview grid).
    index: u32,
    use_step_counter: u32,
    // Element i goes to row i / cols, column i % cols of a matrix whose rows are
    // row_stride apart, from `offset`: the latents may be a part of a wider input.
    offset: u32,
    cols: u32,
    row_stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Counter {
    step: u32,
}

@group(0) @binding(0) var<storage, read_write> z: array<f32>;
@group(0) @binding(1) var<storage, read> counter: Counter;
@group(0) @binding(2) var<uniform> p: Params;

fn normal_pair(bits0: u32, bits1: u32) -> vec2<f32> {
    let radius = sqrt(-2.0 * log(unit_open(bits0)));
    let angle = 6.2831855 * unit_open(bits1);
    return vec2<f32>(radius * cos(angle), radius * sin(angle));
}

// One invocation per group of four outputs (one Philox call); 64 per workgroup
// keeps a 64×100 batch (1600 groups) spread over 25 workgroups.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let group = gid.x;
    if (group * 4u >= p.count) {
        return;
    }
    let index = select(p.index, counter.step, p.use_step_counter != 0u);
    let w = philox4x32(vec4<u32>(group, index, p.stream, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
    let n01 = normal_pair(w.x, w.y);
    let n23 = normal_pair(w.z, w.w);
    let values = array<f32, 4>(n01.x, n01.y, n23.x, n23.y);
    for (var j = 0u; j < 4u; j++) {
        let i = group * 4u + j;
        if (i < p.count) {
            z[p.offset + (i / p.cols) * p.row_stride + i % p.cols] = values[j];
        }
    }
}
