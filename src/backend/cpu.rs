//! The CPU backend: runs the training plan by calling each kernel's CPU reference.
//! It is what the GPU backend is checked against, and what trains where no GPU is.

use std::sync::Arc;

use crate::error::Result;
use crate::formats::mnist::Dataset;
use crate::kernels::bce::STAT_SLOTS;
use crate::kernels::{BufferId, CpuMemory, Op};
use crate::model::state::{NetworkState, Stats, TrainingState};
use crate::model::{Network, StatePart};
use crate::plan::{
    CensusReadings, ForwardPlan, Half, HalfStep, NetworkBuffers, Plan, Preview, Progress, Request, Training,
    WrittenGeneration,
};

/// Runs a plan's training step on the CPU: the GAN's (`Plan`, the default) or any
/// other `Training`.
pub struct CpuTrainer<P: Training = Plan> {
    plan: P,
    memory: CpuMemory,
    image_count: usize,
    progress: Progress,
    workers: CpuThreads,
    /// The step's ops, grouped for running side by side (`step_groups`).
    groups: Vec<Group>,
}

/// The threads a CPU trainer splits its ops over: a pool kept for the whole run, so a
/// split op costs a wake-up (~2.5 µs measured) rather than a thread start (~40 µs);
/// or none, everything on the calling thread. Clones share the pool (the page keeps
/// one for its life, its threads being Web Workers: `web::threads`).
#[derive(Clone, Default)]
pub struct CpuThreads(Option<Arc<rayon::ThreadPool>>);

impl CpuThreads {
    /// `count` threads of the operating system's; none where `count` is 1 or they
    /// cannot be started (a browser, which has no such threads).
    pub fn new(count: usize) -> Self {
        if count <= 1 {
            return CpuThreads(None);
        }
        CpuThreads(
            rayon::ThreadPoolBuilder::new()
                .num_threads(count)
                .build()
                .ok()
                .map(Arc::new),
        )
    }

    /// A pool made elsewhere (whose threads may be Web Workers).
    pub fn on_pool(pool: rayon::ThreadPool) -> Self {
        CpuThreads(Some(Arc::new(pool)))
    }

    /// How many threads the ops are split over (1: the calling thread alone).
    pub fn count(&self) -> usize {
        self.0.as_ref().map_or(1, |pool| pool.current_num_threads())
    }
}

/// `network` on `inputs` ([rows, network.inputs()]): [rows, network.outputs()], with
/// its batch norms (if any) normalising by `statistics` (evaluation mode). G on
/// latents gives images in [-1, 1]; the classifier on images, logits.
pub fn run_network(network: &Network, params: &[f32], statistics: &[f32], inputs: &[f32]) -> Vec<f32> {
    // Bounded chunks keep the activations small for any number of rows.
    const CHUNK: usize = 1024;
    let mut outputs = Vec::with_capacity(inputs.len() / network.inputs() * network.outputs());
    for chunk in inputs.chunks(CHUNK * network.inputs()) {
        let plan = ForwardPlan::new(network, chunk.len() / network.inputs());
        let mut memory = CpuMemory::new(plan.buffers.iter().map(|b| b.len));
        memory.buffers[plan.params.0].copy_from_slice(params);
        memory.buffers[plan.statistics.0].copy_from_slice(statistics);
        memory.buffers[plan.input.0].copy_from_slice(chunk);
        for op in &plan.ops {
            op.run_cpu(&mut memory);
        }
        outputs.extend_from_slice(&memory.buffers[plan.output.0]);
    }
    outputs
}

impl CpuTrainer {
    pub fn new(plan: Plan, data: &Dataset, state: &TrainingState) -> Self {
        CpuTrainer::from_networks(plan, data, state.step, &[&state.generator, &state.discriminator])
    }

    /// Means since the last call, then starts a new window.
    pub fn take_stats(&mut self) -> Stats {
        let (sums, steps) = self.take_sums();
        Stats::from_sums(sums, steps)
    }

    /// G on the fixed preview latents (all of `digit` when one is given,
    /// `Plan::preview_of`), and D's view of them and of the last step's reals.
    pub fn preview(&mut self, digit: Option<u8>) -> Result<Preview> {
        let (request, write) = self.plan.preview_of(digit)?;
        if let Some((table, values)) = write {
            self.memory.buffers[table.0].copy_from_slice(&values);
        }
        self.run_request(request);
        let readout = self.plan.preview_readout;
        let values = readout.sources().map(|(id, len)| &self.memory.buffers[id.0][..len]);
        Ok(readout.preview(values))
    }

