//! The training plan on the GPU: every buffer, uniform, bind group and pipeline is
//! made once in `new`; a training step is then only dispatches, many per submission.

use wgpu::util::DeviceExt;

use super::readback::{start_map, BufferRead, PendingMap};
use super::GpuContext;
use crate::error::{Error, Result};
use crate::kernels::adam::{Adam, AdamBuffers};
use crate::kernels::bce::{Bce, BceBuffers, STAT_SLOTS};
use crate::kernels::bias_grad::{BiasGrad, BiasGradBuffers};
use crate::kernels::gather::{pack_bytes, Gather, GatherBuffers};
use crate::kernels::matmul::{Matmul, MatmulBuffers, MatmulVariant};
use crate::kernels::noise::{Noise, NoiseBuffers};
use crate::kernels::step_counter::{StepCounter, StepCounterBuffers};
use crate::kernels::Dispatch;
use crate::mnist::Dataset;
use crate::model::TrainConfig;
use crate::plan::{BufferId, NetworkBuffers, Op, Plan};
use crate::rng;
use crate::state::{NetworkState, Stats, TrainingState};

/// One pipeline per kernel family, and one per matmul entry point the plan uses.
struct Kernels {
    matmuls: Vec<Matmul>,
    bias_grad: BiasGrad,
    bce: Bce,
    adam: Adam,
    noise: Noise,
    gather: Gather,
    step_counter: StepCounter,
}

impl Kernels {
    fn matmul(&self, variant: MatmulVariant) -> &Matmul {
        self.matmuls
            .iter()
            .find(|m| m.variant == variant)
            .expect("build makes a pipeline for every entry point the plan uses")
    }
}

/// A stats read in flight: the copy taken after `steps` steps, still mapping.
struct PendingStats {
    steps: u32,
    map: PendingMap,
}

