//! The training step as a list of kernel launches over named buffers.
//!
//! Both backends execute this same list: the GPU backend records one dispatch per
//! op, the CPU backend calls each kernel's CPU reference. So the two cannot drift
//! apart in the math, and a parameter mismatch between them points at a kernel.

use crate::activation::Activation;
use crate::error::Result;
use crate::kernels::adam::AdamParams;
use crate::kernels::bce::{BceParams, StatSlot};
use crate::kernels::bias_grad::BiasGradParams;
use crate::kernels::gather::GatherParams;
use crate::kernels::matmul::{MatmulParams, View};
use crate::kernels::noise::NoiseParams;
use crate::model::{Network, TrainConfig};
use crate::rng::Stream;

/// Index of an f32 buffer in `Plan::buffers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferId(pub usize);

#[derive(Clone, Debug)]
pub struct BufferSpec {
    pub name: String,
    pub len: usize,
}

/// One kernel launch. The training images, the epoch order, the step counter and the
/// stats are not in the buffer table: each backend keeps them in its own form.
#[derive(Clone, Debug)]
pub enum Op {
    Gather {
        params: GatherParams,
        batch: BufferId,
    },
    Noise {
        params: NoiseParams,
        z: BufferId,
    },
    /// `bias` and `gate` are only read when the params ask for them.
    Matmul {
        params: MatmulParams,
        a: BufferId,
        b: BufferId,
        bias: BufferId,
        gate: BufferId,
        c: BufferId,
    },
    BiasGrad {
        params: BiasGradParams,
        dy: BufferId,
        db: BufferId,
    },
    Bce {
        params: BceParams,
        logits: BufferId,
        grad: BufferId,
    },
    Adam {
        params: AdamParams,
        param: BufferId,
        grad: BufferId,
        exp_avg: BufferId,
        exp_avg_sq: BufferId,
    },
    AdvanceStep,
}

impl Op {
    /// The bytes of the op's uniform params, as its shader's `Params` struct.
    pub fn params_bytes(&self) -> Option<&[u8]> {
        match self {
            Op::Gather { params, .. } => Some(bytemuck::bytes_of(params)),
            Op::Noise { params, .. } => Some(bytemuck::bytes_of(params)),
            Op::Matmul { params, .. } => Some(bytemuck::bytes_of(params)),
            Op::BiasGrad { params, .. } => Some(bytemuck::bytes_of(params)),
            Op::Bce { params, .. } => Some(bytemuck::bytes_of(params)),
            Op::Adam { params, .. } => Some(bytemuck::bytes_of(params)),
            Op::AdvanceStep => None,
        }
    }
}

/// A network's parameters and Adam state, one flat buffer each.
#[derive(Clone, Copy, Debug)]
pub struct NetworkBuffers {
    pub params: BufferId,
    pub grads: BufferId,
    pub exp_avg: BufferId,
    pub exp_avg_sq: BufferId,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub config: TrainConfig,
    pub generator: Network,
    pub discriminator: Network,
    pub buffers: Vec<BufferSpec>,
    /// One full training step: discriminator update, then generator update.
    pub step: Vec<Op>,
    /// G on the fixed preview latents, into `preview_images`.
    pub preview: Vec<Op>,
    pub generator_buffers: NetworkBuffers,
    pub discriminator_buffers: NetworkBuffers,
    pub preview_images: BufferId,
    pub preview_rows: usize,
    pub steps_per_epoch: u32,
    pub pixels: usize,
}

/// Rows of the preview grid (8×8).
pub const PREVIEW_ROWS: usize = 64;

impl Plan {
    /// The training step for `config` on `image_count` images of `pixels` pixels. The
    /// config is validated here, so no plan exists for one that would divide by zero
    /// or overflow a buffer, whichever entry point it came through.
    pub fn training(config: &TrainConfig, pixels: usize, image_count: usize) -> Result<Plan> {
        config.validate_for(pixels, image_count)?;
        Ok(Self::build(config, pixels, image_count))
    }

