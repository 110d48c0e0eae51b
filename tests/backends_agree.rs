//! Full training steps: the GPU backend (on lavapipe in CI) and the CPU backend,
//! from one seed, end with the same parameters.

mod common;

use ganvas::backend::cpu::{CpuThreads, CpuTrainer};
use ganvas::backend::gpu::GpuTrainer;
use ganvas::kernels::matmul::{MatmulPolicy, MatmulVariant};
use ganvas::model::state::{NetworkState, TrainingState};
use ganvas::model::TrainConfig;
use ganvas::plan::Plan;

/// Each of the GPU's matmul entry points on its own, whichever the adapter would pick:
/// each must train like the CPU backend.
const VARIANTS: [MatmulVariant; 3] = [MatmulVariant::WholeK, MatmulVariant::SplitK, MatmulVariant::Tiled];

fn run_both(
    config: &TrainConfig,
    data: &ganvas::formats::mnist::Dataset,
    steps: u32,
    policy: MatmulPolicy,
) -> Option<(TrainingState, TrainingState)> {
    let mut gpu = common::gpu()?;
    gpu.matmul = policy;
    let plan = Plan::training(config, data.pixels(), data.count).unwrap();
    let initial = TrainingState::initial(config, data.pixels());
    let mut cpu = CpuTrainer::new(plan.clone(), data, &initial);
    let mut gpu_trainer = pollster::block_on(GpuTrainer::new(&gpu, plan, data, &initial)).unwrap();
    cpu.train(steps);
    gpu_trainer.train(steps);
    let gpu_state = pollster::block_on(gpu_trainer.read_state()).unwrap();
    Some((cpu.state(), gpu_state))
}

/// Checks every state_dict tensor against the scale of Adam's movement, lr per step.
/// Both backends run the same f32 operations but sum in different orders (GPU tiles
/// against a blocked CPU GEMM), so gradients differ by rounding. Adam divides by
/// sqrt(v), which turns a rounding difference in a gradient near zero into a
/// visible one in its update: measured on lavapipe, full size, 5 steps, the worst
/// parameter is 0.11·lr·steps apart and at most 0.13% of any tensor lie beyond
/// 0.01·lr·steps. A wrong kernel moves whole tensors by about lr per step.
fn assert_close(name: &str, net: &ganvas::model::Network, lr: f32, steps: u32, cpu: &NetworkState, gpu: &NetworkState) {
    let movement = lr * steps as f32;
    for t in net.tensors() {
        let (a, b) = (&cpu.params[t.offset..][..t.len], &gpu.params[t.offset..][..t.len]);
        let max = common::max_abs_diff(a, b);
        let far = a
            .iter()
            .zip(b)
            .filter(|(x, y)| (*x - *y).abs() > 0.01 * movement)
            .count();
        eprintln!(
            "{name}.{}: max |cpu - gpu| = {max:e}; {far} of {} beyond 0.01·lr·steps",
            t.name, t.len
        );
        assert!(max <= 0.5 * movement, "{name}.{} differs by {max}", t.name);
        assert!(
            far as f64 <= 0.01 * t.len as f64,
            "{name}.{}: {far} of {} differ",
            t.name,
            t.len
        );
    }
}

fn check(config: &TrainConfig, pixels: usize, steps: u32, cpu: &TrainingState, gpu: &TrainingState) {
    let g = config.generator(pixels);
    let d = config.discriminator(pixels);
    assert_close(
        "generator",
        &g,
        config.generator_lr,
        steps,
        &cpu.generator,
        &gpu.generator,
    );
    assert_close(
        "discriminator",
        &d,
        config.discriminator_lr,
        steps,
        &cpu.discriminator,
        &gpu.discriminator,
    );
    for (a, b) in [
        (&cpu.generator, &gpu.generator),
        (&cpu.discriminator, &gpu.discriminator),
    ] {
        assert!(common::max_abs_diff(&a.exp_avg_sq, &b.exp_avg_sq) < 1e-6);
    }
}

