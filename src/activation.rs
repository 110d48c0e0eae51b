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
    /// `forward` over a slice. Each arm calls it on a constant, so the choice is made
    /// once and the loop inlines (and, for LeakyReLU, vectorizes).
    pub fn forward_slice(self, xs: &mut [f32]) {
        let apply = |act: Activation, xs: &mut [f32]| xs.iter_mut().for_each(|x| *x = act.forward(*x));
        match self {
            Activation::Identity => {}
            Activation::LeakyRelu => apply(Activation::LeakyRelu, xs),
            Activation::Tanh => apply(Activation::Tanh, xs),
            Activation::Sigmoid => apply(Activation::Sigmoid, xs),
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
