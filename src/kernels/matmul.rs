//! Register-blocked matrix product with a fused epilogue (`shaders/matmul.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{
    bindings, check_view, groups, Bindings, BufferId, CpuMemory, Dispatch, GpuMemory, GpuTarget, Kernel, KernelOp,
};
use crate::kernels::activation::Activation;

// The CPU GEMM in WebAssembly; natively only its tests run it (the native GEMM is `gemm`).
#[cfg(any(target_arch = "wasm32", test))]
mod packed_gemm;

/// C[i, j] = epilogue(Σ_k A[i, k] · B[k, j]) with A[i, k] = a[a_offset + i·a_row_stride +
/// k·a_col_stride] and likewise B, so a transposed operand is just swapped strides.
/// Field order matches `Params` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub has_bias: u32,
    pub a_offset: u32,
    pub a_row_stride: u32,
    pub a_col_stride: u32,
    pub b_offset: u32,
    pub b_row_stride: u32,
    pub b_col_stride: u32,
    pub c_offset: u32,
    pub c_row_stride: u32,
    pub bias_offset: u32,
    pub gate_offset: u32,
    pub gate_row_stride: u32,
    pub activation: u32,
    pub gate_activation: u32,
    pub _pad: [u32; 3],
}

/// A row-major matrix inside a larger buffer: its rows `row_stride` apart, so it may
/// be a block of columns of a wider matrix (a part of an assembled input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
}

impl View {
    /// `rows` × `cols`, rows one after another.
    pub fn new(offset: usize, rows: usize, cols: usize) -> Self {
        View {
            offset,
            rows,
            cols,
            row_stride: cols,
        }
    }

    /// The view's values out of `buffer`, row after row.
    pub fn read(&self, buffer: &[f32]) -> Vec<f32> {
        (0..self.rows)
            .flat_map(|r| &buffer[self.offset + r * self.row_stride..][..self.cols])
            .copied()
            .collect()
    }

    /// Floats of a buffer up to this view's last value.
    pub fn end(&self) -> usize {
        match self.rows {
            0 => self.offset,
            rows => self.offset + (rows - 1) * self.row_stride + self.cols,
        }
    }

    /// Rows [first, first + count) of this view.
    pub fn row_block(self, first: usize, count: usize) -> View {
        assert!(
            first + count <= self.rows,
            "rows {first}..{} of {}",
            first + count,
            self.rows
        );
        View {
            offset: self.offset + first * self.row_stride,
            rows: count,
            ..self
        }
    }

    /// Columns [first, first + count) of this view.
    pub fn column_block(self, first: usize, count: usize) -> View {
        assert!(
            first + count <= self.cols,
            "columns {first}..{} of {}",
            first + count,
            self.cols
        );
        View {
            offset: self.offset + first,
            cols: count,
            ..self
        }
    }
}

impl MatmulParams {
    /// Y = act(X · Wᵀ + b), the forward pass of `nn.Linear`: X [m, k], W [n, k].
    pub fn linear_forward(x: View, weight: View, bias_offset: usize, y: View, act: Activation) -> Self {
        assert!(x.cols == weight.cols && y.rows == x.rows && y.cols == weight.rows);
        MatmulParams {
            m: x.rows as u32,
            n: weight.rows as u32,
            k: x.cols as u32,
            has_bias: 1,
            a_offset: x.offset as u32,
            a_row_stride: x.row_stride as u32,
            a_col_stride: 1,
            b_offset: weight.offset as u32,
            b_row_stride: 1,
            b_col_stride: weight.row_stride as u32,
            c_offset: y.offset as u32,
            c_row_stride: y.row_stride as u32,
            bias_offset: bias_offset as u32,
            activation: act as u32,
            ..Default::default()
        }
    }