/// A model of odd sizes on 23 synthetic 6×5 images, 4 steps to an epoch.
fn small_model(seed: u64) -> (TrainConfig, ganvas::formats::mnist::Dataset) {
    let config = TrainConfig {
        latent: 7,
        generator_hidden: vec![13, 33],
        discriminator_hidden: vec![65, 5],
        batch: 5,
        seed,
        ..Default::default()
    };
    (config, common::synthetic_dataset(23, 6, 5, 4))
}

#[test]
fn small_model_agrees_after_several_steps() {
    let (config, data) = small_model(11);
    for variant in VARIANTS {
        // 12 steps with 4 per epoch: crosses epoch boundaries, so reshuffles too.
        let Some((cpu, gpu)) = run_both(&config, &data, 12, MatmulPolicy::Only(variant)) else {
            return;
        };
        assert_eq!(cpu.step, 12);
        assert_eq!(gpu.step, 12);
        eprintln!("{variant:?}:");
        check(&config, 6 * 5, 12, &cpu, &gpu);
    }
}

#[test]
fn full_size_model_agrees_on_mnist() {
    let data = ganvas::formats::mnist::Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
    let config = TrainConfig {
        seed: 5,
        ..Default::default()
    };
    for variant in VARIANTS {
        let start = std::time::Instant::now();
        let Some((cpu, gpu)) = run_both(&config, &data, 5, MatmulPolicy::Only(variant)) else {
            return;
        };
        eprintln!(
            "{variant:?}: 5 full-size steps on both backends took {:?}",
            start.elapsed()
        );
        check(&config, 784, 5, &cpu, &gpu);
    }
}

/// The conditional GAN: labels gathered with the real rows and drawn for the fake
/// ones (the same classes on both backends, from the GPU's step counter), beside
/// the latents and the images. 5 full-size MNIST steps end alike, and so do the
/// previews (a row per digit).
#[test]
fn conditional_model_agrees_on_mnist() {
    let data = ganvas::formats::mnist::Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
    let config = TrainConfig {
        seed: 6,
        conditional: true,
        ..Default::default()
    };
    let Some((cpu, gpu)) = run_both(&config, &data, 5, MatmulPolicy::Only(MatmulVariant::WholeK)) else {
        return;
    };
    assert_eq!(cpu.generator.params.len(), config.generator(784).parameter_count);
    assert_eq!(config.generator(784).inputs(), 110);
    check(&config, 784, 5, &cpu, &gpu);

    // The previews of the same G: a row per digit with shared latents, and a chosen
    // digit, alike on both backends (f32 forward passes: rounding only).
    let gpu_context = common::gpu().unwrap();
    let plan = Plan::training(&config, 784, data.count).unwrap();
    let mut cpu_trainer = CpuTrainer::new(plan.clone(), &data, &cpu);
    let gpu_trainer = pollster::block_on(GpuTrainer::new(&gpu_context, plan, &data, &cpu)).unwrap();
    let mut previews = Vec::new();
    for digit in [None, Some(7)] {
        let on_cpu = cpu_trainer.preview(digit).unwrap();
        let read = gpu_trainer.start_preview_read(digit).unwrap();
        let parts = pollster::block_on(read.finish()).unwrap();
        let on_gpu = ganvas::backend::gpu::preview_from(&gpu_trainer.plan().preview_readout, &parts).unwrap();
        assert_eq!(on_cpu.images.len(), 80 * 784);
        // D's view: 80 generated and the last step's first 64 real images.
        assert_eq!(
            (
                on_cpu.fake_scores.len(),
                on_cpu.real_images.len(),
                on_cpu.real_scores.len()
            ),
            (80, 64 * 784, 64)
        );
        for (what, a, b) in [
            ("images", &on_cpu.images, &on_gpu.images),
            ("D(G(z))", &on_cpu.fake_scores, &on_gpu.fake_scores),
            ("reals", &on_cpu.real_images, &on_gpu.real_images),
            ("D(x)", &on_cpu.real_scores, &on_gpu.real_scores),
        ] {
            let diff = common::max_abs_diff(a, b);
            assert!(diff < 1e-5, "{digit:?} {what}: {diff}");
        }
        previews.push(on_cpu.images);
    }
    let row = |grid: &[f32], r: usize| grid[r * 8 * 784..][..8 * 784].to_vec();
    let (by_digit, sevens) = (&previews[0], &previews[1]);
    // A row per digit, the same latents down each column: the rows differ by digit.
    assert!(common::max_abs_diff(&row(by_digit, 0), &row(by_digit, 1)) > 1e-3);
    // All sevens, each cell its own latents, the first row's the columns' latents.
    assert_eq!(row(sevens, 0), row(by_digit, 7));
    assert!(common::max_abs_diff(&row(sevens, 0), &row(sevens, 1)) > 1e-3);
    assert!(cpu_trainer.preview(Some(10)).unwrap_err().message.contains("0 to 9"));
}

