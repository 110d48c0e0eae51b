// Ends a training step: the kernels that depend on the step (noise, batch gather,
// Adam's bias correction) read this counter, so the CPU uploads nothing per step.

struct Counter {
    step: u32,
}

@group(0) @binding(0) var<storage, read_write> counter: Counter;

@compute @workgroup_size(1)
fn main() {
    counter.step += 1u;
}
