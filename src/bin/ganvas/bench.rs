//! `ganvas bench`: training steps per second of the GPU and CPU backends, what one
//! digit census (as the page runs it) costs in steps, and the matmul kernel's
//! GFLOP/s on every matrix shape of the step against the CPU GEMM; with `--profile`,
//! each op of the GPU's step timed by GPU timestamps. Medians of several timed
//! repeats after a warm-up; nothing here is asserted.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use ganvas::backend::cpu::CpuThreads;
use ganvas::backend::engine::Engine;
use ganvas::backend::gpu::GpuContext;
use ganvas::formats::mnist::Dataset;
use ganvas::kernels::conv::{LowerVariant, WeightVariant};
use ganvas::kernels::matmul::{MatmulOp, MatmulPolicy, MatmulVariant};
use ganvas::kernels::Op;
use ganvas::model::state::TrainingState;
use ganvas::model::{Model, TrainConfig, DCGAN_MNIST_SIDE, DCGAN_WIDTH, MAX_BUFFER_FLOATS};
use ganvas::plan::{Plan, CENSUS_ROWS};
use ganvas::quality::Reader;
use ganvas::{Error, Result};
use serde::Serialize;

#[derive(Args)]
pub struct BenchArgs {
    /// Batch sizes to time training at.
    #[arg(long, value_delimiter = ',', default_values_t = [64, 256])]
    batches: Vec<usize>,
    /// Timed repeats per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Roughly how long each repeat runs, in seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Also write the results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Folder with the MNIST IDX files [default: data/mnist].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Thread counts to time the CPU backend with [default: 1 and every core].
    #[arg(long, value_delimiter = ',')]
    threads: Option<Vec<usize>>,
    /// Only the CPU backend's training rows: no GPU, no matmul table (for timing
    /// it run by run beside a peer, as `cargo xtask bench` does).
    #[arg(long)]
    cpu_only: bool,
    /// Only the GPU backend's rows: training and the matmul kernel, no CPU timings.
    #[arg(long, conflicts_with = "cpu_only")]
    gpu_only: bool,
    /// The GPU matmul entry point for every product [default: what training picks
    /// for the adapter: whole-k on CPU emulations, by-shape on hardware GPUs].
    #[arg(long, value_enum)]
    matmul: Option<MatmulChoice>,
    /// The GPU entry point for the convolutions' forward pass (Conv2d, and
    /// ConvTranspose2d's input gradient) [default: registers].
    #[arg(long, value_enum)]
    conv_lower: Option<ConvLowerChoice>,
    /// The GPU entry point for the convolutions' weight gradients [default: whole].
    #[arg(long, value_enum)]
    conv_weight: Option<ConvWeightChoice>,
    /// Also time each op of the training step, the median of 20 profiled steps: on
    /// the GPU with its timestamps (each op in a compute pass of its own), where the
    /// adapter has them; on the CPU by the clock around each op.
    #[arg(long)]
    profile: bool,
    /// The model to time: mlp (the lecture's) or dcgan (pytorch/examples', on MNIST
    /// padded to 32×32) [default: mlp].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["mlp", "dcgan"]))]
    model: Option<String>,
    /// The DCGAN's width, ngf = ndf [default: 64].
    #[arg(long)]
    width: Option<usize>,
}

impl BenchArgs {
    fn model(&self) -> Model {
        match self.model.as_deref() {
            Some("dcgan") => Model::Dcgan {
                image_size: DCGAN_MNIST_SIDE,
                channels: 1,
                width: self.width.unwrap_or(DCGAN_WIDTH),
            },
            _ => Model::Mlp,
        }
    }
}

/// `MatmulPolicy` as the command line names it.
#[derive(Clone, Copy, ValueEnum)]
enum MatmulChoice {
    WholeK,
    SplitK,
    Tiled,
    ByShape,
}

/// `LowerVariant` as the command line names it.
#[derive(Clone, Copy, ValueEnum)]
enum ConvLowerChoice {
    Registers,
    Tiled,
}

/// `WeightVariant` as the command line names it.
#[derive(Clone, Copy, ValueEnum)]
enum ConvWeightChoice {
    Whole,
    Split,
}

#[derive(Serialize)]
struct TrainingRow {
    backend: String,
    device: String,
    /// The CPU backend's threads; none for the GPU.
    threads: Option<usize>,
    batch: usize,
    steps_per_second: f64,
    min: f64,
    max: f64,
    dispatches_per_step: usize,
    submissions_per_step: f64,
    /// One census of `plan::CENSUS_ROWS` samples, read back and scored, in the time
    /// of training steps (median); none without the shipped classifier.
    census_steps: Option<f64>,
    uploads_per_step: usize,
    readbacks_per_step: usize,
}

