//! `ganvas`: train the MNIST GAN from the command line, and sample from checkpoints.

mod bench;
mod classifier;
mod eval;
mod grid;
mod sample;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ganvas", version, about = "Train the classic MNIST GAN on your GPU (or CPU)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train, writing checkpoints, a loss CSV and a sample grid per epoch to --out.
    Train(Box<train::TrainArgs>),
    /// Generate images from a generator checkpoint (ganvas's or PyTorch's).
    Sample(sample::SampleArgs),
    /// Time training on each backend, and the matmul kernel on each shape of the step.
    Bench(bench::BenchArgs),
    /// The MNIST classifier that reads the generated digits.
    #[command(subcommand)]
    Classifier(classifier::ClassifierCommand),
    /// The digit census and quality scores of a generator's samples, or of images.
    Eval(eval::EvalArgs),
}

/// `--backend`: auto (a hardware GPU if one exists, else the CPU), gpu (wgpu on any
/// adapter, software ones included) or cpu.
pub fn backend(name: &str) -> Result<ganvas::backend::engine::Backend, String> {
    ganvas::backend::engine::Backend::from_name(name).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Sample(args) => sample::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Classifier(command) => classifier::run(command),
        Command::Eval(args) => eval::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The cores this process may use, the CPU backend's default thread count.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where MNIST is looked for when --data is not given: ./data/mnist, then the copy
/// in this source tree.
pub fn default_data_dir() -> PathBuf {
    local_or_source("data/mnist")
}

/// The classifier that ships (`ganvas classifier train` with its defaults, seed 0):
/// ./data/classifier.safetensors, then the copy in this source tree.
pub fn default_classifier() -> PathBuf {
    local_or_source("data/classifier.safetensors")
}

fn local_or_source(path: &str) -> PathBuf {
    let local = PathBuf::from(path);
    match local.exists() {
        true => local,
        false => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path),
    }
}
