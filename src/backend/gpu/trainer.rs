//! The training plan on the GPU: every buffer, uniform, bind group and pipeline is
//! made once in `new`; a training step is then only dispatches, many per submission.

use wgpu::util::DeviceExt;

use super::readback::{start_map, BufferRead, PendingMap};
use super::GpuContext;
use crate::error::{Error, ErrorKind, Result};
use crate::formats::mnist::Dataset;
use crate::kernels::bce::STAT_SLOTS;
use crate::kernels::gather::pack_bytes;
use crate::kernels::{Dispatch, GpuMemory, GpuTarget, Op, Pipelines};
use crate::model::state::{NetworkState, TrainingState};
use crate::model::{StatePart, TrainConfig};
use crate::plan::{
    CensusReadings, Half, HalfStep, HalfStepReadout, NetworkBuffers, Plan, Preview, PreviewReadout, Progress, Request,
    Training, WrittenGeneration,
};

/// A stats read in flight: the copy taken after `steps` steps, still mapping.
struct PendingStats {
    steps: u32,
    map: PendingMap,
}

/// Runs a plan's training step on the GPU: the GAN's (`Plan`, the default) or any
/// other `Training`.
pub struct GpuTrainer<P: Training = Plan> {
    device: wgpu::Device,
    queue: wgpu::Queue,
    plan: P,
    buffers: Vec<wgpu::Buffer>,
    order: wgpu::Buffer,
    stats: wgpu::Buffer,
    stats_staging: wgpu::Buffer,
    step_dispatches: Vec<Dispatch>,
    /// Each `Request`'s dispatches, in `Request::ALL`'s order.
    requests: Vec<Vec<Dispatch>>,
    image_count: usize,
    /// Steps recorded so far: the CPU knows the step without reading the GPU's counter.
    step: u32,
    progress: Progress,
    pending_stats: Option<PendingStats>,
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl GpuTrainer {
    /// Uploads the training set and `state`, and builds everything the step needs.
    pub async fn new(gpu: &GpuContext, plan: Plan, data: &Dataset, state: &TrainingState) -> Result<GpuTrainer> {
        let networks = [&state.generator, &state.discriminator];
        GpuTrainer::from_networks(gpu, plan, data, state.step, &networks).await
    }

    /// Runs G on the fixed preview latents (all of `digit` when one is given,
    /// `Plan::preview_of`) and D on them and on the last step's reals, and starts
    /// reading the `PreviewReadout` back, behind every step recorded so far.
    pub fn start_preview_read(&self, digit: Option<u8>) -> Result<BufferRead> {
        let (request, write) = self.plan.preview_of(digit)?;
        if let Some((table, values)) = write {
            let bytes = bytemuck::cast_slice(&values);
            self.queue.write_buffer(&self.buffers[table.0], 0, bytes);
        }
        self.run_request(request);
        let sources = self.plan.preview_readout.sources();
        let sources: Vec<_> = (sources.iter())
            .map(|&(id, len)| (&self.buffers[id.0], (len * 4) as u64))
            .collect();
        Ok(BufferRead::start(&self.device, &self.queue, &sources))
    }

    /// Writes `input` (rows of G's input) for the written generation of `request`
    /// (`Plan::written_generation`: in-betweens or the walk), runs G on it and starts
    /// reading the images back, behind every step recorded so far.
    pub fn start_generation_read(&self, request: Request, input: &[f32]) -> Result<BufferRead> {
        let Some(&WrittenGeneration { input: at, images, .. }) = self.plan.written_generation(request) else {
            return Err(Error::of(ErrorKind::Device, "no generation on request of that name"));
        };
        if input.len() != self.plan.buffer_len(at) {
            return Err(Error::of(ErrorKind::Device, "the latents do not fit G's input"));
        }
        self.queue
            .write_buffer(&self.buffers[at.0], 0, bytemuck::cast_slice(input));
        self.run_request(request);
        let len = (self.plan.buffer_len(images) * 4) as u64;
        Ok(BufferRead::start(
            &self.device,
            &self.queue,
            &[(&self.buffers[images.0], len)],
        ))
    }

    /// Updates only D, or only G, as half of the current step (`Plan::half_steps`),
    /// and starts reading D's view before and after, behind every step recorded so far.
    pub fn start_half_step_read(&mut self, half: Half) -> BufferRead {
        for &request in self.progress.half(half) {
            self.run_step_request(request);
        }
        let sources = self.plan.half_steps.readout.sources();
        let sources: Vec<_> = (sources.iter())
            .map(|&(id, len)| (&self.buffers[id.0], (len * 4) as u64))
            .collect();
        BufferRead::start(&self.device, &self.queue, &sources)
    }

    /// Runs the census (if the plan has one) and starts reading its logits, feature
    /// sum and Gram matrix back, behind every step recorded so far.
    pub fn start_census_read(&self) -> Option<CensusRead> {
        let census = self.plan.census.as_ref()?;
        self.run_request(Request::Census);
        let ids = [census.logits, census.feature_sum, census.feature_gram];
        let sources: Vec<_> = (ids.iter())
            .map(|id| (&self.buffers[id.0], (self.plan.buffer_len(*id) * 4) as u64))
            .collect();
        Some(CensusRead {
            read: BufferRead::start(&self.device, &self.queue, &sources),
        })
    }

    /// Starts reading parameters and optimizer state as of every step recorded so far.
    pub fn start_state_read(&self) -> StateRead {
        StateRead {
            networks: self.start_networks_read(),
            config: self.plan.config.clone(),
            step: self.step,
        }
    }

    pub async fn read_state(&self) -> Result<TrainingState> {
        self.start_state_read().finish().await
    }
}

impl<P: Training> GpuTrainer<P> {
    /// Uploads the training set and `networks` (one for each of `plan.trained()`, in
    /// its order), and builds everything the step needs, to go on from `step`.
    pub async fn from_networks(
        gpu: &GpuContext,
        plan: P,
        data: &Dataset,
        step: u32,
        networks: &[&NetworkState],
    ) -> Result<GpuTrainer<P>> {
        let device = &gpu.device;
        // The training images are one storage buffer, as bytes.
        let limit = device.limits().max_storage_buffer_binding_size as usize;
        if data.images.len() > limit {
            return Err(Error::of(
                ErrorKind::Device,
                format!(
                    "the {} training images take {} bytes, and this GPU holds at most {limit} in one buffer: \
                 {} of these images fit",
                    data.count,
                    data.images.len(),
                    limit / data.pixels().max(1)
                ),
            ));
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory_scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let trainer = Self::build(gpu, plan, data, step, networks);
        if let Some(e) = memory_scope.pop().await {
            return Err(Error::of(
                ErrorKind::Device,
                format!("the GPU ran out of memory while setting up training: {e}"),
            ));
        }
        if let Some(e) = scope.pop().await {
            return Err(Error::of(
                ErrorKind::Device,
                format!("the GPU rejected the training setup: {e}"),
            ));
        }
        Ok(trainer)
    }

    fn build(gpu: &GpuContext, plan: P, data: &Dataset, step: u32, networks: &[&NetworkState]) -> GpuTrainer<P> {
        let device = &gpu.device;
        let every_op = || {
            plan.step()
                .iter()
                .chain(Request::ALL.into_iter().flat_map(|r| plan.requested(r)))
        };
        let target = GpuTarget {
            device,
            matmul: gpu.matmul,
            conv_lower: gpu.conv_lower,
            conv_weight: gpu.conv_weight,
        };
        let pipelines = Pipelines::new(&target, every_op());
        let buffers: Vec<wgpu::Buffer> = plan
            .buffers()
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
        // Images without labels still get a (never read) labels buffer: none is empty.
        let labels = pack_bytes(if data.labels.is_empty() { &[0] } else { &data.labels });
        let labels = init("labels", bytemuck::cast_slice(&labels), STORAGE);
        let order = init("order", bytemuck::cast_slice(&vec![0u32; data.count]), STORAGE);
        let counter = init("step counter", bytemuck::bytes_of(&[step, 0, 0, 0]), STORAGE);
        let stats = init("stats", bytemuck::cast_slice(&[0f32; STAT_SLOTS]), STORAGE);
        let stats_staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("stats staging"),
            size: (STAT_SLOTS * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        // Each op binds its buffers as its kernel's module says; labels name the op's
        // buffers for error messages.
        let memory = GpuMemory {
            device,
            buffers: &buffers,
            images: &images,
            labels: &labels,
            order: &order,
            counter: &counter,
            stats: &stats,
        };
        let names = plan.buffers();
        let dispatch = |op: &Op| -> Dispatch {
            let label = op.describe(|id| &names[id.0].name);
            op.dispatch(&pipelines, &memory, &label)
        };
        let step_dispatches = plan.step().iter().map(dispatch).collect();
        let requests = (Request::ALL.iter())
            .map(|&r| plan.requested(r).iter().map(dispatch).collect())
            .collect();

        let trainer = GpuTrainer {
            device: gpu.device.clone(),
            queue: gpu.queue.clone(),
            buffers,
            order,
            stats,
            stats_staging,
            step_dispatches,
            requests,
            image_count: data.count,
            step,
            progress: Progress::default(),
            pending_stats: None,
            plan,
        };
        for (ids, net) in trainer.plan.trained().into_iter().zip(networks) {
            trainer.upload_network(ids, net);
        }
        for (id, values) in trainer.plan.constants() {
            trainer
                .queue
                .write_buffer(&trainer.buffers[id.0], 0, bytemuck::cast_slice(values));
        }
        trainer
    }

    fn upload_network(&self, ids: NetworkBuffers, net: &NetworkState) {
        for part in StatePart::ALL {
            let buffer = &self.buffers[ids.part(part).0];
            self.queue.write_buffer(buffer, 0, bytemuck::cast_slice(net.part(part)));
        }
    }

    pub fn step(&self) -> u32 {
        self.step
    }

    pub fn plan(&self) -> &P {
        &self.plan
    }

    /// Records `steps` training steps and submits them, one submission per epoch
    /// segment: the only upload is the shuffle order, once per epoch.
    pub fn train(&mut self, steps: u32) {
        let (finish_half, runs) = self.progress.runs(self.step, steps, self.plan.steps_per_epoch());
        if finish_half {
            // A step whose D half ran on its own ends with its G half.
            self.run_step_request(Request::GeneratorHalf);
        }
        for count in runs {
            self.shuffle_for_step();
            self.submit("training steps", &self.step_dispatches, count);
            self.step += count;
            self.progress.count(count);
        }
    }

    /// Records one training step with each dispatch in a compute pass of its own,
    /// between GPU timestamps, and starts reading the timestamps back (a begin and
    /// an end a dispatch, in ticks of `Queue::get_timestamp_period` ns): `ganvas
    /// bench --profile`. `None` where the device has no timestamps.
    pub fn start_profile_read(&mut self) -> Option<BufferRead> {
        if !self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        self.shuffle_for_step();
        let queries = 2 * self.step_dispatches.len() as u32;
        let set = self.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: queries,
        });
        let bytes = u64::from(queries) * 8;
        let resolved = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        for (i, dispatch) in self.step_dispatches.iter().enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("one op of the step, timed"),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &set,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            dispatch.record(&mut pass);
        }
        encoder.resolve_query_set(&set, 0..queries, &resolved, 0);
        self.queue.submit([encoder.finish()]);
        self.step += 1;
        self.progress.count(1);
        Some(BufferRead::start(&self.device, &self.queue, &[(&resolved, bytes)]))
    }

