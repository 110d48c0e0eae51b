//! `ganvas train`: the training loop with progress, loss CSV, per-epoch sample grids
//! and checkpoints that resume exactly.

use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use ganvas::backend::cpu::CpuThreads;
use ganvas::backend::engine::{Backend, Engine};
use ganvas::formats::checkpoint::{self, DISCRIMINATOR_FILE, GENERATOR_FILE, OPTIMIZER_FILE};
use ganvas::formats::image_folder;
use ganvas::formats::image_shape::ImageShape;
use ganvas::formats::mnist::Dataset;
use ganvas::model::state::{Stats, TrainingState};
use ganvas::model::{Model, TrainConfig, DCGAN_MNIST_SIDE, DCGAN_WIDTH};
use ganvas::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::grid;

#[derive(Args)]
pub struct TrainArgs {
    /// Training steps to run (one step: a D update, then a G update).
    #[arg(long, conflicts_with = "epochs")]
    steps: Option<u32>,
    /// Epochs to run, each a shuffled pass over the 60,000 images [default: 1].
    #[arg(long)]
    epochs: Option<u32>,
    /// auto (a hardware GPU if there is one, else the CPU), gpu (any adapter, software
    /// ones included) or cpu.
    #[arg(long, default_value = "auto", value_parser = crate::backend)]
    backend: Backend,
    /// Threads for the CPU backend's matrix products, Adam and side-by-side gradients
    /// [default: every core]. The results are the same bits for any count.
    #[arg(long)]
    threads: Option<usize>,
    /// Folder with the MNIST IDX files, or with your own pictures (PNG, JPEG, WebP, GIF;
    /// searched recursively) [default: data/mnist].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Your pictures' side after cropping to the centre square and resizing
    /// [default: 28; 32 for the DCGAN, which takes 32 or 64].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["28", "32", "64"]))]
    image_size: Option<String>,
    /// Your pictures as gray (1) or colour (3) [default: 1].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["1", "3"]))]
    channels: Option<String>,
    /// Folder for checkpoints, losses.csv and samples/.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// Continue from the checkpoint in this folder (its hyperparameters, seed and step).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Log the mean losses every this many steps.
    #[arg(long, default_value_t = 100)]
    log_every: u32,
    /// Also write a checkpoint every this many steps (always at the end).
    #[arg(long)]
    checkpoint_every: Option<u32>,
    #[command(flatten)]
    hyper: Hyperparameters,
}

/// Each one defaults to the PyTorch original's value.
#[derive(Args)]
struct Hyperparameters {
    /// [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// [default: 64]
    #[arg(long)]
    batch: Option<usize>,
    /// Generator learning rate [default: 0.0002].
    #[arg(long)]
    lr_g: Option<f32>,
    /// Discriminator learning rate [default: 0.0002].
    #[arg(long)]
    lr_d: Option<f32>,
    /// [default: 0.5]
    #[arg(long)]
    beta1: Option<f64>,
    /// [default: 0.999]
    #[arg(long)]
    beta2: Option<f64>,
    /// Latent size [default: 100].
    #[arg(long)]
    latent: Option<usize>,
    /// Generator hidden widths [default: 256,512,1024].
    #[arg(long, value_delimiter = ',')]
    g_hidden: Option<Vec<usize>>,
    /// Discriminator hidden widths [default: 512,256].
    #[arg(long, value_delimiter = ',')]
    d_hidden: Option<Vec<usize>>,
    /// The conditional GAN: G and D also take the digit's label, one-hot, beside the
    /// latents and the image (`ganvas sample --label K` then draws digit K).
    #[arg(long)]
    conditional: bool,
    /// mlp (the lecture's perceptrons) or dcgan (pytorch/examples' deep convolutional
    /// GAN; MNIST is padded to 32×32 for it) [default: mlp].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["mlp", "dcgan"]))]
    model: Option<String>,
    /// The DCGAN's width, ngf = ndf [default: 64].
    #[arg(long)]
    width: Option<usize>,
}

