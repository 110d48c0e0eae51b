//! The DCGAN (`Model::Dcgan`): pytorch/examples' modules layer for layer (names,
//! shapes, parameter counts), and full training steps on the GPU backend (lavapipe
//! in CI) and the CPU backend ending alike, running statistics included.

mod common;

use ganvas::backend::cpu::CpuTrainer;
use ganvas::backend::gpu::GpuTrainer;
use ganvas::model::state::TrainingState;
use ganvas::model::{Model, TrainConfig};
use ganvas::plan::Plan;

fn dcgan(image_size: usize, channels: usize, width: usize) -> TrainConfig {
    TrainConfig {
        model: Model::Dcgan {
            image_size,
            channels,
            width,
        },
        ..TrainConfig::default()
    }
}

#[test]
fn the_networks_are_pytorch_examples_dcgan() {
    // 64×64 colour at ngf = ndf = 64: the figures PyTorch's DCGAN tutorial prints
    // for its Generator and Discriminator (3,576,704 and 2,765,568 parameters).
    let config = dcgan(64, 3, 64);
    let (g, d) = (config.generator(3 * 64 * 64), config.discriminator(3 * 64 * 64));
    assert_eq!(g.parameter_count, 3_576_704);
    assert_eq!(d.parameter_count, 2_765_568);
    let names = |net: &ganvas::model::Network| -> Vec<(String, Vec<usize>)> {
        net.tensors()
            .into_iter()
            .chain(net.statistics())
            .map(|t| (t.name, t.shape))
            .collect()
    };
    let g_names = names(&g);
    assert_eq!(g_names[0], ("main.0.weight".into(), vec![100, 512, 4, 4]));
    assert_eq!(g_names[1], ("main.1.weight".into(), vec![512]));
    assert_eq!(g_names[2], ("main.1.bias".into(), vec![512]));
    assert!(g_names.contains(&("main.12.weight".into(), vec![64, 3, 4, 4])));
    assert!(g_names.contains(&("main.1.running_mean".into(), vec![512])));
    assert!(g_names.contains(&("main.1.num_batches_tracked".into(), vec![])));
    let d_names = names(&d);
    assert_eq!(d_names[0], ("main.0.weight".into(), vec![64, 3, 4, 4]));
    assert_eq!(d_names[1], ("main.2.weight".into(), vec![128, 64, 4, 4]));
    assert_eq!(d_names[2], ("main.3.weight".into(), vec![128]));
    assert!(d_names.contains(&("main.11.weight".into(), vec![1, 512, 4, 4])));
    assert_eq!(g.outputs(), 3 * 64 * 64);
    assert_eq!(d.outputs(), 1);
    // 32×32: one layer fewer each side, G from 4·ngf, D up to 4·ndf.
    let small = dcgan(32, 1, 64);
    let (g, d) = (small.generator(1024), small.discriminator(1024));
    assert_eq!(g.tensors()[0].shape, vec![100, 256, 4, 4]);
    assert_eq!(g.tensors().last().unwrap().shape, vec![64, 1, 4, 4]);
    assert_eq!(d.tensors().last().unwrap().shape, vec![1, 256, 4, 4]);
    assert!(small.validate_images(1024).is_ok());
    // Wrong images, a conditional DCGAN, other sizes: refused with the field named.
    assert!(small.validate_images(784).unwrap_err().message.contains("DCGAN"));
    let conditional = TrainConfig {
        conditional: true,
        ..small.clone()
    };
    assert!(conditional.validate().unwrap_err().message.starts_with("conditional"));
    assert!(dcgan(48, 1, 64)
        .validate()
        .unwrap_err()
        .message
        .starts_with("image_size"));
    assert!(dcgan(32, 2, 64).validate().unwrap_err().message.starts_with("channels"));
}

