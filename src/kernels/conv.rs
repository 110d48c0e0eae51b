//! The convolutions of a DCGAN (`shaders/conv.wgsl`): one geometry, a big image and
//! a small one joined by a k × k kernel at a stride and a padding, and three passes
//! over it. `nn.Conv2d` runs `Lower` forward and `Raise` for its input gradient;
//! `nn.ConvTranspose2d` the other way round; both `Weight` for their weights, which
//! PyTorch stores for either as [small_channels, big_channels, k, k] (a Conv2d's
//! [out, in, k, k], a ConvTranspose2d's [in, out, k, k]).

use bytemuck::{Pod, Zeroable};

use rayon::prelude::*;

use super::{bindings, check_view, grid_2d, BufferId, CpuMemory, Dispatch, GpuMemory, GpuTarget, Kernel, KernelOp};
use crate::kernels::activation::Activation;
use crate::kernels::matmul::{gemm_cpu, MatmulParams};

/// Which way a pass goes over the geometry (the shader's entry points).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ConvPass {
    /// small = act(conv(big, W)) × gate'.
    Lower = 0,
    /// big = act(conv_transpose(small, W)) × gate'.
    Raise = 1,
    /// dW[o, i, ky, kx] = Σ small[n, o, y, x] · big[n, i, y·s − p + ky, x·s − p + kx].
    Weight = 2,
}

impl ConvPass {
    const ALL: [ConvPass; 3] = [ConvPass::Lower, ConvPass::Raise, ConvPass::Weight];

    fn entry_point(self) -> &'static str {
        match self {
            ConvPass::Lower => "lower",
            ConvPass::Raise => "raise",
            ConvPass::Weight => "weight",
        }
    }
}

/// The GPU entry point for `Lower`: `Registers` ("lower": each invocation owns 4
/// channels × 4 positions and gathers its own operands) or `Tiled` ("lower_tiled":
/// a workgroup copies slabs of W and of the patches into workgroup memory, as
/// matmul.wgsl's `tiled`). `Registers` everywhere until a real GPU has measured
/// `Tiled` (`benches/device/run.sh` times both): on lavapipe `Tiled` ran D's
/// 1.07-GFLOP layers in 158 ms against 116 (2026-12-07), as the matmul's tiled entry
/// point loses to its register-blocked one on CPU emulations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LowerVariant {
    #[default]
    Registers,
    Tiled,
}

/// The GPU entry point for `Weight`: `Whole` ("weight": each invocation sums a 4×4
/// block of dW over every image and position) or `Split` ("weight_split": a
/// workgroup of 64 shares a block, each summing a 64th). `Whole` everywhere until a
/// real GPU has measured `Split` (`benches/device/run.sh` times both): on lavapipe,
/// whose two threads `Whole`'s few workgroups already fill, a DCGAN step ran ~20%
/// slower on `Split` (0.27-0.28 against 0.34-0.35 steps/s, 2026-12-07); on a GPU,
/// `Whole` leaves a DCGAN's first layer 4 workgroups with 16,384-long sums each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightVariant {
    #[default]
    Whole,
    Split,
}

/// The geometry and what a pass reads and writes. Field order matches `Params` in
/// the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct ConvParams {
    pub batch: u32,
    pub big_channels: u32,
    pub big_height: u32,
    pub big_width: u32,
    pub small_channels: u32,
    pub small_height: u32,
    pub small_width: u32,
    pub kernel: u32,
    pub stride: u32,
    pub padding: u32,
    pub a_offset: u32,
    pub b_offset: u32,
    pub c_offset: u32,
    pub gate_offset: u32,
    pub activation: u32,
    pub gate_activation: u32,
    pub pass_kind: u32,
    /// 1: `Weight` adds to what C holds (a second pass of one network in a step,
    /// as PyTorch accumulates gradients).
    pub accumulate: u32,
    pub _pad: [u32; 2],
}

/// A convolution's shape: `batch` big images of `big` (channels, height, width)
/// and small ones of `small`, a square kernel, its stride and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub big: [usize; 3],
    pub small: [usize; 3],
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl ConvGeometry {
    /// The small side a convolution of `big` gives, or None where the kernel does
    /// not fit: ⌊(side + 2·padding − kernel) / stride⌋ + 1, as PyTorch computes it.
    pub fn small_side(big: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
        let padded = big + 2 * padding;
        (stride > 0 && kernel > 0 && padded >= kernel).then(|| (padded - kernel) / stride + 1)
    }

    pub fn weights(&self) -> usize {
        self.small[0] * self.big[0] * self.kernel * self.kernel
    }

    pub fn big_len(&self) -> usize {
        self.batch * self.big.iter().product::<usize>()
    }

    pub fn small_len(&self) -> usize {
        self.batch * self.small.iter().product::<usize>()
    }

    /// Whether the kernel covers the whole big image once (no padding, a 1×1 small
    /// image): a fully connected layer, whose patches are the images themselves
    /// (DCGAN's first layer of G and last of D).
    pub fn is_dense(&self) -> bool {
        let [_, bh, bw] = self.big;
        self.padding == 0 && self.kernel == bh && self.kernel == bw && self.small[1..] == [1, 1]
    }
}

