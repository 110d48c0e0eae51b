//! The DCGAN's training steps against PyTorch's (pytorch/examples' `dcgan/main.py`
//! loop): the same initial weights, real batches and noise in; parameters, running
//! statistics and losses out after two steps.
//!
//! The inputs are ganvas's (`write_dcgan_step_inputs`, ignored: run it to remake
//! them); `tests/fixtures/make_pytorch_dcgan_steps.py` runs PyTorch's steps on them
//! and writes what this test checks against (needs torch, safetensors, numpy).

mod common;

use std::path::PathBuf;

use ganvas::backend::cpu::CpuTrainer;
use ganvas::formats::checkpoint::{network_from_bytes, network_to_bytes};
use ganvas::formats::npy;
use ganvas::model::state::TrainingState;
use ganvas::model::{Model, NetworkKind, TrainConfig};
use ganvas::plan::Plan;
use ganvas::rng::{self, Stream};

const STEPS: u32 = 2;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A small DCGAN (width 4) at batch 8 on 16 random 32×32 gray images: two steps
/// are one epoch.
fn setup() -> (TrainConfig, ganvas::formats::mnist::Dataset) {
    let config = TrainConfig {
        batch: 8,
        seed: 11,
        model: Model::Dcgan {
            image_size: 32,
            channels: 1,
            width: 4,
        },
        ..TrainConfig::default()
    };
    (config, common::synthetic_dataset(16, 32, 32, 4))
}

/// Writes the inputs of PyTorch's steps: ganvas's initial G and D (state_dicts),
/// and for each step the real batch and the noise exactly as ganvas's step draws
/// them (the epoch's shuffle; the noise stream at the step's counter).
#[test]
#[ignore = "writes the fixture inputs; run by hand, then make_pytorch_dcgan_steps.py"]
fn write_dcgan_step_inputs() {
    let (config, data) = setup();
    let state = TrainingState::initial(&config, data.pixels());
    for (net, s, file) in [
        (
            config.generator(1024),
            &state.generator,
            "dcgan_initial_generator.safetensors",
        ),
        (
            config.discriminator(1024),
            &state.discriminator,
            "dcgan_initial_discriminator.safetensors",
        ),
    ] {
        std::fs::write(fixture(file), network_to_bytes(&net, &s.params, &s.statistics).unwrap()).unwrap();
    }
    let order = rng::epoch_order(config.seed, 0, data.count);
    let real: Vec<f32> = order[..STEPS as usize * config.batch]
        .iter()
        .flat_map(|&i| data.inputs_of(i as usize))
        .collect();
    std::fs::write(
        fixture("dcgan_real.npy"),
        npy::to_bytes(STEPS as usize * config.batch, 1024, &real),
    )
    .unwrap();
    let mut noise = Vec::new();
    for step in 0..STEPS {
        let mut z = vec![0.0; config.batch * config.latent];
        rng::normals(config.seed, Stream::Noise, step, &mut z);
        noise.extend(z);
    }
    std::fs::write(
        fixture("dcgan_noise.npy"),
        npy::to_bytes(STEPS as usize * config.batch, config.latent, &noise),
    )
    .unwrap();
}

