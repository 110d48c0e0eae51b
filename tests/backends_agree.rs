//! Full training steps: the GPU backend (on lavapipe in CI) and the CPU backend,
//! from one seed, end with the same parameters.

mod common;

use ganvas::cpu::CpuTrainer;
use ganvas::gpu::GpuTrainer;
use ganvas::model::TrainConfig;
use ganvas::plan::Plan;
use ganvas::state::{NetworkState, TrainingState};

fn run_both(
    config: &TrainConfig,
    data: &ganvas::mnist::Dataset,
    steps: u32,
) -> Option<(TrainingState, TrainingState)> {
    let gpu = common::gpu()?;
    let plan = Plan::training(config, data.pixels(), data.count);
    let initial = TrainingState::initial(config, data.pixels());
    let mut cpu = CpuTrainer::new(plan.clone(), data, &initial);
    let mut gpu_trainer = pollster::block_on(GpuTrainer::new(&gpu, plan, data, &initial)).unwrap();
    cpu.train(steps);
    gpu_trainer.train(steps);
    let gpu_state = pollster::block_on(gpu_trainer.read_state()).unwrap();
    Some((cpu.state(), gpu_state))
}

fn report(name: &str, cpu: &NetworkState, gpu: &NetworkState) -> (f32, f32) {
    let d = common::max_abs_diff(&cpu.params, &gpu.params);
    let scale = cpu.params.iter().fold(0f32, |m, x| m.max(x.abs()));
    eprintln!("{name}: max |cpu - gpu| = {d:e} (largest parameter {scale})");
    (d, scale)
}

#[test]
fn small_model_agrees_after_several_steps() {
    let config = TrainConfig {
        latent: 7,
        generator_hidden: vec![13, 33],
        discriminator_hidden: vec![65, 5],
        batch: 5,
        seed: 11,
        ..Default::default()
    };
    let data = common::synthetic_dataset(23, 6, 5, 4);
    // 12 steps with 4 per epoch: crosses epoch boundaries, so reshuffles too.
    let Some((cpu, gpu)) = run_both(&config, &data, 12) else {
        return;
    };
    assert_eq!(cpu.step, 12);
    assert_eq!(gpu.step, 12);
    let (dg, _) = report("generator", &cpu.generator, &gpu.generator);
    let (dd, _) = report("discriminator", &cpu.discriminator, &gpu.discriminator);
    assert!(dg < 1e-4 && dd < 1e-4);
}
