//! The batch norm kernels (`kernels::batch_norm`) against PyTorch's definition in
//! f64, their gradients against finite differences, and the GPU against the CPU
//! reference, on shapes that are not workgroup multiples: one channel, one pixel,
//! a batch of one, channels of 16×16 and 7 values.

mod common;

use ganvas::kernels::activation::Activation;
use ganvas::kernels::batch_norm::{
    batch_norm_cpu, BatchNorm, BatchNormBuffers, BatchNormData, BatchNormParams, BatchNormPass, EPS, MOMENTUM,
};

use common::random_vec;

/// (batch, channels, plane).
const SHAPES: [(usize, usize, usize); 5] = [(3, 2, 7), (1, 1, 1), (4, 3, 256), (2, 5, 1), (64, 2, 16)];

/// The layout the tests use: x, dy and out at 0; γ at 0 and β at `channels` of the
/// weights; grads likewise at 1 and 1 + channels (so an offset matters).
fn params(batch: usize, channels: usize, plane: usize, act: Activation, training: bool) -> BatchNormParams {
    BatchNormParams {
        batch: batch as u32,
        channels: channels as u32,
        plane: plane as u32,
        weight_offset: 0,
        bias_offset: channels as u32,
        batch_offset: 2,
        running_offset: 1,
        grad_weight_offset: 1,
        grad_bias_offset: 1 + channels as u32,
        activation: act as u32,
        training: u32::from(training),
        write_grads: 1,
        momentum: MOMENTUM,
        eps: EPS,
        ..Default::default()
    }
}

/// The buffers of one layer: x, γ and β, dy, and zeroed scratch, running stats
/// (PyTorch's start: mean 0, var 1, count 0), out and grads.
struct Layer {
    x: Vec<f32>,
    weights: Vec<f32>,
    dy: Vec<f32>,
    batch: Vec<f32>,
    running: Vec<f32>,
    out: Vec<f32>,
    grads: Vec<f32>,
}

impl Layer {
    fn new(batch: usize, channels: usize, plane: usize, seed: u64) -> Layer {
        let n = batch * channels * plane;
        // An offset mean and a spread per channel, as a convolution's output has.
        let x = random_vec(n, seed, 2.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v + ((i / plane) % channels) as f32)
            .collect();
        let mut running = vec![0.0; 1 + 2 * channels + 1];
        running[1 + channels..1 + 2 * channels].fill(1.0);
        Layer {
            x,
            weights: random_vec(2 * channels, seed + 1, 1.0)
                .iter()
                .map(|v| v + 1.0)
                .collect(),
            dy: random_vec(n, seed + 2, 1.0),
            batch: vec![0.0; 2 + 4 * channels],
            running,
            out: vec![f32::NAN; n],
            grads: vec![0.0; 1 + 2 * channels],
        }
    }

    /// The pass on one thread, checked against the same on three: the same bits.
    fn run(&mut self, pass: BatchNormPass, p: &BatchNormParams) {
        let mut threaded = (
            self.batch.clone(),
            self.running.clone(),
            self.out.clone(),
            self.grads.clone(),
        );
        let data = BatchNormData {
            x: &self.x,
            weights: &self.weights,
            dy: &self.dy,
            batch: &mut self.batch,
            running: &mut self.running,
            out: &mut self.out,
            grads: &mut self.grads,
        };
        batch_norm_cpu(pass, p, data, 1);
        let data = BatchNormData {
            x: &self.x,
            weights: &self.weights,
            dy: &self.dy,
            batch: &mut threaded.0,
            running: &mut threaded.1,
            out: &mut threaded.2,
            grads: &mut threaded.3,
        };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        pool.install(|| batch_norm_cpu(pass, p, data, 3));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&threaded.0),
            bits(&self.batch),
            "{pass:?}: threads change the batch's sums"
        );
        assert_eq!(
            bits(&threaded.1),
            bits(&self.running),
            "{pass:?}: and the running statistics"
        );
        assert_eq!(bits(&threaded.2), bits(&self.out), "{pass:?}: and the output");
        assert_eq!(bits(&threaded.3), bits(&self.grads), "{pass:?}: and the gradients");
    }
}

/// PyTorch's `BatchNorm2d` in training mode, in f64: y, and the batch's mean and
/// biased variance per channel.
fn definition(x: &[f32], weights: &[f32], batch: usize, channels: usize, plane: usize) -> (Vec<f64>, Vec<(f64, f64)>) {
    let index = |n: usize, c: usize, j: usize| (n * channels + c) * plane + j;
    let count = (batch * plane) as f64;
    let mut y = vec![0.0; x.len()];
    let mut stats = Vec::new();
    for c in 0..channels {
        let values: Vec<f64> = (0..batch)
            .flat_map(|n| (0..plane).map(move |j| (n, j)))
            .map(|(n, j)| f64::from(x[index(n, c, j)]))
            .collect();
        let mean = values.iter().sum::<f64>() / count;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
        for n in 0..batch {
            for j in 0..plane {
                let i = index(n, c, j);
                y[i] = f64::from(weights[c]) * (f64::from(x[i]) - mean) / (var + f64::from(EPS)).sqrt()
                    + f64::from(weights[channels + c]);
            }
        }
        stats.push((mean, var));
    }
    (y, stats)
}

