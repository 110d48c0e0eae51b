//! Every WGSL kernel against its CPU reference on shapes that are not tile multiples
//! (1 row, K = 1, one past a workgroup's block), on edge values, and, for gradients, against
//! finite differences of the forward function.

mod common;

use bytemuck::Pod;
use ganvas::backend::gpu::{read_buffer, GpuContext};
use ganvas::kernels::activation::Activation;
use ganvas::kernels::adam::{adam_cpu, Adam, AdamBuffers, AdamParams};
use ganvas::kernels::bce::{bce_cpu, Bce, BceBuffers, BceParams, STAT_SLOTS};
use ganvas::kernels::bias_grad::{bias_grad_cpu, BiasGrad, BiasGradBuffers, BiasGradParams};
use ganvas::kernels::cross_entropy::{cross_entropy_cpu, CrossEntropy, CrossEntropyBuffers, CrossEntropyParams};
use ganvas::kernels::gather::{gather_cpu, pack_bytes, Gather, GatherBuffers, GatherParams};
use ganvas::kernels::labels::{labels_cpu, Labels, LabelsBuffers, LabelsParams};
use ganvas::kernels::matmul::{matmul_cpu, Matmul, MatmulBuffers, MatmulParams, MatmulVariant, View};
use ganvas::kernels::noise::{noise_cpu, Noise, NoiseBuffers, NoiseParams};
use ganvas::kernels::Dispatch;
use ganvas::rng::Stream;
use wgpu::util::DeviceExt;

use common::{max_abs_diff, random_vec};

struct Harness {
    gpu: GpuContext,
}

impl Harness {
    fn new() -> Option<Harness> {
        common::gpu().map(|gpu| Harness { gpu })
    }

    fn buffer<T: Pod>(&self, data: &[T]) -> wgpu::Buffer {
        let mut bytes = bytemuck::cast_slice(data).to_vec();
        bytes.resize(bytes.len().max(16), 0);
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        self.gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: &bytes,
            usage,
        })
    }

    fn device(&self) -> &wgpu::Device {
        &self.gpu.device
    }

    /// Runs one dispatch, made by the kernel module's typed `dispatch`, as the trainer does.
    fn run(&self, dispatch: Dispatch) {
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            dispatch.record(&mut pass);
        }
        self.gpu.queue.submit([encoder.finish()]);
    }

    fn read(&self, buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
        let bytes = pollster::block_on(read_buffer(&self.gpu.device, &self.gpu.queue, buffer, buffer.size())).unwrap();
        bytemuck::pod_collect_to_vec::<u8, f32>(&bytes)[..len].to_vec()
    }

    /// BCE on `logits` into a grad buffer filled with `grad_init` and a stats buffer
    /// holding `stats`: the gradient and stats it leaves.
    fn bce(
        &self,
        kernel: &Bce,
        p: &BceParams,
        logits: &[f32],
        grad_init: &[f32],
        stats: &[f32],
    ) -> (Vec<f32>, Vec<f32>) {
        let (logits, grad, stats_buffer) = (self.buffer(logits), self.buffer(grad_init), self.buffer(stats));
        let buffers = BceBuffers {
            logits: &logits,
            grad: &grad,
            stats: &stats_buffer,
        };
        self.run(kernel.dispatch(self.device(), "test bce", &buffers, p));
        (self.read(&grad, grad_init.len()), self.read(&stats_buffer, stats.len()))
    }

    /// One Adam step at step index `step` over [param, grad, exp_avg, exp_avg_sq].
    fn adam(&self, kernel: &Adam, p: &AdamParams, step: u32, [param, grad, exp_avg, exp_avg_sq]: [&wgpu::Buffer; 4]) {
        let counter = self.buffer(&[step, 0, 0, 0]);
        let buffers = AdamBuffers {
            param,
            grad,
            exp_avg,
            exp_avg_sq,
            counter: &counter,
        };
        self.run(kernel.dispatch(self.device(), "test adam", &buffers, p));
    }

    /// `inputs` are A, B, bias and gate, in binding order.
    fn matmul(&self, kernel: &Matmul, p: &MatmulParams, inputs: [&[f32]; 4], c_len: usize) -> Vec<f32> {
        let [a, b, bias, gate] = inputs.map(|x| self.buffer(x));
        let c = self.buffer(&vec![f32::NAN; c_len]);
        let buffers = MatmulBuffers {
            a: &a,
            b: &b,
            bias: &bias,
            gate: &gate,
            c: &c,
        };
        self.run(kernel.dispatch(self.device(), "test matmul", &buffers, p));
        self.read(&c, c_len)
    }
}

fn f64_activation(kind: Activation, x: f64) -> f64 {
    match kind {
        Activation::Identity => x,
        Activation::LeakyRelu => {
            if x > 0.0 {
                x
            } else {
                0.2 * x
            }
        }
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Relu => x.max(0.0),
    }
}