impl ConvParams {
    /// `pass` over `g`: A at `a_offset`, B at `b_offset`, C at `c_offset` (A, B and C
    /// as `ConvPass` and the shader say), with no epilogue.
    pub fn new(pass: ConvPass, g: &ConvGeometry, a_offset: usize, b_offset: usize, c_offset: usize) -> Self {
        let u = |x: usize| x as u32;
        ConvParams {
            batch: u(g.batch),
            big_channels: u(g.big[0]),
            big_height: u(g.big[1]),
            big_width: u(g.big[2]),
            small_channels: u(g.small[0]),
            small_height: u(g.small[1]),
            small_width: u(g.small[2]),
            kernel: u(g.kernel),
            stride: u(g.stride),
            padding: u(g.padding),
            a_offset: u(a_offset),
            b_offset: u(b_offset),
            c_offset: u(c_offset),
            pass_kind: pass as u32,
            ..Default::default()
        }
    }

    /// The same with an epilogue: `activation`, then × its derivative at `gate`
    /// (from `gate_offset`, laid out as C). Not for `Weight`.
    pub fn with_epilogue(self, activation: Activation, gate_activation: Activation, gate_offset: usize) -> Self {
        assert_ne!(self.pass(), ConvPass::Weight, "the weight gradient has no epilogue");
        ConvParams {
            activation: activation as u32,
            gate_activation: gate_activation as u32,
            gate_offset: gate_offset as u32,
            ..self
        }
    }

    pub fn pass(&self) -> ConvPass {
        match self.pass_kind {
            0 => ConvPass::Lower,
            1 => ConvPass::Raise,
            2 => ConvPass::Weight,
            other => panic!("conv pass {other} is not one of lower, raise, weight"),
        }
    }

    fn geometry(&self) -> ConvGeometry {
        let u = |x: u32| x as usize;
        ConvGeometry {
            batch: u(self.batch),
            big: [u(self.big_channels), u(self.big_height), u(self.big_width)],
            small: [u(self.small_channels), u(self.small_height), u(self.small_width)],
            kernel: u(self.kernel),
            stride: u(self.stride),
            padding: u(self.padding),
        }
    }

    /// Values that A, B and C hold, and that C (so the gate) holds.
    fn lengths(&self) -> [usize; 3] {
        let g = self.geometry();
        match self.pass() {
            ConvPass::Lower => [g.big_len(), g.weights(), g.small_len()],
            ConvPass::Raise => [g.small_len(), g.weights(), g.big_len()],
            ConvPass::Weight => [g.small_len(), g.big_len(), g.weights()],
        }
    }

    /// The shader's invocations for this pass: one per block of 4 channels × 4
    /// positions of its output (raise: 4 columns of one phase of the stride).
    pub fn invocations(&self) -> usize {
        let g = self.geometry();
        let blocks = |n: usize| n.div_ceil(4);
        match self.pass() {
            ConvPass::Lower => g.batch * g.small[1] * blocks(g.small[2]) * blocks(g.small[0]),
            ConvPass::Raise => {
                let per_phase = g.big[2].div_ceil(g.stride.max(1));
                g.batch * g.big[1] * g.stride * blocks(per_phase) * blocks(g.big[0])
            }
            ConvPass::Weight => blocks(g.small[0]) * blocks(g.big[0]) * g.kernel * g.kernel,
        }
    }

    /// Multiply-adds, counted twice: each pass does the same ones.
    pub fn flops(&self) -> f64 {
        let g = self.geometry();
        2.0 * (g.small_len() * g.big[0] * g.kernel * g.kernel) as f64
    }

    fn activations(&self) -> (Activation, Activation) {
        let decode = |what: &str, v: u32| Activation::try_from(v).unwrap_or_else(|e| panic!("conv {what}: {e}"));
        (
            decode("activation", self.activation),
            decode("gate_activation", self.gate_activation),
        )
    }
}

/// One pass over plan buffers; `gate` is read only when the params ask for it.
#[derive(Clone, Debug)]
pub struct ConvOp {
    pub params: ConvParams,
    pub a: BufferId,
    pub b: BufferId,
    pub gate: BufferId,
    pub c: BufferId,
}

/// The big pixel (row or column) that small position `at` meets through kernel
/// offset `k`, if inside the image.
fn big_index(at: usize, k: usize, stride: usize, padding: usize, side: usize) -> Option<usize> {
    (at * stride + k).checked_sub(padding).filter(|&v| v < side)
}

