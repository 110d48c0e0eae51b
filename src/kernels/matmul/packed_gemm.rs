//! The CPU GEMM in WebAssembly (`matmul::gemm_views` there): C (+)= A·B over strided
//! views. A 256-deep slice of B is packed into panels of 8 columns and a band of A's
//! rows into panels of 4, each k-major, so the inner loop reads both in order; a 4×8
//! block of C stays in eight 4-lane registers while each step loads B's 8 values and
//! broadcasts A's 4 straight from memory (`v128.load32_splat`: no lane shuffles, which
//! bound matrixmultiply's 8×8 kernel), fusing multiply and add where the module has
//! relaxed SIMD. 4×8 leaves a third of the 16 registers a browser's x86 code has
//! free; 3×8, 5×8 and 6×8 measured slower in a benchmark of the step's shapes
//! (2026-12-07, V8 in Node 20).
//!
//! Every element of C sums its products in the same order, slice by slice, wherever
//! its block falls, so a band of C's rows or columns (`matmul_cpu_threaded`) gets the
//! same bits as the whole. Natively the same code runs on a plain 4-lane emulation, so
//! that the tests check its packing and edges against the reference.

/// Rows of C a block holds (A's panel height) and columns (B's panel width).
const MR: usize = 4;
const NR: usize = 8;
/// The depth of a packed slice (B's panel, 8 KiB, stays in L1) and the rows of A
/// packed at a time (64 KiB, in L2).
const KC: usize = 256;
const MC: usize = 64;

/// A strided matrix view: element (i, j) at `ptr + i·rows + j·cols`.
#[derive(Clone, Copy)]
pub(crate) struct View<T> {
    pub ptr: T,
    pub rows: isize,
    pub cols: isize,
}

/// C = A·B, or C += A·B when `accumulate`, for an m×k A, a k×n B and an m×n C.
///
/// # Safety
/// Every element of the three views must lie inside one allocation, and C's must not
/// overlap A's or B's.
pub(crate) unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: View<*const f32>,
    b: View<*const f32>,
    c: View<*mut f32>,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.ptr.offset(i as isize * c.rows + j as isize * c.cols) = 0.0;
                }
            }
        }
        return;
    }
    let b_panels = n.div_ceil(NR);
    let mut b_packed = vec![0.0f32; b_panels * KC * NR];
    let mut a_packed = vec![0.0f32; MC.div_ceil(MR) * KC * MR];
    for pc in (0..k).step_by(KC) {
        let kc = KC.min(k - pc);
        for panel in 0..b_panels {
            let j0 = panel * NR;
            let packed = &mut b_packed[panel * kc * NR..][..kc * NR];
            pack(packed, NR, kc, NR.min(n - j0), |p, j| {
                *b.ptr.offset((pc + p) as isize * b.rows + (j0 + j) as isize * b.cols)
            });
        }
        // The first slice writes C (unless accumulating); the others add to it.
        let add = accumulate || pc > 0;
        for ic in (0..m).step_by(MC) {
            let mc = MC.min(m - ic);
            let a_panels = mc.div_ceil(MR);
            for panel in 0..a_panels {
                let i0 = ic + panel * MR;
                let packed = &mut a_packed[panel * kc * MR..][..kc * MR];
                pack(packed, MR, kc, MR.min(m - i0), |p, i| {
                    *a.ptr.offset((i0 + i) as isize * a.rows + (pc + p) as isize * a.cols)
                });
            }
            for b_panel in 0..b_panels {
                let j0 = b_panel * NR;
                let b_block = b_packed.as_ptr().add(b_panel * kc * NR);
                for a_panel in 0..a_panels {
                    let i0 = ic + a_panel * MR;
                    let block = multiply_panels(kc, a_packed.as_ptr().add(a_panel * kc * MR), b_block);
                    let at = c.ptr.offset(i0 as isize * c.rows + j0 as isize * c.cols);
                    write_block(&block, at, c, MR.min(m - i0), NR.min(n - j0), add);
                }
            }
        }
    }
}

/// `packed[p·width + x] = value(p, x)` for x below `used`, and zero beyond it: the
/// edge panels' padding, whose products are never written to C (zeros, rather than
/// what the buffer held, so they cannot be slow subnormals or NaNs).
fn pack(packed: &mut [f32], width: usize, depth: usize, used: usize, value: impl Fn(usize, usize) -> f32) {
    for p in 0..depth {
        let row = &mut packed[p * width..][..width];
        for (x, v) in row.iter_mut().enumerate() {
            *v = if x < used { value(p, x) } else { 0.0 };
        }
    }
}