#[derive(Serialize)]
struct MatmulRow {
    batch: usize,
    shape: String,
    gpu_gflops: f64,
    cpu_gflops: f64,
}

/// One op of a step: on which backend (the GPU, or the CPU on some threads), its
/// place, what it is (`Op::describe`), its median time and its share of the ops' sum.
#[derive(Serialize)]
struct ProfileRow {
    device: String,
    batch: usize,
    index: usize,
    op: String,
    microseconds: f64,
    share: f64,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    /// What was timed (`Model`'s debug form).
    model: String,
    training: Vec<TrainingRow>,
    matmul: Vec<MatmulRow>,
    profile: Vec<ProfileRow>,
}

/// Profiled steps whose per-op median `--profile` reports (after as many unrecorded).
const PROFILED_STEPS: usize = 20;

/// Each op of the step at this engine's batch: on the GPU by its timestamps (nothing,
/// said so, where the device has none), on the CPU by the clock around each op,
/// run one after another in the step's order as training runs them.
fn profile(engine: &mut Engine, device: &str, batch: usize, report: &mut Report) -> Result<()> {
    let ops = engine.plan().step.clone();
    let mut samples: Vec<Vec<f64>> = Vec::new();
    for i in 0..2 * PROFILED_STEPS {
        let times = match engine.threads() {
            0 => match engine.profile_step() {
                Some(times) => times?,
                None => {
                    eprintln!("no profile: this GPU device has no timestamp queries");
                    return Ok(());
                }
            },
            _ => (0..ops.len())
                .map(|index| {
                    let start = Instant::now();
                    engine.run_step_op(index, 1);
                    start.elapsed().as_secs_f64() * 1e6
                })
                .collect(),
        };
        if i >= PROFILED_STEPS {
            samples.push(times);
        }
    }
    let medians: Vec<f64> = (0..ops.len())
        .map(|op| {
            let mut times: Vec<f64> = samples.iter().map(|s| s[op]).collect();
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        })
        .collect();
    let total: f64 = medians.iter().sum();
    for (index, (op, &microseconds)) in ops.iter().zip(&medians).enumerate() {
        report.profile.push(ProfileRow {
            device: device.to_string(),
            batch,
            index,
            op: op.describe(|id| &engine.plan().buffers[id.0].name),
            microseconds,
            share: microseconds / total,
        });
    }
    Ok(())
}

/// Median, min and max of `repeats` timings of `run(count)`, in units per second,
/// with `count` chosen from a warm-up so each repeat takes about `seconds`.
fn rate(repeats: usize, seconds: f64, mut run: impl FnMut(u32)) -> (f64, f64, f64, u32) {
    let start = Instant::now();
    run(1);
    let once = start.elapsed().as_secs_f64().max(1e-6);
    let count = ((seconds / once) as u32).clamp(1, 10_000);
    let mut rates: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            run(count);
            f64::from(count) / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], rates[0], rates[rates.len() - 1], count)
}

/// The time of one census (run, read back, scored) in steps at `steps_per_second`.
fn census_steps(engine: &mut Engine, reader: &Reader, args: &BenchArgs, steps_per_second: f64) -> Result<f64> {
    let mut failed = None;
    let (per_second, ..) = rate(args.repeats, args.seconds, |n| {
        for _ in 0..n {
            let read = engine.start_census().map(|c| pollster::block_on(c.finish()));
            if let Some(Err(e)) = read.map(|r| r.and_then(|readings| reader.score_census(&readings))) {
                failed = Some(e);
            }
        }
    });
    failed.map_or(Ok(steps_per_second / per_second), Err)
}