impl Hyperparameters {
    fn any(&self) -> bool {
        self.seed.is_some()
            || self.batch.is_some()
            || self.lr_g.is_some()
            || self.lr_d.is_some()
            || self.beta1.is_some()
            || self.beta2.is_some()
            || self.latent.is_some()
            || self.g_hidden.is_some()
            || self.d_hidden.is_some()
            || self.conditional
            || self.model.is_some()
            || self.width.is_some()
    }

    fn dcgan(&self) -> bool {
        self.model.as_deref() == Some("dcgan")
    }

    /// The run's config for images of `shape`.
    fn config(&self, shape: ImageShape) -> TrainConfig {
        let d = TrainConfig::default();
        let model = match self.dcgan() {
            true => Model::Dcgan {
                image_size: shape.side,
                channels: shape.channels,
                width: self.width.unwrap_or(DCGAN_WIDTH),
            },
            false => Model::Mlp,
        };
        TrainConfig {
            seed: self.seed.unwrap_or(d.seed),
            batch: self.batch.unwrap_or(d.batch),
            generator_lr: self.lr_g.unwrap_or(d.generator_lr),
            discriminator_lr: self.lr_d.unwrap_or(d.discriminator_lr),
            beta1: self.beta1.unwrap_or(d.beta1),
            beta2: self.beta2.unwrap_or(d.beta2),
            latent: self.latent.unwrap_or(d.latent),
            generator_hidden: self.g_hidden.clone().unwrap_or(d.generator_hidden),
            discriminator_hidden: self.d_hidden.clone().unwrap_or(d.discriminator_hidden),
            eps: d.eps,
            conditional: self.conditional,
            model,
        }
    }
}

/// MNIST's IDX files where `dir` holds them, else every picture under it as
/// `--image-size` and `--channels` say, listing the files it skips.
fn training_data(dir: &Path, args: &TrainArgs, dcgan: bool) -> Result<Dataset> {
    let number = |v: &Option<String>, default: usize| v.as_deref().and_then(|v| v.parse().ok()).unwrap_or(default);
    let shape = ImageShape {
        side: number(&args.image_size, if dcgan { 32 } else { 28 }),
        channels: number(&args.channels, 1),
    };
    if Dataset::has_training_set(dir) {
        // The DCGAN's MNIST is 32×32: the digits with 2 pixels of background a side.
        let mnist = match dcgan {
            true => ImageShape {
                side: DCGAN_MNIST_SIDE,
                channels: 1,
            },
            false => ImageShape::MNIST,
        };
        if shape != mnist {
            return Err(Error::new(format!(
                "{} holds MNIST, whose images {}: --image-size and --channels are for your own pictures",
                dir.display(),
                match dcgan {
                    true => format!("the DCGAN takes as {mnist}"),
                    false => format!("are {mnist}"),
                },
            )));
        }
        let data = Dataset::load_training_set(dir)?;
        return if dcgan { data.padded(DCGAN_MNIST_SIDE) } else { Ok(data) };
    }
    let folder = image_folder::load(dir, shape).map_err(|e| {
        Error::new(format!(
            "{e}; nor does it hold MNIST (train-images-idx3-ubyte[.gz] and its labels)"
        ))
    })?;
    for (path, why) in &folder.skipped {
        eprintln!("skipped {}: {why}", path.display());
    }
    let count = folder.dataset.count;
    eprintln!(
        "{count} pictures of {} as {shape} images ({} skipped)",
        dir.display(),
        folder.skipped.len()
    );
    if count < image_folder::FEW_IMAGES {
        eprintln!("warning: with only {count} pictures, G will learn to copy them rather than draw new ones");
    }
    Ok(folder.dataset)
}

