//! `ganvas classifier train`: the MNIST classifier that reads the GAN's digits,
//! trained by the same plans, trainers and kernels as the GAN.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use ganvas::backend::cpu::CpuThreads;
use ganvas::backend::engine::{Backend, Engine};
use ganvas::formats::mnist::Dataset;
use ganvas::model::state::NetworkState;
use ganvas::model::{ClassifierConfig, CLASSES};
use ganvas::plan::ClassifierPlan;
use ganvas::quality::classifier::accuracy;
use ganvas::quality::classifier::classifier_to_bytes;
use ganvas::quality::Reader;
use ganvas::{Error, Result};

#[derive(Subcommand)]
pub enum ClassifierCommand {
    /// Train on the MNIST training set, report accuracy on the test set, and write the
    /// weights (as the state_dict of the MLP in README) with the mean and covariance
    /// of its features on the test set, the reference of `ganvas eval`'s distance.
    Train(TrainArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// The .safetensors file to write.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 30)]
    epochs: u32,
    /// auto, gpu or cpu, as for `ganvas train`.
    #[arg(long, default_value = "auto", value_parser = crate::backend)]
    backend: Backend,
    /// Threads for the CPU backend [default: every core].
    #[arg(long)]
    threads: Option<usize>,
    /// Folder with the MNIST IDX files, training and test sets [default: data/mnist].
    #[arg(long)]
    data: Option<PathBuf>,
    /// [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// [default: 64]
    #[arg(long)]
    batch: Option<usize>,
    /// Adam's learning rate [default: 0.0001].
    #[arg(long)]
    lr: Option<f32>,
    /// Hidden widths; the last one's outputs are the features [default: 512,128].
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
}

pub fn run(command: ClassifierCommand) -> Result<()> {
    let ClassifierCommand::Train(args) = command;
    let dir = args.data.clone().unwrap_or_else(crate::default_data_dir);
    let (train, test) = (Dataset::load_training_set(&dir)?, Dataset::load_test_set(&dir)?);
    let d = ClassifierConfig::default();
    let config = ClassifierConfig {
        hidden: args.hidden.clone().unwrap_or(d.hidden),
        batch: args.batch.unwrap_or(d.batch),
        lr: args.lr.unwrap_or(d.lr),
        seed: args.seed.unwrap_or(d.seed),
        ..d
    };
    let plan = ClassifierPlan::training(&config, train.pixels(), CLASSES, train.count)?;
    let network = plan.network.clone();
    let per_epoch = plan.steps_per_epoch;
    let initial = NetworkState::initial(&network, config.seed);
    let threads = args.threads.unwrap_or_else(crate::cores);
    let (mut engine, why) = pollster::block_on(Engine::choose(
        args.backend,
        CpuThreads::new(threads),
        plan,
        &train,
        0,
        &[&initial],
    ))?;
    eprintln!("{why}");
    let started = Instant::now();
    for epoch in 1..=args.epochs {
        // At most 100 steps a submission, so the GPU's queue stays short.
        for _ in 0..per_epoch.div_ceil(100) {
            engine.train(100.min(per_epoch * epoch - engine.step()));
        }
        engine.request_stats();
        if let Some(sums) = pollster::block_on(engine.wait_sums()) {
            let (sums, steps) = sums?;
            let mean = |x: f32| x / steps.max(1) as f32;
            eprintln!(
                "epoch {epoch}: loss {:.4}, training accuracy {:.2}% ({:.1} s)",
                mean(sums[0]),
                100.0 * mean(sums[1]),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let params = pollster::block_on(engine.start_networks_read().finish())?
        .swap_remove(0)
        .params;
    let test_accuracy = accuracy(&network, &params, &test);
    let reference = Reader::reference_of(&network, &params, &test.inputs())?;
    let bytes = classifier_to_bytes(&network, &params, &reference)?;
    std::fs::write(&args.out, bytes).map_err(|e| Error::new(format!("cannot write {}: {e}", args.out.display())))?;
    println!(
        "test accuracy: {:.2}% of {} images; wrote {}",
        100.0 * test_accuracy,
        test.count,
        args.out.display()
    );
    Ok(())
}