    /// G's images ([rows, pixels]) for `input`, rows of its input, by the written
    /// generation of `request` (`Plan::written_generation`: in-betweens or the walk).
    pub fn generate(&mut self, request: Request, input: &[f32]) -> Result<Vec<f32>> {
        let written = self.plan.written_generation(request);
        let Some(&WrittenGeneration { input: at, images, .. }) = written else {
            return Err(crate::Error::new("no generation on request of that name"));
        };
        if input.len() != self.memory.buffers[at.0].len() {
            return Err(crate::Error::new("the latents do not fit G's input"));
        }
        self.memory.buffers[at.0].copy_from_slice(input);
        self.run_request(request);
        Ok(self.memory.buffers[images.0].clone())
    }

    /// The census of G's samples as of now, if the plan has one.
    pub fn census(&mut self) -> Option<CensusReadings> {
        self.plan.census.as_ref()?;
        self.run_request(Request::Census);
        let census = self.plan.census.as_ref()?;
        let read = |id: BufferId| self.memory.buffers[id.0].clone();
        Some(CensusReadings {
            logits: read(census.logits),
            feature_sum: read(census.feature_sum),
            feature_gram: read(census.feature_gram),
        })
    }

    /// Updates only D, or only G, as half of the current step (`Plan::half_steps`),
    /// and returns D's view before and after.
    pub fn half_step(&mut self, half: Half) -> HalfStep {
        let requests = self.progress.half(half);
        self.on_workers(|trainer| {
            for &request in requests {
                trainer.run_step_request(request);
            }
        });
        let readout = self.plan.half_steps.readout;
        let values = readout.sources().map(|(id, len)| &self.memory.buffers[id.0][..len]);
        readout.half_step(values)
    }

    pub fn state(&self) -> TrainingState {
        let [generator, discriminator]: [NetworkState; 2] =
            self.networks().try_into().expect("a GAN plan trains two networks");
        TrainingState {
            config: self.plan.config.clone(),
            step: self.memory.step,
            generator,
            discriminator,
        }
    }
}

impl<P: Training> CpuTrainer<P> {
    /// Starts at `step` from `networks`, one for each of `plan.trained()`, in its order.
    pub fn from_networks(plan: P, data: &Dataset, step: u32, networks: &[&NetworkState]) -> Self {
        let memory = CpuMemory {
            images: data.images.clone(),
            labels: data.labels.clone(),
            step,
            ..CpuMemory::new(plan.buffers().iter().map(|b| b.len))
        };
        let groups = step_groups(plan.step());
        let mut trainer = CpuTrainer {
            plan,
            memory,
            image_count: data.count,
            progress: Progress::default(),
            workers: CpuThreads::default(),
            groups,
        };
        for (ids, net) in trainer.plan.trained().into_iter().zip(networks) {
            trainer.load_network(ids, net);
        }
        for (id, values) in trainer.plan.constants() {
            trainer.memory.buffers[id.0].copy_from_slice(values);
        }
        trainer
    }

    /// Splits the matrix products, convolutions, batch norms and Adam over `threads`
    /// (none by default). The results are the same to the bit for any count.
    pub fn on_threads(mut self, threads: CpuThreads) -> Self {
        self.memory.threads = threads.count();
        self.workers = threads;
        self
    }

    /// The threads it trains on: as asked, or 1 where they could not be started.
    pub fn threads(&self) -> usize {
        self.memory.threads
    }

    /// Runs the ops of `request` (on the pool's threads, as a step's).
    fn run_request(&mut self, request: Request)
    where
        P: Send,
    {
        self.on_workers(|trainer| trainer.execute_request(request));
    }

    fn execute_request(&mut self, request: Request) {
        for op in self.plan.requested(request) {
            op.run_cpu(&mut self.memory);
        }
    }

    /// Runs `work` with the split ops' bands going to this trainer's threads.
    fn on_workers<R: Send>(&mut self, work: impl FnOnce(&mut Self) -> R + Send) -> R
    where
        P: Send,
    {
        match self.workers.0.clone() {
            Some(pool) => pool.install(|| work(self)),
            None => work(self),
        }
    }

    fn load_network(&mut self, ids: NetworkBuffers, net: &NetworkState) {
        for part in StatePart::ALL {
            self.memory.buffers[ids.part(part).0].copy_from_slice(net.part(part));
        }
    }

    pub fn step(&self) -> u32 {
        self.memory.step
    }

    pub fn plan(&self) -> &P {
        &self.plan
    }

    pub fn train(&mut self, steps: u32)
    where
        P: Send,
    {
        self.on_workers(|trainer| trainer.train_here(steps));
    }

