// db[col] = Σ_row dY[row, col]: the bias gradient of `nn.Linear`.

struct Params {
    rows: u32,
    cols: u32,
    input_offset: u32,
    output_offset: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// One invocation per column, summing rows in order (as the CPU reference does);
// neighbours read neighbouring columns. 64 per workgroup spreads even a
// 256-wide layer over 4 workgroups; the batch (≤ 8192 rows) bounds each loop.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    if (col >= p.cols) {
        return;
    }
    var sum = 0.0;
    for (var row = 0u; row < p.rows; row++) {
        sum += dy[p.input_offset + row * p.cols + col];
    }
    db[p.output_offset + col] = sum;
}