    /// Nanoseconds a timestamp tick lasts.
    pub fn timestamp_period(&self) -> f64 {
        f64::from(self.queue.get_timestamp_period())
    }

    /// Uploads the epoch order the current step gathers from, once per epoch.
    fn shuffle_for_step(&mut self) {
        if let Some(order) = self.progress.order_for(self.step, &self.plan, self.image_count) {
            self.queue.write_buffer(&self.order, 0, bytemuck::cast_slice(&order));
        }
    }

    /// Submits a request that trains (part of a step; `Request::ends_step`).
    fn run_step_request(&mut self, request: Request) {
        self.shuffle_for_step();
        self.run_request(request);
        if request.ends_step() {
            self.step += 1;
            self.progress.count(1);
        }
    }

    /// Submits the ops of `request`, behind every step recorded so far.
    fn run_request(&self, request: Request) {
        let index = Request::ALL.iter().position(|&r| r == request).unwrap_or_default();
        self.submit(request.name(), &self.requests[index], 1);
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
            steps: self.progress.take_count(),
            map,
        });
    }

    /// The requested running sums of the stats slots and the steps they cover, once
    /// the GPU has produced them; never blocks.
    pub fn poll_sums(&mut self) -> Option<Result<([f32; STAT_SLOTS], u32)>> {
        let result = self.pending_stats.as_ref()?.map.try_finish(&self.device)?;
        let pending = self.pending_stats.take()?;
        let read = result.and_then(|()| {
            let mut sums = [0.0; STAT_SLOTS];
            let view = self.stats_staging.slice(..).get_mapped_range();
            let view =
                view.map_err(|e| Error::of(ErrorKind::Device, format!("the stats could not be mapped: {e:?}")))?;
            sums.copy_from_slice(bytemuck::cast_slice(&view));
            drop(view);
            self.stats_staging.unmap();
            Ok(sums)
        });
        Some(read.map(|sums| (sums, pending.steps)))
    }

    /// The sums requested earlier, waiting for them if needed (natively blocking, in a
    /// browser yielding); `None` if none were requested.
    pub async fn wait_sums(&mut self) -> Option<Result<([f32; STAT_SLOTS], u32)>> {
        if let Err(e) = self.pending_stats.as_ref()?.map.finished(&self.device).await {
            self.pending_stats = None;
            return Some(Err(e));
        }
        self.poll_sums()
    }

    /// Starts reading the trained networks' parameters and Adam state, in
    /// `plan.trained()`'s order, as of every step recorded so far.
    pub fn start_networks_read(&self) -> NetworksRead {
        let mut sources = Vec::new();
        for ids in self.plan.trained() {
            for id in StatePart::ALL.map(|part| ids.part(part)) {
                sources.push((&self.buffers[id.0], (self.plan.buffers()[id.0].len * 4) as u64));
            }
        }
        NetworksRead {
            read: BufferRead::start(&self.device, &self.queue, &sources),
        }
    }
}