/// The product in f64 with the epilogue, and for each output the rounding bound
/// k·ε·Σ|a·b| of an f32 dot product in any order (activations and gate
/// derivatives are 1-Lipschitz and at most 1, so the bound carries through),
/// plus 2e-6 for evaluating tanh or sigmoid in f32.
fn matmul_f64(p: &MatmulParams, a: &[f32], b: &[f32], bias: &[f32], gate: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let acts = [
        Activation::Identity,
        Activation::LeakyRelu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Relu,
    ];
    let u = |x: u32| x as usize;
    let (mut out, mut tol) = (Vec::new(), Vec::new());
    for i in 0..u(p.m) {
        for j in 0..u(p.n) {
            let (mut sum, mut abs) = (0f64, 0f64);
            for k in 0..u(p.k) {
                let x = f64::from(a[u(p.a_offset) + i * u(p.a_row_stride) + k * u(p.a_col_stride)]);
                let y = f64::from(b[u(p.b_offset) + k * u(p.b_row_stride) + j * u(p.b_col_stride)]);
                sum += x * y;
                abs += (x * y).abs();
            }
            if p.has_bias != 0 {
                let v = f64::from(bias[u(p.bias_offset) + j]);
                sum += v;
                abs += v.abs();
            }
            let mut v = f64_activation(acts[u(p.activation)], sum);
            if p.gate_activation != 0 {
                let y = gate[u(p.gate_offset) + i * u(p.gate_row_stride) + j];
                v *= f64::from(acts[u(p.gate_activation)].derivative_from_output(y));
            }
            out.push(v);
            tol.push((p.k as f64 + 2.0) * f64::from(f32::EPSILON) * abs + 2e-6);
        }
    }
    (out, tol)
}

fn assert_within(what: &str, got: &[f32], want: &[f64], tol: &[f64]) {
    for (i, ((g, w), t)) in got.iter().zip(want).zip(tol).enumerate() {
        assert!(
            (f64::from(*g) - w).abs() <= *t,
            "{what}[{i}]: got {g}, want {w} (tolerance {t})"
        );
    }
}

/// (m, n, k): single rows and columns, K = 1, partial 8×8 and 4×4 invocation blocks,
/// exact 32×128, 32×32 and 64×64 workgroup blocks and one past them, K short of, at
/// and past a multiple of `tiled`'s 16-deep slabs and of `split_k`'s four-k steps.
const SHAPES: [(usize, usize, usize); 10] = [
    (1, 1, 1),
    (1, 7, 1),
    (5, 3, 1),
    (32, 128, 9),
    (33, 129, 5),
    (64, 64, 16),
    (65, 63, 17),
    (3, 130, 257),
    (128, 1, 256),
    (70, 200, 33),
];

#[test]
fn matmul_matches_the_cpu_reference_in_all_three_layouts() {
    let Some(h) = Harness::new() else { return };
    let kernels = VARIANTS.map(|v| (v, Matmul::new(&h.gpu.device, v)));
    for (s, &shape) in SHAPES.iter().enumerate() {
        matmul_layouts_match(&h, &kernels, s as u64 * 10, shape);
    }
}

/// All of matmul.wgsl's entry points; each must match the references on its own.
const VARIANTS: [MatmulVariant; 3] = [MatmulVariant::WholeK, MatmulVariant::SplitK, MatmulVariant::Tiled];

fn matmul_layouts_match(h: &Harness, kernels: &[(MatmulVariant, Matmul)], seed: u64, (m, n, k): (usize, usize, usize)) {
    // Offsets inside larger buffers, as in the training plan.
    let x = random_vec(3 + m * k, seed, 1.0);
    let w = random_vec(5 + n * k + n, seed + 1, 1.0);
    let dy = random_vec(m * n, seed + 2, 1.0);
    let gate = random_vec(m * k, seed + 3, 1.0);
    let cases = [
        (
            "forward/tanh",
            MatmulParams::linear_forward(
                View::new(3, m, k),
                View::new(5, n, k),
                5 + n * k,
                View::new(0, m, n),
                Activation::Tanh,
            ),
            &x,
            &w,
            m * n,
        ),
        (
            "forward/leaky",
            MatmulParams::linear_forward(
                View::new(3, m, k),
                View::new(5, n, k),
                5 + n * k,
                View::new(0, m, n),
                Activation::LeakyRelu,
            ),
            &x,
            &w,
            m * n,
        ),
        (
            "forward/sigmoid",
            MatmulParams::linear_forward(
                View::new(3, m, k),
                View::new(5, n, k),
                5 + n * k,
                View::new(0, m, n),
                Activation::Sigmoid,
            ),
            &x,
            &w,
            m * n,
        ),
        (
            "input gradient",
            MatmulParams::input_gradient(
                View::new(0, m, n),
                View::new(5, n, k),
                View::new(0, m, k),
                Activation::LeakyRelu,
                View::new(0, m, k),
            ),
            &dy,
            &w,
            m * k,
        ),
        (
            "weight gradient",
            MatmulParams::weight_gradient(View::new(0, m, n), View::new(3, m, k), View::new(0, n, k)),
            &dy,
            &x,
            n * k,
        ),
    ];
    for (name, p, a, b, len) in cases {
        let what = format!("{name} {m}x{n}x{k}");
        let (want, tol) = matmul_f64(&p, a, b, &w, &gate);
        let mut cpu = vec![0.0; len];
        matmul_cpu(&p, a, b, &w, &gate, &mut cpu);
        assert_within(&format!("cpu {what}"), &cpu, &want, &tol);
        for (variant, kernel) in kernels {
            let gpu = h.matmul(kernel, &p, [a, b, &w, &gate], len);
            assert_within(&format!("gpu {variant:?} {what}"), &gpu, &want, &tol);
        }
    }
}