/// The 4×8 block of C from a packed panel of A (4 values a step) and one of B (8).
#[inline(always)]
unsafe fn multiply_panels(depth: usize, a: *const f32, b: *const f32) -> [[F32x4; 2]; MR] {
    let mut block = [[F32x4::zero(); 2]; MR];
    for p in 0..depth {
        let left = F32x4::load(b.add(p * NR));
        let right = F32x4::load(b.add(p * NR + 4));
        for (i, row) in block.iter_mut().enumerate() {
            let a_i = F32x4::splat_from(a.add(p * MR + i));
            row[0] = row[0].mul_add(a_i, left);
            row[1] = row[1].mul_add(a_i, right);
        }
    }
    block
}

/// The block's `rows`×`cols` corner into C at `at`, written or added.
#[inline(always)]
unsafe fn write_block(block: &[[F32x4; 2]; MR], at: *mut f32, c: View<*mut f32>, rows: usize, cols: usize, add: bool) {
    for (i, row) in block.iter().enumerate().take(rows) {
        let mut values = [0.0f32; NR];
        row[0].store(values.as_mut_ptr());
        row[1].store(values.as_mut_ptr().add(4));
        let out = at.offset(i as isize * c.rows);
        for (j, v) in values.iter().enumerate().take(cols) {
            let to = out.offset(j as isize * c.cols);
            *to = if add { *to + v } else { *v };
        }
    }
}

/// Four f32 lanes: wasm's v128, with a fused multiply-add where the module is built
/// with relaxed SIMD.
#[cfg(target_arch = "wasm32")]
#[derive(Clone, Copy)]
struct F32x4(core::arch::wasm32::v128);

#[cfg(target_arch = "wasm32")]
impl F32x4 {
    #[inline(always)]
    fn zero() -> Self {
        Self(core::arch::wasm32::f32x4_splat(0.0))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Self(core::arch::wasm32::v128_load(p.cast()))
    }
    #[inline(always)]
    unsafe fn splat_from(p: *const f32) -> Self {
        Self(core::arch::wasm32::v128_load32_splat(p.cast()))
    }
    /// self + a·b
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        use core::arch::wasm32::*;
        #[cfg(target_feature = "relaxed-simd")]
        return Self(f32x4_relaxed_madd(a.0, b.0, self.0));
        #[cfg(not(target_feature = "relaxed-simd"))]
        return Self(f32x4_add(f32x4_mul(a.0, b.0), self.0));
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        core::arch::wasm32::v128_store(p.cast(), self.0);
    }
}

/// Natively, four plain f32s (for the tests: the native backend uses the `gemm` crate).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy)]
struct F32x4([f32; 4]);

