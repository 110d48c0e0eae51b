//! The chosen backend behind one interface, with the GPU's asynchronous reads
//! waited on where the command line can afford to block.

use ganvas::cpu::CpuTrainer;
use ganvas::gpu::{GpuContext, GpuTrainer};
use ganvas::mnist::Dataset;
use ganvas::plan::Plan;
use ganvas::state::{Stats, TrainingState};
use ganvas::{Error, Result};

use crate::BackendChoice;

pub enum Engine {
    Cpu {
        trainer: CpuTrainer,
        requested: Option<Stats>,
    },
    Gpu {
        gpu: GpuContext,
        trainer: Box<GpuTrainer>,
    },
}

impl Engine {
    /// The backend asked for, and a sentence saying which one runs and why.
    /// `threads` is for the CPU backend.
    pub fn create(
        choice: BackendChoice,
        threads: usize,
        plan: Plan,
        data: &Dataset,
        state: &TrainingState,
    ) -> Result<(Engine, String)> {
        let cpu = |why: String| {
            let trainer = CpuTrainer::new(plan.clone(), data, state).with_threads(threads);
            let running = trainer.threads();
            let engine = Engine::Cpu {
                trainer,
                requested: None,
            };
            (engine, format!("backend: cpu, {running} thread(s) ({why})"))
        };
        let gpu = match choice {
            BackendChoice::Cpu => None,
            BackendChoice::Gpu => Some(pollster::block_on(GpuContext::new())?),
            BackendChoice::Auto => match pollster::block_on(GpuContext::new()) {
                Ok(gpu) if !gpu.is_software() => Some(gpu),
                Ok(gpu) => {
                    return Ok(cpu(format!(
                        "the only GPU adapter, {}, is a CPU emulation; --backend gpu uses it anyway",
                        gpu.describe()
                    )));
                }
                Err(e) => return Ok(cpu(e.to_string())),
            },
        };
        match gpu {
            None => Ok(cpu("as asked".to_string())),
            Some(gpu) => {
                let trainer = pollster::block_on(GpuTrainer::new(&gpu, plan, data, state))?;
                let why = format!(
                    "backend: gpu on {} ({} compute dispatches a step, nothing uploaded or read back per step)",
                    gpu.describe(),
                    trainer.dispatches_per_step()
                );
                Ok((
                    Engine::Gpu {
                        gpu,
                        trainer: Box::new(trainer),
                    },
                    why,
                ))
            }
        }
    }

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

    /// Waits for stats requested earlier, if any, then requests the current window.
    /// Waiting here also bounds how far the CPU records ahead of the GPU.
    pub fn request_stats(&mut self) -> Option<Result<Stats>> {
        match self {
            Engine::Cpu { trainer, requested } => {
                let earlier = requested.take().map(Ok);
                *requested = Some(trainer.take_stats());
                earlier
            }
            Engine::Gpu { trainer, .. } => {
                let earlier = pollster::block_on(trainer.wait_stats());
                trainer.request_stats();
                earlier
            }
        }
    }

    /// Requested stats that are ready, without waiting.
    pub fn poll_stats(&mut self) -> Option<Result<Stats>> {
        match self {
            Engine::Cpu { requested, .. } => requested.take().map(Ok),
            Engine::Gpu { trainer, .. } => trainer.poll_stats(),
        }
    }

    pub fn wait_stats(&mut self) -> Option<Result<Stats>> {
        match self {
            Engine::Cpu { requested, .. } => requested.take().map(Ok),
            Engine::Gpu { trainer, .. } => pollster::block_on(trainer.wait_stats()),
        }
    }

    pub fn state(&mut self) -> Result<TrainingState> {
        match self {
            Engine::Cpu { trainer, .. } => Ok(trainer.state()),
            Engine::Gpu { trainer, gpu } => pollster::block_on(trainer.read_state()).map_err(|e| lost_or(gpu, e)),
        }
    }

    /// The fixed-latent preview batch, [64, pixels] in [-1, 1].
    pub fn preview(&mut self) -> Result<Vec<f32>> {
        match self {
            Engine::Cpu { trainer, .. } => Ok(trainer.preview()),
            Engine::Gpu { trainer, gpu } => pollster::block_on(trainer.read_preview()).map_err(|e| lost_or(gpu, e)),
        }
    }
}

/// A lost device explains a failed read better than the read's own error.
fn lost_or(gpu: &GpuContext, e: Error) -> Error {
    match gpu.lost() {
        Some(why) => Error::new(format!("the GPU device was lost ({why})")),
        None => e,
    }
}
