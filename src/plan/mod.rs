//! The training step as a list of kernel launches over named buffers.
//!
//! Both backends execute this same list: the GPU backend records one dispatch per
//! op, the CPU backend calls each kernel's CPU reference. So the two cannot drift
//! apart in the math, and a parameter mismatch between them points at a kernel.
//!
//! A plan is assembled from a few pieces that new models reuse: `forward` and
//! `backward` over a network's layers, a `Loss` op, the two updates of a GAN step
//! (`discriminator_update`, `generator_update`), and `Generation` (G on latents).
//! The step's two halves also run on their own, for stepping through (half_steps.rs).
//! `Plan` is the GAN's, optionally with a `Census` (census.rs) that reads G's samples
//! with the MNIST classifier; `ClassifierPlan` (classifier.rs) is the classifier's.
//! Trainers run any `Training`.

mod census;
mod classifier;
mod half_steps;
mod interpolation;
mod layers;
mod preview;
mod progress;

pub use census::{census_reads, every_digit, Census, CensusClassifier, CensusReadings, CENSUS_ROWS};
pub use classifier::ClassifierPlan;
pub use half_steps::{Half, HalfStep, HalfStepReadout, HalfSteps};
pub use interpolation::INTERPOLATION_ROWS;
pub use preview::{Preview, PreviewReadout, PREVIEW_COLUMNS, PREVIEW_ROWS};
pub use progress::Progress;

use layers::{backward, forward, Backward, InputGradient, Layers, Mode, PlanNetwork, WeightGradients};
use preview::{PreviewNetworks, Previews};

use crate::error::Result;
use crate::kernels::adam::{AdamOp, AdamParams};
use crate::kernels::bce::{BceOp, BceParams, StatSlot};
use crate::kernels::cross_entropy::{CrossEntropyOp, CrossEntropyParams};
use crate::kernels::gather::{GatherOp, GatherParams, Items};
use crate::kernels::labels::{LabelsOp, LabelsParams};
use crate::kernels::matmul::View;
use crate::kernels::noise::{NoiseOp, NoiseParams};
use crate::kernels::step_counter::AdvanceStepOp;
use crate::kernels::{BufferId, Op};
use crate::model::{Network, StatePart, TrainConfig, CLASSES};
use crate::rng::Stream;

/// Values for a buffer: loaded once (a constant), or written on request.
pub type BufferContents = (BufferId, Vec<f32>);

#[derive(Clone, Debug)]
pub struct BufferSpec {
    pub name: String,
    pub len: usize,
}

/// A network's parameters, their gradient and Adam state, one flat buffer each.
#[derive(Clone, Copy, Debug)]
pub struct NetworkBuffers {
    pub params: BufferId,
    pub grads: BufferId,
    pub exp_avg: BufferId,
    pub exp_avg_sq: BufferId,
    /// Batch norm's running estimates (empty for networks without one).
    pub statistics: BufferId,
}

impl NetworkBuffers {
    /// The buffer that holds `part` of the network's state.
    /// What a pass outside training reads of the network.
    pub fn weights(&self) -> Weights {
        Weights {
            params: self.params,
            statistics: self.statistics,
        }
    }

    pub fn part(&self, part: StatePart) -> BufferId {
        match part {
            StatePart::Parameters => self.params,
            StatePart::FirstMoment => self.exp_avg,
            StatePart::SecondMoment => self.exp_avg_sq,
            StatePart::Statistics => self.statistics,
        }
    }
}