/// Networks' parameters and Adam state on their way back from the GPU.
pub struct NetworksRead {
    read: BufferRead,
}

impl NetworksRead {
    pub async fn finish(self) -> Result<Vec<NetworkState>> {
        let parts = self.read.finish().await?;
        // Each network's parts in `StatePart::ALL`'s order, as `start_networks_read` asked.
        let floats: Vec<Vec<f32>> = parts.iter().map(|b| bytemuck::pod_collect_to_vec(b)).collect();
        let per_network = StatePart::ALL.len();
        if !floats.len().is_multiple_of(per_network) {
            return Err(Error::of(
                ErrorKind::Device,
                "the networks' readback came back incomplete",
            ));
        }
        let network = |n: &[Vec<f32>]| NetworkState::from_parts(std::array::from_fn(|i| n[i].clone()));
        Ok(floats.chunks_exact(per_network).map(network).collect())
    }
}

/// The preview from the bytes of `readout.sources()`, read back in that order.
pub fn preview_from(readout: &PreviewReadout, parts: &[Vec<u8>]) -> Result<Preview> {
    let values = floats::<4>(parts, "preview")?;
    Ok(readout.preview(values.each_ref().map(Vec::as_slice)))
}

/// A half step's view from the bytes of `readout.sources()`, read back in that order.
pub fn half_step_from(readout: &HalfStepReadout, parts: &[Vec<u8>]) -> Result<HalfStep> {
    let values = floats::<5>(parts, "half step")?;
    Ok(readout.half_step(values.each_ref().map(Vec::as_slice)))
}

