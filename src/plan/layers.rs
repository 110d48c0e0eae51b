//! A network's layers as the plan runs them: each layer that computes becomes a
//! stage (one kernel launch forward, its gradients backward), with the activation
//! after it applied in that kernel's epilogue; `forward` and `backward` emit a
//! network's ops over its stages. A new kind of layer is a new arm in `stages` and
//! the ops of its stage.

use super::{BufferId, Builder, NetworkBuffers, Op, Slot};
use crate::kernels::activation::Activation;
use crate::kernels::batch_norm::{self, BatchNormOp, BatchNormParams, BatchNormPass};
use crate::kernels::bias_grad::{BiasGradOp, BiasGradParams};
use crate::kernels::conv::{ConvGeometry, ConvOp, ConvParams, ConvPass};
use crate::kernels::matmul::{MatmulOp, MatmulParams, View};
use crate::model::{Convolution, Layer, Network, Shape};

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
    /// `nn.Conv2d` (`transposed` false) or `nn.ConvTranspose2d`, no bias: Y = act(conv(X, W)),
    /// its weight at this offset.
    Convolution {
        weight_offset: usize,
        conv: Convolution,
        transposed: bool,
    },
    /// `nn.BatchNorm2d`: Y = act(γ·x̂ + β), γ and β at these offsets of the parameters,
    /// its running estimates at `statistics_offset` of the network's statistics.
    BatchNorm {
        weight_offset: usize,
        bias_offset: usize,
        statistics_offset: usize,
    },
}

/// How a forward pass normalises by batch norm: by the batch it sees, updating the
/// running estimates (PyTorch's `train()`), or by those estimates (`eval()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Training,
    Evaluation,
}

/// What a stage's ops read and write besides its input and output: the network's
/// parameters and statistics, its gradients (when computed), the stage's scratch
/// (batch norm's per-channel values), and whether this pass adds its parameter
/// gradients to an earlier pass's (D's second half of a step).
#[derive(Clone, Copy)]
struct StageBuffers {
    params: BufferId,
    statistics: Option<BufferId>,
    scratch: Option<BufferId>,
    unused: Option<[BufferId; 2]>,
    mode: Mode,
    grads: Option<BufferId>,
    accumulate: bool,
}

impl StageBuffers {
    fn statistics(&self) -> BufferId {
        self.statistics.expect("a batch norm's network has a statistics buffer")
    }

    fn scratch(&self) -> BufferId {
        self.scratch.expect("a batch norm stage has scratch")
    }

    /// Two buffers of one value for a batch norm pass's writable bindings that it
    /// does not use: WebGPU refuses a buffer bound twice where either binding is
    /// writable, so none may share a buffer with another binding.
    fn unused(&self) -> [BufferId; 2] {
        self.unused.expect("a batch norm stage has unused-binding buffers")
    }
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
    /// A convolution's geometry over `rows` samples.
    fn geometry(&self, conv: Convolution, transposed: bool, rows: usize) -> ConvGeometry {
        let [big, small] = match transposed {
            false => [self.input, self.output],
            true => [self.output, self.input],
        };
        let sides = |s: Shape| [s.channels, s.height, s.width];
        ConvGeometry {
            batch: rows,
            big: sides(big),
            small: sides(small),
            kernel: conv.kernel,
            stride: conv.stride,
            padding: conv.padding,
        }
    }

    /// Batch norm's params over `x` (its input) into `out`, reading `dy`.
    fn batch_norm(&self, b: &StageBuffers, x: Slot, out: Slot, dy: Slot) -> BatchNormParams {
        let StageKind::BatchNorm {
            weight_offset,
            bias_offset,
            statistics_offset,
        } = self.kind
        else {
            unreachable!("a batch norm stage")
        };
        for slot in [x, out, dy] {
            assert_eq!(slot.view.row_stride, slot.view.cols, "batch norm on whole samples");
        }
        let u = |x: usize| x as u32;
        BatchNormParams {
            batch: u(x.view.rows),
            channels: u(self.input.channels),
            plane: u(self.input.height * self.input.width),
            x_offset: u(x.view.offset),
            out_offset: u(out.view.offset),
            weight_offset: u(weight_offset),
            bias_offset: u(bias_offset),
            batch_offset: 0,
            running_offset: u(statistics_offset),
            grad_weight_offset: u(weight_offset),
            grad_bias_offset: u(bias_offset),
            dy_offset: u(dy.view.offset),
            activation: self.activation as u32,
            training: u32::from(b.mode == Mode::Training),
            accumulate: u32::from(b.accumulate),
            write_grads: u32::from(b.grads.is_some()),
            momentum: batch_norm::MOMENTUM,
            eps: batch_norm::EPS,
            ..Default::default()
        }
    }