pub fn run(args: TrainArgs) -> Result<()> {
    let data_dir = args.data.clone().unwrap_or_else(crate::default_data_dir);
    let resumed = match &args.resume {
        Some(_) if args.hyper.any() => {
            return Err(Error::new(
                "hyperparameters come from the checkpoint when resuming; drop them or start afresh",
            ))
        }
        Some(dir) => Some(load_checkpoint(dir)?),
        None => None,
    };
    let dcgan = match &resumed {
        Some(state) => matches!(state.config.model, Model::Dcgan { .. }),
        None => args.hyper.dcgan(),
    };
    let data = training_data(&data_dir, &args, dcgan)?;
    let pixels = data.pixels();
    let state = match resumed {
        Some(state) => state,
        None => {
            let config = args.hyper.config(ImageShape::from_values(pixels)?);
            config.validate_for(pixels, data.count)?;
            TrainingState::initial(&config, pixels)
        }
    };
    let config = state.config.clone();
    let (mut engine, why) = pollster::block_on(Engine::create(
        args.backend,
        CpuThreads::new(args.threads.unwrap_or_else(crate::cores)),
        &data,
        &state,
        None,
    ))
    .map_err(|e| match &args.resume {
        Some(dir) => Error::new(format!("cannot resume from {}: {e}", dir.display())),
        None => e,
    })?;
    let per_epoch = engine.plan().steps_per_epoch;
    let columns = engine.plan().preview_columns();
    let steps = match (args.steps, args.epochs) {
        (Some(s), _) => s,
        (None, e) => e.unwrap_or(1).saturating_mul(per_epoch),
    };
    let start_step = state.step;
    let end_step = start_step
        .checked_add(steps)
        .ok_or_else(|| Error::new("the step count would pass 4,294,967,295"))?;

    fs::create_dir_all(args.out.join("samples"))
        .map_err(|e| Error::new(format!("cannot create {}: {e}", args.out.display())))?;
    let mut csv = open_csv(&args.out.join("losses.csv"), args.resume.is_some())?;
    eprintln!("{why}");
    eprintln!(
        "training {steps} steps ({start_step} → {end_step}, {per_epoch} steps an epoch, batch {}, seed {}), writing to {}",
        config.batch,
        config.seed,
        args.out.display()
    );

    let progress = Progress::new(start_step, end_step);
    let log_every = args.log_every.max(1);
    while engine.step() < end_step {
        let step = engine.step();
        // Stop at log points and epoch ends; at most 50 steps a submission.
        let next_log = (step / log_every + 1) * log_every;
        let next_epoch = (step / per_epoch + 1) * per_epoch;
        let target = end_step.min(next_log).min(next_epoch).min(step + 50);
        engine.train(target - step);
        let step = engine.step();
        if step % log_every == 0 || step == end_step {
            // Waiting for the previous window also bounds how far the CPU records
            // ahead of the GPU.
            if let Some(stats) = pollster::block_on(engine.wait_stats()) {
                progress.record(&mut csv, stats?)?;
            }
            engine.request_stats();
        }
        while let Some(stats) = engine.poll_stats() {
            progress.record(&mut csv, stats?)?;
        }
        if step % per_epoch == 0 {
            let path = args
                .out
                .join("samples")
                .join(format!("epoch_{:04}.png", step / per_epoch));
            grid::write_png(&path, &preview(&mut engine)?, pixels, columns)?;
        }
        if args.checkpoint_every.is_some_and(|n| n > 0 && step % n == 0) && step != end_step {
            save_checkpoint(&args.out, &read_state(&engine)?, pixels)?;
        }
    }
    if let Some(stats) = pollster::block_on(engine.wait_stats()) {
        progress.record(&mut csv, stats?)?;
    }
    progress.finish();
    let final_state = read_state(&engine)?;
    save_checkpoint(&args.out, &final_state, pixels)?;
    let grid_path = args.out.join("samples").join(format!("step_{end_step:07}.png"));
    grid::write_png(&grid_path, &preview(&mut engine)?, pixels, columns)?;
    eprintln!("wrote {} (checkpoint) and {}", args.out.display(), grid_path.display());
    Ok(())
}