/// The CPU reference: the sums in the shader's order, then its epilogue.
pub fn conv_cpu(p: &ConvParams, a: &[f32], b: &[f32], gate: &[f32], c: &mut [f32]) {
    let g = p.geometry();
    let (a, b, out) = operands(p, a, b, gate, c);
    let [bc, bh, bw] = g.big;
    let [sc, sh, sw] = g.small;
    let (k, s, pad) = (g.kernel, g.stride, g.padding);
    let weight = |o: usize, i: usize, ky: usize, kx: usize| ((o * bc + i) * k + ky) * k + kx;
    let big = |n: usize, i: usize, y: usize, x: usize| ((n * bc + i) * bh + y) * bw + x;
    let small = |n: usize, o: usize, y: usize, x: usize| ((n * sc + o) * sh + y) * sw + x;
    match p.pass() {
        ConvPass::Lower => {
            for (n, o, y, x) in four(g.batch, sc, sh, sw) {
                let mut sum = 0.0;
                for i in 0..bc {
                    for ky in 0..k {
                        let Some(by) = big_index(y, ky, s, pad, bh) else {
                            continue;
                        };
                        for kx in 0..k {
                            if let Some(bx) = big_index(x, kx, s, pad, bw) {
                                sum += a[big(n, i, by, bx)] * b[weight(o, i, ky, kx)];
                            }
                        }
                    }
                }
                out[small(n, o, y, x)] = sum;
            }
        }
        ConvPass::Raise => {
            for (n, i, by, bx) in four(g.batch, bc, bh, bw) {
                let mut sum = 0.0;
                for o in 0..sc {
                    for ky in ((by + pad) % s..k).step_by(s) {
                        let Some(y) = (by + pad).checked_sub(ky).map(|v| v / s).filter(|&y| y < sh) else {
                            continue;
                        };
                        for kx in ((bx + pad) % s..k).step_by(s) {
                            if let Some(x) = (bx + pad).checked_sub(kx).map(|v| v / s).filter(|&x| x < sw) {
                                sum += a[small(n, o, y, x)] * b[weight(o, i, ky, kx)];
                            }
                        }
                    }
                }
                out[big(n, i, by, bx)] = sum;
            }
        }
        ConvPass::Weight => {
            for (o, i, ky, kx) in four(sc, bc, k, k) {
                let mut sum = 0.0;
                for n in 0..g.batch {
                    for y in 0..sh {
                        let Some(by) = big_index(y, ky, s, pad, bh) else {
                            continue;
                        };
                        for x in 0..sw {
                            if let Some(bx) = big_index(x, kx, s, pad, bw) {
                                sum += a[small(n, o, y, x)] * b[big(n, i, by, bx)];
                            }
                        }
                    }
                }
                let at = weight(o, i, ky, kx);
                out[at] = if p.accumulate != 0 { out[at] + sum } else { sum };
            }
        }
    }
    if p.pass() != ConvPass::Weight {
        epilogue(p, gate, out);
    }
}

/// A pass's A, B and C, each checked against its buffer (and the gate, where read).
fn operands<'a>(
    p: &ConvParams,
    a: &'a [f32],
    b: &'a [f32],
    gate: &[f32],
    c: &'a mut [f32],
) -> (&'a [f32], &'a [f32], &'a mut [f32]) {
    let [a_len, b_len, c_len] = p.lengths();
    let (ao, bo, co) = (p.a_offset as usize, p.b_offset as usize, p.c_offset as usize);
    check_view("conv A", a.len(), ao, 1, a_len, 0, 1);
    check_view("conv B", b.len(), bo, 1, b_len, 0, 1);
    check_view("conv C", c.len(), co, 1, c_len, 0, 1);
    if p.gate_activation != 0 {
        check_view("conv gate", gate.len(), p.gate_offset as usize, 1, c_len, 0, 1);
    }
    // An activation value that names none stops here, before any work.
    let _ = p.activations();
    (&a[ao..][..a_len], &b[bo..][..b_len], &mut c[co..][..c_len])
}

/// The shader's epilogue over C: the activation, then × the gate's derivative.
fn epilogue(p: &ConvParams, gate: &[f32], out: &mut [f32]) {
    let (activation, gate_activation) = p.activations();
    activation.forward_slice(out);
    if p.gate_activation != 0 {
        gate_activation.scale_by_derivative(out, &gate[p.gate_offset as usize..][..out.len()]);
    }
}

