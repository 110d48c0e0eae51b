//! The MNIST classifier's training step, over the same ops and kernels as the GAN's:
//! the batch's images and their labels one-hot (both gathered on the GPU), the
//! network forward, softmax cross-entropy, back, Adam. Its loss and accuracy go to
//! stats slots 0 and 1.

use super::{
    adam_with, backward, forward, Backward, BufferSpec, Builder, Items, Loss, NetworkBuffers, Op, Slot, Training,
    WeightGradients,
};
use crate::error::Result;
use crate::kernels::gather::{GatherOp, GatherParams};
use crate::kernels::step_counter::AdvanceStepOp;
use crate::model::{ClassifierConfig, Network};

#[derive(Clone, Debug)]
pub struct ClassifierPlan {
    pub config: ClassifierConfig,
    pub network: Network,
    pub buffers: Vec<BufferSpec>,
    pub step: Vec<Op>,
    pub network_buffers: NetworkBuffers,
    pub steps_per_epoch: u32,
}

impl ClassifierPlan {
    /// The step for `config` on `image_count` images of `pixels` pixels and `classes`
    /// classes; the config is validated first.
    pub fn training(config: &ClassifierConfig, pixels: usize, classes: usize, image_count: usize) -> Result<Self> {
        config.validate_for(pixels, image_count)?;
        let batch = config.batch;
        let network = config.network(pixels, classes);
        let mut b = Builder::default();
        let net = b.network(&network, batch);
        let input = Slot::whole(b.add("classifier.input", batch * pixels), batch, pixels);
        let targets = Slot::whole(b.add("classifier.targets", batch * classes), batch, classes);
        let logits = Slot::whole(b.add("classifier.logits", batch * classes), batch, classes);
        let steps_per_epoch = (image_count / batch) as u32;
        let mut step = vec![
            Op::Gather(GatherOp {
                params: GatherParams::images(input.view, steps_per_epoch),
                items: Items::Images,
                batch: input.buffer,
            }),
            Op::Gather(GatherOp {
                params: GatherParams::one_hot_labels(targets.view, steps_per_epoch),
                items: Items::Labels,
                batch: targets.buffer,
            }),
        ];
        forward(&mut step, &net.layers, input, logits);
        Loss::CrossEntropy { targets }.push(&mut step, logits, net.output_gradient());
        let pass = Backward {
            input,
            weights: WeightGradients::Compute,
            input_gradient: None,
            accumulate: false,
        };
        backward(&mut step, &net, pass);
        step.push(adam_with(&net, config.lr, config.beta1, config.beta2, config.eps));
        step.push(Op::AdvanceStep(AdvanceStepOp));
        let network_buffers = net.buffers;
        Ok(ClassifierPlan {
            config: config.clone(),
            network,
            buffers: b.buffers,
            step,
            network_buffers,
            steps_per_epoch,
        })
    }
}

impl Training for ClassifierPlan {
    fn buffers(&self) -> &[BufferSpec] {
        &self.buffers
    }

    fn step(&self) -> &[Op] {
        &self.step
    }

    fn steps_per_epoch(&self) -> u32 {
        self.steps_per_epoch
    }

    fn shuffle_seed(&self) -> u64 {
        self.config.seed
    }

    fn trained(&self) -> Vec<NetworkBuffers> {
        vec![self.network_buffers]
    }
}