/// Hardware GPUs mix entry points within a step. With every forward product on `Tiled`
/// (at least one block) and the rest on `SplitK`, the small model trains like the CPU.
/// (The full-size model would need batch 1024 to reach the hardware threshold; there a
/// LeakyReLU output within 1e-8 of zero can take the other slope under a different
/// summation order, which moves that weight's first Adam step by ~lr: measured, a
/// single such element out of 10^6 fails the tolerances above.)
#[test]
fn mixed_entry_points_agree() {
    let (config, data) = small_model(12);
    let policy = MatmulPolicy::ByShape { min_tiled_blocks: 1 };
    let plan = Plan::training(&config, data.pixels(), data.count).unwrap();
    let mut used: Vec<MatmulVariant> = plan
        .step
        .iter()
        .filter_map(|op| match op {
            ganvas::kernels::Op::Matmul(m) => Some(policy.variant_for(&m.params)),
            _ => None,
        })
        .collect();
    used.dedup();
    assert!(used.contains(&MatmulVariant::SplitK) && used.contains(&MatmulVariant::Tiled));
    let Some((cpu, gpu)) = run_both(&config, &data, 12, policy) else {
        return;
    };
    check(&config, 6 * 5, 12, &cpu, &gpu);
}

/// The classifier's plan (images and one-hot labels gathered, softmax cross-entropy,
/// Adam) on both backends, with the GPU's default entry points: 5 full-size steps on
/// MNIST end with the same parameters, within the bound above.
#[test]
fn classifier_steps_agree() {
    use ganvas::model::ClassifierConfig;
    use ganvas::plan::ClassifierPlan;
    let Some(gpu) = common::gpu() else { return };
    let data = ganvas::formats::mnist::Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
    let config = ClassifierConfig {
        seed: 5,
        ..Default::default()
    };
    let plan = ClassifierPlan::training(&config, data.pixels(), 10, data.count).unwrap();
    let initial = NetworkState::initial(&plan.network, config.seed);
    let network = plan.network.clone();
    let mut cpu = CpuTrainer::from_networks(plan.clone(), &data, 0, &[&initial]);
    let mut gpu_trainer = pollster::block_on(GpuTrainer::from_networks(&gpu, plan, &data, 0, &[&initial])).unwrap();
    let steps = 5;
    cpu.train(steps);
    gpu_trainer.train(steps);
    let gpu_state = pollster::block_on(gpu_trainer.start_networks_read().finish()).unwrap();
    assert_close(
        "classifier",
        &network,
        config.lr,
        steps,
        &cpu.networks()[0],
        &gpu_state[0],
    );
    // The loss and accuracy the two backends summed.
    let (cpu_sums, _) = cpu.take_sums();
    gpu_trainer.request_stats();
    let (gpu_sums, gpu_steps) = pollster::block_on(gpu_trainer.wait_sums()).unwrap().unwrap();
    assert_eq!(gpu_steps, steps);
    assert!((cpu_sums[0] - gpu_sums[0]).abs() < 1e-4, "{cpu_sums:?} {gpu_sums:?}");
    assert!((cpu_sums[1] - gpu_sums[1]).abs() < 1e-6, "{cpu_sums:?} {gpu_sums:?}");
    assert!(cpu_sums[0] > 0.0, "the loss was summed");
}