#[test]
fn batch_norm_starts_as_pytorch_initialises_it() {
    let config = dcgan(32, 1, 8);
    let g = config.generator(1024);
    let state = TrainingState::initial(&config, 1024);
    for t in g.tensors() {
        let values = &state.generator.params[t.offset..][..t.len];
        let mean = values.iter().sum::<f32>() / t.len as f32;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / t.len as f32).sqrt();
        match (t.name.ends_with("bias"), t.shape.len()) {
            (true, _) => assert!(values.iter().all(|&v| v == 0.0), "{}", t.name),
            // Batch norm's weight: N(1, 0.02).
            (false, 1) => assert!((mean - 1.0).abs() < 0.02 && sd < 0.04, "{}: {mean} ± {sd}", t.name),
            // Convolutions: N(0, 0.02); the largest have thousands of values.
            (false, _) => assert!(
                mean.abs() < 0.01 && (sd - 0.02).abs() < 0.006,
                "{}: {mean} ± {sd}",
                t.name
            ),
        }
    }
    let statistics = &state.generator.statistics;
    assert_eq!(statistics.len(), g.statistics_count);
    for t in g.statistics() {
        let want = if t.name.ends_with("running_var") { 1.0 } else { 0.0 };
        assert!(statistics[t.offset..][..t.len].iter().all(|&v| v == want), "{}", t.name);
    }
}

/// Three steps at 32×32 gray, ngf = ndf = 8, batch 8, on both backends from one
/// seed. The sums differ in order (workgroup trees against the CPU's sequential
/// loops), and batch norm divides by a batch's deviation, so differences grow
/// faster than in the MLP; Adam's steps are lr each: a wrong kernel moves whole
/// tensors by about lr per step, rounding only a few values by a small part of it.
#[test]
fn both_backends_train_the_dcgan_alike() {
    let Some(gpu) = common::gpu() else { return };
    let config = TrainConfig {
        batch: 8,
        ..dcgan(32, 1, 8)
    };
    let data = common::synthetic_dataset(64, 32, 32, 5);
    let plan = Plan::training(&config, data.pixels(), data.count).unwrap();
    let initial = TrainingState::initial(&config, data.pixels());
    let mut cpu = CpuTrainer::new(plan.clone(), &data, &initial);
    let mut gpu_trainer = pollster::block_on(GpuTrainer::new(&gpu, plan.clone(), &data, &initial)).unwrap();
    let steps = 3;
    cpu.train(steps);
    gpu_trainer.train(steps);
    let stats = cpu.take_stats();
    assert!(stats.is_finite(), "{stats:?}");
    let (cpu, gpu) = (cpu.state(), pollster::block_on(gpu_trainer.read_state()).unwrap());
    let movement = config.generator_lr * steps as f32;
    // Every tensor trained: Adam moves each value about lr a step where its gradient
    // is steady, so a tensor no gradient reached would sit still on both backends.
    for (net, before, after) in [
        (&plan.generator, &initial.generator, &cpu.generator),
        (&plan.discriminator, &initial.discriminator, &cpu.discriminator),
    ] {
        for t in net.tensors() {
            let moved = common::max_abs_diff(&before.params[t.offset..][..t.len], &after.params[t.offset..][..t.len]);
            assert!(
                moved > 0.5 * movement,
                "{} of the {} moved only {moved}",
                t.name,
                net.kind.name()
            );
        }
    }
    for (net, a, b) in [
        (&plan.generator, &cpu.generator, &gpu.generator),
        (&plan.discriminator, &cpu.discriminator, &gpu.discriminator),
    ] {
        for t in net.tensors() {
            let (x, y) = (&a.params[t.offset..][..t.len], &b.params[t.offset..][..t.len]);
            let far = x
                .iter()
                .zip(y)
                .filter(|(x, y)| (*x - *y).abs() > 0.1 * movement)
                .count();
            let max = common::max_abs_diff(x, y);
            eprintln!(
                "{}: max |cpu - gpu| = {max:e}, {far} of {} beyond 0.1·lr·steps",
                t.name, t.len
            );
            assert!(max <= movement, "{} differs by {max}", t.name);
            assert!(
                far as f64 <= 0.02 * t.len as f64 + 1.0,
                "{}: {far} of {} differ",
                t.name,
                t.len
            );
        }
        // The running statistics: D's batch norms see three batches a step (real,
        // fake, and the fake again in G's update), G's one.
        for t in net.statistics() {
            let (x, y) = (&a.statistics[t.offset..][..t.len], &b.statistics[t.offset..][..t.len]);
            if t.name.ends_with("num_batches_tracked") {
                let per_step = if net.kind == ganvas::model::NetworkKind::Discriminator {
                    3.0
                } else {
                    1.0
                };
                assert_eq!(
                    (x[0], y[0]),
                    (per_step * steps as f32, per_step * steps as f32),
                    "{}",
                    t.name
                );
            } else {
                let max = common::max_abs_diff(x, y);
                assert!(
                    max <= 1e-3 * (1.0 + x.iter().fold(0f32, |m, v| m.max(v.abs()))),
                    "{} differs by {max}",
                    t.name
                );
            }
        }
    }
}