/// The same passes as `conv_cpu`, as the CPU backend runs them: a group of images'
/// patches laid out as one matrix (im2col, the images' columns side by side) and one
/// matrix product with the weights (the GEMM of the matrix-product kernel), so the
/// weights are packed once for the group, not once an image; groups side by side on
/// up to `threads` threads. Groups are fixed by the shape (`images_per_product`) and
/// the weight gradient adds its groups' sums in order, so the result is the same bits
/// for any thread count. A kernel that covers the whole image (`is_dense`) needs no
/// patches: its products take the images as they are. Checked against `conv_cpu`
/// in tests/conv.rs.
pub fn conv_cpu_patches(p: &ConvParams, a: &[f32], b: &[f32], gate: &[f32], c: &mut [f32], threads: usize) {
    let g = p.geometry();
    if g.small_len() == 0 || g.big_len() == 0 {
        // Nothing to lay out as patches: the reference's loops do what there is.
        return conv_cpu(p, a, b, gate, c);
    }
    let (a, b, out) = operands(p, a, b, gate, c);
    let (big_len, small_len) = (g.big_len() / g.batch, g.small_len() / g.batch);
    let (rows, positions, channels) = (g.big[0] * g.kernel * g.kernel, g.small[1] * g.small[2], g.small[0]);
    let group = images_per_product(&g);
    // The small images first..first + count of A as one matrix (`side_by_side`).
    let small_matrix = |first: usize, count: usize| {
        let mut side = Scratch::new(channels * count * positions);
        side_by_side(
            &a[first * small_len..][..count * small_len],
            channels,
            positions,
            &mut side,
        );
        side
    };
    let dense = g.is_dense();
    match p.pass() {
        ConvPass::Lower => each_group(out, small_len, group, threads, |first, small| {
            let count = small.len() / small_len;
            let big = &a[first * big_len..][..count * big_len];
            if dense {
                // small [count × channels] = big [count × rows] · Wᵀ
                return multiply(Operand::Rows(big), Operand::Columns(b), small, [count, channels, rows]);
            }
            let columns = count * positions;
            let mut cols = Scratch::new(rows * columns);
            patches(&g, big, &mut cols);
            let mut product = Scratch::new(channels * columns);
            multiply(
                Operand::Rows(b),
                Operand::Rows(&cols),
                &mut product,
                [channels, columns, rows],
            );
            apart(&product, channels, positions, small);
        }),
        ConvPass::Raise => {
            // Wᵀ laid out once as rows: the GEMM, which packs it again for every
            // group, packed it read down its columns at two thirds of the speed (144
            // against 227 GFLOP/s on [2048 × 256 × 256] here, 2026-12-07).
            let mut w_t = Scratch::new(if dense { 0 } else { b.len() });
            if !dense {
                transpose(b, channels, rows, &mut w_t);
            }
            each_group(out, big_len, group, threads, |first, big| {
                let count = big.len() / big_len;
                if dense {
                    // big [count × rows] = small [count × channels] · W
                    let small = &a[first * small_len..][..count * small_len];
                    return multiply(Operand::Rows(small), Operand::Rows(b), big, [count, rows, channels]);
                }
                let columns = count * positions;
                let side = small_matrix(first, count);
                let mut cols = Scratch::new(rows * columns);
                multiply(
                    Operand::Rows(&w_t),
                    Operand::Rows(&side),
                    &mut cols,
                    [rows, columns, channels],
                );
                unpatch(&g, &mut cols, big);
            })
        }
        ConvPass::Weight => {
            // dW [channels × rows] = Σ over groups of dy [channels × columns] · colsᵀ.
            // Each group's sum has a slot of its own, and the sums are added in order
            // after, so the bits are the same on any number of threads. (Computing
            // dWᵀ instead, the GEMM's faster side for some of these shapes, measured
            // no faster over a step with the transpose it needs, 2026-12-07.)
            let len = out.len();
            let group_sum = |index: usize, sum: &mut [f32]| {
                let first = index * group;
                let count = group.min(g.batch - first);
                let big = &b[first * big_len..][..count * big_len];
                if dense {
                    let dy = &a[first * small_len..][..count * small_len];
                    return multiply(Operand::Columns(dy), Operand::Rows(big), sum, [channels, rows, count]);
                }
                let columns = count * positions;
                let side = small_matrix(first, count);
                let mut cols = Scratch::new(rows * columns);
                patches(&g, big, &mut cols);
                multiply(
                    Operand::Rows(&side),
                    Operand::Columns(&cols),
                    sum,
                    [channels, rows, columns],
                );
            };
            let mut sums = Scratch::new(g.batch.div_ceil(group) * len);
            match threads > 1 {
                true => sums
                    .par_chunks_mut(len)
                    .enumerate()
                    .for_each(|(i, sum)| group_sum(i, sum)),
                false => sums.chunks_mut(len).enumerate().for_each(|(i, sum)| group_sum(i, sum)),
            }
            let (total, rest) = sums.split_at_mut(len);
            for sum in rest.chunks(len) {
                total.iter_mut().zip(sum).for_each(|(t, s)| *t += s);
            }
            match p.accumulate {
                0 => out.copy_from_slice(total),
                _ => out.iter_mut().zip(total).for_each(|(o, t)| *o += *t),
            }
            return;
        }
    }
    epilogue(p, gate, out);
}