/// The census (G on 512 fixed latents, read by the shipped classifier) of a fresh
/// generator, whose noisy samples the classifier reads as several digits: both backends read back the same logits and feature sums, and their
/// scores agree with `ganvas eval`'s on the same samples (`Reader::score`, which fits
/// the Gaussian in f64 from the features themselves).
#[test]
fn census_agrees_on_both_backends_and_with_eval() {
    use ganvas::backend::engine::{Backend, Engine};
    use ganvas::plan::CensusReadings;
    use ganvas::quality::classifier::classifier_from_bytes;
    use ganvas::quality::Reader;
    let data = ganvas::formats::mnist::Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
    let reader =
        Reader::new(classifier_from_bytes(&std::fs::read("data/classifier.safetensors").unwrap()).unwrap()).unwrap();
    let config = TrainConfig {
        seed: 3,
        ..Default::default()
    };
    let state = ganvas::model::state::TrainingState::initial(&config, 784);
    let rows = 512;
    let census = |backend| -> Option<CensusReadings> {
        let (mut engine, _) = pollster::block_on(Engine::create(
            backend,
            CpuThreads::new(1),
            &data,
            &state,
            Some(reader.census(rows)),
        ))
        .ok()?;
        pollster::block_on(engine.start_census()?.finish()).ok()
    };
    let cpu = census(Backend::Cpu).unwrap();
    let cpu_quality = reader.score_census(&cpu).unwrap();

    let mut z = vec![0.0; rows * state.config.latent];
    ganvas::rng::normals(config.seed, ganvas::rng::Stream::Sample, 0, &mut z);
    let images = ganvas::backend::cpu::run_network(&state.config.generator(784), &state.generator.params, &[], &z);
    let eval = reader.score(&images).unwrap();
    eprintln!("census {cpu_quality:?}\neval {eval:?}");
    assert_eq!(cpu_quality.class_fractions, eval.class_fractions);
    assert!((cpu_quality.classifier_score - eval.classifier_score).abs() < 1e-6);
    // The census's covariance comes from f32 sums (E[xxᵀ] − μμᵀ), eval's from centred
    // f64 ones: measured 3e-9 apart here, 1.1e-4 for a generator of only ones.
    let relative = (cpu_quality.frechet_distance - eval.frechet_distance).abs() / eval.frechet_distance;
    assert!(relative < 1e-3, "{relative}");

    if common::gpu().is_none() {
        return;
    }
    let gpu = census(Backend::Gpu).unwrap();
    // Products of up to 512 (the gram: 512 rows) f32 terms in different orders.
    let scale = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    for (name, a, b) in [
        ("logits", &cpu.logits, &gpu.logits),
        ("feature sum", &cpu.feature_sum, &gpu.feature_sum),
        ("feature gram", &cpu.feature_gram, &gpu.feature_gram),
    ] {
        let diff = common::max_abs_diff(a, b);
        eprintln!("{name}: max |cpu - gpu| = {diff:e} of {:e}", scale(a));
        assert!(diff <= 1e-5 * scale(a), "{name}: {diff} of {}", scale(a));
    }
    let gpu_quality = reader.score_census(&gpu).unwrap();
    assert!((gpu_quality.frechet_distance - cpu_quality.frechet_distance).abs() < 1e-3 * cpu_quality.frechet_distance);
}