/// A DCGAN's checkpoint: PyTorch's state_dict names, batch norm's count as int64,
/// and the three files resume exactly (parameters, moments, statistics, step,
/// config); a generator alone starts a run of its DCGAN with its statistics.
#[test]
fn checkpoints_round_trip_with_running_statistics() {
    use ganvas::formats::checkpoint::{network_from_bytes, state_from_bytes, state_from_weights, state_to_bytes};
    use ganvas::model::NetworkKind;
    let config = TrainConfig {
        batch: 4,
        ..dcgan(32, 3, 4)
    };
    let data = colour_dataset(16, 32, 9);
    let plan = Plan::training(&config, data.pixels(), data.count).unwrap();
    let mut trainer = CpuTrainer::new(plan, &data, &TrainingState::initial(&config, data.pixels()));
    trainer.train(2);
    let state = trainer.state();
    let files = state_to_bytes(&state, data.pixels()).unwrap();
    let g_file = safetensors::SafeTensors::deserialize(&files[0]).unwrap();
    let count = g_file.tensor("main.1.num_batches_tracked").unwrap();
    assert_eq!(
        (count.dtype(), count.shape().to_vec(), count.data().to_vec()),
        (safetensors::Dtype::I64, vec![], 2i64.to_le_bytes().to_vec())
    );
    assert_eq!(g_file.tensor("main.1.running_var").unwrap().shape(), &[16]);
    let back = state_from_bytes(&files[0], &files[1], &files[2]).unwrap();
    assert_eq!(back, state);
    let g = network_from_bytes(&files[0], NetworkKind::Generator).unwrap();
    assert_eq!(g.network, config.generator(data.pixels()));
    assert_eq!(g.statistics, state.generator.statistics);
    let fresh = state_from_weights(&files[0], Some(&files[1]), &TrainConfig::default()).unwrap();
    assert_eq!(fresh.config.model, config.model);
    assert_eq!((fresh.step, &fresh.generator.params), (0, &state.generator.params));
    assert_eq!(fresh.discriminator.statistics, state.discriminator.statistics);
    // A DCGAN's D beside an MLP's G is refused, not mixed.
    let mlp = ganvas::formats::checkpoint::state_to_bytes(&TrainingState::initial(&TrainConfig::default(), 3072), 3072)
        .unwrap();
    assert!(state_from_weights(&mlp[0], Some(&files[1]), &TrainConfig::default()).is_err());
}