#[test]
fn matmul_reads_and_writes_blocks_of_columns() {
    // An input assembled from parts: X is columns [2, 2 + k) of rows k + 5 wide, Y and
    // the input gradient are blocks of wider rows, and dW is a block of W's columns
    // (the weights a part of the input meets), as a conditional model's plan uses them.
    let Some(h) = Harness::new() else { return };
    let kernels = VARIANTS.map(|v| Matmul::new(&h.gpu.device, v));
    let (m, n, k) = (33, 65, 17);
    let wide = k + 5;
    let x_rows = View::new(3, m, wide);
    let x = random_vec(3 + m * wide, 1, 1.0);
    let w = random_vec(n * wide + n, 2, 1.0);
    let dy = random_vec(m * n, 3, 1.0);
    let gate = random_vec(m * wide, 4, 1.0);
    let w_block = View::new(0, n, wide).column_block(2, k);
    let cases = [
        (
            MatmulParams::linear_forward(
                x_rows.column_block(2, k),
                w_block,
                n * wide,
                View::new(0, m, n + 3).column_block(1, n),
                Activation::Tanh,
            ),
            &x,
            &w,
            m * (n + 3),
        ),
        (
            MatmulParams::input_gradient(
                View::new(0, m, n),
                w_block,
                View::new(0, m, wide).column_block(2, k),
                Activation::LeakyRelu,
                View::new(0, m, wide).column_block(2, k),
            ),
            &dy,
            &w,
            m * wide,
        ),
        (
            MatmulParams::weight_gradient(View::new(0, m, n), x_rows.column_block(2, k), w_block),
            &dy,
            &x,
            n * wide,
        ),
    ];
    for (p, a, b, len) in cases {
        let (want, tol) = matmul_f64(&p, a, b, &w, &gate);
        let mut cpu = vec![f32::NAN; len];
        matmul_cpu(&p, a, b, &w, &gate, &mut cpu);
        // Only the block is written: compare it, and check the rest stayed NaN.
        let block: Vec<usize> = (0..p.m as usize)
            .flat_map(|i| (0..p.n as usize).map(move |j| (i, j)))
            .map(|(i, j)| p.c_offset as usize + i * p.c_row_stride as usize + j)
            .collect();
        let pick = |c: &[f32]| block.iter().map(|&i| c[i]).collect::<Vec<_>>();
        assert_within(&format!("cpu {p:?}"), &pick(&cpu), &want, &tol);
        assert_eq!(cpu.iter().filter(|v| v.is_nan()).count(), len - block.len());
        for kernel in &kernels {
            let gpu = h.matmul(kernel, &p, [a, b, &w, &gate], len);
            assert_within(&format!("gpu {:?} {p:?}", kernel.variant), &pick(&gpu), &want, &tol);
            assert_eq!(gpu.iter().filter(|v| v.is_nan()).count(), len - block.len());
        }
    }
}

/// Logits and pre-activations at which a naive formula overflows or loses precision.
const EDGES: [f32; 14] = [
    -1e30, -1e4, -100.0, -88.0, -20.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 20.0, 88.0, 100.0, 1e4,
];

#[test]
fn activations_forward_and_backward_match_finite_differences() {
    let Some(h) = Harness::new() else { return };
    let mut xs: Vec<f32> = EDGES.to_vec();
    xs.extend(random_vec(50, 9, 4.0));
    let n = xs.len();
    let one = [1.0f32];
    // The epilogue is shared by both entry points; each must reach it correctly.
    for (variant, act) in VARIANTS.into_iter().flat_map(|v| {
        [
            Activation::LeakyRelu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Relu,
        ]
        .map(|a| (v, a))
    }) {
        let kernel = Matmul::new(&h.gpu.device, variant);
        // A K = 1 product with a unit weight is the activation alone: y = act(x·1 + 0).
        let zero_bias = [0.0f32];
        let forward = MatmulParams::linear_forward(View::new(0, n, 1), View::new(0, 1, 1), 0, View::new(0, n, 1), act);
        let y = h.matmul(&kernel, &forward, [&xs, &one, &zero_bias, &zero_bias], n);
        for (x, y) in xs.iter().zip(&y) {
            let want = f64_activation(act, f64::from(*x));
            assert!(
                y.is_finite() && (f64::from(*y) - want).abs() <= 2e-6,
                "{variant:?}: {act:?}({x}) = {y}, want {want}"
            );
        }
        // Backward with dY = 1 and the forward output as gate: the derivative alone.
        let backward = MatmulParams::input_gradient(
            View::new(0, n, 1),
            View::new(0, 1, 1),
            View::new(0, n, 1),
            act,
            View::new(0, n, 1),
        );
        let ones = vec![1.0f32; n];
        let dydx = h.matmul(&kernel, &backward, [&ones, &one, &zero_bias, &y], n);
        for (x, d) in xs.iter().zip(&dydx) {
            let x = f64::from(*x);
            if x.abs() < 1e-2 && matches!(act, Activation::LeakyRelu | Activation::Relu) {
                continue; // the kink: no derivative to difference
            }
            let step = 1e-4 * x.abs().max(1.0);
            let fd = (f64_activation(act, x + step) - f64_activation(act, x - step)) / (2.0 * step);
            // f32 rounding of y (ε·|y| relative, times the derivative's slope ≤ 2) plus
            // the central difference's O(step²) error.
            assert!(
                d.is_finite() && (f64::from(*d) - fd).abs() <= 1e-5,
                "{variant:?}: {act:?}'({x}) = {d}, finite difference {fd}"
            );
        }
    }
}