#[test]
fn training_forward_and_running_statistics_are_pytorchs() {
    for (s, &(batch, channels, plane)) in SHAPES.iter().enumerate() {
        let mut layer = Layer::new(batch, channels, plane, s as u64);
        let p = params(batch, channels, plane, Activation::Identity, true);
        // Two steps: the running estimates move by momentum each time.
        for step in 1..=2 {
            layer.run(BatchNormPass::Statistics, &p);
            layer.run(BatchNormPass::Normalize, &p);
            let (want, stats) = definition(&layer.x, &layer.weights, batch, channels, plane);
            for (i, (got, want)) in layer.out.iter().zip(&want).enumerate() {
                // x̂ is within a few ulp of (x − mean)/σ in f32; γ and β about 1.
                assert!(
                    (f64::from(*got) - want).abs() < 1e-5 * (1.0 + want.abs()),
                    "{:?}[{i}]: {got} vs {want}",
                    SHAPES[s]
                );
            }
            let count = (batch * plane) as f64;
            for (c, (mean, var)) in stats.iter().enumerate() {
                let unbiased = if count > 1.0 { var * count / (count - 1.0) } else { *var };
                // After k steps on the same batch: (1 − (1 − m)^k)·value (+ (1 − m)^k for var's start of 1).
                let kept = (1.0 - f64::from(MOMENTUM)).powi(step);
                let (want_mean, want_var) = ((1.0 - kept) * mean, kept + (1.0 - kept) * unbiased);
                let (got_mean, got_var) = (layer.running[1 + c], layer.running[1 + channels + c]);
                assert!(
                    (f64::from(got_mean) - want_mean).abs() < 1e-5 * (1.0 + want_mean.abs()),
                    "running mean {c}"
                );
                assert!(
                    (f64::from(got_var) - want_var).abs() < 1e-5 * (1.0 + want_var.abs()),
                    "running var {c}"
                );
            }
            assert_eq!(layer.running[1 + 2 * channels], step as f32, "num_batches_tracked");
        }
        // Evaluation mode: the running estimates, not the batch's.
        let eval = BatchNormParams { training: 0, ..p };
        layer.run(BatchNormPass::Normalize, &eval);
        let i = layer.x.len() - 1;
        let c = (i / plane) % channels;
        let (mean, var) = (layer.running[1 + c], layer.running[1 + channels + c]);
        let want = layer.weights[c] * (layer.x[i] - mean) / (var + EPS).sqrt() + layer.weights[channels + c];
        assert!((layer.out[i] - want).abs() < 1e-5 * (1.0 + want.abs()));
    }
}

