// Class labels, one-hot, into a block of columns: the conditional GAN's labels beside
// the latents and the images. Each row's class is drawn uniformly, the same bits as
// src/rng.rs (`uniform_class`: stream 5, counter (row, index)), or read from a table.

struct Params {
    rows: u32,
    classes: u32,
    // Row r's one-hot vector starts at offset + r·row_stride (a block of columns).
    offset: u32,
    row_stride: u32,
    seed_lo: u32,
    seed_hi: u32,
    // The second counter word: the GPU step counter while training, so each step
    // draws new labels; `index` otherwise.
    index: u32,
    use_step_counter: u32,
    // 1: row r's class is table[table_offset + r] instead of a draw.
    from_table: u32,
    table_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

struct Counter {
    step: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> counter: Counter;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const LABEL_STREAM: u32 = 5u;

// One invocation per output value.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.rows * p.classes) {
        return;
    }
    let row = i / p.classes;
    let column = i % p.classes;
    var chosen: u32;
    if (p.from_table != 0u) {
        chosen = u32(table[p.table_offset + row]);
    } else {
        let index = select(p.index, counter.step, p.use_step_counter != 0u);
        let w = philox4x32(vec4<u32>(row, index, LABEL_STREAM, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
        // 24 random bits scaled to [0, classes): exact for up to 256 classes.
        chosen = ((w.x >> 8u) * p.classes) >> 24u;
    }
    out[p.offset + row * p.row_stride + column] = select(0.0, 1.0, column == chosen);
}