    /// dX = (dY · W) ⊙ gate'(gate): the gradient reaching the previous layer's
    /// pre-activation, where `gate` holds that layer's output. dY [m, n], W [n, k].
    pub fn input_gradient(dy: View, weight: View, gate: View, gate_act: Activation, dx: View) -> Self {
        assert!(dy.cols == weight.rows && dx.rows == dy.rows && dx.cols == weight.cols);
        assert!(gate.rows == dx.rows && gate.cols == dx.cols);
        MatmulParams {
            m: dy.rows as u32,
            n: weight.cols as u32,
            k: dy.cols as u32,
            a_offset: dy.offset as u32,
            a_row_stride: dy.row_stride as u32,
            a_col_stride: 1,
            b_offset: weight.offset as u32,
            b_row_stride: weight.row_stride as u32,
            b_col_stride: 1,
            c_offset: dx.offset as u32,
            c_row_stride: dx.row_stride as u32,
            gate_offset: gate.offset as u32,
            gate_row_stride: gate.row_stride as u32,
            gate_activation: gate_act as u32,
            ..Default::default()
        }
    }

    /// dW = dYᵀ · X, the weight gradient of `nn.Linear`: dY [rows, n], X [rows, k].
    pub fn weight_gradient(dy: View, x: View, dw: View) -> Self {
        assert!(dy.rows == x.rows && dw.rows == dy.cols && dw.cols == x.cols);
        MatmulParams {
            m: dy.cols as u32,
            n: x.cols as u32,
            k: dy.rows as u32,
            a_offset: dy.offset as u32,
            a_row_stride: 1,
            a_col_stride: dy.row_stride as u32,
            b_offset: x.offset as u32,
            b_row_stride: x.row_stride as u32,
            b_col_stride: 1,
            c_offset: dw.offset as u32,
            c_row_stride: dw.row_stride as u32,
            ..Default::default()
        }
    }

    /// Multiplications and additions of the product, epilogue not counted.
    pub fn flops(&self) -> f64 {
        2.0 * f64::from(self.m) * f64::from(self.n) * f64::from(self.k)
    }

    /// The epilogue's activations; a value that names none is a bug in the plan, and
    /// stops the CPU reference as a view out of bounds does (`check_view`).
    fn activations(&self) -> (Activation, Activation) {
        let decode =
            |what: &str, value: u32| Activation::try_from(value).unwrap_or_else(|e| panic!("matmul {what}: {e}"));
        (
            decode("activation", self.activation),
            decode("gate_activation", self.gate_activation),
        )
    }
}

/// C = epilogue(A·B) over plan buffers; `bias` and `gate` are only read when the
/// params ask for them.
#[derive(Clone, Debug)]
pub struct MatmulOp {
    pub params: MatmulParams,
    pub a: BufferId,
    pub b: BufferId,
    pub bias: BufferId,
    pub gate: BufferId,
    pub c: BufferId,
}

/// Panics where A, B or C of `p` reaches past its slice (`check_view`).
fn check_operands(p: &MatmulParams, a: &[f32], b: &[f32], c: &[f32]) {
    let (m, n, k) = (p.m as usize, p.n as usize, p.k as usize);
    let u = |x: u32| x as usize;
    check_view(
        "matmul A",
        a.len(),
        u(p.a_offset),
        m,
        k,
        u(p.a_row_stride),
        u(p.a_col_stride),
    );
    check_view(
        "matmul B",
        b.len(),
        u(p.b_offset),
        k,
        n,
        u(p.b_row_stride),
        u(p.b_col_stride),
    );
    check_view("matmul C", c.len(), u(p.c_offset), m, n, u(p.c_row_stride), 1);
}