pub fn run(args: BenchArgs) -> Result<()> {
    let data = Dataset::load_training_set(&args.data.clone().unwrap_or_else(crate::default_data_dir))?;
    let data = match args.model() {
        Model::Dcgan { .. } => data.padded(DCGAN_MNIST_SIDE)?,
        Model::Mlp => data,
    };
    let pixels = data.pixels();
    let reader = match std::fs::read(crate::default_classifier()) {
        Ok(bytes) => Some(ganvas::web::classifier(&bytes)?),
        Err(e) => {
            eprintln!("no census column: {e}");
            None
        }
    };
    let census = reader.as_ref().map(|r| r.census(CENSUS_ROWS));
    let gpu = gpu_for(&args);
    let device = gpu
        .as_ref()
        .map(|g| format!("{}, {:?} matmul", g.describe(), g.matmul))
        .unwrap_or_default();
    let mut report = Report {
        machine: format!("{} cores; GPU: {}", crate::cores(), device),
        model: format!("{:?}", args.model()),
        training: Vec::new(),
        matmul: Vec::new(),
        profile: Vec::new(),
    };
    for &batch in &args.batches {
        let state = TrainingState::initial(&config_at(args.model(), batch, pixels, &data)?, pixels);
        if let Some(gpu) = &gpu {
            let mut engine = pollster::block_on(Engine::on_gpu(gpu.clone(), &data, &state, census))?;
            // One submission per timed run (the runs stay within an epoch), waited on at the end.
            let (median, min, max, count) = rate(args.repeats, args.seconds, |n| {
                engine.train(n);
                engine.wait_idle();
            });
            let census_steps = reader.as_ref().map(|r| census_steps(&mut engine, r, &args, median));
            if args.profile {
                profile(&mut engine, &device, batch, &mut report)?;
            }
            report.training.push(TrainingRow {
                backend: "gpu".into(),
                device: device.clone(),
                threads: None,
                batch,
                steps_per_second: median,
                min,
                max,
                dispatches_per_step: engine.dispatches_per_step(),
                submissions_per_step: 1.0 / f64::from(count),
                census_steps: census_steps.transpose()?,
                uploads_per_step: 0,
                readbacks_per_step: 0,
            });
        }
        let mut thread_counts = match args.gpu_only {
            true => Vec::new(),
            false => args.threads.clone().unwrap_or_else(|| vec![1, crate::cores()]),
        };
        thread_counts.dedup();
        for threads in thread_counts {
            let mut engine = Engine::on_cpu(CpuThreads::new(threads), &data, &state, census)?;
            let threads = engine.threads();
            let (median, min, max, _) = rate(args.repeats, args.seconds, |n| engine.train(n));
            let census_steps = reader.as_ref().map(|r| census_steps(&mut engine, r, &args, median));
            let device = format!("CPU, {threads} thread(s)");
            if args.profile {
                profile(&mut engine, &device, batch, &mut report)?;
            }
            report.training.push(TrainingRow {
                backend: "cpu".into(),
                device,
                threads: Some(threads),
                batch,
                steps_per_second: median,
                min,
                max,
                dispatches_per_step: 0,
                submissions_per_step: 0.0,
                census_steps: census_steps.transpose()?,
                uploads_per_step: 0,
                readbacks_per_step: 0,
            });
        }
    }

    // Without a GPU, --gpu-only leaves nothing to time.
    if !args.cpu_only && (gpu.is_some() || !args.gpu_only) {
        for &batch in &args.batches {
            matmul_table(&args, batch, &data, gpu.as_ref(), &mut report)?;
        }
    }
    print_report(&report);
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Error::new(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// The GPU to time, with the matmul entry point asked for; none with --cpu-only or
/// where there is none.
fn gpu_for(args: &BenchArgs) -> Option<GpuContext> {
    if args.cpu_only {
        return None;
    }
    match pollster::block_on(GpuContext::new()) {
        Ok(mut gpu) => {
            if let Some(choice) = args.conv_lower {
                gpu.conv_lower = match choice {
                    ConvLowerChoice::Registers => LowerVariant::Registers,
                    ConvLowerChoice::Tiled => LowerVariant::Tiled,
                };
            }
            if let Some(choice) = args.conv_weight {
                gpu.conv_weight = match choice {
                    ConvWeightChoice::Whole => WeightVariant::Whole,
                    ConvWeightChoice::Split => WeightVariant::Split,
                };
            }
            if let Some(choice) = args.matmul {
                gpu.matmul = match choice {
                    MatmulChoice::WholeK => MatmulPolicy::Only(MatmulVariant::WholeK),
                    MatmulChoice::SplitK => MatmulPolicy::Only(MatmulVariant::SplitK),
                    MatmulChoice::Tiled => MatmulPolicy::Only(MatmulVariant::Tiled),
                    MatmulChoice::ByShape => MatmulPolicy::HARDWARE,
                };
            }
            Some(gpu)
        }
        Err(e) => {
            eprintln!("no GPU rows: {e}");
            None
        }
    }
}

/// The default config of `model` at `batch`, checked against the data.
fn config_at(model: Model, batch: usize, pixels: usize, data: &Dataset) -> Result<TrainConfig> {
    let config = TrainConfig {
        model,
        batch,
        ..Default::default()
    };
    config.validate_for(pixels, data.count)?;
    Ok(config)
}

/// The matmul kernel on each distinct matrix shape of the step at `batch`, on the GPU
/// (if any) and with the CPU backend's GEMM.
fn matmul_table(
    args: &BenchArgs,
    batch: usize,
    data: &Dataset,
    gpu: Option<&GpuContext>,
    report: &mut Report,
) -> Result<()> {
    let pixels = data.pixels();
    let state = TrainingState::initial(&config_at(args.model(), batch, pixels, data)?, pixels);
    let mut cpu = Engine::on_cpu(CpuThreads::new(1), data, &state, None)?;
    let mut gpu = match gpu {
        Some(gpu) => Some(pollster::block_on(Engine::on_gpu(gpu.clone(), data, &state, None))?),
        None => None,
    };
    let mut seen = Vec::new();
    let ops = cpu.plan().step.clone();
    for (index, op) in ops.iter().enumerate() {
        let Op::Matmul(MatmulOp { params: p, .. }) = op else {
            continue;
        };
        // Forward products add a bias; input gradients pass through an activation's derivative.
        let layout = match (p.has_bias, p.gate_activation) {
            (1, _) => "X·Wᵀ",
            (_, 0) => "dYᵀ·X",
            _ => "dY·W",
        };
        let shape = format!("{layout} {}x{}x{}", p.m, p.n, p.k);
        if seen.contains(&shape) {
            continue;
        }
        seen.push(shape.clone());
        let flops = p.flops();
        let gpu_gflops = match &mut gpu {
            Some(engine) => {
                let (median, ..) = rate(args.repeats, args.seconds / 4.0, |n| {
                    engine.run_step_op(index, n);
                    engine.wait_idle();
                });
                median * flops / 1e9
            }
            None => 0.0,
        };
        let cpu_gflops = match args.gpu_only {
            true => 0.0,
            false => rate(args.repeats, args.seconds / 4.0, |n| cpu.run_step_op(index, n)).0 * flops / 1e9,
        };
        report.matmul.push(MatmulRow {
            batch,
            shape,
            gpu_gflops,
            cpu_gflops,
        });
    }

    Ok(())
}

/// The bytes of the largest buffer and of all buffers of a DCGAN's training plan at
/// 64×64 colour, width 64, batch 64 (no census: colour pictures have none).
fn dcgan_memory() -> Result<(usize, usize)> {
    let config = TrainConfig {
        model: Model::Dcgan {
            image_size: 64,
            channels: 3,
            width: 64,
        },
        ..TrainConfig::default()
    };
    let plan = Plan::training(&config, 3 * 64 * 64, 60_000)?;
    let lengths = plan.buffers.iter().map(|b| 4 * b.len);
    Ok((lengths.clone().max().unwrap_or(0), lengths.sum()))
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn print_report(report: &Report) {
    println!("machine: {}", report.machine);
    println!("model: {}", report.model);
    println!(
        "{:<8} {:>7} {:>6} {:>14} {:>20} {:>11} {:>12} {:>14}",
        "backend", "threads", "batch", "steps/s", "spread", "dispatches", "submissions", "census, steps"
    );
    for r in &report.training {
        println!(
            "{:<8} {:>7} {:>6} {:>14.2} {:>20} {:>11} {:>12.3} {:>14}",
            r.backend,
            r.threads.map_or("-".to_string(), |t| t.to_string()),
            r.batch,
            r.steps_per_second,
            format!("{:.2}-{:.2}", r.min, r.max),
            r.dispatches_per_step,
            r.submissions_per_step,
            r.census_steps.map_or("-".to_string(), |c| format!("{c:.1}")),
        );
    }
    println!("(per step: 0 uploads, 0 readbacks; stats are read on request only)");
    println!("(census: {CENSUS_ROWS} samples of G read by the shipped classifier, read back and scored)");
    match dcgan_memory() {
        Ok((largest, all)) => println!(
            "(DCGAN, 64×64 colour, width 64, batch 64: largest GPU buffer {:.1} MiB of the {:.0} MiB WebGPU binds by default; all buffers {:.1} MiB)",
            mib(largest),
            mib(4 * MAX_BUFFER_FLOATS),
            mib(all)
        ),
        Err(e) => println!("(DCGAN, 64×64 colour: no plan: {e})"),
    }
    for (i, r) in report.matmul.iter().enumerate() {
        if i == 0 || report.matmul[i - 1].batch != r.batch {
            let title = format!("matmul (batch {})", r.batch);
            println!("\n{title:<24} {:>10} {:>10}", "GPU GFLOP/s", "CPU GFLOP/s");
        }
        println!("{:<24} {:>10.2} {:>10.2}", r.shape, r.gpu_gflops, r.cpu_gflops);
    }
    for (i, r) in report.profile.iter().enumerate() {
        let previous = i.checked_sub(1).map(|i| &report.profile[i]);
        if previous.is_none_or(|p| (p.batch, &p.device) != (r.batch, &r.device)) {
            let total: f64 = (report.profile.iter())
                .filter(|p| (p.batch, &p.device) == (r.batch, &r.device))
                .map(|p| p.microseconds)
                .sum();
            println!(
                "\n{}: time per op of the step (batch {}; ops' sum {total:.1} µs)",
                r.device, r.batch
            );
            println!("{:>3} {:>9} {:>6}  op", "#", "µs", "share");
        }
        println!(
            "{:>3} {:>9.2} {:>5.1}%  {}",
            r.index,
            r.microseconds,
            100.0 * r.share,
            r.op
        );
    }
}