/// A trained network's weights as passes outside training read them: its parameters,
/// and its running statistics, by which its batch norms normalise (PyTorch's `eval()`).
#[derive(Clone, Copy, Debug)]
pub struct Weights {
    pub params: BufferId,
    pub statistics: BufferId,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub config: TrainConfig,
    pub generator: Network,
    pub discriminator: Network,
    pub buffers: Vec<BufferSpec>,
    /// One full training step: discriminator update, then generator update.
    pub step: Vec<Op>,
    /// G on the fixed preview latents, and D on those images and on the last
    /// step's real ones, into the buffers of `preview_readout`.
    pub preview: Vec<Op>,
    pub generator_buffers: NetworkBuffers,
    pub discriminator_buffers: NetworkBuffers,
    pub preview_readout: PreviewReadout,
    pub preview_rows: usize,
    /// The conditional preview's class for each row, loaded once.
    pub preview_classes: Option<BufferContents>,
    /// The conditional GAN's preview of one digit, which each row of
    /// `chosen_digit` (written on request) names; empty otherwise.
    pub digit_preview: Vec<Op>,
    pub chosen_digit: Option<BufferId>,
    /// G on in-betweens of two preview cells (`interpolation_input`), on request.
    pub interpolation: WrittenGeneration,
    /// G on the grid's latents walked along great circles (`walk_input`), on request.
    pub walk: WrittenGeneration,
    /// The step's D and G updates one at a time, on request.
    pub half_steps: HalfSteps,
    pub steps_per_epoch: u32,
    pub pixels: usize,
    /// Added by `with_census`.
    pub census: Option<Census>,
}

/// G's forward on inputs written on request into `input` (the in-betweens' or the
/// walk's), its images into `images`.
#[derive(Clone, Debug)]
pub struct WrittenGeneration {
    pub input: BufferId,
    pub images: BufferId,
    pub ops: Vec<Op>,
}

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
        let batch = config.batch;
        let (generator, discriminator) = (config.generator(pixels), config.discriminator(pixels));
        let g = b.network(&generator, batch);
        // D sees the real and the generated batch in one pass: 2·batch rows.
        let d = b.network(&discriminator, 2 * batch);
        // Each network's input is one matrix assembled from parts, each a block of its
        // columns written in place by what makes it: today G's input is all latent
        // vectors and D's all image, and the next models add a label beside either.
        let g_input = Slot::whole(
            b.add("generator.input", batch * generator.inputs()),
            batch,
            generator.inputs(),
        );
        // D's input holds the real rows, then G's, so one pass of D sees both halves.
        let d_input = Slot::whole(
            b.add("discriminator.input", 2 * batch * discriminator.inputs()),
            2 * batch,
            discriminator.inputs(),
        );
        let (real_rows, fake_rows) = (d_input.row_block(0, batch), d_input.row_block(batch, batch));
        let fake_images = fake_rows.column_block(0, pixels);
        let logits = b.add("discriminator.logits", 2 * batch);

        let steps_per_epoch = (image_count / batch) as u32;
        let setup = step_setup(config, &g.layers, g_input, &discriminator, d_input, steps_per_epoch);
        let mut step = setup.clone();
        discriminator_update(&mut step, &d, d_input, logits, config);
        generator_update(&mut step, &g, &d, g_input, fake_rows, fake_images, logits, config);
        step.push(Op::AdvanceStep(AdvanceStepOp));
        let parts = half_steps::StepParts {
            g: &g,
            d: &d,
            g_input,
            d_input,
            logits,
            setup: &setup,
            steps_per_epoch,
        };
        let half_steps = HalfSteps::new(&mut b, parts, config, pixels);

        let previews = Previews::new(
            &mut b,
            config,
            PreviewNetworks {
                generator: &generator,
                generator_weights: g.buffers.weights(),
                discriminator: &discriminator,
                discriminator_weights: d.buffers.weights(),
                real_rows,
            },
        );
        let preview_rows = previews.rows;
        let mut written = |name: &str, rows: usize| {
            let generation = Generation::new(&mut b, name, &generator, g.buffers.weights(), rows);
            WrittenGeneration {
                input: generation.input.buffer,
                images: generation.images,
                ops: generation.ops,
            }
        };
        let interpolation = written("interpolation", INTERPOLATION_ROWS);
        let walk = written("walk", preview_rows);
        let (generator_buffers, discriminator_buffers) = (g.buffers, d.buffers);
        Plan {
            config: config.clone(),
            generator,
            discriminator,
            buffers: b.buffers,
            step,
            preview: previews.preview,
            generator_buffers,
            discriminator_buffers,
            preview_readout: previews.readout,
            preview_rows,
            preview_classes: previews.classes,
            digit_preview: previews.digit_preview,
            chosen_digit: previews.chosen_digit,
            interpolation,
            walk,
            half_steps,
            steps_per_epoch,
            pixels,
            census: None,
        }
    }

    /// The request that previews `digit` (the whole grid as that digit; a conditional
    /// plan only) or the usual grid, and what to write first: the chosen digit's
    /// table. A digit outside 0-9, or any for an unconditional plan, is refused.
    pub fn preview_of(&self, digit: Option<u8>) -> Result<(Request, Option<BufferContents>)> {
        match (digit, self.chosen_digit) {
            (None, _) => Ok((Request::Preview, None)),
            (Some(d), Some(table)) if usize::from(d) < CLASSES => Ok((
                Request::DigitPreview,
                Some((table, vec![f32::from(d); self.preview_rows])),
            )),
            (Some(d), Some(_)) => Err(crate::Error::new(format!("the digit {d} is not one of 0 to 9"))),
            (Some(_), None) => Err(crate::Error::new(
                "this generator is not conditional: it draws no chosen digit",
            )),
        }
    }

    /// The preview grid's columns: a row per digit when conditional, else square.
    pub fn preview_columns(&self) -> Option<usize> {
        self.generator.label_columns().map(|_| PREVIEW_COLUMNS)
    }

    pub fn buffer_len(&self, id: BufferId) -> usize {
        self.buffers[id.0].len
    }

    /// What one preview costs, in training steps: the ratio of their matrix-product
    /// work, which is nearly all of both. The page spaces previews out by it.
    pub fn preview_cost(&self) -> f64 {
        matmul_flops(&self.preview) / matmul_flops(&self.step)
    }

    /// G's forward on inputs written first: the in-betweens' (`Request::Interpolation`)
    /// or the walk's (`Request::Walk`).
    pub fn written_generation(&self, request: Request) -> Option<&WrittenGeneration> {
        match request {
            Request::Interpolation => Some(&self.interpolation),
            Request::Walk => Some(&self.walk),
            _ => None,
        }
    }
}

