// The next training batch, gathered from the whole training set held on the GPU:
// row r of the batch is item order[(step mod steps_per_epoch)·batch + r]. An item is
// an image, scaled from bytes to [-1, 1] exactly as ToTensor then Normalize(0.5, 0.5)
// do, or a label (one byte, a class), written one-hot.

struct Params {
    batch: u32,
    // Values in a row of the output: an image's pixels, or the classes of a label.
    width: u32,
    steps_per_epoch: u32,
    // Rows of the output are this far apart, from `offset`: the values may be a block
    // of columns of a wider input (`width` and 0 when they are all of it).
    row_stride: u32,
    offset: u32,
    // 0: items are images of `width` bytes; 1: items are one-byte labels, one-hot.
    one_hot: u32,
    _pad0: u32,
    _pad1: u32,
}

struct Counter {
    step: u32,
}

// Bytes, four to a word: the 60,000 images take 47 MB instead of 188 MB.
@group(0) @binding(0) var<storage, read> items: array<u32>;
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<storage, read> counter: Counter;
@group(0) @binding(3) var<storage, read_write> batch: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn byte_at(index: u32) -> u32 {
    return (items[index / 4u] >> (8u * (index % 4u))) & 0xffu;
}

// One invocation per output value; 256 (the portable maximum) for a plain copy.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.batch * p.width) {
        return;
    }
    let row = i / p.width;
    let col = i % p.width;
    let item = order[(counter.step % p.steps_per_epoch) * p.batch + row];
    var value: f32;
    if (p.one_hot != 0u) {
        value = select(0.0, 1.0, byte_at(item) == col);
    } else {
        value = (f32(byte_at(item * p.width + col)) / 255.0 - 0.5) / 0.5;
    }
    batch[p.offset + row * p.row_stride + col] = value;
}