    /// Y = act(stage(X)), with the network's parameters and statistics in `b`.
    fn forward(&self, ops: &mut Vec<Op>, b: &StageBuffers, x: Slot, y: Slot) {
        let params = b.params;
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
            StageKind::Convolution {
                weight_offset,
                conv,
                transposed,
            } => {
                let g = self.geometry(conv, transposed, x.view.rows);
                let pass = if transposed { ConvPass::Raise } else { ConvPass::Lower };
                ops.push(Op::Conv(ConvOp {
                    params: ConvParams::new(pass, &g, x.view.offset, weight_offset, y.view.offset).with_epilogue(
                        self.activation,
                        Activation::Identity,
                        0,
                    ),
                    a: x.buffer,
                    b: params,
                    gate: params,
                    c: y.buffer,
                }));
            }
            StageKind::BatchNorm { .. } => {
                let p = self.batch_norm(b, x, y, x);
                let (statistics, scratch, [spare, other]) = (b.statistics(), b.scratch(), b.unused());
                // Unused slots: a read one on `x`, writable ones on buffers of their own.
                let op = |pass, out: BufferId, grads: BufferId| {
                    Op::BatchNorm(BatchNormOp {
                        pass,
                        params: p,
                        x: x.buffer,
                        weights: params,
                        dy: x.buffer,
                        batch: scratch,
                        running: statistics,
                        out,
                        grads,
                    })
                };
                if b.mode == Mode::Training {
                    ops.push(op(BatchNormPass::Statistics, spare, other));
                }
                ops.push(op(BatchNormPass::Normalize, y.buffer, spare));
            }
        }
    }

    /// From `dy`, the gradient at this stage's pre-activation (its input was `x`): its
    /// parameters' gradients into `grads` (when given), then its input gradient into
    /// `into` (when given).
    fn backward(&self, ops: &mut Vec<Op>, b: &StageBuffers, dy: Slot, x: Slot, into: Option<GradientTarget>) {
        let (params, grads) = (b.params, b.grads);
        match self.kind {
            StageKind::Linear {
                weight_offset,
                bias_offset,
            } => {
                let rows = dy.view.rows;
                let weight = View::new(weight_offset, self.output.len(), self.input.len());
                assert!(
                    !b.accumulate,
                    "a linear layer's gradients are computed in one pass a step"
                );
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
            StageKind::Convolution {
                weight_offset,
                conv,
                transposed,
            } => {
                let g = self.geometry(conv, transposed, dy.view.rows);
                // The small image and the big one: dy and x, or x and dy.
                let ((small, big), input_pass) = match transposed {
                    false => ((dy, x), ConvPass::Raise),
                    true => ((x, dy), ConvPass::Lower),
                };
                if let Some(dw) = grads {
                    let mut params =
                        ConvParams::new(ConvPass::Weight, &g, small.view.offset, big.view.offset, weight_offset);
                    params.accumulate = u32::from(b.accumulate);
                    ops.push(Op::Conv(ConvOp {
                        params,
                        a: small.buffer,
                        b: big.buffer,
                        gate: small.buffer,
                        c: dw,
                    }));
                }
                if let Some(t) = into {
                    assert_eq!(t.first_column, 0, "a convolution's input is one image");
                    let p = ConvParams::new(input_pass, &g, dy.view.offset, weight_offset, t.dx.view.offset)
                        .with_epilogue(Activation::Identity, t.activation, t.gate.view.offset);
                    ops.push(Op::Conv(ConvOp {
                        params: p,
                        a: dy.buffer,
                        b: params,
                        gate: t.gate.buffer,
                        c: t.dx.buffer,
                    }));
                }
            }
            StageKind::BatchNorm { .. } => {
                let (scratch, [spare, other]) = (b.scratch(), b.unused());
                // γ's and β's gradients (or, when not asked for, the sums alone).
                let reduce = self.batch_norm(b, x, x, dy);
                ops.push(Op::BatchNorm(BatchNormOp {
                    pass: BatchNormPass::ReduceGradient,
                    params: reduce,
                    x: x.buffer,
                    weights: params,
                    dy: dy.buffer,
                    batch: scratch,
                    running: b.statistics(),
                    out: spare,
                    grads: grads.unwrap_or(other),
                }));
                if let Some(t) = into {
                    assert!(
                        t.first_column == 0 && t.activation == Activation::Identity,
                        "batch norm follows a layer without an activation of its own"
                    );
                    let p = self.batch_norm(b, x, t.dx, dy);
                    ops.push(Op::BatchNorm(BatchNormOp {
                        pass: BatchNormPass::InputGradient,
                        params: p,
                        x: x.buffer,
                        weights: params,
                        dy: dy.buffer,
                        batch: scratch,
                        running: b.statistics(),
                        out: t.dx.buffer,
                        grads: spare,
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
            Layer::Conv2d(conv) | Layer::ConvTranspose2d(conv) => stages.push(Stage {
                kind: StageKind::Convolution {
                    weight_offset: placed.offset,
                    conv,
                    transposed: matches!(placed.layer, Layer::ConvTranspose2d(_)),
                },
                input: placed.input,
                output: placed.output,
                activation: Activation::Identity,
            }),
            Layer::BatchNorm2d { channels } => stages.push(Stage {
                kind: StageKind::BatchNorm {
                    weight_offset: placed.offset,
                    bias_offset: placed.offset + channels,
                    statistics_offset: placed.statistics_offset,
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
#[derive(Clone)]
pub(super) struct Layers<'a> {
    pub net: &'a Network,
    pub stages: Vec<Stage>,
    pub params: BufferId,
    pub hidden: Vec<BufferId>,
    /// The network's running statistics, where it has batch norm, and how the pass
    /// normalises (`Mode::Training` unless `reading_statistics` says).
    pub statistics: Option<BufferId>,
    pub mode: Mode,
    /// Each batch norm stage's scratch ([mean, inv_std, Σdy, Σdy·x̂] by channel).
    pub scratch: Vec<Option<BufferId>>,
    /// Where the net has batch norm: what its passes bind where they write nothing
    /// (`StageBuffers::unused`).
    pub unused: Option<[BufferId; 2]>,
}

impl Layers<'_> {
    /// `net`'s stages over `rows` rows with `params`, their outputs but the last in
    /// buffers of their own (`{name}.activation.{i}`).
    pub fn new<'a>(b: &mut Builder, name: &str, net: &'a Network, params: BufferId, rows: usize) -> Layers<'a> {
        let stages = stages(net);
        let hidden = (stages[..stages.len() - 1].iter().enumerate())
            .map(|(i, s)| b.add(&format!("{name}.activation.{i}"), rows * s.output.len()))
            .collect();
        let scratch = (stages.iter().enumerate())
            .map(|(i, s)| match s.kind {
                StageKind::BatchNorm { .. } => Some(b.add(&format!("{name}.batch_norm.{i}"), 4 * s.input.channels)),
                _ => None,
            })
            .collect::<Vec<_>>();
        let unused = (scratch.iter().any(Option::is_some))
            .then(|| [0, 1].map(|j| b.add(&format!("{name}.batch_norm.unused.{j}"), 1)));
        Layers {
            net,
            stages,
            params,
            hidden,
            statistics: None,
            mode: Mode::Training,
            scratch,
            unused,
        }
    }

    /// The same, its batch norms reading (and in training, updating) `statistics`.
    pub fn reading_statistics(self, statistics: BufferId, mode: Mode) -> Self {
        Layers {
            statistics: Some(statistics),
            mode,
            ..self
        }
    }

    /// The same passes over the same buffers, their batch norms normalising by batch
    /// as in training but keeping their running estimates in `elsewhere`: for looking
    /// at a network mid-step without moving its statistics (the half steps' views).
    pub fn keeping_statistics_in(&self, elsewhere: BufferId) -> Self {
        self.clone().reading_statistics(elsewhere, Mode::Training)
    }

    fn stage_buffers(&self, i: usize, grads: Option<BufferId>, accumulate: bool) -> StageBuffers {
        StageBuffers {
            params: self.params,
            statistics: self.statistics,
            scratch: self.scratch[i],
            unused: self.unused,
            mode: self.mode,
            grads,
            accumulate,
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
    /// Whether the parameter gradients add to an earlier pass's of this step.
    pub accumulate: bool,
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
        stage.forward(ops, &net.stage_buffers(i, None, false), x, y);
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
        stage.backward(ops, &layers.stage_buffers(i, grads, pass.accumulate), dy, x, into);
    }
}