/// Op lists a trainer runs on request between steps: the GAN's preview (and its
/// one-digit form for the conditional GAN), census, in-betweens and walk, each into buffers
/// of its own that are then read back; and the step's halves, which train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Preview,
    DigitPreview,
    Census,
    Interpolation,
    Walk,
    DiscriminatorHalf,
    GeneratorHalf,
    /// Ends a step without its G half.
    FinishStep,
}

impl Request {
    pub const ALL: [Request; 8] = [
        Request::Preview,
        Request::DigitPreview,
        Request::Census,
        Request::Interpolation,
        Request::Walk,
        Request::DiscriminatorHalf,
        Request::GeneratorHalf,
        Request::FinishStep,
    ];

    /// Whether its ops end the step (advance the step counter).
    pub fn ends_step(self) -> bool {
        matches!(self, Request::GeneratorHalf | Request::FinishStep)
    }

    /// What runs `half`, given whether D's half of the current step is done: a second
    /// D step in a row first ends the step, so each D step sees a new batch.
    pub fn for_half(half: Half, discriminator_done: bool) -> &'static [Request] {
        match (half, discriminator_done) {
            (Half::Discriminator, false) => &[Request::DiscriminatorHalf],
            (Half::Discriminator, true) => &[Request::FinishStep, Request::DiscriminatorHalf],
            (Half::Generator, _) => &[Request::GeneratorHalf],
        }
    }

    /// As a GPU pass is labelled.
    pub fn name(self) -> &'static str {
        match self {
            Request::Preview => "preview",
            Request::DigitPreview => "preview of one digit",
            Request::Census => "census",
            Request::Interpolation => "interpolation",
            Request::Walk => "latent walk",
            Request::DiscriminatorHalf => "D step",
            Request::GeneratorHalf => "G step",
            Request::FinishStep => "end of a step without its G step",
        }
    }
}

