//! A network's layers as the plan runs them: each layer that computes becomes a
//! stage (one kernel launch forward, its gradients backward), with the activation
//! after it applied in that kernel's epilogue; `forward` and `backward` emit a
//! network's ops over its stages. A new kind of layer is a new arm in `stages` and
//! the ops of its stage.

use super::{BufferId, Builder, NetworkBuffers, Op, Slot};
use crate::kernels::activation::Activation;
use crate::kernels::bias_grad::{BiasGradOp, BiasGradParams};
use crate::kernels::matmul::{MatmulOp, MatmulParams, View};
use crate::model::{Layer, Network};

/// A linear layer as one kernel launch forward: Y = act(X·Wᵀ + b), its activation
/// the layer after it (fused into the product's epilogue).
#[derive(Clone, Debug)]
pub(super) struct Stage {
    pub inputs: usize,
    pub outputs: usize,
    /// Offset of the [outputs, inputs] row-major weight, as PyTorch stores it.
    pub weight_offset: usize,
    pub bias_offset: usize,
    pub activation: Activation,
}

/// The stages of `net`, input to output. An activation goes into the epilogue of the
/// layer before it; a sigmoid that ends a network goes into its loss (BCE on
/// logits), so the network is run up to its logits; a label beside the input is
/// written by whatever feeds the network, and computes nothing.
pub(super) fn stages(net: &Network) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for (i, placed) in net.layers.iter().enumerate() {
        let last = i + 1 == net.layers.len();
        match placed.layer {
            Layer::Linear { inputs, outputs } => stages.push(Stage {
                inputs,
                outputs,
                weight_offset: placed.offset,
                bias_offset: placed.offset + inputs * outputs,
                activation: Activation::Identity,
            }),
            Layer::Activation(Activation::Sigmoid) if last => {}
            Layer::Activation(activation) => {
                let stage = stages.last_mut().filter(|s| s.activation == Activation::Identity);
                let stage = stage.unwrap_or_else(|| panic!("{:?} follows no layer that can apply it", placed.layer));
                stage.activation = activation;
            }
            Layer::Labels { .. } => {}
        }
    }
    stages
}

/// What a network's forward pass runs on: its layers, its parameters, and the output
/// buffer of each layer but the last (which writes where its caller says).
pub(super) struct Layers<'a> {
    pub net: &'a Network,
    pub stages: Vec<Stage>,
    pub params: BufferId,
    pub hidden: Vec<BufferId>,
}

impl Layers<'_> {
    /// `net`'s stages over `rows` rows with `params`, their outputs but the last in
    /// buffers of their own (`{name}.activation.{i}`).
    pub fn new<'a>(b: &mut Builder, name: &str, net: &'a Network, params: BufferId, rows: usize) -> Layers<'a> {
        let stages = stages(net);
        let hidden = (stages[..stages.len() - 1].iter().enumerate())
            .map(|(i, s)| b.add(&format!("{name}.activation.{i}"), rows * s.outputs))
            .collect();
        Layers {
            net,
            stages,
            params,
            hidden,
        }
    }

    fn weight(&self, stage: usize) -> View {
        let s = &self.stages[stage];
        View::new(s.weight_offset, s.outputs, s.inputs)
    }

    pub fn last_activation(&self) -> Activation {
        self.stages[self.stages.len() - 1].activation
    }
}

/// A network as the training step runs it: its forward pass, its parameter-gradient
/// and Adam buffers, and the gradient at each layer's pre-activation (the last one's
/// is where the loss, or the network above, puts it).
pub(super) struct PlanNetwork<'a> {
    pub layers: Layers<'a>,
    pub buffers: NetworkBuffers,
    pub gradients: Vec<BufferId>,
}

impl PlanNetwork<'_> {
    pub fn output_gradient(&self) -> BufferId {
        self.gradients[self.gradients.len() - 1]
    }
}

