//! Activations, applied in the epilogue of a matrix product (`shaders/activation.wgsl`
//! holds the same functions and is prepended to the shaders that use them).
//!
//! Backward passes use the derivative written in terms of the activation's *output*,
//! which is what the forward pass already stored: no pre-activation copy is kept.

use serde::{Deserialize, Serialize};

/// The negative slope of every LeakyReLU in the model, as in the original.
pub const LEAKY_SLOPE: f32 = 0.2;

/// Values match the `ACT_*` constants in `shaders/activation.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u32)]
pub enum Activation {
    Identity = 0,
    LeakyRelu = 1,
    Tanh = 2,
    Sigmoid = 3,
    /// `nn.ReLU`, the DCGAN generator's.
    Relu = 4,
}

/// The value a shader receives, back to the activation; unknown values are refused,
/// not taken for `Identity`.
impl TryFrom<u32> for Activation {
    type Error = crate::Error;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(Activation::Identity),
            1 => Ok(Activation::LeakyRelu),
            2 => Ok(Activation::Tanh),
            3 => Ok(Activation::Sigmoid),
            4 => Ok(Activation::Relu),
            other => Err(crate::Error::new(format!(
                "{other} is not an activation (activation.wgsl's ACT_* are 0 to 4)"
            ))),
        }
    }
}

impl Activation {
    pub fn forward(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::LeakyRelu => leaky_relu(x),
            Activation::Tanh => tanh(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::Relu => x.max(0.0),
        }
    }

    /// d(output)/d(input), given the output `y = forward(x)`.
    pub fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            Activation::Identity => 1.0,
            // The slope is positive, so the output has the input's sign.
            Activation::LeakyRelu => {
                if y > 0.0 {
                    1.0
                } else {
                    LEAKY_SLOPE
                }
            }
            Activation::Tanh => 1.0 - y * y,
            Activation::Sigmoid => y * (1.0 - y),
            // As PyTorch's: no gradient where the output is 0.
            Activation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

impl Activation {
    /// `forward` over a slice, the choice made once outside the loop. Each loop calls
    /// its function directly: written through `forward`, the vectorizable tanh made
    /// wasm steps 2.5x slower (likely `forward` grew too big to inline, so every
    /// LeakyReLU became a call per element), and direct calls restored them.
    pub fn forward_slice(self, xs: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::LeakyRelu => xs.iter_mut().for_each(|x| *x = leaky_relu(*x)),
            Activation::Tanh => xs.iter_mut().for_each(|x| *x = tanh(*x)),
            Activation::Sigmoid => xs.iter_mut().for_each(|x| *x = sigmoid(*x)),
            Activation::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
        }
    }

    /// Multiplies each gradient by `derivative_from_output` at the matching output.
    pub fn scale_by_derivative(self, grads: &mut [f32], outputs: &[f32]) {
        let apply = |act: Activation, grads: &mut [f32]| {
            grads
                .iter_mut()
                .zip(outputs)
                .for_each(|(g, &y)| *g *= act.derivative_from_output(y))
        };
        match self {
            Activation::Identity => {}
            Activation::LeakyRelu => apply(Activation::LeakyRelu, grads),
            Activation::Tanh => apply(Activation::Tanh, grads),
            Activation::Sigmoid => apply(Activation::Sigmoid, grads),
            Activation::Relu => apply(Activation::Relu, grads),
        }
    }
}

#[inline]
fn leaky_relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        LEAKY_SLOPE * x
    }
}

/// tanh to within 2 ulp (`tanh_is_within_two_ulp` checks), with no library call and
/// its two ranges blended by selects, so a loop over it vectorizes. The standard
/// `f32::tanh` is glibc's scalar tanhf, ~20 ns an element: ~2 ms, 5-8%, of a batch-256
/// CPU training step.
#[inline]
fn tanh(x: f32) -> f32 {
    let a = x.abs();
    // Near 0, 1 - 2/(e^2a + 1) cancels; an odd polynomial is exact to an ulp there
    // (Cephes' tanhf coefficients, for |x| < 0.625).
    let z = a * a;
    let poly =
        ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z - 3.333_328e-1) * z * a
            + a;
    // tanh rounds to 1 in f32 from 9.01 on; the comparison keeps NaN, which `min` would drop.
    let a_clamped = if a > 10.0 { 10.0 } else { a };
    let far = 1.0 - 2.0 / (exp_nonnegative(2.0 * a_clamped) + 1.0);
    let magnitude = if a < 0.625 { poly } else { far };
    magnitude.copysign(x)
}

/// e^x for 0 <= x <= 20 (or NaN), to ~1 ulp: x = n·ln 2 + r with |r| <= ln 2 / 2,
/// e^r by Cephes' expf polynomial, 2^n put straight into the exponent bits.
fn exp_nonnegative(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2^23 rounds x·log2(e) to an integer n held in the low mantissa bits,
    // with plain arithmetic: no library call (`f32::round` before SSE4.1) and no
    // saturating float-to-int cast, either of which would keep the loop scalar.
    const ROUNDER: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = (((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 0.5)
        * r
        * r
        + r
        + 1.0;
    let two_to_n = f32::from_bits(shifted.to_bits().wrapping_sub(ROUNDER.to_bits()).wrapping_add(127) << 23);
    p * two_to_n
}

/// A sigmoid that never forms exp of a large positive number.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in representable f32 values between `y` and the f32 nearest `exact`.
    fn ulps(y: f32, exact: f64) -> u32 {
        let key = |v: f32| {
            let bits = v.to_bits() as i32;
            if bits < 0 {
                i32::MIN - bits
            } else {
                bits
            }
        };
        key(y).abs_diff(key(exact as f32))
    }

    #[test]
    fn tanh_is_within_two_ulp() {
        // Every 37th f32 from 0 to 12 (subnormals, the polynomial's range, both sides of
        // its 0.625 switch and of the clamp at 10), in both signs.
        let end = 12f32.to_bits();
        let mut worst = (0, 0.0);
        for bits in (0..=end)
            .step_by(37)
            .chain([0.625f32.to_bits() - 1, 0.625f32.to_bits(), 10f32.to_bits() + 1])
        {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let error = ulps(tanh(x), f64::from(x).tanh());
                if error > worst.0 {
                    worst = (error, x);
                }
            }
        }
        assert!(worst.0 <= 2, "tanh({}) is {} ulp off", worst.1, worst.0);
    }

    #[test]
    fn activations_round_trip_through_their_shader_values_and_others_are_refused() {
        for act in [
            Activation::Identity,
            Activation::LeakyRelu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Relu,
        ] {
            assert_eq!(Activation::try_from(act as u32), Ok(act));
        }
        assert!(Activation::try_from(5).is_err());
        assert!(Activation::try_from(u32::MAX).is_err());
    }

    #[test]
    fn tanh_edge_values() {
        assert_eq!(tanh(0.0).to_bits(), 0f32.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0f32).to_bits());
        assert_eq!(tanh(f32::from_bits(1)), f32::from_bits(1));
        for (x, y) in [
            (1e30, 1.0),
            (f32::INFINITY, 1.0),
            (f32::NEG_INFINITY, -1.0),
            (-20.0, -1.0),
        ] {
            assert_eq!(tanh(x), y, "tanh({x})");
        }
        assert!(tanh(f32::NAN).is_nan());
    }
}