/// Images one product takes: enough for `COLUMNS` columns (positions × images), so
/// packing the weights is repaid; by the shape alone, never the thread count.
fn images_per_product(g: &ConvGeometry) -> usize {
    const COLUMNS: usize = 256;
    COLUMNS
        .div_ceil((g.small[1] * g.small[2]).max(1))
        .clamp(1, g.batch.max(1))
}

/// A dense row-major matrix as a product reads it: as it is, or its transpose.
enum Operand<'a> {
    Rows(&'a [f32]),
    Columns(&'a [f32]),
}

/// C [m × n] = A [m × k] · B [k × n], every matrix dense.
fn multiply(a: Operand, b: Operand, c: &mut [f32], [m, n, k]: [usize; 3]) {
    let (a, a_row_stride, a_col_stride) = match a {
        Operand::Rows(a) => (a, k, 1),
        Operand::Columns(a) => (a, 1, m),
    };
    let (b, b_row_stride, b_col_stride) = match b {
        Operand::Rows(b) => (b, n, 1),
        Operand::Columns(b) => (b, 1, k),
    };
    let u = |x: usize| x as u32;
    let product = MatmulParams {
        m: u(m),
        n: u(n),
        k: u(k),
        a_row_stride: u(a_row_stride),
        a_col_stride: u(a_col_stride),
        b_row_stride: u(b_row_stride),
        b_col_stride: u(b_col_stride),
        c_row_stride: u(n),
        ..Default::default()
    };
    gemm_cpu(&product, a, b, c, false);
}

/// `work(first, images)` on each group of `group` images of `out` (the last group
/// possibly shorter; `first` its first image), side by side on up to `threads`
/// threads (rayon's pool, the trainer's; none in wasm).
fn each_group(
    out: &mut [f32],
    image_len: usize,
    group: usize,
    threads: usize,
    work: impl Fn(usize, &mut [f32]) + Sync,
) {
    let len = image_len * group;
    match threads > 1 {
        true => out
            .par_chunks_mut(len)
            .enumerate()
            .for_each(|(index, images)| work(index * group, images)),
        false => out
            .chunks_mut(len)
            .enumerate()
            .for_each(|(index, images)| work(index * group, images)),
    }
}

/// [count, channels, positions] images as one [channels × count·positions] matrix,
/// each image's columns beside the last's: the layout the products take.
fn side_by_side(images: &[f32], channels: usize, positions: usize, matrix: &mut [f32]) {
    let count = images.len() / (channels * positions);
    for (n, image) in images.chunks(channels * positions).enumerate() {
        for (o, plane) in image.chunks(positions).enumerate() {
            matrix[(o * count + n) * positions..][..positions].copy_from_slice(plane);
        }
    }
}

/// The inverse of `side_by_side`: a product's matrix back into images.
fn apart(matrix: &[f32], channels: usize, positions: usize, images: &mut [f32]) {
    let count = images.len() / (channels * positions);
    for (n, image) in images.chunks_mut(channels * positions).enumerate() {
        for (o, plane) in image.chunks_mut(positions).enumerate() {
            plane.copy_from_slice(&matrix[(o * count + n) * positions..][..positions]);
        }
    }
}

/// `to` [cols × rows] = the transpose of `matrix` [rows × cols], both dense.
fn transpose(matrix: &[f32], rows: usize, cols: usize, to: &mut [f32]) {
    // Square tiles, so both sides stay in cache whatever the shape.
    const TILE: usize = 32;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    to[c * rows + r] = matrix[r * cols + c];
                }
            }
        }
    }
}

/// The small positions (of `small`) whose big pixel at·stride + k − padding lies
/// inside the image (of `big`), and the big pixel of the first of them.
fn inside(small: usize, k: usize, stride: usize, padding: usize, big: usize) -> (std::ops::Range<usize>, usize) {
    let end = (big + padding).saturating_sub(k).div_ceil(stride).min(small);
    let start = padding.saturating_sub(k).div_ceil(stride).min(end);
    (start..end, (start * stride + k).saturating_sub(padding))
}

/// Big images as the patch loops read them: each plane split by the stride into
/// its s² phases, phase (py, px) holding the pixels (r·s + py, c·s + px) as a
/// [⌈h/s⌉ × ⌈w/s⌉] plane. Through one kernel offset the small positions along a
/// line then meet pixels that lie side by side in one phase: a copy, where the
/// strided gathers it replaces (and their adjoint) took 28% of a DCGAN step on the
/// CPU. With stride 1 the phase is the plane itself.
#[derive(Clone, Copy)]
struct Phases {
    stride: usize,
    sides: [usize; 2],
}

