//! The CPU backend: runs the training plan by calling each kernel's CPU reference.
//! It is what the GPU backend is checked against, and what trains where no GPU is.

use std::sync::Arc;

use crate::kernels::adam::adam_cpu_threaded;
use crate::kernels::bce::{bce_cpu, STAT_SLOTS};
use crate::kernels::bias_grad::bias_grad_cpu;
use crate::kernels::gather::gather_cpu;
use crate::kernels::matmul::matmul_cpu_threaded;
use crate::kernels::noise::noise_cpu;
use crate::mnist::Dataset;
use crate::model::Network;
use crate::plan::{BufferId, GenerationPlan, NetworkBuffers, Op, Plan};
use crate::rng;
use crate::state::{NetworkState, Stats, TrainingState};

pub struct CpuTrainer {
    plan: Plan,
    memory: Memory,
    image_count: usize,
    order_epoch: Option<u32>,
    stats_steps: u32,
    /// Threads kept for the whole run, so a split op costs a wake-up (~2.5 µs measured)
    /// rather than a thread start (~40 µs). None: everything on the calling thread.
    workers: Option<Arc<rayon::ThreadPool>>,
}

/// G on `latents` ([rows, latent]), as [rows, pixels] images in [-1, 1].
pub fn generate(generator: &Network, params: &[f32], latents: &[f32]) -> Vec<f32> {
    // Bounded chunks keep the activations small for any number of samples.
    const CHUNK: usize = 1024;
    let mut images = Vec::with_capacity(latents.len() / generator.inputs() * generator.outputs());
    for chunk in latents.chunks(CHUNK * generator.inputs()) {
        let plan = GenerationPlan::new(generator, chunk.len() / generator.inputs());
        let mut memory = Memory {
            buffers: plan.buffers.iter().map(|b| vec![0.0; b.len]).collect(),
            images: Vec::new(),
            order: Vec::new(),
            step: 0,
            stats: [0.0; STAT_SLOTS],
            threads: 1,
        };
        memory.buffers[plan.params.0].copy_from_slice(params);
        memory.buffers[plan.latent.0].copy_from_slice(chunk);
        for op in &plan.ops {
            memory.execute(op);
        }
        images.extend_from_slice(&memory.buffers[plan.images.0]);
    }
    images
}

/// What the ops read and write: the plan's buffers plus the backend's own state.
struct Memory {
    buffers: Vec<Vec<f32>>,
    images: Vec<u8>,
    order: Vec<u32>,
    step: u32,
    stats: [f32; STAT_SLOTS],
    /// Threads for the matrix products and Adam (always 1 in wasm, which has none).
    threads: usize,
}

impl CpuTrainer {
    pub fn new(plan: Plan, data: &Dataset, state: &TrainingState) -> Self {
        let buffers = plan.buffers.iter().map(|b| vec![0.0; b.len]).collect();
        let memory = Memory {
            buffers,
            images: data.images.clone(),
            order: Vec::new(),
            step: state.step,
            stats: [0.0; STAT_SLOTS],
            threads: 1,
        };
        let mut trainer = CpuTrainer {
            plan,
            memory,
            image_count: data.count,
            order_epoch: None,
            stats_steps: 0,
            workers: None,
        };
        trainer.load_network(trainer.plan.generator_buffers, &state.generator);
        trainer.load_network(trainer.plan.discriminator_buffers, &state.discriminator);
        trainer
    }

