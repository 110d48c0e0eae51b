//! The step-through mode: the D step and the G step are the training step's two
//! halves, each updating only its own network, on both backends.

mod common;

use ganvas::backend::cpu::CpuThreads;
use ganvas::backend::engine::{Backend, Engine};
use ganvas::formats::mnist::Dataset;
use ganvas::model::state::TrainingState;
use ganvas::model::{Model, TrainConfig};
use ganvas::plan::{Half, HalfStep};

/// A model of odd sizes on 23 synthetic 6×5 images, 4 steps to an epoch; with
/// conditional labels too, so the label ops of both halves are covered.
fn small(conditional: bool) -> (TrainConfig, Dataset) {
    let config = TrainConfig {
        latent: 7,
        generator_hidden: vec![13, 33],
        discriminator_hidden: vec![65, 5],
        batch: 5,
        seed: 3,
        conditional,
        ..Default::default()
    };
    (config, common::synthetic_dataset(23, 6, 5, 4))
}

/// A narrow DCGAN (batch norm in both networks, D seeing each half in a pass of its
/// own) on 23 synthetic 32×32 images.
fn small_dcgan() -> (TrainConfig, Dataset) {
    let config = TrainConfig {
        model: Model::Dcgan {
            image_size: 32,
            channels: 1,
            width: 4,
        },
        batch: 5,
        seed: 3,
        ..Default::default()
    };
    (config, common::synthetic_dataset(23, 32, 32, 4))
}

fn engine(backend: Backend, config: &TrainConfig, data: &Dataset) -> Option<Engine> {
    if backend == Backend::Gpu {
        common::gpu()?;
    }
    let state = TrainingState::initial(config, data.pixels());
    let created = pollster::block_on(Engine::create(backend, CpuThreads::new(1), data, &state, None));
    Some(created.unwrap().0)
}

fn state(engine: &Engine) -> TrainingState {
    pollster::block_on(engine.start_state_read().finish()).unwrap()
}

fn half(engine: &mut Engine, half: Half) -> HalfStep {
    pollster::block_on(engine.start_half_step(half).finish()).unwrap()
}

fn assert_same(a: &TrainingState, b: &TrainingState) {
    assert_eq!(a.step, b.step);
    for (x, y) in [(&a.generator, &b.generator), (&a.discriminator, &b.discriminator)] {
        assert_eq!(x.params, y.params);
        assert_eq!(x.exp_avg, y.exp_avg);
        assert_eq!(x.exp_avg_sq, y.exp_avg_sq);
        assert_eq!(x.statistics, y.statistics, "running statistics");
    }
}

/// The halves are the step's own ops, so the same kernels run on the same values in
/// the same order: equal to the bit, on either backend.
#[test]
fn a_d_step_then_a_g_step_is_one_training_step() {
    for (config, data) in [small(false), small(true), small_dcgan()] {
        for backend in [Backend::Cpu, Backend::Gpu] {
            let (Some(mut halves), Some(mut whole)) =
                (engine(backend, &config, &data), engine(backend, &config, &data))
            else {
                continue;
            };
            // Steps 3 and 4 cross the first epoch's end, so the shuffle follows too.
            halves.train(3);
            for _ in 0..2 {
                half(&mut halves, Half::Discriminator);
                half(&mut halves, Half::Generator);
            }
            // Training on after a D step starts with that step's G half.
            half(&mut halves, Half::Discriminator);
            halves.train(2);
            whole.train(7);
            assert_eq!(halves.step(), 7);
            assert_same(&state(&halves), &state(&whole));
        }
    }
}

#[test]
fn each_half_changes_only_its_own_network() {
    let (config, data) = small(true);
    for backend in [Backend::Cpu, Backend::Gpu] {
        let Some(mut engine) = engine(backend, &config, &data) else {
            continue;
        };
        engine.train(2);
        let start = state(&engine);
        half(&mut engine, Half::Discriminator);
        let after_d = state(&engine);
        assert_eq!(after_d.step, 2, "a D step is half of step 2");
        assert_eq!(after_d.generator, start.generator);
        assert_ne!(after_d.discriminator.params, start.discriminator.params);
        half(&mut engine, Half::Generator);
        let after_g = state(&engine);
        assert_eq!(after_g.step, 3);
        assert_eq!(after_g.discriminator, after_d.discriminator);
        assert_ne!(after_g.generator.params, after_d.generator.params);
    }
}

#[test]
fn a_second_d_step_ends_the_step_and_takes_a_new_batch() {
    let (config, data) = small(false);
    let mut engine = engine(Backend::Cpu, &config, &data).unwrap();
    let first = half(&mut engine, Half::Discriminator);
    let second = half(&mut engine, Half::Discriminator);
    assert_eq!(engine.step(), 1, "the second D step is step 1's");
    assert_ne!(first.real_images, second.real_images);
    let before = state(&engine).generator;
    half(&mut engine, Half::Generator);
    assert_eq!(engine.step(), 2);
    assert_ne!(state(&engine).generator, before);
}

/// What the lecture says each half does, at full size: D's step raises
/// log D(x) + log(1 - D(G(z))) on its batch with G's images unchanged; G's step
/// raises log D(G(z)) with D unchanged. One Adam step of 2e-4 moves every weight by
/// about the learning rate against the gradient, which lowers the batch's loss.
#[test]
fn each_half_moves_the_scores_as_the_objective_says() {
    let data = common::synthetic_dataset(300, 28, 28, 2);
    let config = TrainConfig {
        seed: 9,
        ..Default::default()
    };
    let mean_log = |p: &[f32], f: fn(f32) -> f32| p.iter().map(|&x| f(x).ln()).sum::<f32>() / p.len() as f32;
    let objective = |real: &[f32], fake: &[f32]| mean_log(real, |x| x) + mean_log(fake, |x| 1.0 - x);
    let mut views = Vec::new();
    for backend in [Backend::Cpu, Backend::Gpu] {
        let Some(mut engine) = engine(backend, &config, &data) else {
            break;
        };
        engine.train(3);
        let d = half(&mut engine, Half::Discriminator);
        assert_eq!(d.real_images.len(), 64 * 784);
        assert_eq!(d.fake_images, d.fake_images_after, "G is fixed in D's step");
        let (before, after) = (
            objective(&d.real_before, &d.fake_before),
            objective(&d.real_after, &d.fake_after),
        );
        assert!(after > before, "D's objective {before} -> {after}");
        let g = half(&mut engine, Half::Generator);
        assert_eq!(g.real_before, g.real_after, "D is fixed in G's step");
        assert_eq!(g.fake_images, d.fake_images, "G's step starts from the same samples");
        assert_ne!(g.fake_images, g.fake_images_after);
        let (before, after) = (mean_log(&g.fake_before, |x| x), mean_log(&g.fake_after, |x| x));
        assert!(after > before, "log D(G(z)) {before} -> {after}");
        views.push((d, g));
    }
    // The GPU's views match the CPU's: the same scores to rounding (as the previews).
    if let [(cpu_d, cpu_g), (gpu_d, gpu_g)] = &views[..] {
        for (a, b) in [(cpu_d, gpu_d), (cpu_g, gpu_g)] {
            assert!(common::max_abs_diff(&a.fake_images_after, &b.fake_images_after) < 1e-4);
            assert!(common::max_abs_diff(&a.real_after, &b.real_after) < 1e-4);
            assert!(common::max_abs_diff(&a.fake_after, &b.fake_after) < 1e-4);
        }
    }
}