/// What a trainer runs, whatever the model: the buffers, the ops of one training
/// step, the epoch's length and its shuffle's seed, and the networks the step trains
/// (their parameters and Adam state, loaded and read back in this order).
pub trait Training {
    fn buffers(&self) -> &[BufferSpec];
    fn step(&self) -> &[Op];
    /// The ops of `request`, run between steps when asked for; empty where the
    /// model has none (the classifier has none at all).
    fn requested(&self, request: Request) -> &[Op] {
        let _ = request;
        &[]
    }
    /// Buffers whose contents stay fixed for the whole run (the census's classifier),
    /// loaded once with the trained networks.
    fn constants(&self) -> Vec<(BufferId, &[f32])> {
        Vec::new()
    }
    fn steps_per_epoch(&self) -> u32;
    fn shuffle_seed(&self) -> u64;
    fn trained(&self) -> Vec<NetworkBuffers>;
}

impl Training for Plan {
    fn buffers(&self) -> &[BufferSpec] {
        &self.buffers
    }

    fn step(&self) -> &[Op] {
        &self.step
    }

    fn requested(&self, request: Request) -> &[Op] {
        match request {
            Request::Preview => &self.preview,
            Request::DigitPreview => &self.digit_preview,
            Request::Census => self.census.as_ref().map_or(&[], |c| &c.ops),
            Request::Interpolation => &self.interpolation.ops,
            Request::Walk => &self.walk.ops,
            Request::DiscriminatorHalf => &self.half_steps.discriminator,
            Request::GeneratorHalf => &self.half_steps.generator,
            Request::FinishStep => &self.half_steps.finish,
        }
    }

    fn constants(&self) -> Vec<(BufferId, &[f32])> {
        let census = self.census.iter().map(|c| (c.classifier_params, &c.weights[..]));
        let digits = self.census.iter().flat_map(|c| &c.digits).map(|(id, d)| (*id, &d[..]));
        let preview = self.preview_classes.iter().map(|(id, classes)| (*id, &classes[..]));
        census.chain(digits).chain(preview).collect()
    }

    fn steps_per_epoch(&self) -> u32 {
        self.steps_per_epoch
    }

    fn shuffle_seed(&self) -> u64 {
        self.config.seed
    }

    /// G, then D, as `TrainingState` holds them.
    fn trained(&self) -> Vec<NetworkBuffers> {
        vec![self.generator_buffers, self.discriminator_buffers]
    }
}

/// Everything a step runs before the updates: the batch into the real rows of D's
/// input (`d_input`: the real rows, then G's), G's latents (and the labels) into
/// `g_input`, and G(z), written straight into the image columns of D's fake rows.
fn step_setup(
    config: &TrainConfig,
    g: &Layers,
    g_input: Slot,
    d: &Network,
    d_input: Slot,
    steps_per_epoch: u32,
) -> Vec<Op> {
    let (generator, pixels) = (g.net, g.net.outputs());
    let batch = d_input.view.rows / 2;
    let (real_rows, fake_rows) = (d_input.row_block(0, batch), d_input.row_block(batch, batch));
    let mut setup = vec![
        Op::Gather(GatherOp {
            params: GatherParams::images(real_rows.view.column_block(0, pixels), steps_per_epoch),
            items: Items::Images,
            batch: d_input.buffer,
        }),
        Op::Noise(NoiseOp {
            params: NoiseParams::per_step(g_input.view.column_block(0, generator.input.len()), config.seed),
            z: g_input.buffer,
        }),
    ];
    // Real rows carry their own labels; G and the fake rows share labels drawn for
    // the step (two ops with one seed write the same classes).
    if let Some(real_labels) = label_block(d, real_rows) {
        setup.push(Op::Gather(GatherOp {
            params: GatherParams::one_hot_labels(real_labels.view, steps_per_epoch),
            items: Items::Labels,
            batch: d_input.buffer,
        }));
    }
    let drawn = [label_block(generator, g_input), label_block(d, fake_rows)];
    for slot in drawn.into_iter().flatten() {
        setup.push(Op::Labels(LabelsOp {
            params: LabelsParams::per_step(slot.view, config.seed),
            table: None,
            out: slot.buffer,
        }));
    }
    forward(&mut setup, g, g_input, fake_rows.column_block(0, pixels));
    setup
}