    /// Splits the matrix products and Adam over `threads` threads (1 by default). The results
    /// are the same to the bit for any count. Where threads cannot be started, it stays
    /// on the calling thread.
    pub fn with_threads(mut self, threads: usize) -> Self {
        if threads > 1 {
            if let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                self.workers = Some(Arc::new(pool));
                self.memory.threads = threads;
            }
        }
        self
    }

    /// Runs `work` with the split ops' bands going to this trainer's threads.
    fn on_workers<R: Send>(&mut self, work: impl FnOnce(&mut Self) -> R + Send) -> R {
        match self.workers.clone() {
            Some(pool) => pool.install(|| work(self)),
            None => work(self),
        }
    }

    fn load_network(&mut self, ids: NetworkBuffers, net: &NetworkState) {
        let buffers = &mut self.memory.buffers;
        buffers[ids.params.0].copy_from_slice(&net.params);
        buffers[ids.exp_avg.0].copy_from_slice(&net.exp_avg);
        buffers[ids.exp_avg_sq.0].copy_from_slice(&net.exp_avg_sq);
    }

    pub fn step(&self) -> u32 {
        self.memory.step
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn train(&mut self, steps: u32) {
        self.on_workers(|trainer| trainer.train_here(steps));
    }

    fn train_here(&mut self, steps: u32) {
        for _ in 0..steps {
            let epoch = self.memory.step / self.plan.steps_per_epoch;
            if self.order_epoch != Some(epoch) {
                self.memory.order = rng::epoch_order(self.plan.config.seed, epoch, self.image_count);
                self.order_epoch = Some(epoch);
            }
            for op in &self.plan.step {
                self.memory.execute(op);
            }
            self.stats_steps += 1;
        }
    }

    /// Runs op `index` of the training step `repeats` times, for timing one kernel on
    /// the plan's real buffers (`ganvas bench`).
    pub fn run_step_op(&mut self, index: usize, repeats: u32) {
        self.on_workers(|trainer| {
            for _ in 0..repeats {
                trainer.memory.execute(&trainer.plan.step[index]);
            }
        });
    }

    /// Means since the last call, then starts a new window.
    pub fn take_stats(&mut self) -> Stats {
        let stats = Stats::from_sums(self.memory.stats, self.stats_steps);
        self.memory.stats = [0.0; STAT_SLOTS];
        self.stats_steps = 0;
        stats
    }

    /// G on the fixed preview latents: [rows, pixels] in [-1, 1].
    pub fn preview(&mut self) -> Vec<f32> {
        self.on_workers(|trainer| {
            for op in &trainer.plan.preview {
                trainer.memory.execute(op);
            }
        });
        self.memory.buffers[self.plan.preview_images.0].clone()
    }

    pub fn state(&self) -> TrainingState {
        let buffers = &self.memory.buffers;
        let network = |ids: NetworkBuffers| NetworkState {
            params: buffers[ids.params.0].clone(),
            exp_avg: buffers[ids.exp_avg.0].clone(),
            exp_avg_sq: buffers[ids.exp_avg_sq.0].clone(),
        };
        TrainingState {
            config: self.plan.config.clone(),
            step: self.memory.step,
            generator: network(self.plan.generator_buffers),
            discriminator: network(self.plan.discriminator_buffers),
        }
    }
}

impl Memory {
    fn execute(&mut self, op: &Op) {
        let step = self.step;
        match *op {
            Op::Gather { params, batch } => {
                gather_cpu(&params, step, &self.images, &self.order, &mut self.buffers[batch.0]);
            }
            Op::Noise { params, z } => noise_cpu(&params, step, &mut self.buffers[z.0]),
            Op::Matmul {
                params,
                a,
                b,
                bias,
                gate,
                c,
            } => {
                let mut out = self.take(c);
                let bufs = &self.buffers;
                let (a, b, bias, gate) = (&bufs[a.0], &bufs[b.0], &bufs[bias.0], &bufs[gate.0]);
                matmul_cpu_threaded(&params, a, b, bias, gate, &mut out, self.threads);
                self.buffers[c.0] = out;
            }
            Op::BiasGrad { params, dy, db } => {
                let mut out = self.take(db);
                bias_grad_cpu(&params, &self.buffers[dy.0], &mut out);
                self.buffers[db.0] = out;
            }
            Op::Bce { params, logits, grad } => {
                let mut out = self.take(grad);
                bce_cpu(&params, &self.buffers[logits.0], &mut out, &mut self.stats);
                self.buffers[grad.0] = out;
            }
            Op::Adam {
                params,
                param,
                grad,
                exp_avg,
                exp_avg_sq,
            } => {
                let (mut p, mut m, mut v) = (self.take(param), self.take(exp_avg), self.take(exp_avg_sq));
                adam_cpu_threaded(
                    &params,
                    step,
                    &mut p,
                    &self.buffers[grad.0],
                    &mut m,
                    &mut v,
                    self.threads,
                );
                self.buffers[param.0] = p;
                self.buffers[exp_avg.0] = m;
                self.buffers[exp_avg_sq.0] = v;
            }
            Op::AdvanceStep => self.step += 1,
        }
    }

    /// Moves a buffer out so it can be written while the others are read;
    /// the plan never lets an op read the buffer it writes.
    fn take(&mut self, id: BufferId) -> Vec<f32> {
        std::mem::take(&mut self.buffers[id.0])
    }
}