fn bce_loss_f64(logits: &[f32], positives: usize) -> f64 {
    let n = logits.len() as f64;
    logits
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let (x, y) = (f64::from(x), if i < positives { 1.0 } else { 0.0 });
            x.max(0.0) - x * y + (-x.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / n
}

#[test]
fn bce_matches_reference_finite_differences_and_pytorch() {
    let Some(h) = Harness::new() else { return };
    let kernel = Bce::new(&h.gpu.device);
    // 300 rows: more than one pass of the 256-invocation workgroup.
    // All positive or all negative: a DCGAN's D sees the real and the fake half alone.
    for (n, positives) in [(1usize, 1usize), (2, 1), (300, 130), (128, 64), (5, 5), (7, 0)] {
        let logits = random_vec(n, n as u64, 6.0);
        let p = BceParams {
            n: n as u32,
            positives: positives as u32,
            loss_slot: 1,
            record_probabilities: 1,
        };
        let initial_stats = [0.5f32, 0.25, 0.125, 1.0];
        let (grad, stats) = h.bce(&kernel, &p, &logits, &vec![f32::NAN; n], &initial_stats);
        let mut cpu_grad = vec![0.0; n];
        let mut cpu_stats = initial_stats;
        bce_cpu(&p, &logits, &mut cpu_grad, &mut cpu_stats);
        assert!(max_abs_diff(&grad, &cpu_grad) < 1e-7, "n={n}");
        assert!(
            max_abs_diff(&stats, &cpu_stats) < 2e-6,
            "n={n}: {stats:?} vs {cpu_stats:?}"
        );
        // A group without rows leaves its mean alone (no 0/0).
        assert!(
            stats.iter().all(|v| v.is_finite()),
            "n={n}, positives={positives}: {stats:?}"
        );
        assert_eq!(
            positives == 0,
            stats[2] == initial_stats[2],
            "D(x) recorded only with real rows"
        );
        assert_eq!(
            positives == n,
            stats[3] == initial_stats[3],
            "D(G(z)) recorded only with fake rows"
        );
        let loss = f64::from(stats[1] - initial_stats[1]);
        assert!((loss - bce_loss_f64(&logits, positives)).abs() < 2e-6);

        // Gradient of the mean loss by central differences in f64.
        for i in 0..n.min(20) {
            let mut plus = logits.clone();
            let mut minus = logits.clone();
            plus[i] += 1e-3;
            minus[i] -= 1e-3;
            let step = f64::from(plus[i]) - f64::from(minus[i]);
            let fd = (bce_loss_f64(&plus, positives) - bce_loss_f64(&minus, positives)) / step;
            assert!(
                (f64::from(grad[i]) - fd).abs() < 1e-6 / n as f64 + 1e-9,
                "n={n} i={i}: {} vs {fd}",
                grad[i]
            );
        }

        // PyTorch's BCELoss(sigmoid(x), y) = -(y ln p + (1 - y) ln(1 - p)), unclamped for |x| < 15.
        let torch: f64 = logits
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let p = 1.0 / (1.0 + (-f64::from(x)).exp());
                if i < positives {
                    -p.ln()
                } else {
                    -(1.0 - p).ln()
                }
            })
            .sum::<f64>()
            / n as f64;
        assert!((loss - torch).abs() < 2e-6);
    }
}

#[test]
fn bce_stays_finite_at_saturated_logits() {
    let Some(h) = Harness::new() else { return };
    let kernel = Bce::new(&h.gpu.device);
    let logits: Vec<f32> = EDGES.iter().chain(EDGES.iter()).copied().collect();
    let n = logits.len();
    let p = BceParams {
        n: n as u32,
        positives: EDGES.len() as u32,
        loss_slot: 0,
        record_probabilities: 1,
    };
    let (grad, stats) = h.bce(&kernel, &p, &logits, &vec![0f32; n], &[0f32; STAT_SLOTS]);
    assert!(grad.iter().chain(&stats).all(|v| v.is_finite()), "{grad:?} {stats:?}");
    // Target 1 at x = -1e4 costs 1e4 (PyTorch would clamp it at 100); the gradient stays -1/n.
    assert!((grad[1] + 1.0 / n as f32).abs() < 1e-9);
    let mut cpu_grad = vec![0.0; n];
    let mut cpu_stats = [0.0; STAT_SLOTS];
    bce_cpu(&p, &logits, &mut cpu_grad, &mut cpu_stats);
    assert!(max_abs_diff(&grad, &cpu_grad) < 1e-7);
    // The loss is dominated by the 1e30 terms; compare relatively.
    assert!(((stats[0] - cpu_stats[0]) / cpu_stats[0]).abs() < 1e-6);
}