pub struct GpuTrainer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    plan: Plan,
    buffers: Vec<wgpu::Buffer>,
    order: wgpu::Buffer,
    stats: wgpu::Buffer,
    stats_staging: wgpu::Buffer,
    step_dispatches: Vec<Dispatch>,
    preview_dispatches: Vec<Dispatch>,
    image_count: usize,
    /// Steps recorded so far: the CPU knows the step without reading the GPU's counter.
    step: u32,
    order_epoch: Option<u32>,
    steps_since_stats: u32,
    pending_stats: Option<PendingStats>,
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl GpuTrainer {
    /// Uploads the training set and `state`, and builds everything the step needs.
    pub async fn new(gpu: &GpuContext, plan: Plan, data: &Dataset, state: &TrainingState) -> Result<GpuTrainer> {
        let device = &gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory_scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let trainer = Self::build(gpu, plan, data, state);
        if let Some(e) = memory_scope.pop().await {
            return Err(Error::new(format!(
                "the GPU ran out of memory while setting up training: {e}"
            )));
        }
        if let Some(e) = scope.pop().await {
            return Err(Error::new(format!("the GPU rejected the training setup: {e}")));
        }
        Ok(trainer)
    }

    fn build(gpu: &GpuContext, plan: Plan, data: &Dataset, state: &TrainingState) -> GpuTrainer {
        let device = &gpu.device;
        let mut matmuls: Vec<Matmul> = Vec::new();
        for op in plan.step.iter().chain(&plan.preview) {
            if let Op::Matmul { params, .. } = op {
                let variant = gpu.matmul.variant_for(params);
                if matmuls.iter().all(|m| m.variant != variant) {
                    matmuls.push(Matmul::new(device, variant));
                }
            }
        }
        let kernels = Kernels {
            matmuls,
            bias_grad: BiasGrad::new(device),
            bce: Bce::new(device),
            adam: Adam::new(device),
            noise: Noise::new(device),
            gather: Gather::new(device),
            step_counter: StepCounter::new(device),
        };
        let buffers: Vec<wgpu::Buffer> = plan
            .buffers
            .iter()
            .map(|spec| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&spec.name),
                    size: (spec.len.max(1) * 4) as u64,
                    usage: STORAGE,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let init = |label: &str, contents: &[u8], usage| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage,
            })
        };
        let images = init("images", bytemuck::cast_slice(&pack_bytes(&data.images)), STORAGE);
        let order = init("order", bytemuck::cast_slice(&vec![0u32; data.count]), STORAGE);
        let counter = init("step counter", bytemuck::bytes_of(&[state.step, 0, 0, 0]), STORAGE);
        let stats = init("stats", bytemuck::cast_slice(&[0f32; STAT_SLOTS]), STORAGE);
        let stats_staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("stats staging"),
            size: (STAT_SLOTS * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        // Each op's buffers by the names its kernel gives them; the kernel module alone
        // knows their binding order. Labels name the op's buffers for error messages.
        let dispatch = |op: &Op| -> Dispatch {
            let b = |id: BufferId| &buffers[id.0];
            let label = &op.describe(&plan.buffers);
            match *op {
                Op::Gather { params, batch } => {
                    let bound = GatherBuffers {
                        items: &images,
                        order: &order,
                        counter: &counter,
                        batch: b(batch),
                    };
                    kernels.gather.dispatch(device, label, &bound, &params)
                }
                Op::Noise { params, z } => {
                    let bound = NoiseBuffers {
                        z: b(z),
                        counter: &counter,
                    };
                    kernels.noise.dispatch(device, label, &bound, &params)
                }
                Op::Matmul {
                    params,
                    a,
                    b: rhs,
                    bias,
                    gate,
                    c,
                } => {
                    let bound = MatmulBuffers {
                        a: b(a),
                        b: b(rhs),
                        bias: b(bias),
                        gate: b(gate),
                        c: b(c),
                    };
                    let matmul = kernels.matmul(gpu.matmul.variant_for(&params));
                    matmul.dispatch(device, label, &bound, &params)
                }
                Op::BiasGrad { params, dy, db } => {
                    let bound = BiasGradBuffers { dy: b(dy), db: b(db) };
                    kernels.bias_grad.dispatch(device, label, &bound, &params)
                }
                Op::Bce { params, logits, grad } => {
                    let bound = BceBuffers {
                        logits: b(logits),
                        grad: b(grad),
                        stats: &stats,
                    };
                    kernels.bce.dispatch(device, label, &bound, &params)
                }
                Op::Adam {
                    params,
                    param,
                    grad,
                    exp_avg,
                    exp_avg_sq,
                } => {
                    let bound = AdamBuffers {
                        param: b(param),
                        grad: b(grad),
                        exp_avg: b(exp_avg),
                        exp_avg_sq: b(exp_avg_sq),
                        counter: &counter,
                    };
                    kernels.adam.dispatch(device, label, &bound, &params)
                }
                Op::AdvanceStep => {
                    kernels
                        .step_counter
                        .dispatch(device, label, &StepCounterBuffers { counter: &counter })
                }
            }
        };
        let step_dispatches = plan.step.iter().map(dispatch).collect();
        let preview_dispatches = plan.preview.iter().map(dispatch).collect();

        let trainer = GpuTrainer {
            device: gpu.device.clone(),
            queue: gpu.queue.clone(),
            buffers,
            order,
            stats,
            stats_staging,
            step_dispatches,
            preview_dispatches,
            image_count: data.count,
            step: state.step,
            order_epoch: None,
            steps_since_stats: 0,
            pending_stats: None,
            plan,
        };
        trainer.upload_network(trainer.plan.generator_buffers, &state.generator);
        trainer.upload_network(trainer.plan.discriminator_buffers, &state.discriminator);
        trainer
    }

    fn upload_network(&self, ids: NetworkBuffers, net: &NetworkState) {
        let write = |id: BufferId, data: &[f32]| {
            self.queue
                .write_buffer(&self.buffers[id.0], 0, bytemuck::cast_slice(data));
        };
        write(ids.params, &net.params);
        write(ids.exp_avg, &net.exp_avg);
        write(ids.exp_avg_sq, &net.exp_avg_sq);
    }

    pub fn step(&self) -> u32 {
        self.step
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Records `steps` training steps and submits them, one submission per epoch
    /// segment: the only upload is the shuffle order, once per epoch.
    pub fn train(&mut self, steps: u32) {
        let per_epoch = self.plan.steps_per_epoch;
        let mut remaining = steps;
        while remaining > 0 {
            let epoch = self.step / per_epoch;
            if self.order_epoch != Some(epoch) {
                let order = rng::epoch_order(self.plan.config.seed, epoch, self.image_count);
                self.queue.write_buffer(&self.order, 0, bytemuck::cast_slice(&order));
                self.order_epoch = Some(epoch);
            }
            let count = remaining.min(per_epoch - self.step % per_epoch);
            self.submit("training steps", &self.step_dispatches, count);
            self.step += count;
            self.steps_since_stats += count;
            remaining -= count;
        }
    }

    /// `label` names the pass, as the bind groups name their ops.
    fn submit(&self, label: &str, dispatches: &[Dispatch], repeats: u32) {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: None,
            });
            for _ in 0..repeats {
                for d in dispatches {
                    d.record(&mut pass);
                }
            }
        }
        self.queue.submit([encoder.finish()]);
    }

    /// Submits op `index` of the training step `repeats` times, for timing one kernel
    /// on the plan's real buffers (`ganvas bench`); the caller waits on the device.
    pub fn run_step_op(&self, index: usize, repeats: u32) {
        self.submit("one op of the step", &self.step_dispatches[index..=index], repeats);
    }

    /// Compute dispatches in one training step.
    pub fn dispatches_per_step(&self) -> usize {
        self.step_dispatches.len()
    }

    /// Asks for the stats accumulated since the last request: a copy and a reset are
    /// queued behind the steps recorded so far, and the copy is mapped asynchronously.
    /// Does nothing while an earlier request is still in flight.
    pub fn request_stats(&mut self) {
        if self.pending_stats.is_some() {
            return;
        }
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.stats, 0, &self.stats_staging, 0, (STAT_SLOTS * 4) as u64);
        encoder.clear_buffer(&self.stats, 0, None);
        self.queue.submit([encoder.finish()]);
        let map = start_map(&self.stats_staging);
        self.pending_stats = Some(PendingStats {
            steps: self.steps_since_stats,
            map,
        });
        self.steps_since_stats = 0;
    }

    /// The requested stats once the GPU has produced them; never blocks.
    pub fn poll_stats(&mut self) -> Option<Result<Stats>> {
        let result = self.pending_stats.as_ref()?.map.try_finish(&self.device)?;
        let pending = self.pending_stats.take()?;
        let read = result.and_then(|()| {
            let mut sums = [0.0; STAT_SLOTS];
            let view = self.stats_staging.slice(..).get_mapped_range();
            let view = view.map_err(|e| Error::new(format!("the stats could not be mapped: {e:?}")))?;
            sums.copy_from_slice(bytemuck::cast_slice(&view));
            drop(view);
            self.stats_staging.unmap();
            Ok(sums)
        });
        Some(read.map(|sums| Stats::from_sums(sums, pending.steps)))
    }

    /// The stats requested earlier, waiting for them if needed (natively blocking, in a
    /// browser yielding); `None` if none were requested.
    pub async fn wait_stats(&mut self) -> Option<Result<Stats>> {
        if let Err(e) = self.pending_stats.as_ref()?.map.finished(&self.device).await {
            self.pending_stats = None;
            return Some(Err(e));
        }
        self.poll_stats()
    }

    fn render_preview(&self) {
        self.submit("preview", &self.preview_dispatches, 1);
    }

    /// Runs G on the fixed preview latents and starts reading the [64, pixels] images
    /// in [-1, 1] back, behind every step recorded so far.
    pub fn start_preview_read(&self) -> BufferRead {
        self.render_preview();
        let id = self.plan.preview_images;
        let len = (self.plan.buffer_len(id) * 4) as u64;
        BufferRead::start(&self.device, &self.queue, &[(&self.buffers[id.0], len)])
    }

    pub async fn read_preview(&self) -> Result<Vec<f32>> {
        let parts = self.start_preview_read().finish().await?;
        Ok(parts
            .iter()
            .flat_map(|bytes| bytemuck::pod_collect_to_vec::<u8, f32>(bytes))
            .collect())
    }

    /// Starts reading parameters and optimizer state as of every step recorded so far.
    pub fn start_state_read(&self) -> StateRead {
        let mut sources = Vec::new();
        for ids in [self.plan.generator_buffers, self.plan.discriminator_buffers] {
            for id in [ids.params, ids.exp_avg, ids.exp_avg_sq] {
                sources.push((&self.buffers[id.0], (self.plan.buffer_len(id) * 4) as u64));
            }
        }
        StateRead {
            read: BufferRead::start(&self.device, &self.queue, &sources),
            config: self.plan.config.clone(),
            step: self.step,
        }
    }

    pub async fn read_state(&self) -> Result<TrainingState> {
        self.start_state_read().finish().await
    }
}

/// Parameters and Adam state on their way back from the GPU.
pub struct StateRead {
    read: BufferRead,
    config: TrainConfig,
    step: u32,
}

impl StateRead {
    pub async fn finish(self) -> Result<TrainingState> {
        let parts = self.read.finish().await?;
        let mut floats = parts.iter().map(|bytes| bytemuck::pod_collect_to_vec::<u8, f32>(bytes));
        let mut network = || -> Option<NetworkState> {
            Some(NetworkState {
                params: floats.next()?,
                exp_avg: floats.next()?,
                exp_avg_sq: floats.next()?,
            })
        };
        let (Some(generator), Some(discriminator)) = (network(), network()) else {
            return Err(Error::new("the GPU state readback came back incomplete"));
        };
        Ok(TrainingState {
            config: self.config,
            step: self.step,
            generator,
            discriminator,
        })
    }
}