#[cfg(not(target_arch = "wasm32"))]
impl F32x4 {
    fn zero() -> Self {
        Self([0.0; 4])
    }
    unsafe fn load(p: *const f32) -> Self {
        Self(std::array::from_fn(|x| *p.add(x)))
    }
    unsafe fn splat_from(p: *const f32) -> Self {
        Self([*p; 4])
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|x| a.0[x] * b.0[x] + self.0[x]))
    }
    unsafe fn store(self, p: *mut f32) {
        for (x, v) in self.0.iter().enumerate() {
            *p.add(x) = *v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A·B in f64, element (i, j) of C, with the sum of its terms' magnitudes.
    fn reference(
        (m, n, k): (usize, usize, usize),
        a: &[f32],
        a_view: (usize, usize),
        b: &[f32],
        b_view: (usize, usize),
    ) -> Vec<(f64, f64)> {
        let mut c = vec![(0.0, 0.0); m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let term = f64::from(a[i * a_view.0 + p * a_view.1]) * f64::from(b[p * b_view.0 + j * b_view.1]);
                    c[i * n + j].0 += term;
                    c[i * n + j].1 += term.abs();
                }
            }
        }
        c
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32 - 0.5)
            .collect()
    }

    /// C (m×n, row stride `c_stride`) from A and B in either layout (transposed:
    /// `a_t`, `b_t`); `start` is C's contents before (kept where accumulating).
    #[allow(clippy::too_many_arguments)]
    fn run(
        m: usize,
        n: usize,
        k: usize,
        a_t: bool,
        b_t: bool,
        c_stride: usize,
        start: f32,
        accumulate: bool,
    ) -> (Vec<f32>, Vec<(f64, f64)>) {
        let (a, b) = (values(m * k, 1), values(k * n, 2));
        let a_view = if a_t { (1, m) } else { (k, 1) };
        let b_view = if b_t { (1, k) } else { (n, 1) };
        let mut c = vec![start; m.max(1) * c_stride];
        // SAFETY: the views lie inside a, b and c, which do not overlap.
        unsafe {
            gemm(
                m,
                n,
                k,
                View {
                    ptr: a.as_ptr(),
                    rows: a_view.0 as isize,
                    cols: a_view.1 as isize,
                },
                View {
                    ptr: b.as_ptr(),
                    rows: b_view.0 as isize,
                    cols: b_view.1 as isize,
                },
                View {
                    ptr: c.as_mut_ptr(),
                    rows: c_stride as isize,
                    cols: 1,
                },
                accumulate,
            );
        }
        let mut expected = reference((m, n, k), &a, a_view, &b, b_view);
        if accumulate {
            expected.iter_mut().for_each(|(v, size)| {
                *v += f64::from(start);
                *size += f64::from(start);
            });
        }
        (c, expected)
    }

    // A sum of k + 1 terms in f32, each product rounded once and each addition once
    // (or fused): within (k + 2)·2^-24 of the sum of the terms' magnitudes (the
    // classic γ bound for recursive summation, first order).
    fn bound(k: usize, size: f64) -> f64 {
        (k as f64 + 2.0) * f64::powi(2.0, -24) * size
    }

    #[test]
    fn matches_the_reference_on_edges_layouts_and_slices() {
        // Not multiples of the 4×8 block, of MC's 64 rows or of KC's 256-deep slice;
        // one row, one column, one step deep; A and B transposed as the backward pass
        // reads them; C with a row stride longer than its rows.
        for &(m, n, k) in &[
            (1, 1, 1),
            (3, 5, 7),
            (4, 8, 256),
            (5, 9, 257),
            (64, 13, 3),
            (67, 70, 600),
            (130, 31, 300),
        ] {
            for (a_t, b_t) in [(false, false), (true, false), (false, true)] {
                for accumulate in [false, true] {
                    let stride = n + 3;
                    let (c, expected) = run(m, n, k, a_t, b_t, stride, 0.25, accumulate);
                    for i in 0..m {
                        for j in 0..n {
                            let (got, (want, size)) = (f64::from(c[i * stride + j]), expected[i * n + j]);
                            assert!(
                                (got - want).abs() <= bound(k, size),
                                "{m}x{n}x{k} {a_t} {b_t} {accumulate} ({i}, {j}): {got} vs {want}"
                            );
                        }
                        // The gap between rows is left alone.
                        assert!(c[i * stride + n..(i + 1) * stride].iter().all(|&v| v == 0.25));
                    }
                }
            }
        }
    }

    #[test]
    fn k_zero_writes_zeros_or_leaves_c() {
        assert_eq!(run(3, 5, 0, false, false, 5, 7.0, false).0, vec![0.0; 15]);
        assert_eq!(run(3, 5, 0, false, false, 5, 7.0, true).0, vec![7.0; 15]);
    }

    #[test]
    fn a_band_of_rows_or_columns_gets_the_bits_of_the_whole() {
        let (m, n, k) = (70, 21, 300);
        let (whole, _) = run(m, n, k, false, false, n, 0.0, false);
        let (a, b) = (values(m * k, 1), values(k * n, 2));
        // Rows 13..22, and columns 5..17 (across B's panels of 8), of C in a C of
        // their own, as `matmul_cpu_threaded` splits it.
        let (mut rows, mut columns) = (vec![0.0; 9 * n], vec![0.0; m * 12]);
        // SAFETY: every view lies inside its slice.
        unsafe {
            let a_rows = View {
                ptr: a.as_ptr().add(13 * k),
                rows: k as isize,
                cols: 1,
            };
            let all_b = View {
                ptr: b.as_ptr(),
                rows: n as isize,
                cols: 1,
            };
            gemm(
                9,
                n,
                k,
                a_rows,
                all_b,
                View {
                    ptr: rows.as_mut_ptr(),
                    rows: n as isize,
                    cols: 1,
                },
                false,
            );
            let all_a = View {
                ptr: a.as_ptr(),
                rows: k as isize,
                cols: 1,
            };
            let b_columns = View {
                ptr: b.as_ptr().add(5),
                rows: n as isize,
                cols: 1,
            };
            gemm(
                m,
                12,
                k,
                all_a,
                b_columns,
                View {
                    ptr: columns.as_mut_ptr(),
                    rows: 12,
                    cols: 1,
                },
                false,
            );
        }
        assert_eq!(rows, whole[13 * n..22 * n]);
        for i in 0..m {
            assert_eq!(columns[i * 12..][..12], whole[i * n + 5..][..12]);
        }
    }
}