/// Whether a backward pass computes the network's weight and bias gradients: not
/// when it only carries the gradient through (D in G's update).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum WeightGradients {
    Compute,
    Skip,
}

/// Where the gradient with respect to a network's input goes, and which activation
/// (whose output is `gate`) it passes back through.
pub(super) struct InputGradient {
    /// The input's columns whose gradient is wanted start here (a part of an
    /// assembled input; `gate` is as wide as the part).
    pub first_column: usize,
    pub gate: Slot,
    pub activation: Activation,
    pub dx: BufferId,
}

/// One backward pass: from the gradient at the last layer's pre-activation down to
/// the first layer, which read `input`.
pub(super) struct Backward {
    pub input: Slot,
    pub weights: WeightGradients,
    pub input_gradient: Option<InputGradient>,
}

/// Every layer's forward pass: hidden layers write `net.hidden`, the last `output`.
pub(super) fn forward(ops: &mut Vec<Op>, net: &Layers, input: Slot, output: Slot) {
    let rows = input.view.rows;
    let last = net.stages.len() - 1;
    for (i, layer) in net.stages.iter().enumerate() {
        let x = match i {
            0 => input,
            _ => Slot::whole(net.hidden[i - 1], rows, layer.inputs),
        };
        let y = match i == last {
            true => output,
            false => Slot::whole(net.hidden[i], rows, layer.outputs),
        };
        let params = net.params;
        ops.push(Op::Matmul(MatmulOp {
            params: MatmulParams::linear_forward(x.view, net.weight(i), layer.bias_offset, y.view, layer.activation),
            a: x.buffer,
            b: params,
            bias: params,
            gate: params,
            c: y.buffer,
        }));
    }
}

/// Back through every layer, from `net.gradients[last]`: each layer's weight and bias
/// gradients into `net.buffers.grads` (when asked), the gradient at each earlier
/// layer's pre-activation into `net.gradients`, and the input gradient when asked.
pub(super) fn backward(ops: &mut Vec<Op>, net: &PlanNetwork, pass: Backward) {
    let rows = pass.input.view.rows;
    let layers = &net.layers;
    for (i, layer) in layers.stages.iter().enumerate().rev() {
        let dy = Slot::whole(net.gradients[i], rows, layer.outputs);
        let x = match i {
            0 => pass.input,
            _ => Slot::whole(layers.hidden[i - 1], rows, layer.inputs),
        };
        if pass.weights == WeightGradients::Compute {
            let dw = net.buffers.grads;
            ops.push(Op::Matmul(MatmulOp {
                params: MatmulParams::weight_gradient(dy.view, x.view, layers.weight(i)),
                a: dy.buffer,
                b: x.buffer,
                bias: dy.buffer,
                gate: dy.buffer,
                c: dw,
            }));
            ops.push(Op::BiasGrad(BiasGradOp {
                params: BiasGradParams {
                    rows: rows as u32,
                    cols: layer.outputs as u32,
                    input_offset: 0,
                    output_offset: layer.bias_offset as u32,
                },
                dy: dy.buffer,
                db: dw,
            }));
        }
        // Into the layer below, or into the columns of the input that were asked for
        // (through the weights that meet them).
        let (weight, gate, activation, dx) = match (i, &pass.input_gradient) {
            (0, None) => continue,
            (0, Some(ig)) => {
                let columns = ig.gate.view.cols;
                let weight = layers.weight(0).column_block(ig.first_column, columns);
                (weight, ig.gate, ig.activation, Slot::whole(ig.dx, rows, columns))
            }
            _ => (
                layers.weight(i),
                x,
                layers.stages[i - 1].activation,
                Slot::whole(net.gradients[i - 1], rows, layer.inputs),
            ),
        };
        ops.push(Op::Matmul(MatmulOp {
            params: MatmulParams::input_gradient(dy.view, weight, gate.view, activation, dx.view),
            a: dy.buffer,
            b: layers.params,
            bias: dy.buffer,
            gate: gate.buffer,
            c: dx.buffer,
        }));
    }
}