/// The CPU reference: a CPU GEMM (`gemm_views`), then the same epilogue as the shader.
pub fn matmul_cpu(p: &MatmulParams, a: &[f32], b: &[f32], bias: &[f32], gate: &[f32], c: &mut [f32]) {
    let (m, n) = (p.m as usize, p.n as usize);
    let u = |x: u32| x as usize;
    check_operands(p, a, b, c);
    if p.has_bias != 0 {
        check_view("matmul bias", bias.len(), u(p.bias_offset), 1, n, 0, 1);
    }
    if p.gate_activation != 0 {
        check_view(
            "matmul gate",
            gate.len(),
            u(p.gate_offset),
            m,
            n,
            u(p.gate_row_stride),
            1,
        );
    }
    let (activation, gate_activation) = p.activations();
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: every element the GEMM reads or writes lies inside its slice (checked
    // above), and `c` is a distinct, exclusively borrowed slice.
    unsafe { gemm_views(p, a, b, c, false) };
    for i in 0..m {
        let row = &mut c[u(p.c_offset) + i * u(p.c_row_stride)..][..n];
        if p.has_bias != 0 {
            row.iter_mut()
                .zip(&bias[u(p.bias_offset)..][..n])
                .for_each(|(v, b)| *v += b);
        }
        activation.forward_slice(row);
        if p.gate_activation != 0 {
            let outputs = &gate[u(p.gate_offset) + i * u(p.gate_row_stride)..][..n];
            gate_activation.scale_by_derivative(row, outputs);
        }
    }
}

/// C = A·B over `p`'s views, without the epilogue. Natively the `gemm` crate: with its
/// AVX-512 kernels, training steps at batch 256 on 2 cores ran 1.24-1.30x as fast as
/// with `matrixmultiply`'s. In WebAssembly the project's own `packed_gemm`: the page's
/// steps ran 1.14-1.34x as fast as with `matrixmultiply`'s wasm kernel, and `gemm`'s
/// simd128 kernels had run 0.49-0.84x as fast as that. (Alternating builds; README.)
///
/// # Safety
/// Every element of the A, B and C views must lie inside `a`, `b` and `c`.
unsafe fn gemm_views(p: &MatmulParams, a: &[f32], b: &[f32], c: &mut [f32], accumulate: bool) {
    let (m, n, k) = (p.m as usize, p.n as usize, p.k as usize);
    let a = a.as_ptr().add(p.a_offset as usize);
    let b = b.as_ptr().add(p.b_offset as usize);
    let c = c.as_mut_ptr().add(p.c_offset as usize);
    let (a_rows, a_cols) = (p.a_row_stride as isize, p.a_col_stride as isize);
    let (b_rows, b_cols) = (p.b_row_stride as isize, p.b_col_stride as isize);
    let c_rows = p.c_row_stride as isize;
    #[cfg(not(target_arch = "wasm32"))]
    {
        // gemm computes dst = alpha·dst + beta·lhs·rhs, strides column first; with
        // read_dst false, C is written without being read (alpha then unused).
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            c_rows,
            accumulate,
            a,
            a_cols,
            a_rows,
            b,
            b_cols,
            b_rows,
            f32::from(u8::from(accumulate)),
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    #[cfg(target_arch = "wasm32")]
    {
        use self::packed_gemm::{gemm, View};
        let a = View {
            ptr: a,
            rows: a_rows,
            cols: a_cols,
        };
        let b = View {
            ptr: b,
            rows: b_rows,
            cols: b_cols,
        };
        gemm(
            m,
            n,
            k,
            a,
            b,
            View {
                ptr: c,
                rows: c_rows,
                cols: 1,
            },
            accumulate,
        );
    }
}

/// C (+)= A·B over `p`'s views (its epilogue ignored), added to what C holds when
/// `accumulate`: the CPU convolutions' products over their image patches.
pub(crate) fn gemm_cpu(p: &MatmulParams, a: &[f32], b: &[f32], c: &mut [f32], accumulate: bool) {
    let (m, n, k) = (p.m as usize, p.n as usize, p.k as usize);
    let u = |x: u32| x as usize;
    check_operands(p, a, b, c);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[u(p.c_offset) + i * u(p.c_row_stride)..][..n].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: every element the GEMM reads or writes lies inside its slice (checked above).
    unsafe { gemm_views(p, a, b, c, accumulate) };
}

/// `matmul_cpu` split over up to `threads` threads, each computing a band of C's rows or
/// columns (along C's longer side). Every element is computed exactly as `matmul_cpu`
/// computes it, so the result is the same to the bit; products too small to repay
/// the hand-off run on this one. Bands go to the current rayon pool (the trainer's).
pub fn matmul_cpu_threaded(
    p: &MatmulParams,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    gate: &[f32],
    c: &mut [f32],
    threads: usize,
) {
    // Handing a band to a pool thread and joining it measured ~2.5 µs (starting a thread
    // for it, ~40 µs); 1 MFLOP is ~10 µs at 100 GFLOP/s, the GEMM's speed here.
    const MIN_FLOPS_PER_THREAD: f64 = 1e6;
    let threads = threads
        .min((p.flops() / MIN_FLOPS_PER_THREAD) as usize)
        .min(p.m.max(p.n) as usize);
    // Rows overlap when the stride is shorter than a row; such a view stays on one thread.
    if threads <= 1 || p.c_row_stride < p.n {
        return matmul_cpu(p, a, b, bias, gate, c);
    }
    check_view(
        "matmul C",
        c.len(),
        p.c_offset as usize,
        p.m as usize,
        p.n as usize,
        p.c_row_stride as usize,
        1,
    );
    // The GEMM packs both operands per call, so a band of rows repacks all of B and a
    // band of columns all of A; splitting C's longer side repacks the smaller one.
    // Measured against rows only, in training steps on 2 threads: 8% faster at batch
    // 64 (where the weights dwarf the batch), no change at 256.
    if p.n > p.m {
        column_bands(p, a, b, bias, gate, c, threads);
    } else {
        row_bands(p, a, b, bias, gate, c, threads);
    }
}

fn row_bands(p: &MatmulParams, a: &[f32], b: &[f32], bias: &[f32], gate: &[f32], c: &mut [f32], threads: usize) {
    let (m, n, stride) = (p.m as usize, p.n as usize, p.c_row_stride as usize);
    let band_rows = m.div_ceil(threads);
    // Each band's rows of C as a disjoint slice starting at the band's first row.
    let mut rest = &mut c[p.c_offset as usize..];
    let mut bands = Vec::new();
    for first in (0..m).step_by(band_rows) {
        let rows = band_rows.min(m - first);
        let len = if first + rows == m {
            (rows - 1) * stride + n
        } else {
            rows * stride
        };
        let (band, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        let mut params = *p;
        params.m = rows as u32;
        params.a_offset += first as u32 * p.a_row_stride;
        params.gate_offset += first as u32 * p.gate_row_stride;
        params.c_offset = 0;
        bands.push((params, band));
    }
    // The first band runs on this thread while the others run on their own.
    let (first, others) = bands.split_first_mut().expect("m > 0");
    rayon::scope(|scope| {
        for (params, band) in others {
            scope.spawn(|_| matmul_cpu(params, a, b, bias, gate, band));
        }
        matmul_cpu(&first.0, a, b, bias, gate, first.1);
    });
}

/// Each band is computed, epilogue included, into a block of its own and then copied
/// into its columns of C, since a band of columns is not one slice of C. The copy is
/// one pass over the band, beside k multiply-adds per element (k >= 100 here).
fn column_bands(p: &MatmulParams, a: &[f32], b: &[f32], bias: &[f32], gate: &[f32], c: &mut [f32], threads: usize) {
    let (m, n, stride) = (p.m as usize, p.n as usize, p.c_row_stride as usize);
    let band_cols = n.div_ceil(threads);
    let bands = n.div_ceil(band_cols);
    // pieces[t][i]: band t's part of row i of C.
    let mut pieces: Vec<Vec<&mut [f32]>> = (0..bands).map(|_| Vec::with_capacity(m)).collect();
    for row in c[p.c_offset as usize..].chunks_mut(stride).take(m) {
        let mut rest = &mut row[..n];
        for band in &mut pieces {
            let len = band_cols.min(rest.len());
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(len);
            band.push(piece);
            rest = tail;
        }
    }
    let compute = |first: usize, rows: Vec<&mut [f32]>| {
        let cols = rows[0].len();
        let mut params = *p;
        params.n = cols as u32;
        params.b_offset += (first * p.b_col_stride as usize) as u32;
        params.bias_offset += first as u32;
        params.gate_offset += first as u32;
        params.c_offset = 0;
        params.c_row_stride = cols as u32;
        let mut block = vec![0.0; m * cols];
        matmul_cpu(&params, a, b, bias, gate, &mut block);
        for (row, values) in rows.into_iter().zip(block.chunks(cols)) {
            row.copy_from_slice(values);
        }
    };
    // The first band runs on this thread while the others run on their own.
    let mut bands = pieces.into_iter().enumerate();
    let (_, first) = bands.next().expect("n > 0");
    rayon::scope(|scope| {
        for (t, rows) in bands {
            scope.spawn(move |_| compute(t * band_cols, rows));
        }
        compute(0, first);
    });
}

/// Which of `shaders/matmul.wgsl`'s entry points runs a product: the same product
/// and epilogue, with the sum over K spread differently. All are checked on every
/// adapter the tests run on; `MatmulPolicy` picks one per product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulVariant {
    /// Each invocation sums all of K for an 8×8 block: fastest on the CPU emulations
    /// (lavapipe, SwiftShader).
    WholeK,
    /// Four invocations share each 4×4 block, a quarter of K each, and add their sums
    /// in workgroup memory: on an H200, training ran 2.4x, 2.0x and 1.6x as fast as on
    /// `WholeK` (then 8×4 blocks) at batch 64, 256 and 1024; ~25% slower on lavapipe.
    SplitK,
    /// 64×64 blocks per workgroup, K walked in slabs staged in workgroup memory: the
    /// textbook GPU kernel, fastest on an H200 for large forward products.
    Tiled,
}

/// Which entry point runs each of a trainer's products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulPolicy {
    /// Every product on one entry point.
    Only(MatmulVariant),
    /// `Tiled` for the products whose B is a transposed weight (the forward pass, X·Wᵀ)
    /// and whose C spans at least `min_tiled_blocks` 64×64 blocks; `SplitK` for the rest.
    ByShape { min_tiled_blocks: usize },
}

impl MatmulPolicy {
    /// What measured fastest product by product on an H200 (README), which has 132
    /// multiprocessors: there, forward products of 128 or more blocks ran 1.46-2.17x as
    /// fast on `Tiled` as on `SplitK`, those of 64 or fewer 0.33-0.80x; the other
    /// layouts were mixed, so they stay on `SplitK`.
    pub const HARDWARE: MatmulPolicy = MatmulPolicy::ByShape { min_tiled_blocks: 128 };

    /// `WholeK` on CPU emulations, where it measured fastest; `HARDWARE` on GPUs.
    pub fn for_adapter(is_software: bool) -> Self {
        match is_software {
            true => MatmulPolicy::Only(MatmulVariant::WholeK),
            false => MatmulPolicy::HARDWARE,
        }
    }

    pub fn variant_for(&self, p: &MatmulParams) -> MatmulVariant {
        match *self {
            MatmulPolicy::Only(variant) => variant,
            MatmulPolicy::ByShape { min_tiled_blocks } => {
                let blocks = groups(p.m as usize, 64) as usize * groups(p.n as usize, 64) as usize;
                if p.b_col_stride != 1 && blocks >= min_tiled_blocks {
                    MatmulVariant::Tiled
                } else {
                    MatmulVariant::SplitK
                }
            }
        }
    }
}

pub const SOURCE: &str = concat!(
    include_str!("../../shaders/activation.wgsl"),
    include_str!("../../shaders/matmul.wgsl")
);

bindings! {
    /// A and B, the bias (read when `has_bias`), the gate (the outputs whose
    /// activation derivative scales C, read when `gate_activation` is set), and C.
    pub struct MatmulBuffers {
        a: Read,
        b: Read,
        bias: Read,
        gate: Read,
        c: ReadWrite,
    }
}

pub struct Matmul {
    kernel: Kernel,
    pub variant: MatmulVariant,
}

impl Matmul {
    pub fn new(device: &wgpu::Device, variant: MatmulVariant) -> Self {
        let entry_point = match variant {
            MatmulVariant::WholeK => "whole_k",
            MatmulVariant::SplitK => "split_k",
            MatmulVariant::Tiled => "tiled",
        };
        let kernel = Kernel::new::<MatmulBuffers>(device, "matmul", SOURCE, entry_point, true);
        Matmul { kernel, variant }
    }

    pub fn dispatch(&self, device: &wgpu::Device, label: &str, buffers: &MatmulBuffers, p: &MatmulParams) -> Dispatch {
        let workgroups = self.workgroups(p);
        self.kernel
            .dispatch(device, label, buffers, bytemuck::bytes_of(p), workgroups)
    }

    /// One workgroup per block of C: 32 rows × 128 columns for `whole_k`, 32 × 32 for
    /// `split_k`, 64 × 64 for `tiled` (from their workgroup sizes in the shader).
    fn workgroups(&self, p: &MatmulParams) -> [u32; 3] {
        let (rows, columns) = match self.variant {
            MatmulVariant::WholeK => (32, 128),
            MatmulVariant::SplitK => (32, 32),
            MatmulVariant::Tiled => (64, 64),
        };
        [groups(p.n as usize, columns), groups(p.m as usize, rows), 1]
    }
}

/// One pipeline per entry point that a plan's products use on a device, and the
/// policy that picks among them.
pub struct MatmulPipelines {
    policy: MatmulPolicy,
    kernels: Vec<Matmul>,
}

impl MatmulPipelines {
    fn for_params(&self, p: &MatmulParams) -> &Matmul {
        let variant = self.policy.variant_for(p);
        (self.kernels.iter().find(|m| m.variant == variant))
            .expect("a pipeline was made for every entry point the plan uses")
    }
}

impl KernelOp for MatmulOp {
    const NAME: &'static str = "matmul";
    const SOURCE: &'static str = SOURCE;
    const BINDINGS: &'static [(&'static str, super::Access)] = MatmulBuffers::LAYOUT;
    const HAS_PARAMS: bool = true;
    type Pipelines = MatmulPipelines;

    fn pipelines<'a>(target: &GpuTarget, ops: impl Iterator<Item = &'a Self>) -> MatmulPipelines {
        let mut kernels: Vec<Matmul> = Vec::new();
        for op in ops {
            let variant = target.matmul.variant_for(&op.params);
            if kernels.iter().all(|m| m.variant != variant) {
                kernels.push(Matmul::new(target.device, variant));
            }
        }
        MatmulPipelines {
            policy: target.matmul,
            kernels,
        }
    }

    fn bound(&self) -> Vec<(&'static str, BufferId)> {
        let mut bound = vec![("c", self.c), ("a", self.a), ("b", self.b)];
        if self.params.has_bias != 0 {
            bound.push(("bias", self.bias));
        }
        if self.params.gate_activation != 0 {
            bound.push(("gate", self.gate));
        }
        bound
    }

    fn reads(&self) -> Vec<BufferId> {
        vec![self.a, self.b, self.bias, self.gate]
    }

    fn sole_output(&self) -> Option<BufferId> {
        Some(self.c)
    }

    fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], threads: usize) {
        let [a, b, bias, gate] = [self.a, self.b, self.bias, self.gate].map(|id| memory.get(id));
        matmul_cpu_threaded(&self.params, a, b, bias, gate, out, threads);
    }

    fn dispatch(&self, pipelines: &MatmulPipelines, gpu: &GpuMemory, label: &str) -> Dispatch {
        let buffers = MatmulBuffers {
            a: gpu.get(self.a),
            b: gpu.get(self.b),
            bias: gpu.get(self.bias),
            gate: gpu.get(self.gate),
            c: gpu.get(self.c),
        };
        let kernel = pipelines.for_params(&self.params);
        kernel.dispatch(gpu.device, label, &buffers, &self.params)
    }

    fn flops(&self) -> f64 {
        self.params.flops()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_policy_tiles_only_large_forward_products() {
        let policy = MatmulPolicy::HARDWARE;
        let forward = |rows, inputs, outputs| {
            MatmulParams::linear_forward(
                View::new(0, rows, inputs),
                View::new(0, outputs, inputs),
                0,
                View::new(0, rows, outputs),
                Activation::LeakyRelu,
            )
        };
        // 16×8 = 128 blocks of 64×64, and 8×8 = 64.
        assert_eq!(policy.variant_for(&forward(1024, 256, 512)), MatmulVariant::Tiled);
        assert_eq!(policy.variant_for(&forward(512, 784, 512)), MatmulVariant::SplitK);
        assert_eq!(policy.variant_for(&forward(64, 1024, 1024)), MatmulVariant::SplitK);
        let weight_gradient = MatmulParams::weight_gradient(
            View::new(0, 1024, 1024),
            View::new(0, 1024, 784),
            View::new(0, 1024, 784),
        );
        assert_eq!(policy.variant_for(&weight_gradient), MatmulVariant::SplitK);
        assert_eq!(
            MatmulPolicy::for_adapter(true).variant_for(&forward(1024, 1024, 1024)),
            MatmulVariant::WholeK
        );
    }

    #[test]
    fn threaded_product_equals_the_single_threaded_one_to_the_bit() {
        let values = |n: usize, seed: u32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 8e6 - 1.0)
                .collect()
        };
        // Odd sizes, bands of unequal height or width, C inside a larger buffer; each
        // product is big enough (8-17 MFLOP) to be split into 2-4 bands, by rows where
        // C is tall and by columns where it is wide. All three layouts: a forward pass
        // (bias, tanh), an input gradient (gated) and a weight gradient (A transposed).
        for (m, n, k) in [(67, 129, 1000), (1000, 33, 257), (3, 700, 2000)] {
            let x = values(2 + m * k, 1);
            let w = values(n * k + n, 2);
            let dy = values(3 + m * n, 3);
            let gate = values(m * k, 4);
            let dy_rows = values(3 + k * m, 5);
            let products = [
                MatmulParams::linear_forward(
                    View::new(2, m, k),
                    View::new(0, n, k),
                    n * k,
                    View::new(5, m, n),
                    Activation::Tanh,
                ),
                MatmulParams::input_gradient(
                    View::new(3, m, n),
                    View::new(0, n, k),
                    View::new(0, m, k),
                    Activation::LeakyRelu,
                    View::new(5, m, k),
                ),
                MatmulParams::weight_gradient(View::new(3, k, m), View::new(0, k, n), View::new(5, m, n)),
            ];
            let operands: [(&[f32], &[f32]); 3] = [(&x, &w), (&dy, &w), (&dy_rows, &w)];
            for (p, (a, b)) in products.iter().zip(operands) {
                let len = 5 + (p.m * p.n) as usize + 2;
                let mut want = vec![0.5; len];
                matmul_cpu(p, a, b, &w, &gate, &mut want);
                for threads in [2, 3, 8] {
                    let mut got = vec![0.5; len];
                    matmul_cpu_threaded(p, a, b, &w, &gate, &mut got, threads);
                    assert!(
                        got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()),
                        "{p:?} on {threads} threads"
                    );
                }
            }
        }
    }
}
