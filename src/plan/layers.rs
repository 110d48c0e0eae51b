//! A network's layers as the plan runs them: each layer that computes becomes a
//! stage (one kernel launch forward, its gradients backward), with the activation
//! after it applied in that kernel's epilogue; `forward` and `backward` emit a
//! network's ops over its stages. A new kind of layer is a new arm in `stages` and
//! the ops of its stage.

use super::{BufferId, Builder, NetworkBuffers, Op, Slot};
use crate::kernels::activation::Activation;
use crate::kernels::bias_grad::{BiasGradOp, BiasGradParams};
use crate::kernels::matmul::{MatmulOp, MatmulParams, View};
use crate::model::{Layer, Network, Shape};

/// A layer that computes, as the plan runs it: its ops forward and backward, with
/// the activation after it applied in its kernel's epilogue.
#[derive(Clone, Debug)]
pub(super) struct Stage {
    pub kind: StageKind,
    /// One sample of what it reads and of what it writes (a row of features, or an
    /// image's planes): its buffers hold a batch of them, N samples one after another.
    pub input: Shape,
    pub output: Shape,
    pub activation: Activation,
}

/// What a stage computes: each kind's ops are in `Stage::forward` and `Stage::backward`.
#[derive(Clone, Debug)]
pub(super) enum StageKind {
    /// `nn.Linear`: Y = act(X·Wᵀ + b), one product; its [outputs, inputs] row-major
    /// weight (as PyTorch stores it) and its bias at these offsets of the parameters.
    Linear { weight_offset: usize, bias_offset: usize },
}

/// Where a stage's input gradient goes: the gradient at the pre-activation of what
/// fed it (`dx`), through that activation (`activation`, whose output is `gate`);
/// `first_column` of the stage's input is the first that `dx` covers (a part of an
/// assembled input, as wide as `gate`).
struct GradientTarget {
    first_column: usize,
    gate: Slot,
    activation: Activation,
    dx: Slot,
}

impl Stage {
    /// Y = act(stage(X)), with the network's parameters `params`.
    fn forward(&self, ops: &mut Vec<Op>, params: BufferId, x: Slot, y: Slot) {
        match self.kind {
            StageKind::Linear {
                weight_offset,
                bias_offset,
            } => {
                let weight = View::new(weight_offset, self.output.len(), self.input.len());
                ops.push(Op::Matmul(MatmulOp {
                    params: MatmulParams::linear_forward(x.view, weight, bias_offset, y.view, self.activation),
                    a: x.buffer,
                    b: params,
                    bias: params,
                    gate: params,
                    c: y.buffer,
                }));
            }
        }
    }

    /// From `dy`, the gradient at this stage's pre-activation (its input was `x`): its
    /// parameters' gradients into `grads` (when given), then its input gradient into
    /// `into` (when given).
    fn backward(
        &self,
        ops: &mut Vec<Op>,
        params: BufferId,
        dy: Slot,
        x: Slot,
        grads: Option<BufferId>,
        into: Option<GradientTarget>,
    ) {
        match self.kind {
            StageKind::Linear {
                weight_offset,
                bias_offset,
            } => {
                let rows = dy.view.rows;
                let weight = View::new(weight_offset, self.output.len(), self.input.len());
                if let Some(dw) = grads {
                    ops.push(Op::Matmul(MatmulOp {
                        params: MatmulParams::weight_gradient(dy.view, x.view, weight),
                        a: dy.buffer,
                        b: x.buffer,
                        bias: dy.buffer,
                        gate: dy.buffer,
                        c: dw,
                    }));
                    ops.push(Op::BiasGrad(BiasGradOp {
                        params: BiasGradParams {
                            rows: rows as u32,
                            cols: self.output.len() as u32,
                            input_offset: 0,
                            output_offset: bias_offset as u32,
                        },
                        dy: dy.buffer,
                        db: dw,
                    }));
                }
                // Through the weights that meet the columns asked for.
                if let Some(t) = into {
                    let weight = weight.column_block(t.first_column, t.gate.view.cols);
                    ops.push(Op::Matmul(MatmulOp {
                        params: MatmulParams::input_gradient(dy.view, weight, t.gate.view, t.activation, t.dx.view),
                        a: dy.buffer,
                        b: params,
                        bias: dy.buffer,
                        gate: t.gate.buffer,
                        c: t.dx.buffer,
                    }));
                }
            }
        }
    }
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
                kind: StageKind::Linear {
                    weight_offset: placed.offset,
                    bias_offset: placed.offset + inputs * outputs,
                },
                input: placed.input,
                output: placed.output,
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
            .map(|(i, s)| b.add(&format!("{name}.activation.{i}"), rows * s.output.len()))
            .collect();
        Layers {
            net,
            stages,
            params,
            hidden,
        }
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
    for (i, stage) in net.stages.iter().enumerate() {
        let x = match i {
            0 => input,
            _ => Slot::whole(net.hidden[i - 1], rows, stage.input.len()),
        };
        let y = match i == last {
            true => output,
            false => Slot::whole(net.hidden[i], rows, stage.output.len()),
        };
        stage.forward(ops, net.params, x, y);
    }
}

/// Back through every layer, from `net.gradients[last]`: each layer's parameter
/// gradients into `net.buffers.grads` (when asked), the gradient at each earlier
/// layer's pre-activation into `net.gradients`, and the input gradient when asked.
pub(super) fn backward(ops: &mut Vec<Op>, net: &PlanNetwork, pass: Backward) {
    let rows = pass.input.view.rows;
    let layers = &net.layers;
    let grads = (pass.weights == WeightGradients::Compute).then_some(net.buffers.grads);
    for (i, stage) in layers.stages.iter().enumerate().rev() {
        let dy = Slot::whole(net.gradients[i], rows, stage.output.len());
        let x = match i {
            0 => pass.input,
            _ => Slot::whole(layers.hidden[i - 1], rows, stage.input.len()),
        };
        let into = match (i, &pass.input_gradient) {
            (0, None) => None,
            (0, Some(ig)) => Some(GradientTarget {
                first_column: ig.first_column,
                gate: ig.gate,
                activation: ig.activation,
                dx: Slot::whole(ig.dx, rows, ig.gate.view.cols),
            }),
            _ => Some(GradientTarget {
                first_column: 0,
                gate: x,
                activation: layers.stages[i - 1].activation,
                dx: Slot::whole(net.gradients[i - 1], rows, stage.input.len()),
            }),
        };
        stage.backward(ops, layers.params, dy, x, grads, into);
    }
}