/// D's update, with G detached, then Adam. A D whose outputs do not depend on the
/// rest of their batch sees [real; fake] in one pass: BCE with targets [1; 0], whose
/// mean over both halves is (real loss + fake loss) / 2 (the original MLP GAN's). One
/// that normalises by its batch sees each half alone, as pytorch/examples' DCGAN
/// does: BCE(D(real), 1) and BCE(D(fake), 0), each a mean over its half, their sum
/// the loss, the fake half's gradients added to the real half's.
fn discriminator_update(ops: &mut Vec<Op>, d: &PlanNetwork, input: Slot, logits: BufferId, config: &TrainConfig) {
    let rows = input.view.rows;
    let halves = match d.layers.net.normalises_by_batch() {
        false => vec![(input, rows / 2)],
        true => vec![
            (input.row_block(0, rows / 2), rows / 2),
            (input.row_block(rows / 2, rows / 2), 0),
        ],
    };
    for (i, &(half, positives)) in halves.iter().enumerate() {
        let logits = Slot::new(logits, View::new(0, half.view.rows, 1));
        forward(ops, &d.layers, half, logits);
        let loss = Loss::Bce {
            positives,
            stats: StatSlot::DiscriminatorLoss,
            record_probabilities: true,
        };
        loss.push(ops, logits, d.output_gradient());
        let pass = Backward {
            input: half,
            weights: WeightGradients::Compute,
            input_gradient: None,
            accumulate: i > 0,
        };
        backward(ops, d, pass);
    }
    ops.push(adam(d, config.discriminator_lr, config));
}

/// G's update: BCE(D(G(z)), 1) through the just-updated D on the same G(z) (D's
/// input `fake_rows`, of which G wrote `fake_images`), back through D (its weights
/// untouched) into G's output, through G, then Adam.
#[allow(clippy::too_many_arguments)]
fn generator_update(
    ops: &mut Vec<Op>,
    g: &PlanNetwork,
    d: &PlanNetwork,
    g_input: Slot,
    fake_rows: Slot,
    fake_images: Slot,
    logits: BufferId,
    config: &TrainConfig,
) {
    let rows = fake_rows.view.rows;
    forward(ops, &d.layers, fake_rows, Slot::new(logits, View::new(0, rows, 1)));
    let loss = Loss::Bce {
        positives: rows,
        stats: StatSlot::GeneratorLoss,
        record_probabilities: false,
    };
    loss.push(ops, Slot::new(logits, View::new(0, rows, 1)), d.output_gradient());
    // Into G's last pre-activation, through its tanh (gated by G's output), from the
    // image columns of D's input.
    let to_g = InputGradient {
        first_column: 0,
        gate: fake_images,
        activation: g.layers.last_activation(),
        dx: g.output_gradient(),
    };
    backward(
        ops,
        d,
        Backward {
            input: fake_rows,
            weights: WeightGradients::Skip,
            input_gradient: Some(to_g),
            accumulate: false,
        },
    );
    backward(
        ops,
        g,
        Backward {
            input: g_input,
            weights: WeightGradients::Compute,
            input_gradient: None,
            accumulate: false,
        },
    );
    ops.push(adam(g, config.generator_lr, config));
}