/// The mean softmax cross-entropy in f64, rows of `classes` logits and targets each.
fn cross_entropy_f64(logits: &[f64], targets: &[f64], classes: usize) -> f64 {
    let rows = logits.len() / classes;
    let row_loss = |x: &[f64], t: &[f64]| {
        let largest = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = largest + x.iter().map(|v| (v - largest).exp()).sum::<f64>().ln();
        x.iter().zip(t).map(|(x, t)| t * (lse - x)).sum::<f64>()
    };
    let total: f64 = logits
        .chunks(classes)
        .zip(targets.chunks(classes))
        .map(|(x, t)| row_loss(x, t))
        .sum();
    total / rows as f64
}

#[test]
fn cross_entropy_matches_reference_finite_differences_and_accuracy() {
    let Some(h) = Harness::new() else { return };
    let kernel = CrossEntropy::new(&h.gpu.device);
    // One class; ten classes with one-hot targets; 300 rows (more than one pass of the
    // workgroup) with soft targets; rows with huge logits and with ties.
    let mut edge_logits = vec![0.0f32; 6 * 10];
    edge_logits[3] = 1e4; // one overwhelming logit
    edge_logits[20..30].copy_from_slice(&[88.0, -100.0, 88.0, 0.0, -1e4, 5.0, 5.0, 5.0, 5.0, 5.0]);
    // A tie everywhere in row 1, whose target is class 0: softmax is uniform, and the
    // first class is the prediction, so the row counts as right.
    edge_logits[10..20].fill(7.5);
    edge_logits[40..50].fill(-1e30);
    edge_logits[45] = -1e29;
    for (rows, classes, soft, seed) in [
        (1usize, 1usize, false, 1u64),
        (3, 10, false, 2),
        (300, 10, true, 3),
        (6, 10, false, 4),
    ] {
        let logits = if seed == 4 {
            edge_logits.clone()
        } else {
            random_vec(rows * classes, seed, 6.0)
        };
        // Targets with a row stride of classes + 2, after 3 values of padding.
        let stride = classes + 2;
        let mut targets = vec![9.0f32; 3 + rows * stride];
        for i in 0..rows {
            let row = &mut targets[3 + i * stride..][..classes];
            if soft {
                let weights: Vec<f32> = random_vec(classes, 100 + i as u64, 1.0)
                    .iter()
                    .map(|w| w.abs() + 0.1)
                    .collect();
                let sum: f32 = weights.iter().sum();
                row.iter_mut().zip(&weights).for_each(|(t, w)| *t = w / sum);
            } else {
                row.fill(0.0);
                row[(i * 7 + 3) % classes] = 1.0;
            }
        }
        let p = CrossEntropyParams::new(
            View::new(0, rows, classes),
            View::new(3, rows, stride).column_block(0, classes),
            1,
            Some(3),
        );
        let initial_stats = [0.5f32, 0.25, 0.125, 1.0];
        let (bl, bt, bg, bs) = (
            h.buffer(&logits),
            h.buffer(&targets),
            h.buffer(&vec![f32::NAN; rows * classes]),
            h.buffer(&initial_stats),
        );
        let buffers = CrossEntropyBuffers {
            logits: &bl,
            targets: &bt,
            grad: &bg,
            stats: &bs,
        };
        h.run(kernel.dispatch(h.device(), "test cross_entropy", &buffers, &p));
        let (grad, stats) = (h.read(&bg, rows * classes), h.read(&bs, 4));
        let mut cpu_grad = vec![0.0; rows * classes];
        let mut cpu_stats = initial_stats;
        cross_entropy_cpu(&p, &logits, &targets, &mut cpu_grad, &mut cpu_stats);
        let what = format!("{rows}x{classes}");
        assert!(
            grad.iter().chain(&stats).all(|v| v.is_finite()),
            "{what}: {grad:?} {stats:?}"
        );
        // Gradients are (softmax - t)/rows: f32 exp and division, a few ulps of 1/rows.
        assert!(max_abs_diff(&grad, &cpu_grad) < 1e-6 / rows as f32, "{what}");
        // Accuracy is a count over rows: exact on both.
        assert_eq!(stats[3], cpu_stats[3], "{what}");
        assert_eq!(stats[0], initial_stats[0], "{what}: only the named slots change");

        let as_f64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let dense_targets: Vec<f32> = (0..rows)
            .flat_map(|i| targets[3 + i * stride..][..classes].to_vec())
            .collect();
        let (x64, t64) = (as_f64(&logits), as_f64(&dense_targets));
        let want = cross_entropy_f64(&x64, &t64, classes);
        // The loss of each row is at most a few hundred here (the -1e4 logit costs 1e4
        // only when it is the target, which it is not), summed in f32.
        for (got, name) in [(stats[1], "gpu"), (cpu_stats[1], "cpu")] {
            let loss = f64::from(got - initial_stats[1]);
            assert!(
                (loss - want).abs() <= 2e-6 * want.abs().max(1.0),
                "{what} {name}: {loss} vs {want}"
            );
        }
        // Each row predicted right or not: the share, in f64.
        let right = (0..rows)
            .filter(|&i| {
                let first_max = |v: &[f64]| (1..classes).fold(0, |b, c| if v[c] > v[b] { c } else { b });
                first_max(&x64[i * classes..][..classes]) == first_max(&t64[i * classes..][..classes])
            })
            .count();
        // The share of rows, in f32: within a few ulps of the count over rows.
        let accuracy = f64::from(stats[3] - initial_stats[3]);
        assert!(
            (accuracy - right as f64 / rows as f64).abs() < 1e-6,
            "{what}: {accuracy}, {right} right"
        );

        // The gradient of the mean loss by central differences in f64 (rows of
        // ordinary logits; at ±1e4 the softmax is exactly 0 or 1 and the test above
        // already pins the gradient).
        if seed != 4 {
            for k in 0..(rows * classes).min(25) {
                let step = 1e-4;
                let (mut plus, mut minus) = (x64.clone(), x64.clone());
                plus[k] += step;
                minus[k] -= step;
                let fd =
                    (cross_entropy_f64(&plus, &t64, classes) - cross_entropy_f64(&minus, &t64, classes)) / (2.0 * step);
                assert!(
                    (f64::from(grad[k]) - fd).abs() < 1e-6 / rows as f64 + 1e-9,
                    "{what} [{k}]: {} vs {fd}",
                    grad[k]
                );
            }
        }
    }
}