/// In-betweens of two preview cells: G on them gives, at the two ends, the cells'
/// own preview images, and both backends the same images (f32 forward passes).
#[test]
fn interpolation_ends_at_the_cells_on_both_backends() {
    use ganvas::backend::engine::{Backend, Engine};
    let data = common::synthetic_dataset(300, 28, 28, 2);
    let config = TrainConfig {
        conditional: true,
        seed: 8,
        ..Default::default()
    };
    let state = TrainingState::initial(&config, 784);
    let run = |backend| {
        let (mut engine, _) =
            pollster::block_on(Engine::create(backend, CpuThreads::new(1), &data, &state, None)).ok()?;
        let preview = pollster::block_on(engine.start_preview(None).ok()?.finish()).ok()?;
        let between = engine.start_interpolation(13, 42, None, true).ok()?;
        Some((preview.images, pollster::block_on(between.finish()).ok()?))
    };
    let (preview, cpu) = run(Backend::Cpu).unwrap();
    let cell = |images: &[f32], i: usize| images[i * 784..][..784].to_vec();
    assert_eq!(cpu.len(), ganvas::plan::INTERPOLATION_ROWS * 784);
    assert!(common::max_abs_diff(&cell(&cpu, 0), &cell(&preview, 13)) < 1e-5);
    assert!(common::max_abs_diff(&cell(&cpu, 9), &cell(&preview, 42)) < 1e-5);
    assert!(
        common::max_abs_diff(&cell(&cpu, 4), &cell(&cpu, 5)) > 1e-4,
        "the in-betweens move"
    );
    if common::gpu().is_none() {
        return;
    }
    let (_, gpu) = run(Backend::Gpu).unwrap();
    assert!(common::max_abs_diff(&cpu, &gpu) < 1e-5);
}

#[test]
fn the_walk_starts_at_the_preview_on_both_backends() {
    use ganvas::backend::engine::{Backend, Engine};
    let data = common::synthetic_dataset(300, 28, 28, 2);
    let config = TrainConfig {
        seed: 4,
        ..Default::default()
    };
    let state = TrainingState::initial(&config, 784);
    let run = |backend| {
        let (mut engine, _) =
            pollster::block_on(Engine::create(backend, CpuThreads::new(1), &data, &state, None)).ok()?;
        engine.train(2);
        let preview = pollster::block_on(engine.start_preview(None).ok()?.finish()).ok()?;
        let start = pollster::block_on(engine.start_walk(0.0, None).ok()?.finish()).ok()?;
        let on = pollster::block_on(engine.start_walk(0.8, None).ok()?.finish()).ok()?;
        Some((preview.images, start, on))
    };
    let (preview, start, on) = run(Backend::Cpu).unwrap();
    assert_eq!(start.len(), 64 * 784);
    assert!(common::max_abs_diff(&preview, &start) < 1e-5);
    assert!(common::max_abs_diff(&start, &on) > 1e-3, "the walk moves");
    if common::gpu().is_none() {
        return;
    }
    let (_, gpu_start, gpu_on) = run(Backend::Gpu).unwrap();
    assert!(common::max_abs_diff(&start, &gpu_start) < 1e-5);
    assert!(common::max_abs_diff(&on, &gpu_on) < 1e-5);
}

/// `ganvas bench --profile` times a real step: each op in a pass of its own, the
/// same dispatches, so the parameters after it are a training step's, to the bit;
/// and every op gets a time (lavapipe has timestamps; a device without them says so).
#[test]
fn a_profiled_step_is_a_training_step() {
    use ganvas::backend::engine::{Backend, Engine};
    let Some(_) = common::gpu() else { return };
    let (config, data) = small_model(6);
    let state = TrainingState::initial(&config, data.pixels());
    let engine = || {
        pollster::block_on(Engine::create(Backend::Gpu, CpuThreads::new(1), &data, &state, None))
            .unwrap()
            .0
    };
    let (mut profiled, mut plain) = (engine(), engine());
    profiled.train(2);
    let Some(times) = profiled.profile_step() else {
        eprintln!("skipping: this GPU device has no timestamp queries");
        return;
    };
    let times = times.unwrap();
    assert_eq!(times.len(), profiled.plan().step.len());
    assert!(
        times.iter().all(|t| t.is_finite() && *t >= 0.0) && times.iter().sum::<f64>() > 0.0,
        "{times:?}"
    );
    profiled.train(1);
    plain.train(4);
    let read = |e: &Engine| pollster::block_on(e.start_state_read().finish()).unwrap();
    let (a, b) = (read(&profiled), read(&plain));
    assert_eq!(a.step, 4);
    assert_eq!(a.generator, b.generator);
    assert_eq!(a.discriminator, b.discriminator);
}