/// The columns of `input` (rows that `net` takes) that hold its label, if it takes one.
fn label_block(net: &Network, input: Slot) -> Option<Slot> {
    let (first, classes) = net.label_columns()?;
    Some(input.column_block(first, classes))
}

/// The sampling stream's latents of the training seed into the latent columns of
/// `rows` (a network's input): the preview's and the census's, the same vectors as
/// `ganvas sample --seed` and `ganvas eval --seed` draw with that seed.
fn sample_latents(rows: Slot, config: &TrainConfig) -> Op {
    let latents = rows.view.column_block(0, config.latent);
    Op::Noise(NoiseOp {
        params: NoiseParams::fixed(latents, config.seed, Stream::Sample, 0),
        z: rows.buffer,
    })
}

fn matmul_flops(ops: &[Op]) -> f64 {
    ops.iter().map(Op::flops).sum()
}

/// A network alone, forward on `rows` inputs: G sampling from a checkpoint, the
/// classifier reading images.
#[derive(Clone, Debug)]
pub struct ForwardPlan {
    pub buffers: Vec<BufferSpec>,
    pub ops: Vec<Op>,
    pub params: BufferId,
    pub statistics: BufferId,
    pub input: BufferId,
    pub output: BufferId,
}

impl ForwardPlan {
    pub fn new(network: &Network, rows: usize) -> Self {
        let mut b = Builder::default();
        let name = network.kind.name();
        let weights = Weights {
            params: b.add(&format!("{name}.params"), network.parameter_count),
            statistics: b.add(&format!("{name}.statistics"), network.statistics_count),
        };
        let generation = Generation::new(&mut b, name, network, weights, rows);
        ForwardPlan {
            buffers: b.buffers,
            ops: generation.ops,
            params: weights.params,
            statistics: weights.statistics,
            input: generation.input.buffer,
            output: generation.images,
        }
    }
}

/// A network's forward pass on `rows` inputs, with the buffers it reads and writes:
/// the GAN's preview (G on latents) and `ForwardPlan` are this, and the training step
/// runs G the same way (`forward`).
struct Generation {
    /// G's input: the latent vectors (and whatever later models put beside them).
    input: Slot,
    images: BufferId,
    ops: Vec<Op>,
}

impl Generation {
    /// Into a buffer of its own, `{name}.images`.
    fn new(b: &mut Builder, name: &str, generator: &Network, weights: Weights, rows: usize) -> Generation {
        let images = b.add(&format!("{name}.images"), rows * generator.outputs());
        Generation::writing(
            b,
            name,
            generator,
            weights,
            Slot::whole(images, rows, generator.outputs()),
        )
    }

    /// Into `output` ([rows, images], perhaps a block of columns).
    fn writing(b: &mut Builder, name: &str, generator: &Network, weights: Weights, output: Slot) -> Generation {
        let rows = output.view.rows;
        let input = b.add(&format!("{name}.input"), rows * generator.inputs());
        let input = Slot::whole(input, rows, generator.inputs());
        let g = Layers::new(b, name, generator, weights.params, rows)
            .reading_statistics(weights.statistics, Mode::Evaluation);
        let mut ops = Vec::new();
        forward(&mut ops, &g, input, output);
        Generation {
            input,
            images: output.buffer,
            ops,
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

    /// A network's parameter and Adam buffers, and those of its passes over up to
    /// `rows` rows.
    fn network<'a>(&mut self, net: &'a Network, rows: usize) -> PlanNetwork<'a> {
        let name = net.kind.name();
        let n = net.parameter_count;
        let buffers = NetworkBuffers {
            params: self.add(&format!("{name}.params"), n),
            grads: self.add(&format!("{name}.grads"), n),
            exp_avg: self.add(&format!("{name}.exp_avg"), n),
            exp_avg_sq: self.add(&format!("{name}.exp_avg_sq"), n),
            statistics: self.add(&format!("{name}.statistics"), net.statistics_count),
        };
        let layers =
            Layers::new(self, name, net, buffers.params, rows).reading_statistics(buffers.statistics, Mode::Training);
        let gradients = (layers.stages.iter().enumerate())
            .map(|(i, l)| self.add(&format!("{name}.gradient.{i}"), rows * l.output.len()))
            .collect();
        PlanNetwork {
            layers,
            buffers,
            gradients,
        }
    }
}