impl Phases {
    fn of(g: &ConvGeometry) -> Self {
        let s = g.stride;
        Phases {
            stride: s,
            sides: [g.big[1].div_ceil(s), g.big[2].div_ceil(s)],
        }
    }

    /// The length of one big plane's phases together.
    fn plane_len(&self) -> usize {
        self.stride * self.stride * self.sides[0] * self.sides[1]
    }

    /// Where each kernel offset (ky, kx), in that order, meets the image: the small
    /// rows and columns inside it, and the offset of the first's pixel in a plane's
    /// phases; None where it meets none.
    fn reaches(&self, g: &ConvGeometry) -> Vec<Option<Reach>> {
        let ([_, bh, bw], [_, sh, sw], s) = (g.big, g.small, self.stride);
        let [ph, pw] = self.sides;
        let reach = |ky: usize, kx: usize| {
            let (ys, first_y) = inside(sh, ky, s, g.padding, bh);
            let (xs, first_x) = inside(sw, kx, s, g.padding, bw);
            let phase = (first_y % s) * s + first_x % s;
            let first = phase * ph * pw + first_y / s * pw + first_x / s;
            (!ys.is_empty() && !xs.is_empty()).then_some(Reach {
                ys,
                xs,
                first,
                line: pw,
            })
        };
        (0..g.kernel * g.kernel)
            .map(|kk| reach(kk / g.kernel, kk % g.kernel))
            .collect()
    }

    /// `planes` (whole big planes) split into their phases.
    fn split(&self, planes: &[f32], [bh, bw]: [usize; 2]) -> Scratch {
        let (s, [ph, pw]) = (self.stride, self.sides);
        let mut split = Scratch::new(planes.len() / (bh * bw) * self.plane_len());
        // Slots past a plane's edge (sides not multiples of s) keep whatever they
        // held: no position inside the image reads them.
        for (plane, phases) in planes.chunks(bh * bw).zip(split.chunks_mut(self.plane_len())) {
            for (y, line) in plane.chunks(bw).enumerate() {
                for px in 0..s {
                    let to = &mut phases[((y % s * s + px) * ph + y / s) * pw..][..pw];
                    to.iter_mut()
                        .zip(line.iter().skip(px).step_by(s))
                        .for_each(|(t, v)| *t = *v);
                }
            }
        }
        split
    }

    /// The inverse of `split`: phases back into whole planes, every pixel written.
    fn join(&self, split: &[f32], [bh, bw]: [usize; 2], planes: &mut [f32]) {
        let (s, [ph, pw]) = (self.stride, self.sides);
        for (plane, phases) in planes.chunks_mut(bh * bw).zip(split.chunks(self.plane_len())) {
            for (y, line) in plane.chunks_mut(bw).enumerate() {
                for px in 0..s {
                    let from = &phases[((y % s * s + px) * ph + y / s) * pw..][..pw];
                    line.iter_mut().skip(px).step_by(s).zip(from).for_each(|(t, v)| *t = *v);
                }
            }
        }
    }
}

/// The small rows and columns one kernel offset meets inside the image, and where
/// the first's pixel lies in a plane's phases (`line` apart from row to row).
struct Reach {
    ys: std::ops::Range<usize>,
    xs: std::ops::Range<usize>,
    first: usize,
    line: usize,
}

impl Reach {
    /// Where the lines of a small image's block run end to end in the phase as they
    /// do in the block (the phase as wide as the small image: stride-2 DCGAN layers),
    /// the span of the block, from the first small position inside the image to the
    /// last, that one copy covers; the positions outside the image that lie between
    /// come along and are mended after (`outside_lines`).
    fn span(&self, small_width: usize) -> Option<std::ops::Range<usize>> {
        (self.line == small_width)
            .then(|| self.ys.start * small_width + self.xs.start..(self.ys.end - 1) * small_width + self.xs.end)
    }

    /// The positions of a block's lines inside `ys` that lie outside the image.
    fn outside_lines(&self, small_width: usize) -> impl Iterator<Item = usize> + '_ {
        let outside = (0..self.xs.start).chain(self.xs.end..small_width);
        self.ys
            .clone()
            .flat_map(move |y| outside.clone().map(move |x| y * small_width + x))
    }
}