/// L = Σ r ⊙ act(BN(x)): the passes' dx, dγ and dβ against central differences of
/// the f64 definition. A step of 1e-3 on values of order 1 leaves O(h²) ≈ 1e-6 of
/// curvature, well inside the tolerance.
#[test]
fn the_backward_passes_are_the_gradients_of_the_forward() {
    for &(batch, channels, plane) in &SHAPES[..4] {
        if batch * plane < 2 {
            continue; // one value a channel normalises to β: no gradient reaches x
        }
        // Smooth, so that a nudge of γ cannot carry a value across a kink (with
        // LeakyReLU, 1,024 values a channel put one within reach, off by ~0.3).
        let act = Activation::Tanh;
        let mut layer = Layer::new(batch, channels, plane, 11);
        let r = layer.dy.clone();
        let p = params(batch, channels, plane, act, true);
        layer.run(BatchNormPass::Statistics, &p);
        layer.run(BatchNormPass::Normalize, &p);
        layer.dy = r
            .iter()
            .zip(&layer.out)
            .map(|(r, y)| r * act.derivative_from_output(*y))
            .collect();
        layer.run(BatchNormPass::ReduceGradient, &p);
        layer.run(BatchNormPass::InputGradient, &p);
        let loss = |x: &[f32], weights: &[f32]| -> f64 {
            let (y, _) = definition(x, weights, batch, channels, plane);
            y.iter()
                .zip(&r)
                .map(|(y, r)| f64::from(act.forward(*y as f32)) * f64::from(*r))
                .sum()
        };
        let h = 1e-3f32;
        let central = |nudged: &dyn Fn(f32) -> f64| (nudged(h) - nudged(-h)) / (2.0 * f64::from(h));
        for i in (0..layer.x.len()).step_by(layer.x.len().div_ceil(10)) {
            let numeric = central(&|d| {
                let mut x = layer.x.clone();
                x[i] += d;
                loss(&x, &layer.weights)
            });
            let analytic = f64::from(layer.out[i]);
            assert!(
                (numeric - analytic).abs() < 2e-3 * (1.0 + analytic.abs()),
                "dx[{i}]: {numeric} vs {analytic}"
            );
        }
        for (w, grad_at) in [(0, 1), (channels, 1 + channels)] {
            for c in 0..channels {
                let numeric = central(&|d| {
                    let mut weights = layer.weights.clone();
                    weights[w + c] += d;
                    loss(&layer.x, &weights)
                });
                let analytic = f64::from(layer.grads[grad_at + c]);
                assert!(
                    (numeric - analytic).abs() < 2e-3 * (1.0 + analytic.abs()),
                    "d(weights[{}]): {numeric} vs {analytic}",
                    w + c
                );
            }
        }
        // Not asked for, the grads stay as they were (D carrying G's gradient through).
        let before = layer.grads.clone();
        layer.run(BatchNormPass::ReduceGradient, &BatchNormParams { write_grads: 0, ..p });
        assert_eq!(layer.grads, before);
        // Accumulated, a second pass adds to the first.
        let before = layer.grads.clone();
        layer.run(BatchNormPass::ReduceGradient, &BatchNormParams { accumulate: 1, ..p });
        for (after, before) in layer.grads[1..].iter().zip(&before[1..]) {
            assert!((after - 2.0 * before).abs() <= 1e-6 * before.abs().max(1.0));
        }
    }
}

/// Each pass on the GPU against the CPU reference, from the same inputs: the
/// reductions sum in a different order (a tree of 64 partial sums), so they agree
/// to within the sums' rounding, M·ε of the sums' absolute values.
#[test]
fn the_shader_matches_the_cpu_reference() {
    let Some(gpu) = common::gpu() else { return };
    let device = &gpu.device;
    let buffer = |data: &[f32]| common::storage_buffer(&gpu, data);
    let read = |b: &wgpu::Buffer, len: usize| common::read_floats(&gpu, b, len);
    let kernels: Vec<BatchNorm> = [
        BatchNormPass::Statistics,
        BatchNormPass::Normalize,
        BatchNormPass::ReduceGradient,
        BatchNormPass::InputGradient,
    ]
    .into_iter()
    .map(|pass| BatchNorm::new(device, pass))
    .collect();
    for (s, &(batch, channels, plane)) in SHAPES.iter().enumerate() {
        for training in [true, false] {
            let mut cpu = Layer::new(batch, channels, plane, 30 + s as u64);
            let p = params(batch, channels, plane, Activation::Tanh, training);
            let tol = 1e-5 * (batch * plane) as f32;
            for kernel in &kernels {
                if !training && kernel.pass != BatchNormPass::Normalize {
                    continue;
                }
                let gpu_buffers = [
                    &cpu.x,
                    &cpu.weights,
                    &cpu.dy,
                    &cpu.batch,
                    &cpu.running,
                    &cpu.out,
                    &cpu.grads,
                ]
                .map(|v| buffer(v));
                let [x, weights, dy, batch_b, running, out, grads] = &gpu_buffers;
                let buffers = BatchNormBuffers {
                    x,
                    params: weights,
                    dy,
                    batch: batch_b,
                    running,
                    out,
                    grads,
                };
                let dispatch = kernel.dispatch(device, "test batch_norm", &buffers, &p);
                common::run_dispatch(&gpu, dispatch);
                cpu.run(kernel.pass, &p);
                for (what, got, want) in [
                    ("batch", read(batch_b, cpu.batch.len()), &cpu.batch),
                    ("running", read(running, cpu.running.len()), &cpu.running),
                    ("grads", read(grads, cpu.grads.len()), &cpu.grads),
                ] {
                    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                        assert!(
                            (g - w).abs() <= tol * (1.0 + w.abs()),
                            "{:?} {what}[{i}] {:?}: GPU {g}, CPU {w}",
                            kernel.pass,
                            SHAPES[s]
                        );
                    }
                }
                let got = read(out, cpu.out.len());
                for (i, (g, w)) in got.iter().zip(&cpu.out).enumerate() {
                    assert!(
                        g.to_bits() == w.to_bits() || (g - w).abs() <= tol * (1.0 + w.abs()),
                        "{:?} out[{i}] {:?}: GPU {g}, CPU {w}",
                        kernel.pass,
                        SHAPES[s]
                    );
                }
                // The next pass starts from the CPU's results, so each is checked alone.
            }
        }
    }
}