#[test]
fn bias_grad_sums_columns() {
    let Some(h) = Harness::new() else { return };
    let kernel = BiasGrad::new(&h.gpu.device);
    for (rows, cols) in [(1usize, 1usize), (1, 65), (130, 1), (128, 257)] {
        let dy = random_vec(rows * cols, rows as u64, 1.0);
        let p = BiasGradParams {
            rows: rows as u32,
            cols: cols as u32,
            input_offset: 0,
            output_offset: 2,
        };
        let (bdy, bdb) = (h.buffer(&dy), h.buffer(&vec![f32::NAN; cols + 2]));
        let buffers = BiasGradBuffers { dy: &bdy, db: &bdb };
        h.run(kernel.dispatch(h.device(), "test bias_grad", &buffers, &p));
        let gpu = h.read(&bdb, cols + 2);
        let mut cpu = vec![f32::NAN; cols + 2];
        bias_grad_cpu(&p, &dy, &mut cpu);
        // Same order of summation on both sides.
        assert_eq!(gpu[2..], cpu[2..]);
        for (j, v) in cpu[2..].iter().enumerate() {
            let want: f64 = (0..rows).map(|i| f64::from(dy[i * cols + j])).sum();
            assert!((f64::from(*v) - want).abs() < rows as f64 * 1e-7);
        }
    }
}

/// torch.optim.Adam's update, written out in f64.
fn torch_adam(p: &mut [f64], grads: &[Vec<f32>], lr: f64, b1: f64, b2: f64, eps: f64) {
    let mut m = vec![0.0; p.len()];
    let mut v = vec![0.0; p.len()];
    for (t, g) in grads.iter().enumerate() {
        let t = (t + 1) as i32;
        for i in 0..p.len() {
            let g = f64::from(g[i]);
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let denom = (v[i].sqrt() / (1.0 - b2.powi(t)).sqrt()) + eps;
            p[i] -= lr / (1.0 - b1.powi(t)) * m[i] / denom;
        }
    }
}