/// A matrix in a buffer.
#[derive(Clone, Copy, Debug)]
struct Slot {
    buffer: BufferId,
    view: View,
}

impl Slot {
    fn new(buffer: BufferId, view: View) -> Slot {
        Slot { buffer, view }
    }

    /// The whole of a [rows, cols] buffer.
    fn whole(buffer: BufferId, rows: usize, cols: usize) -> Slot {
        Slot::new(buffer, View::new(0, rows, cols))
    }

    fn row_block(self, first: usize, count: usize) -> Slot {
        Slot::new(self.buffer, self.view.row_block(first, count))
    }

    fn column_block(self, first: usize, count: usize) -> Slot {
        Slot::new(self.buffer, self.view.column_block(first, count))
    }
}

/// A loss on logits, as an op of its own: its gradient goes to the pre-activation of
/// the network's last layer, its value to the stats.
enum Loss {
    /// BCE with the sigmoid fused in; rows [0, positives) have target 1, the rest 0.
    Bce {
        positives: usize,
        stats: StatSlot,
        /// Also add the mean D(x) and D(G(z)) of the two target groups to the stats.
        record_probabilities: bool,
    },
    /// Softmax cross-entropy against target distributions (one-hot labels); the loss
    /// goes to stats slot 0 and the accuracy to slot 1.
    CrossEntropy { targets: Slot },
}

impl Loss {
    /// The op for `logits` ([rows, classes], whole), its gradient into `grad`.
    fn push(&self, ops: &mut Vec<Op>, logits: Slot, grad: BufferId) {
        let rows = logits.view.rows;
        let logits_buffer = logits.buffer;
        match *self {
            Loss::CrossEntropy { targets } => ops.push(Op::CrossEntropy(CrossEntropyOp {
                params: CrossEntropyParams::new(logits.view, targets.view, 0, Some(1)),
                logits: logits_buffer,
                targets: targets.buffer,
                grad,
            })),
            Loss::Bce {
                positives,
                stats,
                record_probabilities,
            } => ops.push(Op::Bce(BceOp {
                params: BceParams {
                    n: rows as u32,
                    positives: positives as u32,
                    loss_slot: stats as u32,
                    record_probabilities: u32::from(record_probabilities),
                },
                logits: logits_buffer,
                grad,
            })),
        }
    }
}

fn adam(net: &PlanNetwork, lr: f32, config: &TrainConfig) -> Op {
    adam_with(net, lr, config.beta1, config.beta2, config.eps)
}