    fn build(config: &TrainConfig, pixels: usize, image_count: usize) -> Plan {
        let mut b = Builder::default();
        let g = config.generator(pixels);
        let d = config.discriminator(pixels);
        let batch = config.batch;

        let generator_buffers = b.network(&g);
        let discriminator_buffers = b.network(&d);
        let z = b.add("latent", batch * config.latent);
        let g_acts = b.layer_buffers("generator.activation", &g, batch, 1);
        let g_grads = b.layer_buffers("generator.gradient", &g, batch, 1);
        // Real rows first, then G's output, so one pass of D sees both halves.
        let d_input = b.add("discriminator.input", 2 * batch * pixels);
        let d_acts = b.layer_buffers("discriminator.activation", &d, 2 * batch, 0);
        let d_grads = b.layer_buffers("discriminator.gradient", &d, 2 * batch, 0);
        let g_output_grad = b.add("generator.gradient.output", batch * pixels);

        let fake = View::new(batch * pixels, batch, pixels);
        let both = View::new(0, 2 * batch, pixels);
        let steps_per_epoch = (image_count / batch) as u32;
        let mut step = vec![
            Op::Gather {
                params: GatherParams {
                    batch: batch as u32,
                    pixels: pixels as u32,
                    steps_per_epoch,
                    _pad: 0,
                },
                batch: d_input,
            },
            Op::Noise {
                params: NoiseParams::per_step(batch * config.latent, config.seed),
                z,
            },
        ];
        // G(z), written straight into the fake half of D's input.
        let g_out = Slot {
            buffer: d_input,
            view: fake,
        };
        forward(
            &mut step,
            &g,
            generator_buffers.params,
            Slot::whole(z, batch, config.latent),
            &g_acts,
            g_out,
        );

        // Discriminator update: BCE on [real; fake] with targets [1; 0] and the mean over
        // both halves equals (real_loss + fake_loss) / 2. G is detached: nothing flows back to it.
        let d_in = Slot {
            buffer: d_input,
            view: both,
        };
        let logits = Slot::whole(d_acts[d.layers.len() - 1], 2 * batch, 1);
        forward(
            &mut step,
            &d,
            discriminator_buffers.params,
            d_in,
            &d_acts[..d_acts.len() - 1],
            logits,
        );
        step.push(Op::Bce {
            params: BceParams {
                n: 2 * batch as u32,
                positives: batch as u32,
                loss_slot: StatSlot::DiscriminatorLoss as u32,
                record_probabilities: 1,
            },
            logits: logits.buffer,
            grad: d_grads[d.layers.len() - 1],
        });
        backward(
            &mut step,
            &d,
            &discriminator_buffers,
            Some(discriminator_buffers.grads),
            d_in,
            &d_acts,
            &d_grads,
            None,
        );
        step.push(adam(&discriminator_buffers, &d, config.discriminator_lr, config));

        // Generator update: BCE(D(G(z)), 1) through the updated D, on the same G(z).
        let d_fake = Slot {
            buffer: d_input,
            view: fake,
        };
        let fake_logits = Slot::whole(logits.buffer, batch, 1);
        forward(
            &mut step,
            &d,
            discriminator_buffers.params,
            d_fake,
            &d_acts[..d_acts.len() - 1],
            fake_logits,
        );
        step.push(Op::Bce {
            params: BceParams {
                n: batch as u32,
                positives: batch as u32,
                loss_slot: StatSlot::GeneratorLoss as u32,
                record_probabilities: 0,
            },
            logits: fake_logits.buffer,
            grad: d_grads[d.layers.len() - 1],
        });
        // Back through D to its input, then through G's tanh (gated by G's output).
        let to_g = InputGradient {
            gate: d_fake,
            activation: g.layers[g.layers.len() - 1].activation,
            dx: g_output_grad,
        };
        backward(
            &mut step,
            &d,
            &discriminator_buffers,
            None,
            d_fake,
            &d_acts,
            &d_grads,
            Some(to_g),
        );
        let mut g_out_grads = g_grads.clone();
        g_out_grads.push(g_output_grad);
        let z_in = Slot::whole(z, batch, config.latent);
        backward(
            &mut step,
            &g,
            &generator_buffers,
            Some(generator_buffers.grads),
            z_in,
            &g_acts,
            &g_out_grads,
            None,
        );
        step.push(adam(&generator_buffers, &g, config.generator_lr, config));
        step.push(Op::AdvanceStep);

        let preview_rows = PREVIEW_ROWS;
        let preview_z = b.add("preview.latent", preview_rows * config.latent);
        let preview_acts = b.layer_buffers("preview.activation", &g, preview_rows, 1);
        let preview_images = b.add("preview.images", preview_rows * pixels);
        let mut preview = vec![Op::Noise {
            params: NoiseParams::fixed(preview_rows * config.latent, config.seed, Stream::Sample, 0),
            z: preview_z,
        }];
        let preview_in = Slot::whole(preview_z, preview_rows, config.latent);
        let preview_out = Slot::whole(preview_images, preview_rows, pixels);
        forward(
            &mut preview,
            &g,
            generator_buffers.params,
            preview_in,
            &preview_acts,
            preview_out,
        );

        Plan {
            config: config.clone(),
            generator: g,
            discriminator: d,
            buffers: b.buffers,
            step,
            preview,
            generator_buffers,
            discriminator_buffers,
            preview_images,
            preview_rows,
            steps_per_epoch,
            pixels,
        }
    }