/// The patches of a run of images: row (i, ky, kx) holds, for each image and small
/// position, the big pixel it meets through that kernel offset (0 outside the image).
fn patches(g: &ConvGeometry, big: &[f32], cols: &mut [f32]) {
    let [bc, bh, bw] = g.big;
    let [_, sh, sw] = g.small;
    let kk = g.kernel * g.kernel;
    let phases = Phases::of(g);
    let split;
    let planes = match g.stride {
        1 => big,
        _ => {
            split = phases.split(big, [bh, bw]);
            &split[..]
        }
    };
    let reaches = phases.reaches(g);
    let count = big.len() / (bc * bh * bw);
    for (row, values) in cols.chunks_mut(count * sh * sw).enumerate().take(bc * kk) {
        let i = row / kk;
        let Some(reach) = &reaches[row % kk] else {
            values.fill(0.0);
            continue;
        };
        let Reach { ys, xs, first, line } = reach;
        let span = reach.span(sw);
        for (n, block) in values.chunks_mut(sh * sw).enumerate() {
            let plane = &planes[(n * bc + i) * phases.plane_len() + first..];
            block[..ys.start * sw].fill(0.0);
            block[ys.end * sw..].fill(0.0);
            if let Some(span) = &span {
                block[span.clone()].copy_from_slice(&plane[..span.len()]);
                for at in reach.outside_lines(sw) {
                    block[at] = 0.0;
                }
                continue;
            }
            for (j, values) in block[ys.start * sw..ys.end * sw].chunks_mut(sw).enumerate() {
                values[..xs.start].fill(0.0);
                values[xs.end..].fill(0.0);
                values[xs.clone()].copy_from_slice(&plane[j * line..][..xs.len()]);
            }
        }
    }
}

/// The adjoint of `patches`: big = each patch value added back to the pixel it
/// came from, in the order of the rows. `cols` is used up: its values for positions
/// outside the image are zeroed on the way.
fn unpatch(g: &ConvGeometry, cols: &mut [f32], big: &mut [f32]) {
    let [_, bh, bw] = g.big;
    let phases = Phases::of(g);
    if g.stride == 1 {
        big.fill(0.0);
        return add_patches(g, phases, cols, big);
    }
    let mut split = Scratch::new(big.len() / (bh * bw) * phases.plane_len());
    split.fill(0.0);
    add_patches(g, phases, cols, &mut split);
    phases.join(&split, [bh, bw], big);
}

/// Each patch value of `cols` added to its pixel in `planes`, the big images' phases.
fn add_patches(g: &ConvGeometry, phases: Phases, cols: &mut [f32], planes: &mut [f32]) {
    let [_, sh, sw] = g.small;
    let bc = g.big[0];
    let kk = g.kernel * g.kernel;
    let reaches = phases.reaches(g);
    let count = planes.len() / (bc * phases.plane_len());
    for (row, values) in cols.chunks_mut(count * sh * sw).enumerate().take(bc * kk) {
        let i = row / kk;
        let Some(reach) = &reaches[row % kk] else {
            continue;
        };
        let Reach { ys, xs, first, line } = reach;
        let span = reach.span(sw);
        for (n, block) in values.chunks_mut(sh * sw).enumerate() {
            let plane = &mut planes[(n * bc + i) * phases.plane_len() + first..];
            if let Some(span) = &span {
                // The positions outside the image between add 0 to a pixel of the
                // line beside (-0 becomes +0 there; nothing else changes).
                for at in reach.outside_lines(sw) {
                    block[at] = 0.0;
                }
                let to = &mut plane[..span.len()];
                to.iter_mut().zip(&block[span.clone()]).for_each(|(t, v)| *t += v);
                continue;
            }
            for (j, values) in block[ys.start * sw..ys.end * sw].chunks(sw).enumerate() {
                let to = &mut plane[j * line..][..xs.len()];
                to.iter_mut().zip(&values[xs.clone()]).for_each(|(t, v)| *t += v);
            }
        }
    }
}

thread_local! {
    /// Buffers `Scratch` lent on this thread and got back, to lend again.
    static SPARE: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Working memory whose values are unspecified: lent from this thread's spares and
/// given back when dropped, so a training step's convolutions do not allocate and
/// zero fresh pages on every pass (5% of a DCGAN step's time when they did).
struct Scratch(Vec<f32>);

impl Scratch {
    fn new(len: usize) -> Self {
        let mut values = SPARE.with(|spare| spare.borrow_mut().pop()).unwrap_or_default();
        values.resize(len, 0.0);
        Scratch(values)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let values = std::mem::take(&mut self.0);
        SPARE.with(|spare| spare.borrow_mut().push(values));
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

/// Every (a, b, c, d) below the bounds, the last fastest: a tensor's indices in
/// its memory order.
fn four(a: usize, b: usize, c: usize, d: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..a).flat_map(move |i| (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l)))))
}

pub const SOURCE: &str = concat!(
    include_str!("../../shaders/activation.wgsl"),
    include_str!("../../shaders/conv.wgsl")
);

bindings! {
    /// A (the image summed over), B (the weights, or the big image for `Weight`),
    /// the gate (read when `gate_activation` is set) and C.
    pub struct ConvBuffers {
        a: Read,
        b: Read,
        gate: Read,
        c: ReadWrite,
    }
}

