//! The preview: G on the fixed preview latents, written into the image columns of a
//! D-shaped input, then D on those images and on the last step's first real rows
//! (D's view). A conditional G's grid has a row per digit, and a second op list
//! draws the whole grid as one chosen digit.

use super::{
    forward, label_block, sample_latents, BufferContents, BufferId, Builder, Generation, Layers, Mode, Op, Slot,
    Weights,
};
use crate::kernels::labels::{LabelsOp, LabelsParams};
use crate::kernels::matmul::View;
use crate::model::{Network, TrainConfig};

/// Rows of the preview grid (8×8); the conditional GAN's has a row of
/// `PREVIEW_COLUMNS` samples per digit.
pub const PREVIEW_ROWS: usize = 64;
pub const PREVIEW_COLUMNS: usize = 8;

/// Where a preview's results lie: G's images (a block of columns of D's preview
/// input), D's logits on them, the last step's real images (the first rows of D's
/// training input) and D's logits on those.
#[derive(Clone, Copy, Debug)]
pub struct PreviewReadout {
    pub images: (BufferId, View),
    pub fake_logits: BufferId,
    pub real_images: (BufferId, View),
    pub real_logits: BufferId,
}

impl PreviewReadout {
    /// The buffers to read back, each from its start, and how many floats of each.
    pub fn sources(&self) -> [(BufferId, usize); 4] {
        [
            (self.images.0, self.images.1.end()),
            (self.fake_logits, self.images.1.rows),
            (self.real_images.0, self.real_images.1.end()),
            (self.real_logits, self.real_images.1.rows),
        ]
    }

    /// The preview, from the values of `sources()`, in that order.
    pub fn preview(&self, values: [&[f32]; 4]) -> Preview {
        Preview {
            images: self.images.1.read(values[0]),
            fake_scores: probabilities(&values[1][..self.images.1.rows]),
            real_images: self.real_images.1.read(values[2]),
            real_scores: probabilities(&values[3][..self.real_images.1.rows]),
        }
    }
}

/// D's outputs from its logits (the sigmoid that the loss kernel fuses).
pub(super) fn probabilities(logits: &[f32]) -> Vec<f32> {
    logits.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect()
}

/// What the page's grids show: G's preview images ([rows, pixels] in [-1, 1]) with
/// D(G(z)) for each, and the first real images of the last step's batch with D(x)
/// for each (D's view; zeros before the first step).
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub images: Vec<f32>,
    pub fake_scores: Vec<f32>,
    pub real_images: Vec<f32>,
    pub real_scores: Vec<f32>,
}

/// What a preview runs on: the two networks with their parameters, and the rows of
/// D's training input that hold the last step's real images.
pub(super) struct PreviewNetworks<'a> {
    pub generator: &'a Network,
    pub generator_weights: Weights,
    pub discriminator: &'a Network,
    pub discriminator_weights: Weights,
    pub real_rows: Slot,
}

/// The preview's op lists and where their results lie.
pub(super) struct Previews {
    pub preview: Vec<Op>,
    pub readout: PreviewReadout,
    pub rows: usize,
    /// A conditional preview's class for each row, loaded once.
    pub classes: Option<BufferContents>,
    /// A conditional G's grid as the one digit each row of `chosen_digit` names.
    pub digit_preview: Vec<Op>,
    pub chosen_digit: Option<BufferId>,
}

impl Previews {
    pub fn new(b: &mut Builder, config: &TrainConfig, nets: PreviewNetworks) -> Previews {
        let PreviewNetworks {
            generator,
            discriminator,
            real_rows,
            ..
        } = nets;
        let rows = generator
            .label_columns()
            .map_or(PREVIEW_ROWS, |(_, classes)| classes * PREVIEW_COLUMNS);
        let pixels = generator.outputs();
        // G writes the preview into the image columns of a D-shaped input, so D can
        // judge it (D's view), as the training step does with its fake rows.
        let judged = Slot::whole(
            b.add("preview.discriminator_input", rows * discriminator.inputs()),
            rows,
            discriminator.inputs(),
        );
        let images = judged.column_block(0, pixels);
        let generation = Generation::writing(b, "preview", generator, nets.generator_weights, images);
        let preview_input = generation.input;
        // D on the preview and on the last step's real rows (the first of them).
        let shown_real = real_rows.view.rows.min(PREVIEW_ROWS);
        let judge = Layers::new(
            b,
            "preview.discriminator",
            discriminator,
            nets.discriminator_weights.params,
            rows,
        )
        .reading_statistics(nets.discriminator_weights.statistics, Mode::Evaluation);
        let (fake_logits, real_logits) = (
            b.add("preview.fake_logits", rows),
            b.add("preview.real_logits", shown_real),
        );
        let mut judging = Vec::new();
        forward(&mut judging, &judge, judged, Slot::whole(fake_logits, rows, 1));
        let real_shown = real_rows.row_block(0, shown_real);
        forward(
            &mut judging,
            &judge,
            real_shown,
            Slot::whole(real_logits, shown_real, 1),
        );
        let readout = PreviewReadout {
            images: (images.buffer, images.view),
            fake_logits,
            real_images: (real_shown.buffer, real_shown.column_block(0, pixels).view),
            real_logits,
        };

        // The digit of each preview row, from `table`, beside G's latents and D's image.
        let labels_from = |table: BufferId| {
            let blocks = [
                label_block(generator, preview_input),
                label_block(discriminator, judged),
            ];
            blocks.into_iter().flatten().map(move |slot| {
                Op::Labels(LabelsOp {
                    params: LabelsParams::from_table(slot.view, 0),
                    table: Some(table),
                    out: slot.buffer,
                })
            })
        };
        let mut previews = Previews {
            preview: Vec::new(),
            readout,
            rows,
            classes: None,
            digit_preview: Vec::new(),
            chosen_digit: None,
        };
        match generator.label_columns() {
            Some((_, classes)) => {
                // A row of the grid per digit, the same latents down each column.
                for digit in 0..classes {
                    let rows = preview_input.row_block(digit * PREVIEW_COLUMNS, PREVIEW_COLUMNS);
                    previews.preview.push(sample_latents(rows, config));
                }
                let table = b.add("preview.classes", rows);
                let classes: Vec<f32> = (0..rows).map(|r| (r / PREVIEW_COLUMNS) as f32).collect();
                previews.classes = Some((table, classes));
                previews.preview.extend(labels_from(table));
                // The whole grid as one digit, chosen on request (written to the
                // table), each cell its own latents.
                let chosen = b.add("preview.chosen_digit", rows);
                previews.digit_preview.push(sample_latents(preview_input, config));
                previews.digit_preview.extend(labels_from(chosen));
                previews.digit_preview.extend(generation.ops.iter().cloned());
                previews.digit_preview.extend(judging.iter().cloned());
                previews.chosen_digit = Some(chosen);
            }
            None => previews.preview.push(sample_latents(preview_input, config)),
        }
        previews.preview.extend(generation.ops);
        previews.preview.extend(judging);
        previews
    }
}