fn preview(engine: &mut Engine) -> Result<Vec<f32>> {
    Ok(pollster::block_on(engine.start_preview(None)?.finish())?.images)
}

fn read_state(engine: &Engine) -> Result<TrainingState> {
    pollster::block_on(engine.start_state_read().finish())
}

fn open_csv(path: &Path, append: bool) -> Result<File> {
    let exists = path.is_file();
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(|e| Error::new(format!("cannot open {}: {e}", path.display())))?;
    if !(append && exists) {
        writeln!(file, "step,d_loss,g_loss,d_x,d_g_z").map_err(|e| Error::new(format!("cannot write the CSV: {e}")))?;
    }
    Ok(file)
}

/// The progress bar, and the step reached by the stats read back so far.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    start_step: u32,
    reached: std::cell::Cell<u32>,
}

impl Progress {
    fn new(start_step: u32, end_step: u32) -> Self {
        let bar = ProgressBar::new(u64::from(end_step - start_step));
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps · {per_sec} · {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress {
            bar,
            started: Instant::now(),
            start_step,
            reached: std::cell::Cell::new(start_step),
        }
    }

    /// Writes a CSV row for the window of `stats`, and stops on non-finite losses.
    fn record(&self, csv: &mut File, stats: Stats) -> Result<()> {
        let step = self.reached.get() + stats.steps;
        self.reached.set(step);
        if !stats.is_finite() {
            return Err(Error::new(format!(
                "the losses became non-finite by step {step}; the last checkpoint written is kept"
            )));
        }
        writeln!(
            csv,
            "{step},{},{},{},{}",
            stats.discriminator_loss, stats.generator_loss, stats.probability_real, stats.probability_fake
        )
        .map_err(|e| Error::new(format!("cannot write the CSV: {e}")))?;
        let message = format!(
            "D loss {:.4}  G loss {:.4}  D(x) {:.3}  D(G(z)) {:.3}",
            stats.discriminator_loss, stats.generator_loss, stats.probability_real, stats.probability_fake
        );
        self.bar.set_position(u64::from(step - self.start_step));
        self.bar.set_message(message.clone());
        if !std::io::stderr().is_terminal() {
            let rate = f64::from(step - self.start_step) / self.started.elapsed().as_secs_f64();
            eprintln!("step {step}: {message}  ({rate:.1} steps/s)");
        }
        Ok(())
    }

    fn finish(&self) {
        self.bar.finish();
        let steps = self.reached.get() - self.start_step;
        let seconds = self.started.elapsed().as_secs_f64();
        eprintln!(
            "{steps} steps in {seconds:.1} s ({:.1} steps/s)",
            f64::from(steps) / seconds
        );
    }
}

fn save_checkpoint(dir: &Path, state: &TrainingState, pixels: usize) -> Result<()> {
    let names = [GENERATOR_FILE, DISCRIMINATOR_FILE, OPTIMIZER_FILE];
    let files = names.into_iter().zip(checkpoint::state_to_bytes(state, pixels)?);
    for (name, bytes) in files {
        // Write then rename, so an interrupted save never leaves a half-written checkpoint.
        let (tmp, path) = (dir.join(format!("{name}.tmp")), dir.join(name));
        fs::write(&tmp, bytes)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

fn load_checkpoint(dir: &Path) -> Result<TrainingState> {
    let read = |name: &str| {
        let path = dir.join(name);
        fs::read(&path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))
    };
    checkpoint::state_from_bytes(
        &read(GENERATOR_FILE)?,
        &read(DISCRIMINATOR_FILE)?,
        &read(OPTIMIZER_FILE)?,
    )
    .map_err(|e| Error::new(format!("{}: {e}", dir.display())))
}
