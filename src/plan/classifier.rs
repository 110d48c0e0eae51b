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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuTrainer;
    use crate::mnist::Dataset;
    use crate::state::NetworkState;

    /// After one step from zero moments, Adam's first moment is (1 - β1)·g: the step's
    /// gradient, checked here against central differences of the mean loss over the
    /// step's batch (images and labels in the epoch's first order), in f64.
    #[test]
    fn the_step_computes_the_gradient_of_the_mean_loss() {
        let data = Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
        let config = ClassifierConfig {
            hidden: vec![12],
            batch: 16,
            seed: 2,
            ..Default::default()
        };
        let plan = ClassifierPlan::training(&config, data.pixels(), 10, data.count).unwrap();
        let network = plan.network.clone();
        let initial = NetworkState::initial(&network, config.seed);
        let mut trainer = CpuTrainer::from_networks(plan, &data, 0, &[&initial]);
        trainer.train(1);
        let m = &trainer.networks()[0].exp_avg;
        let gradient: Vec<f64> = m.iter().map(|&x| f64::from(x) / (1.0 - config.beta1)).collect();

        let order = crate::rng::epoch_order(config.seed, 0, data.count);
        let rows: Vec<usize> = order[..config.batch].iter().map(|&i| i as usize).collect();
        let inputs: Vec<f32> = rows.iter().flat_map(|&i| data.inputs_of(i)).collect();
        let loss = |params: &[f32]| {
            let logits = crate::cpu::run_network(&network, params, &inputs);
            let per_row = logits.chunks(10).zip(&rows).map(|(x, &i)| {
                let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
                let largest = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = largest + x.iter().map(|v| (v - largest).exp()).sum::<f64>().ln();
                lse - x[usize::from(data.labels[i])]
            });
            per_row.sum::<f64>() / rows.len() as f64
        };
        // Weights of both layers and biases, spread over the buffer.
        let n = network.parameter_count;
        let second_bias = network.tensors()[3].offset;
        for k in (0..n).step_by(n / 40).chain([n - 1, second_bias]) {
            // Small enough that no LeakyReLU kink falls inside the step for these rows
            // (a step of 1e-2 crossed one, and its difference was 8% off).
            let step = 1e-3f32;
            let (mut plus, mut minus) = (initial.params.clone(), initial.params.clone());
            plus[k] += step;
            minus[k] -= step;
            let fd = (loss(&plus) - loss(&minus)) / f64::from(plus[k] - minus[k]);
            // f32 forward passes: the differences carry ~1e-7 of rounding each.
            assert!(
                (gradient[k] - fd).abs() < 2e-4 + 2e-2 * fd.abs(),
                "[{k}]: {} vs {fd}",
                gradient[k]
            );
        }
    }

    #[test]
    fn a_few_hundred_steps_learn_to_read_digits() {
        // A plan test, not a quality figure: 300 steps at batch 64 take a plain MLP on
        // MNIST well past chance (10%); `ganvas classifier train` trains for epochs.
        let data = Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
        let config = ClassifierConfig {
            hidden: vec![256],
            batch: 64,
            lr: 1e-3,
            ..Default::default()
        };
        let plan = ClassifierPlan::training(&config, data.pixels(), 10, data.count).unwrap();
        let initial = NetworkState::initial(&plan.network, config.seed);
        let mut trainer = CpuTrainer::from_networks(plan, &data, 0, &[&initial]).with_threads(2);
        trainer.train(250);
        let _ = trainer.take_sums();
        trainer.train(50);
        let (sums, steps) = trainer.take_sums();
        let (loss, accuracy) = (sums[0] / steps as f32, sums[1] / steps as f32);
        assert!(accuracy > 0.8 && loss < 0.7, "accuracy {accuracy}, loss {loss}");
    }
}