    fn train_here(&mut self, steps: u32) {
        let (finish_half, runs) = self.progress.runs(self.memory.step, steps, self.plan.steps_per_epoch());
        if finish_half {
            // A step whose D half ran on its own ends with its G half.
            self.run_step_request(Request::GeneratorHalf);
        }
        for count in runs {
            self.shuffle_for_step();
            for _ in 0..count {
                for group in &self.groups {
                    execute_group(&mut self.memory, self.plan.step(), group);
                }
            }
            self.progress.count(count);
        }
    }

    /// The epoch order the current step gathers from.
    fn shuffle_for_step(&mut self) {
        if let Some(order) = self.progress.order_for(self.memory.step, &self.plan, self.image_count) {
            self.memory.order = order;
        }
    }

    /// Runs a request that trains (part of a step; `Request::ends_step`).
    fn run_step_request(&mut self, request: Request) {
        self.shuffle_for_step();
        self.execute_request(request);
        if request.ends_step() {
            self.progress.count(1);
        }
    }

    /// Runs op `index` of the training step `repeats` times, for timing one kernel on
    /// the plan's real buffers (`ganvas bench`).
    pub fn run_step_op(&mut self, index: usize, repeats: u32)
    where
        P: Send,
    {
        self.on_workers(|trainer| {
            for _ in 0..repeats {
                trainer.plan.step()[index].run_cpu(&mut trainer.memory);
            }
        });
    }

    /// The running sums of the stats slots and the steps they cover, then a new window.
    pub fn take_sums(&mut self) -> ([f32; STAT_SLOTS], u32) {
        (std::mem::take(&mut self.memory.stats), self.progress.take_count())
    }

    /// The trained networks' parameters and Adam state, in `plan.trained()`'s order.
    pub fn networks(&self) -> Vec<NetworkState> {
        let network = |ids: NetworkBuffers| {
            NetworkState::from_parts(StatePart::ALL.map(|part| self.memory.get(ids.part(part)).to_vec()))
        };
        self.plan.trained().into_iter().map(network).collect()
    }
}

/// Runs a group's lanes side by side, the threads shared out among them; a group of
/// one lane runs op by op, each split over every thread.
fn execute_group(memory: &mut CpuMemory, ops: &[Op], group: &Group) {
    if group.lanes.len() == 1 || memory.threads == 1 {
        for lane in &group.lanes {
            for &i in lane {
                ops[i].run_cpu(memory);
            }
        }
        return;
    }
    let threads = (memory.threads / group.lanes.len()).max(1);
    let mut outputs: Vec<(BufferId, Vec<f32>)> = group
        .lanes
        .iter()
        .map(|lane| {
            let id = ops[lane[0]].sole_output().expect("lanes hold ops with a sole output");
            (id, memory.take(id))
        })
        .collect();
    let reads = &*memory;
    rayon::scope(|scope| {
        for (lane, (_, out)) in group.lanes.iter().zip(&mut outputs) {
            scope.spawn(move |_| {
                for &i in lane {
                    ops[i].write_cpu(reads, out, threads);
                }
            });
        }
    });
    for (id, out) in outputs {
        memory.buffers[id.0] = out;
    }
}

/// Neighbouring ops of the step that may run side by side, in lanes: each lane writes
/// one buffer, its ops in plan order, and no op of the group reads a buffer the group
/// writes. Each layer's backward pass makes two lanes of equal work (weight and bias
/// gradients | the gradient for the layer below), so on two threads each runs whole
/// instead of both products being split, each band packing its operands again.
/// Measured on 2 threads against running the same groups op by op, alternating in one
/// process: 3-4% faster steps at batch 256, 4-6% at batch 64.
#[derive(Debug)]
struct Group {
    lanes: Vec<Vec<usize>>,
}