/// Each of the `N` parts of a readback (of `what`) as f32s.
fn floats<const N: usize>(parts: &[Vec<u8>], what: &str) -> Result<[Vec<f32>; N]> {
    let floats: Vec<Vec<f32>> = parts.iter().map(|b| bytemuck::pod_collect_to_vec(b)).collect();
    floats
        .try_into()
        .map_err(|_| Error::of(ErrorKind::Device, format!("the {what} readback came back incomplete")))
}

/// A census on its way back from the GPU.
pub struct CensusRead {
    read: BufferRead,
}

impl CensusRead {
    pub async fn finish(self) -> Result<CensusReadings> {
        let parts = self.read.finish().await?;
        let mut floats = parts.iter().map(|b| bytemuck::pod_collect_to_vec::<u8, f32>(b));
        let mut next = || {
            floats
                .next()
                .ok_or_else(|| Error::of(ErrorKind::Device, "the census readback came back incomplete"))
        };
        Ok(CensusReadings {
            logits: next()?,
            feature_sum: next()?,
            feature_gram: next()?,
        })
    }
}

/// The GAN's state on its way back from the GPU.
pub struct StateRead {
    networks: NetworksRead,
    config: TrainConfig,
    step: u32,
}

impl StateRead {
    pub async fn finish(self) -> Result<TrainingState> {
        let networks = self.networks.finish().await?;
        let Ok([generator, discriminator]) = <[NetworkState; 2]>::try_from(networks) else {
            return Err(Error::of(
                ErrorKind::Device,
                "the GPU state readback came back incomplete",
            ));
        };
        Ok(TrainingState {
            config: self.config,
            step: self.step,
            generator,
            discriminator,
        })
    }
}