#[test]
fn adam_follows_the_formula_over_several_steps() {
    let Some(h) = Harness::new() else { return };
    let kernel = Adam::new(&h.gpu.device);
    let n = 1000;
    let p = AdamParams::new(n, 1e-2, 0.5, 0.999, 1e-8);
    let initial = random_vec(n, 1, 1.0);
    let grads: Vec<Vec<f32>> = (0..6u64).map(|s| random_vec(n, 100 + s, 1.0)).collect();
    let (bp, bm, bv) = (h.buffer(&initial), h.buffer(&vec![0f32; n]), h.buffer(&vec![0f32; n]));
    let mut cpu = (initial.clone(), vec![0f32; n], vec![0f32; n]);
    for (step, g) in grads.iter().enumerate() {
        h.adam(&kernel, &p, step as u32, [&bp, &h.buffer(g), &bm, &bv]);
        adam_cpu(&p, step as u32, &mut cpu.0, g, &mut cpu.1, &mut cpu.2);
    }
    let gpu = h.read(&bp, n);
    let mut want: Vec<f64> = initial.iter().map(|&x| f64::from(x)).collect();
    torch_adam(&mut want, &grads, 1e-2, 0.5, 0.999, 1e-8);
    let want32: Vec<f32> = want.iter().map(|&x| x as f32).collect();
    // Six updates of about lr each, every one exact to a few ulps of lr.
    assert!(max_abs_diff(&gpu, &want32) < 1e-6, "{}", max_abs_diff(&gpu, &want32));
    assert!(max_abs_diff(&cpu.0, &want32) < 1e-6);
    // The run moved: the test would notice a kernel that does nothing.
    assert!(max_abs_diff(&initial, &want32) > 0.03);

    // Late in training the bias corrections take the exp branch: one step at t = 10,000.
    let (m0, v0) = (
        random_vec(n, 7, 0.1),
        random_vec(n, 8, 0.01).iter().map(|x| x.abs()).collect::<Vec<_>>(),
    );
    let (bm, bv, bp, bg) = (h.buffer(&m0), h.buffer(&v0), h.buffer(&initial), h.buffer(&grads[0]));
    h.adam(&kernel, &p, 9_999, [&bp, &bg, &bm, &bv]);
    let gpu = h.read(&bp, n);
    let t = 10_000;
    for i in 0..n {
        let g = f64::from(grads[0][i]);
        let m = 0.5 * f64::from(m0[i]) + 0.5 * g;
        let v = 0.999 * f64::from(v0[i]) + 0.001 * g * g;
        let denom = v.sqrt() / (1.0 - 0.999f64.powi(t)).sqrt() + 1e-8;
        let update = 1e-2 / (1.0 - 0.5f64.powi(t)) * m / denom;
        // Updates reach 0.1 here (small v): allow a few f32 roundings of the update
        // and one of the parameter.
        let tolerance = 1e-6 * update.abs() + 2e-7;
        let want = f64::from(initial[i]) - update;
        assert!(
            (f64::from(gpu[i]) - want).abs() < tolerance,
            "{i}: {} vs {want}",
            gpu[i]
        );
    }
}