/// Groups the step's ops in order. Ops with effects beyond one buffer (the loss and
/// its statistics, Adam's three buffers, the step counter) stand alone.
fn step_groups(ops: &[Op]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut open = false;
    for (i, op) in ops.iter().enumerate() {
        let Some(out) = op.sole_output() else {
            groups.push(Group { lanes: vec![vec![i]] });
            open = false;
            continue;
        };
        let reads = op.reads();
        if let Some(group) = groups.last_mut().filter(|_| open) {
            let writes: Vec<BufferId> = group
                .lanes
                .iter()
                .map(|lane| ops[lane[0]].sole_output().unwrap())
                .collect();
            let read_by_group = group.lanes.iter().flatten().any(|&j| ops[j].reads().contains(&out));
            if !reads.iter().any(|r| writes.contains(r)) && !read_by_group {
                match writes.iter().position(|&w| w == out) {
                    Some(lane) => group.lanes[lane].push(i),
                    None => group.lanes.push(vec![i]),
                }
                continue;
            }
        }
        groups.push(Group { lanes: vec![vec![i]] });
        open = true;
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrainConfig;
    use crate::plan::PREVIEW_ROWS;
    use crate::rng;

    #[test]
    fn step_groups_hold_independent_lanes_and_pair_each_layers_gradients() {
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        let groups = step_groups(&plan.step);
        let mut seen: Vec<usize> = groups.iter().flat_map(|g| g.lanes.iter().flatten().copied()).collect();
        seen.sort();
        assert_eq!(seen, (0..plan.step.len()).collect::<Vec<_>>(), "every op once");
        for group in groups.iter().filter(|g| g.lanes.len() > 1) {
            let ops = || group.lanes.iter().flatten().map(|&i| &plan.step[i]);
            let writes: Vec<BufferId> = ops().map(|op| op.sole_output().expect("lane op")).collect();
            for (lane, ids) in group.lanes.iter().enumerate() {
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "plan order within a lane");
                let out = plan.step[ids[0]].sole_output();
                assert!(ids.iter().all(|&i| plan.step[i].sole_output() == out));
                let mut other_lanes = group.lanes.iter().enumerate().filter(|&(l, _)| l != lane);
                assert!(other_lanes.all(|(_, ids)| ids.iter().all(|&i| plan.step[i].sole_output() != out)));
            }
            assert!(
                ops().all(|op| op.reads().iter().all(|r| !writes.contains(r))),
                "{group:?}"
            );
        }
        // Side by side: the batch and the noise, and weight and bias gradients beside
        // the gradient for the layer below, for D's two upper layers (D's update) and
        // G's three upper layers.
        let pairs = groups.iter().filter(|g| g.lanes.len() == 2);
        let kinds: Vec<(usize, usize)> = pairs.map(|g| (g.lanes[0].len(), g.lanes[1].len())).collect();
        assert_eq!(kinds, [(1, 1), (2, 1), (2, 1), (2, 1), (2, 1), (2, 1)]);
    }

    #[test]
    fn training_on_more_threads_gives_the_same_bits() {
        let data = Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
        let config = TrainConfig {
            batch: 96,
            seed: 3,
            ..Default::default()
        };
        let plan = Plan::training(&config, data.pixels(), data.count).unwrap();
        let initial = TrainingState::initial(&config, data.pixels());
        let run = |threads: usize| {
            let mut trainer = CpuTrainer::new(plan.clone(), &data, &initial).on_threads(CpuThreads::new(threads));
            trainer.train(3);
            let state = trainer.state();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (
                bits(&state.generator.params),
                bits(&state.discriminator.params),
                bits(&trainer.preview(None).unwrap().images),
            )
        };
        let one = run(1);
        for threads in [2, 3] {
            let other = run(threads);
            assert!(
                one.0 == other.0 && one.1 == other.1,
                "parameters differ on {threads} threads"
            );
            assert!(one.2 == other.2, "previews differ on {threads} threads");
        }
    }

    /// D's view in the preview: D(G(z)) of each preview image, and the last step's
    /// first real images (its batch, in the epoch's order) with D(x) of each, as D
    /// run on its own reads them.
    #[test]
    fn the_preview_shows_what_d_thinks_of_fakes_and_reals() {
        let data = Dataset::load_training_set(std::path::Path::new("data/mnist")).unwrap();
        let config = TrainConfig {
            batch: 70,
            seed: 4,
            ..Default::default()
        };
        let plan = Plan::training(&config, 784, data.count).unwrap();
        let mut trainer = CpuTrainer::new(plan, &data, &TrainingState::initial(&config, 784));
        trainer.train(1);
        let preview = trainer.preview(None).unwrap();
        let d = trainer.state().discriminator.params;
        let judge = |images: &[f32]| -> Vec<f32> {
            let logits = run_network(&config.discriminator(784), &d, &[], images);
            logits.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect()
        };
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(&preview.fake_scores, &judge(&preview.images)));
        // The images are G's, on the preview's latents.
        let mut z = vec![0.0; PREVIEW_ROWS * config.latent];
        rng::normals(config.seed, rng::Stream::Sample, 0, &mut z);
        let g = run_network(&config.generator(784), &trainer.state().generator.params, &[], &z);
        assert!(close(&preview.images, &g));
        let order = rng::epoch_order(config.seed, 0, data.count);
        let reals: Vec<f32> = order[..64].iter().flat_map(|&i| data.inputs_of(i as usize)).collect();
        assert_eq!(preview.real_images, reals, "the first 64 of step 0's batch of 70");
        assert!(close(&preview.real_scores, &judge(&reals)));
    }
}