fn adam_with(net: &PlanNetwork, lr: f32, beta1: f64, beta2: f64, eps: f32) -> Op {
    let buffers = &net.buffers;
    Op::Adam(AdamOp {
        params: AdamParams::new(net.layers.net.parameter_count, lr, beta1, beta2, eps),
        param: buffers.params,
        grad: buffers.grads,
        exp_avg: buffers.exp_avg,
        exp_avg_sq: buffers.exp_avg_sq,
    })
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

    /// Multiply-adds per row at the defaults: G 100→256→512→1024→784, D 784→512→256→1,
    /// and a training step per row of its batch.
    fn products_per_row() -> (f64, f64, f64) {
        let g = 100.0 * 256.0 + 256.0 * 512.0 + 512.0 * 1024.0 + 1024.0 * 784.0;
        let d = 784.0 * 512.0 + 512.0 * 256.0 + 256.0;
        // G forward; D forward, weight and input gradients on real and fake rows (no
        // input gradient into the images); D forward and input gradients on fake rows
        // for G's update; G's weight and input gradients (none into the latents).
        let step = g + 2.0 * (d + d + (d - 784.0 * 512.0)) + d + d + g + (g - 100.0 * 256.0);
        (g, d, step)
    }

    #[test]
    fn preview_cost_counts_the_products_of_both_plans() {
        let (g, d, step) = products_per_row();
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        // G and D on the 64 samples, D on the batch's 64 reals (D's view).
        let want = (PREVIEW_ROWS as f64 * (g + d) + 64.0 * d) / (64.0 * step);
        assert!(
            (plan.preview_cost() - want).abs() < 1e-12,
            "{} vs {want}",
            plan.preview_cost()
        );
    }

    #[test]
    fn census_cost_counts_g_the_classifier_and_the_gram_matrix() {
        use crate::model::{Network, NetworkKind};
        let classifier = Network::from_widths(NetworkKind::Classifier, &[784, 512, 128, 10]);
        let weights = vec![0.0; classifier.parameter_count];
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        let plan = plan.with_census(&classifier, &weights, CENSUS_ROWS).unwrap();
        // Per sample: G's forward, the classifier's, the Gram row.
        let (g, _, step) = products_per_row();
        let c = 784.0 * 512.0 + 512.0 * 128.0 + 128.0 * 10.0 + 128.0 * 128.0;
        let want = CENSUS_ROWS as f64 * (g + c) / (64.0 * step);
        assert!(
            (plan.census_cost() - want).abs() < 1e-9,
            "{} vs {want}",
            plan.census_cost()
        );
        assert!((7.9..8.1).contains(&plan.census_cost()), "{}", plan.census_cost());
        // A census of other images, or of one sample, is refused.
        let other = Network::from_widths(NetworkKind::Classifier, &[100, 8, 10]);
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        assert!(plan
            .clone()
            .with_census(&other, &vec![0.0; other.parameter_count], 64)
            .is_err());
        assert!(plan.with_census(&classifier, &weights, 1).is_err());
    }

    /// A DCGAN wider than 64 on 32×32 MNIST: its widest layer, 2,048 rows of it, would
    /// not fit one GPU buffer, so its census reads as many samples as do.
    #[test]
    fn a_wide_generator_gets_a_smaller_census_not_none() {
        use crate::model::{Model, Network, NetworkKind, MAX_BUFFER_FLOATS};
        let classifier = Network::from_widths(NetworkKind::Classifier, &[784, 50, 20, 10]);
        let weights = vec![0.0; classifier.parameter_count];
        let census_rows = |width: usize| {
            let config = TrainConfig {
                model: Model::Dcgan {
                    image_size: 32,
                    channels: 1,
                    width,
                },
                ..TrainConfig::default()
            };
            let plan = Plan::training(&config, 32 * 32, 60_000).unwrap();
            plan.with_census(&classifier, &weights, CENSUS_ROWS)
                .unwrap()
                .census
                .unwrap()
                .rows
        };
        assert_eq!(census_rows(64), CENSUS_ROWS);
        // G's widest layer at width 96: 96 channels of 16×16.
        assert_eq!(census_rows(96), MAX_BUFFER_FLOATS / (96 * 16 * 16));
    }

    #[test]
    fn no_op_writes_a_buffer_it_reads() {
        use crate::model::{Network, NetworkKind};
        let classifier = Network::from_widths(NetworkKind::Classifier, &[784, 50, 20, 10]);
        let weights = vec![0.0; classifier.parameter_count];
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        let plan = plan.with_census(&classifier, &weights, 100).unwrap();
        for op in plan
            .step
            .iter()
            .chain(&plan.preview)
            .chain(plan.requested(Request::Census))
        {
            if let Some(out) = op.sole_output() {
                assert!(!op.reads().contains(&out), "{op:?}");
            }
        }
    }
}