/// The invocations of one workgroup (`GROUP` in the shader).
const GROUP: usize = 64;

/// How an entry point's workgroups cover its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grid {
    /// One invocation per block of C (`ConvParams::invocations`), `GROUP` a workgroup.
    Blocks,
    /// One workgroup per block of C (weight_split).
    SharedBlocks,
    /// One workgroup per 64 channels × 64 positions (lower_tiled).
    Tiles,
}

/// One pass's pipeline.
pub struct Conv {
    kernel: Kernel,
    pub pass: ConvPass,
    grid: Grid,
}

impl Conv {
    pub fn new(device: &wgpu::Device, pass: ConvPass) -> Self {
        Conv::on_entry_point(device, pass, pass.entry_point(), Grid::Blocks)
    }

    fn on_entry_point(device: &wgpu::Device, pass: ConvPass, entry_point: &str, grid: Grid) -> Self {
        let kernel = Kernel::new::<ConvBuffers>(device, "conv", SOURCE, entry_point, true);
        Conv { kernel, pass, grid }
    }

    /// `Lower` on the entry point `variant` names.
    pub fn lower(device: &wgpu::Device, variant: LowerVariant) -> Self {
        match variant {
            LowerVariant::Registers => Conv::new(device, ConvPass::Lower),
            LowerVariant::Tiled => Conv::on_entry_point(device, ConvPass::Lower, "lower_tiled", Grid::Tiles),
        }
    }

    /// `Weight` on the entry point `variant` names.
    pub fn weight(device: &wgpu::Device, variant: WeightVariant) -> Self {
        match variant {
            WeightVariant::Whole => Conv::new(device, ConvPass::Weight),
            WeightVariant::Split => Conv::on_entry_point(device, ConvPass::Weight, "weight_split", Grid::SharedBlocks),
        }
    }

    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &ConvBuffers, p: &ConvParams) -> Dispatch {
        assert_eq!(p.pass(), self.pass, "{label}: params of another pass");
        let grid = match self.grid {
            Grid::Blocks => grid_2d(p.invocations(), GROUP),
            Grid::SharedBlocks => grid_2d(p.invocations(), 1),
            Grid::Tiles => {
                let g = p.geometry();
                let columns = (g.small_len() / g.small[0].max(1)).div_ceil(64);
                [columns as u32, g.small[0].div_ceil(64) as u32, 1]
            }
        };
        self.kernel
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), grid)
    }
}

/// The three passes' pipelines (made for every plan that has a convolution).
pub struct ConvPipelines {
    passes: Vec<Conv>,
}

impl KernelOp for ConvOp {
    const NAME: &'static str = "conv";
    const SOURCE: &'static str = SOURCE;
    const BINDINGS: &'static [(&'static str, super::Access)] = <ConvBuffers<'static> as super::Bindings>::LAYOUT;
    const HAS_PARAMS: bool = true;
    type Pipelines = ConvPipelines;

    fn pipelines<'a>(target: &GpuTarget, mut ops: impl Iterator<Item = &'a Self>) -> ConvPipelines {
        let passes = match ops.next() {
            None => Vec::new(),
            Some(_) => ConvPass::ALL
                .map(|pass| match pass {
                    ConvPass::Lower => Conv::lower(target.device, target.conv_lower),
                    ConvPass::Raise => Conv::new(target.device, pass),
                    ConvPass::Weight => Conv::weight(target.device, target.conv_weight),
                })
                .into(),
        };
        ConvPipelines { passes }
    }

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        let mut bound = vec![("c", self.c), ("a", self.a), ("b", self.b)];
        if self.params.gate_activation != 0 {
            bound.push(("gate", self.gate));
        }
        bound
    }

    fn kernel_label(&self) -> &'static str {
        match self.params.pass() {
            ConvPass::Lower => "conv.lower",
            ConvPass::Raise => "conv.raise",
            ConvPass::Weight => "conv.weight",
        }
    }

    fn reads(&self) -> Vec<BufferId> {
        vec![self.a, self.b, self.gate]
    }

    fn sole_output(&self) -> Option<BufferId> {
        Some(self.c)
    }

    fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], threads: usize) {
        let [a, b, gate] = [self.a, self.b, self.gate].map(|id| memory.get(id));
        conv_cpu_patches(&self.params, a, b, gate, out, threads);
    }

    fn dispatch(&self, pipelines: &ConvPipelines, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = ConvBuffers {
            a: gpu.get(self.a),
            b: gpu.get(self.b),
            gate: gpu.get(self.gate),
            c: gpu.get(self.c),
        };
        pipelines.passes[self.params.pass() as usize].dispatch(gpu.device, label, &buffers, &self.params)
    }

    fn flops(&self) -> f64 {
        self.params.flops()
    }
}
