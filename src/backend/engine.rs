//! The backend a run trains on, behind one interface that the command line, the
//! bench and the page all use. Reads from the GPU are asynchronous: each starts
//! behind the steps recorded so far and is finished with `.await` (natively the
//! callers block on it; in a browser the page yields).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::backend::cpu::{CpuThreads, CpuTrainer};
use crate::backend::gpu::{half_step_from, preview_from, GpuContext, GpuTrainer, LostFlag};
use crate::error::{Error, Result};
use crate::formats::mnist::Dataset;
use crate::kernels::bce::STAT_SLOTS;
use crate::model::state::{NetworkState, Stats, TrainingState};
use crate::plan::{census_reads, CensusClassifier, CensusReadings, Half, HalfStep, Plan, Preview, Request, Training};

/// The running sums of the stats slots and the steps they cover (`Stats` reads a
/// GAN's; the classifier's loss and accuracy are slots 0 and 1).
pub type StatSums = ([f32; STAT_SLOTS], u32);

/// Which backend to train on, as a user names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A hardware GPU if one exists, else the CPU.
    Auto,
    /// WGSL compute shaders through wgpu, on any adapter (software ones included).
    Gpu,
    /// The CPU reference backend.
    Cpu,
}

impl Backend {
    /// From its name in a command line, a link or the page: `auto`, `gpu` or `cpu`.
    pub fn from_name(name: &str) -> Result<Backend> {
        match name {
            "auto" => Ok(Backend::Auto),
            "gpu" => Ok(Backend::Gpu),
            "cpu" => Ok(Backend::Cpu),
            other => Err(Error::new(format!(
                "the backend {:?} is not one of auto, gpu, cpu",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Auto => "auto",
            Backend::Gpu => "gpu",
            Backend::Cpu => "cpu",
        })
    }
}

/// A plan's training on one backend: the GAN's (`Plan`, the default) or any other
/// `Training`, such as the classifier's. A run has one, so the variants' sizes differ
/// freely.
#[allow(clippy::large_enum_variant)]
pub enum Engine<P: Training = Plan> {
    Cpu {
        trainer: CpuTrainer<P>,
        /// Sums taken at the last request, until polled.
        requested: Option<StatSums>,
    },
    Gpu {
        gpu: GpuContext,
        trainer: Box<GpuTrainer<P>>,
    },
}

impl Engine {
    /// Builds the plan for `state` on `data` (checking both), with a census of `rows`
    /// samples read by a classifier when one is given, and the backend asked for;
    /// returns a sentence saying which one runs and why. `threads` is for the CPU
    /// backend.
    pub async fn create(
        choice: Backend,
        threads: CpuThreads,
        data: &Dataset,
        state: &TrainingState,
        census: Option<CensusClassifier<'_>>,
    ) -> Result<(Engine, String)> {
        let plan = Engine::plan_for(data, state, census)?;
        let networks = [&state.generator, &state.discriminator];
        Engine::choose(choice, threads, plan, data, state.step, &networks).await
    }

    /// The plan for `state` on `data`, both checked, with the census asked for where
    /// the classifier reads images of this size (MNIST's: never a folder of colour
    /// pictures).
    fn plan_for(data: &Dataset, state: &TrainingState, census: Option<CensusClassifier<'_>>) -> Result<Plan> {
        if state.config.conditional && !data.has_labels() {
            return Err(Error::new(
                "the conditional GAN needs a digit label for every image, and these images have none",
            ));
        }
        let plan = Plan::training(&state.config, data.pixels(), data.count)?;
        state.check_layout(&plan.generator, &plan.discriminator)?;
        match census {
            Some(census) if census_reads(census.network, data.pixels()) => {
                plan.with_census(census.network, census.weights, census.rows)
            }
            _ => Ok(plan),
        }
    }

    /// The CPU backend on `threads` (with the census asked for).
    pub fn on_cpu(
        threads: CpuThreads,
        data: &Dataset,
        state: &TrainingState,
        census: Option<CensusClassifier<'_>>,
    ) -> Result<Engine> {
        let plan = Engine::plan_for(data, state, census)?;
        Ok(Engine::cpu_with(
            plan,
            threads,
            data,
            state.step,
            &[&state.generator, &state.discriminator],
        ))
    }

    /// The GPU backend on `gpu`, with the matmul policy it carries (and the census
    /// asked for).
    pub async fn on_gpu(
        gpu: GpuContext,
        data: &Dataset,
        state: &TrainingState,
        census: Option<CensusClassifier<'_>>,
    ) -> Result<Engine> {
        let plan = Engine::plan_for(data, state, census)?;
        let networks = [&state.generator, &state.discriminator];
        Engine::gpu_with(gpu, plan, data, state.step, &networks).await
    }

    /// The requested stats once they are ready; never waits.
    pub fn poll_stats(&mut self) -> Option<Result<Stats>> {
        self.poll_sums()
            .map(|r| r.map(|(sums, steps)| Stats::from_sums(sums, steps)))
    }

    /// The requested stats, waiting for them; `None` if none were requested.
    pub async fn wait_stats(&mut self) -> Option<Result<Stats>> {
        let sums = self.wait_sums().await;
        sums.map(|r| r.map(|(sums, steps)| Stats::from_sums(sums, steps)))
    }

    /// Starts reading the fixed-latent preview (all of `digit` when one is given,
    /// for a conditional GAN) and D's view, as of every step recorded so far.
    pub fn start_preview(&mut self, digit: Option<u8>) -> Result<Readout<Preview>> {
        Ok(match self {
            Engine::Cpu { trainer, .. } => Readout::Ready(trainer.preview(digit)?),
            Engine::Gpu { trainer, gpu } => {
                let (read, readout) = (trainer.start_preview_read(digit)?, trainer.plan().preview_readout);
                Readout::on_gpu(gpu, async move { preview_from(&readout, &read.finish().await?) })
            }
        })
    }

    /// Updates only D, or only G, as half of the current step (the step-through mode)
    /// and starts reading D's view of the step's batch before and after. A D step
    /// after a D step first ends the step, so each sees a new batch; training on
    /// after a D step begins with the step's G half.
    pub fn start_half_step(&mut self, half: Half) -> Readout<HalfStep> {
        match self {
            Engine::Cpu { trainer, .. } => Readout::Ready(trainer.half_step(half)),
            Engine::Gpu { trainer, gpu } => {
                let (read, readout) = (trainer.start_half_step_read(half), trainer.plan().half_steps.readout);
                Readout::on_gpu(gpu, async move { half_step_from(&readout, &read.finish().await?) })
            }
        }
    }

    /// Runs the census of G's samples (if the plan has one) and starts reading it, as
    /// of every step recorded so far.
    pub fn start_census(&mut self) -> Option<Readout<CensusReadings>> {
        match self {
            Engine::Cpu { trainer, .. } => trainer.census().map(Readout::Ready),
            Engine::Gpu { trainer, gpu } => Some(Readout::on_gpu(gpu, trainer.start_census_read()?.finish())),
        }
    }

    /// Starts G on in-betweens of preview cells `from` and `to` (of the grid that
    /// `digit` picks; `Plan::interpolation_input`), as of every step recorded so far.
    pub fn start_interpolation(
        &mut self,
        from: usize,
        to: usize,
        digit: Option<u8>,
        spherical: bool,
    ) -> Result<Readout<Vec<f32>>> {
        let input = self.plan().interpolation_input(from, to, digit, spherical)?;
        self.start_generation(Request::Interpolation, &input)
    }

    /// Starts G on the grid that `digit` picks with its latents walked by `angle`
    /// (`Plan::walk_input`), as of every step recorded so far.
    pub fn start_walk(&mut self, angle: f64, digit: Option<u8>) -> Result<Readout<Vec<f32>>> {
        let input = self.plan().walk_input(angle, digit)?;
        self.start_generation(Request::Walk, &input)
    }

    /// Images ([rows, pixels] in [-1, 1]) of the written generation of `request`.
    fn start_generation(&mut self, request: Request, input: &[f32]) -> Result<Readout<Vec<f32>>> {
        Ok(match self {
            Engine::Cpu { trainer, .. } => Readout::Ready(trainer.generate(request, input)?),
            Engine::Gpu { trainer, gpu } => {
                let read = trainer.start_generation_read(request, input)?;
                Readout::on_gpu(gpu, async move {
                    let parts = read.finish().await?;
                    Ok(parts
                        .iter()
                        .flat_map(|b| bytemuck::pod_collect_to_vec::<u8, f32>(b))
                        .collect())
                })
            }
        })
    }

    /// Starts reading parameters and Adam state as of every step recorded so far.
    pub fn start_state_read(&self) -> Readout<TrainingState> {
        match self {
            Engine::Cpu { trainer, .. } => Readout::Ready(trainer.state()),
            Engine::Gpu { trainer, gpu } => Readout::on_gpu(gpu, trainer.start_state_read().finish()),
        }
    }
}

impl<P: Training + Send> Engine<P> {
    /// `plan` on the backend asked for, from `networks` (one for each of
    /// `plan.trained()`) at `step`; and a sentence saying which backend runs and why.
    pub async fn choose(
        choice: Backend,
        threads: CpuThreads,
        plan: P,
        data: &Dataset,
        step: u32,
        networks: &[&NetworkState],
    ) -> Result<(Engine<P>, String)> {
        let (gpu, why) = match choice {
            Backend::Cpu => (None, "as asked".to_string()),
            Backend::Gpu => (Some(GpuContext::new().await?), String::new()),
            Backend::Auto => match GpuContext::new().await {
                Ok(gpu) if !gpu.is_software() => (Some(gpu), String::new()),
                Ok(gpu) => {
                    let why = format!(
                        "the only GPU adapter, {}, is a CPU emulation; --backend gpu uses it anyway",
                        gpu.describe()
                    );
                    (None, why)
                }
                Err(e) => (None, e.to_string()),
            },
        };
        match gpu {
            None => {
                let engine = Engine::cpu_with(plan, threads, data, step, networks);
                let why = format!("backend: cpu, {} thread(s) ({why})", engine.threads());
                Ok((engine, why))
            }
            Some(gpu) => {
                let described = gpu.describe();
                let engine = Engine::gpu_with(gpu, plan, data, step, networks).await?;
                let why = format!(
                    "backend: gpu on {described} ({} compute dispatches a step, nothing uploaded or read back per step)",
                    engine.dispatches_per_step()
                );
                Ok((engine, why))
            }
        }
    }

    /// `plan` on the CPU backend, on up to `threads` threads.
    pub fn cpu_with(plan: P, threads: CpuThreads, data: &Dataset, step: u32, networks: &[&NetworkState]) -> Engine<P> {
        let trainer = CpuTrainer::from_networks(plan, data, step, networks).on_threads(threads);
        Engine::Cpu {
            trainer,
            requested: None,
        }
    }

    /// `plan` on `gpu`, with the matmul policy it carries.
    pub async fn gpu_with(
        gpu: GpuContext,
        plan: P,
        data: &Dataset,
        step: u32,
        networks: &[&NetworkState],
    ) -> Result<Engine<P>> {
        let trainer = GpuTrainer::from_networks(&gpu, plan, data, step, networks).await?;
        let trainer = Box::new(trainer);
        Ok(Engine::Gpu { gpu, trainer })
    }

    /// The CPU backend's threads; 0 on the GPU.
    pub fn threads(&self) -> usize {
        match self {
            Engine::Cpu { trainer, .. } => trainer.threads(),
            Engine::Gpu { .. } => 0,
        }
    }

    /// Compute dispatches a training step records; 0 on the CPU.
    pub fn dispatches_per_step(&self) -> usize {
        match self {
            Engine::Cpu { .. } => 0,
            Engine::Gpu { trainer, .. } => trainer.dispatches_per_step(),
        }
    }

    /// Runs op `index` of the training step `repeats` times on the plan's own buffers,
    /// for timing one kernel (`ganvas bench`; on the GPU, `wait_idle` then waits).
    pub fn run_step_op(&mut self, index: usize, repeats: u32) {
        match self {
            Engine::Cpu { trainer, .. } => trainer.run_step_op(index, repeats),
            Engine::Gpu { trainer, .. } => trainer.run_step_op(index, repeats),
        }
    }

    /// Runs one training step with every op timed on the GPU, and returns each op's
    /// time in µs, in the step's order; `None` on the CPU or where the device has no
    /// timestamps. Natively, for `ganvas bench --profile`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile_step(&mut self) -> Option<Result<Vec<f64>>> {
        let Engine::Gpu { trainer, gpu } = self else {
            return None;
        };
        let read = trainer.start_profile_read()?;
        let period = trainer.timestamp_period();
        let lost = gpu.lost_flag();
        Some(
            pollster::block_on(read.finish())
                .map_err(|e| lost.explain(e))
                .map(|parts| {
                    let ticks: Vec<u64> = parts
                        .iter()
                        .flat_map(|b| bytemuck::pod_collect_to_vec::<u8, u64>(b))
                        .collect();
                    (ticks.chunks_exact(2))
                        .map(|t| t[1].saturating_sub(t[0]) as f64 * period / 1000.0)
                        .collect()
                }),
        )
    }

    /// Blocks until the GPU has run everything recorded so far; for timing, natively.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_idle(&self) {
        if let Engine::Gpu { gpu, .. } = self {
            let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Engine::Cpu { .. } => Backend::Cpu,
            Engine::Gpu { .. } => Backend::Gpu,
        }
    }

