//! The training step's two halves on their own, for stepping through it as the
//! lecture does: the D step updates only D (G fixed) on the step's batch, the G step
//! only G (D fixed); each shows D's scores on the same real and generated images
//! before and after. They are the step's own ops: a D step then a G step is one
//! training step, to the bit, running statistics included. The views of D (and G's
//! images after) normalise each half by its batch, as training does, but keep their
//! running estimates in buffers of their own, so looking moves no statistics; and
//! the G step runs G on the step's batch again without moving G's, which the D step
//! of that step already did (a G step on its own leaves them where they were).

use super::preview::probabilities;
use super::{
    discriminator_update, forward, generator_update, label_block, step_setup, Builder, Op, PlanNetwork, Slot,
    PREVIEW_ROWS,
};
use crate::kernels::labels::{LabelsOp, LabelsParams};
use crate::kernels::matmul::View;
use crate::kernels::step_counter::AdvanceStepOp;
use crate::model::TrainConfig;
use crate::plan::BufferId;

/// Which network a step-through press updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    Discriminator,
    Generator,
}

impl Half {
    /// From its name in the page: `discriminator` or `generator`.
    pub fn from_name(name: &str) -> crate::Result<Half> {
        match name {
            "discriminator" => Ok(Half::Discriminator),
            "generator" => Ok(Half::Generator),
            _ => Err(crate::Error::new(
                "a half step is the discriminator's or the generator's",
            )),
        }
    }
}

/// The op lists of the two halves (each ending with D's scores after it) and of the
/// end of a step whose G half is skipped, as a second D step in a row does.
#[derive(Clone, Debug)]
pub struct HalfSteps {
    pub discriminator: Vec<Op>,
    pub generator: Vec<Op>,
    pub finish: Vec<Op>,
    pub readout: HalfStepReadout,
}

/// The step's parts the halves are built from: the networks, their inputs (D's holds
/// the batch's real rows, then G's), D's logits, and the ops that fill the inputs and
/// run G (`setup`).
pub(super) struct StepParts<'a, 'n> {
    pub g: &'a PlanNetwork<'n>,
    pub d: &'a PlanNetwork<'n>,
    pub g_input: Slot,
    pub d_input: Slot,
    pub logits: BufferId,
    pub setup: &'a [Op],
    pub steps_per_epoch: u32,
}

