// The next training batch, gathered from the whole training set held on the GPU:
// row r of the batch is image order[(step mod steps_per_epoch)·batch + r], scaled
// from bytes to [-1, 1] exactly as ToTensor then Normalize(0.5, 0.5) do.

struct Params {
    batch: u32,
    pixels: u32,
    steps_per_epoch: u32,
    // Rows of the output are this far apart: the images may be the first columns of
    // a wider input (`pixels` when they are all of it).
    row_stride: u32,
}

struct Counter {
    step: u32,
}

// Pixels are bytes, four to a word: the 60,000 images take 47 MB instead of 188 MB.
@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<storage, read> counter: Counter;
@group(0) @binding(3) var<storage, read_write> batch: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// One invocation per output value; 256 (the portable maximum) for a plain copy.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.batch * p.pixels) {
        return;
    }
    let row = i / p.pixels;
    let image = order[(counter.step % p.steps_per_epoch) * p.batch + row];
    let byte_index = image * p.pixels + i % p.pixels;
    let byte = (images[byte_index / 4u] >> (8u * (byte_index % 4u))) & 0xffu;
    batch[row * p.row_stride + i % p.pixels] = (f32(byte) / 255.0 - 0.5) / 0.5;
}
