// Activations shared by the kernels that apply them in an epilogue.
// Same values as `Activation` in src/activation.rs.
const ACT_IDENTITY: u32 = 0u;
const ACT_LEAKY_RELU: u32 = 1u;
const ACT_TANH: u32 = 2u;
const ACT_SIGMOID: u32 = 3u;
const ACT_RELU: u32 = 4u;
const LEAKY_SLOPE: f32 = 0.2;

fn sigmoid(x: f32) -> f32 {
    // Only exp of a non-positive number is formed, so nothing overflows.
    let e = exp(-abs(x));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn activate(x: f32, kind: u32) -> f32 {
    switch kind {
        case ACT_LEAKY_RELU: { return select(LEAKY_SLOPE * x, x, x > 0.0); }
        // Some drivers build tanh from exp and return NaN past |x| ~ 44;
        // tanh(15) already rounds to 1 in f32.
        case ACT_TANH: { return tanh(clamp(x, -15.0, 15.0)); }
        case ACT_SIGMOID: { return sigmoid(x); }
        case ACT_RELU: { return max(x, 0.0); }
        default: { return x; }
    }
}

// d(output)/d(input) in terms of the output y, which the forward pass stored.
fn derivative_from_output(y: f32, kind: u32) -> f32 {
    switch kind {
        case ACT_LEAKY_RELU: { return select(LEAKY_SLOPE, 1.0, y > 0.0); }
        case ACT_TANH: { return 1.0 - y * y; }
        case ACT_SIGMOID: { return y * (1.0 - y); }
        case ACT_RELU: { return select(0.0, 1.0, y > 0.0); }
        default: { return 1.0; }
    }
}
