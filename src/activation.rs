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
}

impl Activation {
    pub fn forward(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::LeakyRelu => {
                if x > 0.0 {
                    x
                } else {
                    LEAKY_SLOPE * x
                }
            }
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => sigmoid(x),
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
        }
    }
}

impl Activation {
    /// `forward` over a slice, with the choice made once so the loop vectorizes.
    pub fn forward_slice(self, xs: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::LeakyRelu => xs
                .iter_mut()
                .for_each(|x| *x = if *x > 0.0 { *x } else { LEAKY_SLOPE * *x }),
            Activation::Tanh => xs.iter_mut().for_each(|x| *x = x.tanh()),
            Activation::Sigmoid => xs.iter_mut().for_each(|x| *x = sigmoid(*x)),
        }
    }

    /// Multiplies each gradient by the derivative at the matching output.
    pub fn scale_by_derivative(self, grads: &mut [f32], outputs: &[f32]) {
        let pairs = grads.iter_mut().zip(outputs);
        match self {
            Activation::Identity => {}
            Activation::LeakyRelu => pairs.for_each(|(g, &y)| *g *= if y > 0.0 { 1.0 } else { LEAKY_SLOPE }),
            Activation::Tanh => pairs.for_each(|(g, &y)| *g *= 1.0 - y * y),
            Activation::Sigmoid => pairs.for_each(|(g, &y)| *g *= y * (1.0 - y)),
        }
    }
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
