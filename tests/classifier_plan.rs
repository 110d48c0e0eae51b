//! The classifier's training step (`plan::ClassifierPlan`) run on the CPU backend:
//! its gradient against finite differences, and that it learns.

use ganvas::backend::cpu::{CpuThreads, CpuTrainer};
use ganvas::formats::mnist::Dataset;
use ganvas::model::state::NetworkState;
use ganvas::model::ClassifierConfig;
use ganvas::plan::ClassifierPlan;

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

    let order = ganvas::rng::epoch_order(config.seed, 0, data.count);
    let rows: Vec<usize> = order[..config.batch].iter().map(|&i| i as usize).collect();
    let inputs: Vec<f32> = rows.iter().flat_map(|&i| data.inputs_of(i)).collect();
    let loss = |params: &[f32]| {
        let logits = ganvas::backend::cpu::run_network(&network, params, &[], &inputs);
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
    let mut trainer = CpuTrainer::from_networks(plan, &data, 0, &[&initial]).on_threads(CpuThreads::new(2));
    trainer.train(250);
    let _ = trainer.take_sums();
    trainer.train(50);
    let (sums, steps) = trainer.take_sums();
    let (loss, accuracy) = (sums[0] / steps as f32, sums[1] / steps as f32);
    assert!(accuracy > 0.8 && loss < 0.7, "accuracy {accuracy}, loss {loss}");
}