    pub fn plan(&self) -> &P {
        match self {
            Engine::Cpu { trainer, .. } => trainer.plan(),
            Engine::Gpu { trainer, .. } => trainer.plan(),
        }
    }

    /// Runs `steps` training steps: on the CPU before returning, on the GPU recorded
    /// and submitted (returning at once).
    pub fn train(&mut self, steps: u32) {
        match self {
            Engine::Cpu { trainer, .. } => trainer.train(steps),
            Engine::Gpu { trainer, .. } => trainer.train(steps),
        }
    }

    /// Steps recorded so far (on the GPU some may still be running).
    pub fn step(&self) -> u32 {
        match self {
            Engine::Cpu { trainer, .. } => trainer.step(),
            Engine::Gpu { trainer, .. } => trainer.step(),
        }
    }

    /// Asks for the stats since the last request (ignored while one is in flight).
    pub fn request_stats(&mut self) {
        match self {
            Engine::Cpu { trainer, requested } => {
                if requested.is_none() {
                    *requested = Some(trainer.take_sums());
                }
            }
            Engine::Gpu { trainer, .. } => trainer.request_stats(),
        }
    }

    /// The requested sums once they are ready; never waits.
    pub fn poll_sums(&mut self) -> Option<Result<StatSums>> {
        match self {
            Engine::Cpu { requested, .. } => requested.take().map(Ok),
            Engine::Gpu { trainer, gpu } => trainer.poll_sums().map(|r| r.map_err(|e| lost_or(gpu, e))),
        }
    }