#[test]
fn two_dcgan_steps_match_pytorchs() {
    let (config, data) = setup();
    let state = TrainingState::initial(&config, data.pixels());
    // The inputs PyTorch was given are still what ganvas starts from.
    let written = std::fs::read(fixture("dcgan_initial_generator.safetensors")).unwrap();
    assert_eq!(
        network_from_bytes(&written, NetworkKind::Generator).unwrap().params,
        state.generator.params
    );
    let plan = Plan::training(&config, data.pixels(), data.count).unwrap();
    let mut trainer = CpuTrainer::new(plan, &data, &state);
    trainer.train(STEPS);
    let stats = trainer.take_stats();
    let after = trainer.state();
    let torch = |file: &str, kind| network_from_bytes(&std::fs::read(fixture(file)).unwrap(), kind).unwrap();
    let (g, d) = (
        torch("dcgan_pytorch_generator.safetensors", NetworkKind::Generator),
        torch("dcgan_pytorch_discriminator.safetensors", NetworkKind::Discriminator),
    );
    // Adam moves each parameter about lr a step. The same f32 operations summed in
    // another order part gradients by rounding, which Adam's division by their size
    // shows most near 0: measured (2026-12-07, this machine), the worst parameter
    // was 2.0e-7 apart, 1/2000 of lr·steps; allowed, 1/20 (a wrong gradient moves
    // whole tensors by about lr a step).
    let movement = config.generator_lr * STEPS as f32;
    for (name, net, ours, theirs) in [
        ("G", &config.generator(1024), &after.generator, &g),
        ("D", &config.discriminator(1024), &after.discriminator, &d),
    ] {
        for t in net.tensors() {
            let (a, b) = (&ours.params[t.offset..][..t.len], &theirs.params[t.offset..][..t.len]);
            let max = common::max_abs_diff(a, b);
            eprintln!("{name} {}: max |ganvas - PyTorch| = {max:e}", t.name);
            assert!(max <= 0.05 * movement, "{name} {} differs by {max}", t.name);
        }
        // Running estimates: means and variances of the same values, within f32
        // rounding of them (measured: 1.9e-9 at most).
        for t in net.statistics() {
            let (a, b) = (
                &ours.statistics[t.offset..][..t.len],
                &theirs.statistics[t.offset..][..t.len],
            );
            let max = common::max_abs_diff(a, b);
            eprintln!("{name} {}: max |ganvas - PyTorch| = {max:e}", t.name);
            assert!(max <= 1e-6, "{name} {} differs by {max}", t.name);
        }
    }
    // PyTorch's weights read by ganvas draw PyTorch's images (evaluation mode: the
    // running statistics), to within 1e-4 of their largest value (measured 3.3e-7 of
    // it; two steps from N(0, 0.02) weights leave G's outputs near 4e-4).
    let (_, _, noise) = npy::from_bytes(&std::fs::read(fixture("dcgan_noise.npy")).unwrap()).unwrap();
    let (_, _, want) = npy::from_bytes(&std::fs::read(fixture("dcgan_pytorch_eval_images.npy")).unwrap()).unwrap();
    let z = &noise[..config.batch * config.latent];
    let images = ganvas::backend::cpu::run_network(&g.network, &g.params, &g.statistics, z);
    let max = common::max_abs_diff(&images, &want);
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    eprintln!("G(z) in evaluation mode: max |ganvas - PyTorch| = {max:e}, largest |value| {scale}");
    assert!(
        scale > 1e-5 && max <= 1e-4 * scale,
        "G's images differ by {max} (largest value {scale})"
    );
    // PyTorch's errD (real + fake), errG, D(x) and D(G(z)) before D's update, each
    // step's; ganvas's stats are their means over the steps.
    let (rows, cols, losses) = npy::from_bytes(&std::fs::read(fixture("dcgan_pytorch_losses.npy")).unwrap()).unwrap();
    assert_eq!((rows, cols), (STEPS as usize, 4));
    let mean = |c: usize| (0..rows).map(|r| losses[r * cols + c]).sum::<f32>() / rows as f32;
    let ours = [
        stats.discriminator_loss,
        stats.generator_loss,
        stats.probability_real,
        stats.probability_fake,
    ];
    for (i, what) in ["D loss", "G loss", "D(x)", "D(G(z))"].into_iter().enumerate() {
        eprintln!("{what}: ganvas {}, PyTorch {}", ours[i], mean(i));
        // Measured: equal to the 7 digits printed.
        assert!(
            (ours[i] - mean(i)).abs() <= 1e-5 * (1.0 + mean(i).abs()),
            "{what}: ganvas {}, PyTorch {}",
            ours[i],
            mean(i)
        );
    }
}