impl HalfSteps {
    pub(super) fn new(b: &mut Builder, parts: StepParts, config: &TrainConfig, pixels: usize) -> HalfSteps {
        let StepParts {
            g,
            d,
            g_input,
            d_input,
            logits,
            setup,
            steps_per_epoch,
        } = parts;
        let batch = config.batch;
        let (real_rows, fake_rows) = (d_input.row_block(0, batch), d_input.row_block(batch, batch));
        let fake_images = fake_rows.column_block(0, pixels);
        let [g_view, d_view] = [g, d].map(|n| {
            let name = format!("half_step.{}.statistics", n.layers.net.kind.name());
            n.layers
                .keeping_statistics_in(b.add(&name, n.layers.net.statistics_count))
        });

        // Before: D on the batch's real rows, then on its generated ones, as the half
        // will see them.
        let logits_before = Slot::whole(b.add("half_step.logits_before", 2 * batch), 2 * batch, 1);
        let mut views_before = Vec::new();
        forward(&mut views_before, &d_view, real_rows, logits_before.row_block(0, batch));
        forward(
            &mut views_before,
            &d_view,
            fake_rows,
            logits_before.row_block(batch, batch),
        );

        // After: G again (changed by a G step) into a D-shaped input of its own, so the
        // images before stay, and D (changed by a D step) on it and on the real rows.
        let after_input = Slot::whole(
            b.add("half_step.discriminator_input", batch * d.layers.net.inputs()),
            batch,
            d.layers.net.inputs(),
        );
        let (fake_logits_after, real_logits_after) = (
            b.add("half_step.fake_logits_after", batch),
            b.add("half_step.real_logits_after", batch),
        );
        let mut after = Vec::new();
        forward(&mut after, &g_view, g_input, after_input.column_block(0, pixels));
        // The same draw as the fake rows' labels: the step has not advanced.
        if let Some(labels) = label_block(d.layers.net, after_input) {
            after.push(Op::Labels(LabelsOp {
                params: LabelsParams::per_step(labels.view, config.seed),
                table: None,
                out: labels.buffer,
            }));
        }
        forward(
            &mut after,
            &d_view,
            after_input,
            Slot::whole(fake_logits_after, batch, 1),
        );
        forward(&mut after, &d_view, real_rows, Slot::whole(real_logits_after, batch, 1));

        let mut discriminator = [setup, &views_before].concat();
        discriminator_update(&mut discriminator, d, d_input, logits, config);
        discriminator.extend(after.iter().cloned());
        let mut generator = step_setup(config, &g_view, g_input, d.layers.net, d_input, steps_per_epoch);
        generator.extend(views_before);
        generator_update(&mut generator, g, d, g_input, fake_rows, fake_images, logits, config);
        generator.extend(after);
        generator.push(Op::AdvanceStep(AdvanceStepOp));

        let shown = batch.min(PREVIEW_ROWS);
        let rows = |slot: Slot| slot.row_block(0, shown).column_block(0, pixels);
        let view = |slot: Slot| (slot.buffer, slot.view);
        HalfSteps {
            discriminator,
            generator,
            finish: vec![Op::AdvanceStep(AdvanceStepOp)],
            readout: HalfStepReadout {
                real_images: view(rows(real_rows)),
                fake_images: view(rows(fake_rows)),
                logits_before: logits_before.buffer,
                batch,
                fake_images_after: view(rows(after_input)),
                fake_logits_after,
                real_logits_after,
            },
        }
    }
}

/// Where a half step's results lie: the batch's first real and generated images
/// (rows of D's training input) and G's images after (a D-shaped input of their own),
/// D's logits on the whole batch before (real rows first) and on each half after.
#[derive(Clone, Copy, Debug)]
pub struct HalfStepReadout {
    pub real_images: (BufferId, View),
    pub fake_images: (BufferId, View),
    pub logits_before: BufferId,
    pub batch: usize,
    pub fake_images_after: (BufferId, View),
    pub fake_logits_after: BufferId,
    pub real_logits_after: BufferId,
}

impl HalfStepReadout {
    /// The buffers to read back, each from its start, and how many floats of each.
    pub fn sources(&self) -> [(BufferId, usize); 5] {
        let shown = self.real_images.1.rows;
        [
            (self.fake_images.0, self.fake_images.1.end()),
            (self.logits_before, 2 * self.batch),
            (self.fake_images_after.0, self.fake_images_after.1.end()),
            (self.fake_logits_after, shown),
            (self.real_logits_after, shown),
        ]
    }

    /// The half step's view, from the values of `sources()`, in that order.
    pub fn half_step(&self, values: [&[f32]; 5]) -> HalfStep {
        let shown = self.real_images.1.rows;
        let before = values[1];
        HalfStep {
            real_images: self.real_images.1.read(values[0]),
            fake_images: self.fake_images.1.read(values[0]),
            fake_images_after: self.fake_images_after.1.read(values[2]),
            real_before: probabilities(&before[..shown]),
            real_after: probabilities(&values[4][..shown]),
            fake_before: probabilities(&before[self.batch..self.batch + shown]),
            fake_after: probabilities(&values[3][..shown]),
        }
    }
}

/// What a half step did, on the batch's first (up to 64) real and generated images:
/// the images ([rows, pixels] in [-1, 1]; G's before and after) and D's output on
/// each before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct HalfStep {
    pub real_images: Vec<f32>,
    pub fake_images: Vec<f32>,
    pub fake_images_after: Vec<f32>,
    pub real_before: Vec<f32>,
    pub real_after: Vec<f32>,
    pub fake_before: Vec<f32>,
    pub fake_after: Vec<f32>,
}