    /// The requested sums, waiting for them; `None` if none were requested.
    pub async fn wait_sums(&mut self) -> Option<Result<StatSums>> {
        match self {
            Engine::Cpu { requested, .. } => requested.take().map(Ok),
            Engine::Gpu { trainer, gpu } => trainer.wait_sums().await.map(|r| r.map_err(|e| lost_or(gpu, e))),
        }
    }

    /// Starts reading the trained networks (in `plan.trained()`'s order) as of every
    /// step recorded so far.
    pub fn start_networks_read(&self) -> Readout<Vec<NetworkState>> {
        match self {
            Engine::Cpu { trainer, .. } => Readout::Ready(trainer.networks()),
            Engine::Gpu { trainer, gpu } => Readout::on_gpu(gpu, trainer.start_networks_read().finish()),
        }
    }

    /// Why the GPU device was lost, once it has been; never for the CPU.
    pub fn lost(&self) -> Option<String> {
        match self {
            Engine::Cpu { .. } => None,
            Engine::Gpu { gpu, .. } => gpu.lost(),
        }
    }

    /// The first GPU error that no error scope caught (a bug in ganvas), if any.
    pub fn gpu_error(&self) -> Option<String> {
        match self {
            Engine::Cpu { .. } => None,
            Engine::Gpu { gpu, .. } => gpu.error(),
        }
    }

    /// The GPU this engine trains on, if it does.
    pub fn gpu(&self) -> Option<&GpuContext> {
        match self {
            Engine::Cpu { .. } => None,
            Engine::Gpu { gpu, .. } => Some(gpu),
        }
    }
}

/// A value read from the backend: ready at once on the CPU; on the GPU, on its way
/// back (and, if it fails, explained by a lost device where there was one).
pub enum Readout<T> {
    Ready(T),
    Gpu {
        read: Pin<Box<dyn Future<Output = Result<T>>>>,
        lost: LostFlag,
    },
}

impl<T> Readout<T> {
    fn on_gpu(gpu: &GpuContext, read: impl Future<Output = Result<T>> + 'static) -> Readout<T> {
        Readout::Gpu {
            read: Box::pin(read),
            lost: gpu.lost_flag(),
        }
    }

    pub async fn finish(self) -> Result<T> {
        match self {
            Readout::Ready(value) => Ok(value),
            Readout::Gpu { read, lost } => read.await.map_err(|e| lost.explain(e)),
        }
    }
}

/// A lost device explains a failed read better than the read's own error.
fn lost_or(gpu: &GpuContext, e: Error) -> Error {
    gpu.lost_flag().explain(e)
}