    pub fn buffer_len(&self, id: BufferId) -> usize {
        self.buffers[id.0].len
    }

    /// What one preview costs, in training steps: the ratio of their matrix-product
    /// work, which is nearly all of both. The page spaces previews out by it.
    pub fn preview_cost(&self) -> f64 {
        matmul_flops(&self.preview) / matmul_flops(&self.step)
    }
}

fn matmul_flops(ops: &[Op]) -> f64 {
    ops.iter()
        .map(|op| match op {
            Op::Matmul { params, .. } => params.flops(),
            _ => 0.0,
        })
        .sum()
}

/// G alone on `rows` latent vectors, for sampling from a checkpoint.
#[derive(Clone, Debug)]
pub struct GenerationPlan {
    pub buffers: Vec<BufferSpec>,
    pub ops: Vec<Op>,
    pub params: BufferId,
    pub latent: BufferId,
    pub images: BufferId,
}

impl GenerationPlan {
    pub fn new(generator: &Network, rows: usize) -> Self {
        let mut b = Builder::default();
        let params = b.add("generator.params", generator.parameter_count);
        let latent = b.add("latent", rows * generator.inputs());
        let acts = b.layer_buffers("generator.activation", generator, rows, 1);
        let images = b.add("images", rows * generator.outputs());
        let mut ops = Vec::new();
        let input = Slot::whole(latent, rows, generator.inputs());
        forward(
            &mut ops,
            generator,
            params,
            input,
            &acts,
            Slot::whole(images, rows, generator.outputs()),
        );
        GenerationPlan {
            buffers: b.buffers,
            ops,
            params,
            latent,
            images,
        }
    }
}

#[derive(Default)]
struct Builder {
    buffers: Vec<BufferSpec>,
}

impl Builder {
    fn add(&mut self, name: &str, len: usize) -> BufferId {
        self.buffers.push(BufferSpec {
            name: name.to_string(),
            len,
        });
        BufferId(self.buffers.len() - 1)
    }

    fn network(&mut self, net: &Network) -> NetworkBuffers {
        let name = net.kind.name();
        let n = net.parameter_count;
        NetworkBuffers {
            params: self.add(&format!("{name}.params"), n),
            grads: self.add(&format!("{name}.grads"), n),
            exp_avg: self.add(&format!("{name}.exp_avg"), n),
            exp_avg_sq: self.add(&format!("{name}.exp_avg_sq"), n),
        }
    }

    /// One [rows, outputs] buffer per layer, leaving out the last `skip_last` layers.
    fn layer_buffers(&mut self, name: &str, net: &Network, rows: usize, skip_last: usize) -> Vec<BufferId> {
        let keep = net.layers.len() - skip_last;
        net.layers[..keep]
            .iter()
            .enumerate()
            .map(|(i, l)| self.add(&format!("{name}.{i}"), rows * l.outputs))
            .collect()
    }
}

/// A matrix in a buffer.
#[derive(Clone, Copy, Debug)]
struct Slot {
    buffer: BufferId,
    view: View,
}

impl Slot {
    fn whole(buffer: BufferId, rows: usize, cols: usize) -> Slot {
        Slot {
            buffer,
            view: View::new(0, rows, cols),
        }
    }
}

/// Where the gradient with respect to a network's input goes, and which activation
/// (whose output is `gate`) it passes back through.
struct InputGradient {
    gate: Slot,
    activation: Activation,
    dx: BufferId,
}

fn weight(net: &Network, layer: usize) -> View {
    let l = &net.layers[layer];
    View::new(l.weight_offset, l.outputs, l.inputs)
}

/// Every layer's forward pass; layer i < last writes `acts[i]`, the last writes `out`.
fn forward(ops: &mut Vec<Op>, net: &Network, params: BufferId, input: Slot, acts: &[BufferId], out: Slot) {
    let rows = input.view.rows;
    let last = net.layers.len() - 1;
    for (i, layer) in net.layers.iter().enumerate() {
        let x = if i == 0 {
            input
        } else {
            Slot::whole(acts[i - 1], rows, layer.inputs)
        };
        let y = if i == last {
            out
        } else {
            Slot::whole(acts[i], rows, layer.outputs)
        };
        ops.push(Op::Matmul {
            params: MatmulParams::linear_forward(x.view, weight(net, i), layer.bias_offset, y.view, layer.activation),
            a: x.buffer,
            b: params,
            bias: params,
            gate: params,
            c: y.buffer,
        });
    }
}