/// Random colour pictures of `side`, as the page's own pictures are laid out.
fn colour_dataset(count: usize, side: usize, seed: u64) -> ganvas::formats::mnist::Dataset {
    let plane = common::synthetic_dataset(count * 3, side, side, seed);
    ganvas::formats::mnist::Dataset::from_pixels(plane.images, side, 3).unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// A DCGAN generator file cut short or with bytes rewritten loads or is refused
    /// with a message: never a panic.
    #[test]
    fn mutated_dcgan_files_load_or_are_refused(
        cut in proptest::option::of(0.0f64..1.0),
        flips in proptest::collection::vec((0.0f64..1.0, proptest::prelude::any::<u8>()), 0..6),
    ) {
        use ganvas::formats::checkpoint::{network_from_bytes, state_to_bytes};
        let config = dcgan(32, 1, 2);
        let mut file = state_to_bytes(&TrainingState::initial(&config, 1024), 1024).unwrap()[0].clone();
        // Flips land in the header (where the shapes are) half the time.
        let header = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
        for (i, (at, value)) in flips.into_iter().enumerate() {
            let end = if i % 2 == 0 { header.min(file.len()) } else { file.len() };
            let i = ((end - 1) as f64 * at) as usize;
            file[i] = value;
        }
        if let Some(cut) = cut {
            file.truncate((file.len() as f64 * cut) as usize);
        }
        if let Err(e) = network_from_bytes(&file, ganvas::model::NetworkKind::Generator) {
            proptest::prop_assert!(!e.message.is_empty());
        }
    }
}

/// The census of a DCGAN trained on MNIST (32×32, padded) reads the centre 28×28 of
/// each sample with the 28×28 classifier: its logits are the classifier's on the
/// cropped images (the classifier's weights placed on the centre, zero around it).
#[test]
fn the_census_reads_the_centre_of_the_dcgans_samples() {
    use ganvas::quality::centre_crop;
    let config = TrainConfig {
        batch: 4,
        ..dcgan(32, 1, 4)
    };
    let classifier = ganvas::model::ClassifierConfig {
        hidden: vec![16, 8],
        ..Default::default()
    }
    .network(784, 10);
    let weights = classifier.initial_parameters(3);
    let data = common::synthetic_dataset(16, 32, 32, 2);
    let rows = 6;
    let plan = Plan::training(&config, 1024, data.count)
        .unwrap()
        .with_census(&classifier, &weights, rows)
        .unwrap();
    let state = TrainingState::initial(&config, 1024);
    let mut trainer = CpuTrainer::new(plan, &data, &state);
    trainer.train(1);
    let readings = trainer.census().unwrap();
    let after = trainer.state();
    let mut z = vec![0.0; rows * config.latent];
    ganvas::rng::normals(config.seed, ganvas::rng::Stream::Sample, 0, &mut z);
    let images = ganvas::backend::cpu::run_network(
        &config.generator(1024),
        &after.generator.params,
        &after.generator.statistics,
        &z,
    );
    let want = ganvas::backend::cpu::run_network(&classifier, &weights, &[], &centre_crop(&images, 32, 28));
    assert!(
        common::max_abs_diff(&readings.logits, &want) < 1e-4,
        "{:?} vs {want:?}",
        readings.logits
    );
}

/// A DCGAN at 64×64 colour, width 64, batch 64 has a plan: every buffer within the
/// 128 MiB WebGPU binds by default (the config's validation refuses any that is not).
#[test]
fn a_64_pixel_colour_dcgan_fits_webgpus_default_buffers() {
    let config = TrainConfig {
        batch: 64,
        ..dcgan(64, 3, 64)
    };
    let plan = Plan::training(&config, 3 * 64 * 64, 60_000).unwrap();
    let largest = plan.buffers.iter().map(|b| b.len).max().unwrap();
    assert!(largest <= ganvas::model::MAX_BUFFER_FLOATS, "{largest} floats");
    // A batch of 4,096 does not fit: refused with the reason.
    let wide = TrainConfig { batch: 4096, ..config };
    assert!(wide
        .validate_for(3 * 64 * 64, 60_000)
        .unwrap_err()
        .message
        .contains("GPU buffer"));
}