/// Equal within `tol` where `want` is a number, and NaN (never written) where it is NaN.
fn assert_written_alike(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let alike = if w.is_nan() { g.is_nan() } else { (g - w).abs() <= tol };
        assert!(alike, "{what}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn noise_matches_the_cpu_generator() {
    let Some(h) = Harness::new() else { return };
    let kernel = Noise::new(&h.gpu.device);
    // 1601: not a multiple of 4 or of the workgroup; seeds use both key words. The
    // last two write a block of columns of a wider matrix (latents beside a label),
    // one from an offset, whose rows split Philox's groups of four.
    let cases = [
        (
            NoiseParams::per_step(View::new(0, 1, 1601), 0x1234_5678_9abc_def0),
            3u32,
            1601,
        ),
        (NoiseParams::per_step(View::new(0, 1, 1), 0), 0, 1),
        (
            NoiseParams::fixed(View::new(0, 64, 100), 42, Stream::Sample, 0),
            77,
            6400,
        ),
        (
            NoiseParams::per_step(View::new(0, 16, 110).column_block(0, 100), 9),
            4,
            1760,
        ),
        (
            NoiseParams::fixed(View::new(0, 5, 12).column_block(3, 7), 1, Stream::Sample, 2),
            0,
            60,
        ),
    ];
    for (p, step, len) in cases {
        let (bz, counter) = (h.buffer(&vec![f32::NAN; len]), h.buffer(&[step, 0, 0, 0]));
        let buffers = NoiseBuffers {
            z: &bz,
            counter: &counter,
        };
        h.run(kernel.dispatch(h.device(), "test noise", &buffers, &p));
        let gpu = h.read(&bz, len);
        let mut cpu = vec![f32::NAN; len];
        noise_cpu(&p, step, &mut cpu);
        // The same bits through ln, sqrt, sin and cos: f32 rounding differences only.
        assert_written_alike(&format!("{p:?}"), &gpu, &cpu, 1e-5);
        // A block of columns holds the values a contiguous matrix would, row by row.
        let contiguous = NoiseParams {
            offset: 0,
            row_stride: p.cols,
            ..p
        };
        let mut rows = vec![0.0; p.count as usize];
        noise_cpu(&contiguous, step, &mut rows);
        for (r, row) in rows.chunks(p.cols as usize).enumerate() {
            let start = (p.offset + r as u32 * p.row_stride) as usize;
            assert_eq!(&cpu[start..start + row.len()], row);
        }
    }
}

/// The conditional GAN's labels: drawn per step (the same classes as
/// `rng::uniform_class`, into a block of columns, nothing else written), or read
/// from a table (a class outside the range gives a zero row, on both).
#[test]
fn labels_match_the_cpu_reference_and_are_uniform() {
    let Some(h) = Harness::new() else { return };
    let kernel = Labels::new(&h.gpu.device);
    let table: Vec<f32> = vec![3.0, 0.0, 9.0, 9.0, 12.0, 1.0, 7.0];
    let cases = [
        // 1000 rows: not a multiple of the workgroup; the step as the counter's word.
        (
            LabelsParams::per_step(View::new(0, 1000, 10), 0x1234_5678_9abc_def0),
            5u32,
            10_000,
        ),
        // The labels beside 7 latents of a wider input, from an offset.
        (
            LabelsParams::per_step(View::new(3, 9, 17).column_block(7, 10), 2),
            0,
            3 + 9 * 17,
        ),
        (
            LabelsParams::from_table(View::new(0, 5, 14).column_block(4, 10), 2),
            0,
            70,
        ),
    ];
    for (p, step, len) in cases {
        let (out, counter, bt) = (
            h.buffer(&vec![f32::NAN; len]),
            h.buffer(&[step, 0, 0, 0]),
            h.buffer(&table),
        );
        let buffers = LabelsBuffers {
            out: &out,
            counter: &counter,
            table: &bt,
        };
        h.run(kernel.dispatch(h.device(), "test labels", &buffers, &p));
        let gpu = h.read(&out, len);
        let mut cpu = vec![f32::NAN; len];
        labels_cpu(&p, step, &table, &mut cpu);
        assert_written_alike(&format!("{p:?}"), &gpu, &cpu, 0.0);
    }
    // The table's 12 (row 2 of the last case) matches no class: a zero row.
    let p = LabelsParams::from_table(View::new(0, 5, 10), 2);
    let mut cpu = vec![f32::NAN; 50];
    labels_cpu(&p, 0, &table, &mut cpu);
    assert_eq!(&cpu[20..30], &[0.0; 10]);
    assert_eq!(cpu[..10].iter().position(|&v| v == 1.0), Some(9));
    // Drawn classes are uniform: 10,000 rows, each class within 4 standard deviations
    // of 1,000 (σ = 30), and steps draw anew.
    let p = LabelsParams::per_step(View::new(0, 10_000, 10), 7);
    let mut one_hot = vec![0.0; 100_000];
    labels_cpu(&p, 0, &[], &mut one_hot);
    let mut counts = [0usize; 10];
    for row in one_hot.chunks(10) {
        assert_eq!(row.iter().sum::<f32>(), 1.0);
        counts[row.iter().position(|&v| v == 1.0).unwrap()] += 1;
    }
    assert!(counts.iter().all(|&c| (880..=1120).contains(&c)), "{counts:?}");
    let mut next = vec![0.0; 100_000];
    labels_cpu(&p, 1, &[], &mut next);
    assert_ne!(one_hot, next);
}

#[test]
fn gather_matches_the_cpu_reference() {
    let Some(h) = Harness::new() else { return };
    let kernel = Gather::new(&h.gpu.device);
    // 7×5 = 35 pixels: images straddle the 4-byte words.
    let data = common::synthetic_dataset(11, 7, 5, 3);
    let labels: Vec<u8> = (0..11u8).map(|i| (i * 7) % 10).collect();
    let order: Vec<u32> = ganvas::rng::epoch_order(5, 0, data.count);
    let step = 5; // the third batch of the second epoch
                  // Images as the whole batch and as the first 35 columns of rows 45 wide, and their
                  // labels one-hot in the last 10 columns of those rows: a conditional D's input.
    let wide = View::new(0, 3, 45);
    let cases = [
        (GatherParams::images(View::new(0, 3, 35), 3), &data.images),
        (GatherParams::images(wide.column_block(0, 35), 3), &data.images),
        (GatherParams::one_hot_labels(wide.column_block(35, 10), 3), &labels),
    ];
    for (p, items) in cases {
        let len = 3 * p.row_stride as usize;
        let (bi, bo, counter) = (
            h.buffer(&pack_bytes(items)),
            h.buffer(&order),
            h.buffer(&[step, 0, 0, 0]),
        );
        let out = h.buffer(&vec![f32::NAN; len]);
        let buffers = GatherBuffers {
            items: &bi,
            order: &bo,
            counter: &counter,
            batch: &out,
        };
        h.run(kernel.dispatch(h.device(), "test gather", &buffers, &p));
        let gpu = h.read(&out, len);
        let mut cpu = vec![f32::NAN; len];
        gather_cpu(&p, step, items, &order, &mut cpu);
        assert_written_alike(&format!("{p:?}"), &gpu, &cpu, 1e-6);
        let rows: Vec<&[f32]> = cpu
            .chunks(p.row_stride as usize)
            .map(|r| &r[p.offset as usize..][..p.width as usize])
            .collect();
        assert!(rows.iter().all(|r| r.iter().all(|v| (-1.0..=1.0).contains(v))));
        // Row 0 of the third batch is item order[6]: its first pixel, or its label.
        let item = order[6] as usize;
        match p.one_hot {
            0 => assert_eq!(rows[0][0], (f32::from(data.images[item * 35]) / 255.0 - 0.5) / 0.5),
            _ => {
                let hot: Vec<usize> = (0..10).filter(|&c| rows[0][c] == 1.0).collect();
                assert_eq!(hot, [usize::from(labels[item])]);
                assert!(rows.iter().all(|r| r.iter().sum::<f32>() == 1.0));
            }
        }
    }
}