/// Back through every layer, from `grads[last]` (the gradient at the last layer's
/// pre-activation). Writes parameter gradients into `param_grads` when given, the
/// pre-activation gradient of each earlier layer into `grads[i]`, and the input
/// gradient when asked.
#[allow(clippy::too_many_arguments)]
fn backward(
    ops: &mut Vec<Op>,
    net: &Network,
    buffers: &NetworkBuffers,
    param_grads: Option<BufferId>,
    input: Slot,
    acts: &[BufferId],
    grads: &[BufferId],
    input_gradient: Option<InputGradient>,
) {
    let rows = input.view.rows;
    for (i, layer) in net.layers.iter().enumerate().rev() {
        let dy = Slot::whole(grads[i], rows, layer.outputs);
        let x = if i == 0 {
            input
        } else {
            Slot::whole(acts[i - 1], rows, layer.inputs)
        };
        if let Some(dw) = param_grads {
            ops.push(Op::Matmul {
                params: MatmulParams::weight_gradient(dy.view, x.view, weight(net, i)),
                a: dy.buffer,
                b: x.buffer,
                bias: dy.buffer,
                gate: dy.buffer,
                c: dw,
            });
            ops.push(Op::BiasGrad {
                params: BiasGradParams {
                    rows: rows as u32,
                    cols: layer.outputs as u32,
                    input_offset: 0,
                    output_offset: layer.bias_offset as u32,
                },
                dy: dy.buffer,
                db: dw,
            });
        }
        let (gate, activation, dx) = match (i, &input_gradient) {
            (0, None) => continue,
            (0, Some(ig)) => (ig.gate, ig.activation, Slot::whole(ig.dx, rows, layer.inputs)),
            _ => (
                x,
                net.layers[i - 1].activation,
                Slot::whole(grads[i - 1], rows, layer.inputs),
            ),
        };
        ops.push(Op::Matmul {
            params: MatmulParams::input_gradient(dy.view, weight(net, i), gate.view, activation, dx.view),
            a: dy.buffer,
            b: buffers.params,
            bias: dy.buffer,
            gate: gate.buffer,
            c: dx.buffer,
        });
    }
}

fn adam(buffers: &NetworkBuffers, net: &Network, lr: f32, config: &TrainConfig) -> Op {
    Op::Adam {
        params: AdamParams::new(net.parameter_count, lr, config.beta1, config.beta2, config.eps),
        param: buffers.params,
        grad: buffers.grads,
        exp_avg: buffers.exp_avg,
        exp_avg_sq: buffers.exp_avg_sq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_step_stays_within_the_dispatch_budget() {
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        assert!(plan.step.len() <= 40, "{} dispatches", plan.step.len());
        assert_eq!(plan.steps_per_epoch, 937);
    }

    #[test]
    fn preview_cost_counts_the_products_of_both_plans() {
        // Multiply-adds per row: G 100→256→512→1024→784, D 784→512→256→1.
        let g = 100.0 * 256.0 + 256.0 * 512.0 + 512.0 * 1024.0 + 1024.0 * 784.0;
        let d = 784.0 * 512.0 + 512.0 * 256.0 + 256.0;
        // Per row of the batch: G forward; D forward, weight and input gradients on
        // real and fake rows (no input gradient into the images); D forward and input
        // gradients on fake rows for G's update; G's weight and input gradients (none
        // into the latents).
        let step = g + 2.0 * (d + d + (d - 784.0 * 512.0)) + d + d + g + (g - 100.0 * 256.0);
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        let want = (PREVIEW_ROWS as f64 * g) / (64.0 * step);
        assert!(
            (plan.preview_cost() - want).abs() < 1e-12,
            "{} vs {want}",
            plan.preview_cost()
        );
    }

    #[test]
    fn no_op_writes_a_buffer_it_reads() {
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        for op in plan.step.iter().chain(&plan.preview) {
            if let Op::Matmul {
                a, b, bias, gate, c, ..
            } = op
            {
                assert!(![a, b, bias, gate].contains(&c), "{op:?}");
            }
        }
    }
}
