//! The Fréchet distance between Gaussians fitted to feature vectors, as FID computes
//! it: |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½). The trace of the square root uses
//! tr((Σ₁Σ₂)^½) = tr((Σ₁^½ Σ₂ Σ₁^½)^½), whose matrix is symmetric, so both roots come
//! from symmetric eigendecompositions (Householder, then implicit QL, in f64).

use crate::error::{Error, Result};

/// Mean and covariance of feature vectors, row-major `dim` × `dim`.
#[derive(Clone, Debug, PartialEq)]
pub struct Gaussian {
    pub dim: usize,
    pub mean: Vec<f64>,
    pub covariance: Vec<f64>,
}

impl Gaussian {
    /// Fitted to `rows` feature vectors of `dim` values (`features` row-major), with
    /// the unbiased covariance (divided by rows − 1, as numpy.cov does).
    pub fn fit(features: &[f32], dim: usize) -> Result<Gaussian> {
        if dim == 0 || !features.len().is_multiple_of(dim) {
            return Err(Error::new(format!(
                "{} values are not whole vectors of {dim} features",
                features.len()
            )));
        }
        let rows = features.len() / dim;
        if rows < 2 {
            return Err(Error::new("a Gaussian needs at least two feature vectors"));
        }
        let mut mean = vec![0.0; dim];
        for row in features.chunks(dim) {
            mean.iter_mut().zip(row).for_each(|(m, &x)| *m += f64::from(x));
        }
        mean.iter_mut().for_each(|m| *m /= rows as f64);
        let mut covariance = vec![0.0; dim * dim];
        let mut centred = vec![0.0; dim];
        for row in features.chunks(dim) {
            for ((c, &x), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = f64::from(x) - m;
            }
            for (i, &ci) in centred.iter().enumerate() {
                let out = &mut covariance[i * dim..][..dim];
                out.iter_mut().zip(&centred).for_each(|(o, &cj)| *o += ci * cj);
            }
        }
        covariance.iter_mut().for_each(|c| *c /= (rows - 1) as f64);
        Ok(Gaussian { dim, mean, covariance })
    }

    /// From the sums a plan computes over `count` vectors: their sum and their Gram
    /// matrix Σ x xᵀ (`dim` × `dim`). The same unbiased covariance as `fit`, up to the
    /// rounding of the sums (f32 on either backend: enough for a chart, whose distances
    /// are hundreds apart; `ganvas eval` fits in f64).
    pub fn from_sums(count: usize, sum: &[f32], gram: &[f32]) -> Result<Gaussian> {
        let dim = sum.len();
        if count < 2 || dim == 0 || gram.len() != dim * dim {
            return Err(Error::new(format!(
                "sums of {count} vectors of {dim} features and a Gram matrix of {} values make no Gaussian",
                gram.len()
            )));
        }
        let n = count as f64;
        let mean: Vec<f64> = sum.iter().map(|&s| f64::from(s) / n).collect();
        let covariance = (0..dim * dim)
            .map(|k| (f64::from(gram[k]) - n * mean[k / dim] * mean[k % dim]) / (n - 1.0))
            .collect();
        Ok(Gaussian { dim, mean, covariance })
    }
}

/// A Gaussian that others are measured against, with its covariance's square root
/// computed once: a distance then costs two products and the eigenvalues of one
/// symmetric matrix.
#[derive(Clone, Debug)]
pub struct Reference {
    gaussian: Gaussian,
    root: Vec<f64>,
}

impl Reference {
    pub fn new(gaussian: Gaussian) -> Reference {
        let root = sqrt_psd(&gaussian.covariance, gaussian.dim);
        Reference { gaussian, root }
    }

    pub fn gaussian(&self) -> &Gaussian {
        &self.gaussian
    }

    /// The Fréchet distance from `other`; zero for an equal Gaussian.
    pub fn distance(&self, other: &Gaussian) -> Result<f64> {
        let (a, b) = (&self.gaussian, other);
        if a.dim != b.dim {
            return Err(Error::new(format!(
                "Gaussians of {} and {} features cannot be compared",
                a.dim, b.dim
            )));
        }
        let mean_term: f64 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y) * (x - y)).sum();
        let trace = |m: &[f64]| (0..a.dim).map(|i| m[i * a.dim + i]).sum::<f64>();
        let inner = multiply(&multiply(&self.root, &b.covariance, a.dim), &self.root, a.dim);
        // Rounding can leave tiny negative eigenvalues of a PSD matrix: they count as 0.
        let cross: f64 = eigen_symmetric(&inner, a.dim)
            .0
            .iter()
            .map(|&l| l.max(0.0).sqrt())
            .sum();
        let distance = mean_term + trace(&a.covariance) + trace(&b.covariance) - 2.0 * cross;
        Ok(distance.max(0.0))
    }
}

/// The Fréchet distance between `a` and `b`; zero for equal Gaussians.
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> Result<f64> {
    Reference::new(a.clone()).distance(b)
}

/// The symmetric positive semi-definite square root of a symmetric PSD matrix.
pub fn sqrt_psd(matrix: &[f64], n: usize) -> Vec<f64> {
    let (values, vectors) = eigen_symmetric(matrix, n);
    let roots: Vec<f64> = values.iter().map(|&l| l.max(0.0).sqrt()).collect();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|k| vectors[i * n + k] * roots[k] * vectors[j * n + k]).sum();
        }
    }
    out
}

/// Eigenvalues and eigenvectors (the columns of the second, row-major) of a
/// symmetric matrix: Householder reduction to tridiagonal form, then the implicit QL
/// method (as EISPACK's tred2 and tql2). O(n³), where the cyclic Jacobi method this
/// replaced took ~30x longer (README).
pub fn eigen_symmetric(matrix: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = matrix.to_vec();
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    tridiagonalize(&mut v, &mut d, &mut e, n);
    diagonalize(&mut v, &mut d, &mut e, n);
    (d, v)
}

/// Householder reduction of the symmetric `v` to tridiagonal form: the diagonal in
/// `d`, the subdiagonal in `e[1..]`, and `v` becomes the orthogonal transformation.
fn tridiagonalize(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    if n == 0 {
        return;
    }
    let at = |i: usize, j: usize| i * n + j;
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
                v[at(j, i)] = 0.0;
            }
        } else {
            for x in &mut d[..i] {
                *x /= scale;
                h += *x * *x;
            }
            let f = d[i - 1];
            let g = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                let f = d[j];
                v[at(j, i)] = f;
                let mut g = e[j] + v[at(j, j)] * f;
                for k in j + 1..i {
                    g += v[at(k, j)] * d[k];
                    e[k] += v[at(k, j)] * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                for k in j..i {
                    v[at(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        v[at(n - 1, i)] = v[at(i, i)];
        v[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[at(k, i + 1)] / h;
            }
            for j in 0..=i {
                let g: f64 = (0..=i).map(|k| v[at(k, i + 1)] * v[at(k, j)]).sum();
                for k in 0..=i {
                    v[at(k, j)] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[at(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
        v[at(n - 1, j)] = 0.0;
    }
    v[at(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// The implicit QL method on the tridiagonal `d`, `e` (from `tridiagonalize`):
/// eigenvalues into `d`, and `v` rotated into the eigenvectors.
fn diagonalize(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    if n == 0 {
        return;
    }
    let at = |i: usize, j: usize| i * n + j;
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let (mut f, mut largest) = (0.0f64, 0.0f64);
    for l in 0..n {
        largest = largest.max(d[l].abs() + e[l].abs());
        // The first negligible subdiagonal element at or after l; e[n - 1] is 0.
        let m = (l..n).find(|&m| e[m].abs() <= f64::EPSILON * largest).unwrap_or(n - 1);
        // Each QL sweep converges cubically; the bound only guards a pathological input.
        for _ in 0..64 {
            if m == l {
                break;
            }
            let g = d[l];
            let mut p = (d[l + 1] - g) / (2.0 * e[l]);
            let r = p.hypot(1.0).copysign(p);
            d[l] = e[l] / (p + r);
            d[l + 1] = e[l] * (p + r);
            let dl1 = d[l + 1];
            let h = g - d[l];
            for x in &mut d[l + 2..n] {
                *x -= h;
            }
            f += h;
            p = d[m];
            let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
            let el1 = e[l + 1];
            let (mut s, mut s2) = (0.0, 0.0);
            for i in (l..m).rev() {
                c3 = c2;
                c2 = c;
                s2 = s;
                let g = c * e[i];
                let h = c * p;
                let r = p.hypot(e[i]);
                e[i + 1] = s * r;
                s = e[i] / r;
                c = p / r;
                p = c * d[i] - s * g;
                d[i + 1] = h + s * (c * g + s * d[i]);
                for k in 0..n {
                    let h = v[at(k, i + 1)];
                    v[at(k, i + 1)] = s * v[at(k, i)] + c * h;
                    v[at(k, i)] = c * v[at(k, i)] - s * h;
                }
            }
            p = -s * s2 * c3 * el1 * e[l] / dl1;
            e[l] = s * p;
            d[l] = c * p;
            if e[l].abs() <= f64::EPSILON * largest {
                break;
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

fn multiply(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            let row = &b[k * n..][..n];
            out[i * n..][..n].iter_mut().zip(row).for_each(|(o, &x)| *o += aik * x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Stream};

    fn uniform(len: usize, seed: u64) -> Vec<f32> {
        let mut v = vec![0.0; len];
        rng::uniform_symmetric(seed, Stream::Sample, 3, 1.0, &mut v);
        v
    }

    /// AᵀA + εI for a random A: symmetric positive definite.
    fn spd(n: usize, seed: u64) -> Vec<f64> {
        let a: Vec<f64> = uniform(n * n, seed).iter().map(|&x| f64::from(x)).collect();
        let mut s = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                s[i * n + j] =
                    (0..n).map(|k| a[k * n + i] * a[k * n + j]).sum::<f64>() + if i == j { 0.1 } else { 0.0 };
            }
        }
        s
    }

    fn max_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    /// The square root by the Denman–Beavers iteration, an algorithm independent of
    /// the eigendecomposition: Y ← (Y + Z⁻¹)/2, Z ← (Z + Y⁻¹)/2 from Y = S, Z = I.
    fn sqrt_denman_beavers(s: &[f64], n: usize) -> Vec<f64> {
        let inverse = |m: &[f64]| {
            // Gauss-Jordan with partial pivoting on [m | I].
            let mut a = m.to_vec();
            let mut inv = vec![0.0; n * n];
            (0..n).for_each(|i| inv[i * n + i] = 1.0);
            for col in 0..n {
                let pivot = (col..n)
                    .max_by(|&x, &y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs()))
                    .unwrap();
                for k in 0..n {
                    a.swap(col * n + k, pivot * n + k);
                    inv.swap(col * n + k, pivot * n + k);
                }
                let d = a[col * n + col];
                for k in 0..n {
                    a[col * n + k] /= d;
                    inv[col * n + k] /= d;
                }
                for r in (0..n).filter(|&r| r != col) {
                    let f = a[r * n + col];
                    for k in 0..n {
                        a[r * n + k] -= f * a[col * n + k];
                        inv[r * n + k] -= f * inv[col * n + k];
                    }
                }
            }
            inv
        };
        let mut y = s.to_vec();
        let mut z = vec![0.0; n * n];
        (0..n).for_each(|i| z[i * n + i] = 1.0);
        for _ in 0..60 {
            let (yi, zi) = (inverse(&y), inverse(&z));
            y = y.iter().zip(&zi).map(|(a, b)| (a + b) / 2.0).collect();
            z = z.iter().zip(&yi).map(|(a, b)| (a + b) / 2.0).collect();
        }
        y
    }

    /// BᵀB for a random `rank` × n matrix B: positive semi-definite, rank-deficient.
    fn low_rank(n: usize, rank: usize, seed: u64) -> Vec<f64> {
        let b: Vec<f64> = uniform(rank * n, seed).iter().map(|&x| f64::from(x)).collect();
        let mut s = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                s[i * n + j] = (0..rank).map(|k| b[k * n + i] * b[k * n + j]).sum();
            }
        }
        s
    }

    #[test]
    fn eigendecomposition_rebuilds_the_matrix_with_orthonormal_vectors() {
        let diagonal = |values: &[f64]| {
            let n = values.len();
            (0..n * n)
                .map(|i| if i % (n + 1) == 0 { values[i / n] } else { 0.0 })
                .collect::<Vec<f64>>()
        };
        // Random SPD matrices, zero, repeated eigenvalues, and a rank-deficient one
        // (a covariance of fewer samples than features), up to the features' 512.
        let cases: Vec<(usize, Vec<f64>)> = vec![
            (1, spd(1, 1)),
            (2, spd(2, 2)),
            (7, spd(7, 3)),
            (40, spd(40, 4)),
            (4, vec![0.0; 16]),
            (5, diagonal(&[1.0; 5])),
            (3, diagonal(&[3.0, 1.0, 3.0])),
            (30, low_rank(30, 4, 9)),
            (512, spd(512, 10)),
        ];
        for (n, s) in cases {
            let (values, v) = eigen_symmetric(&s, n);
            let mut rebuilt = vec![0.0; n * n];
            let mut gram = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    rebuilt[i * n + j] = (0..n).map(|k| v[i * n + k] * values[k] * v[j * n + k]).sum();
                    gram[i * n + j] = (0..n).map(|k| v[k * n + i] * v[k * n + j]).sum();
                }
            }
            let identity = diagonal(&vec![1.0; n]);
            let scale = s.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1.0);
            assert!(max_diff(&rebuilt, &s) < 1e-12 * scale * n as f64, "n={n}");
            assert!(max_diff(&gram, &identity) < 1e-12 * n as f64, "n={n}");
        }
    }

    #[test]
    fn square_root_agrees_with_denman_beavers_and_squares_back() {
        for (n, seed) in [(1, 5), (3, 6), (16, 7), (50, 8)] {
            let s = spd(n, seed);
            let root = sqrt_psd(&s, n);
            let scale = s.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(max_diff(&multiply(&root, &root, n), &s) < 1e-10 * scale, "n={n}");
            let reference = sqrt_denman_beavers(&s, n);
            assert!(max_diff(&root, &reference) < 1e-9 * scale.sqrt(), "n={n}");
        }
    }

    #[test]
    fn distance_matches_the_closed_form_for_diagonal_covariances() {
        // For diagonal covariances the distance is Σ (μ₁ − μ₂)² + (σ₁ − σ₂)².
        let a = Gaussian {
            dim: 3,
            mean: vec![0.0, 1.0, -2.0],
            covariance: vec![4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.25],
        };
        let b = Gaussian {
            dim: 3,
            mean: vec![1.0, 1.0, 0.0],
            covariance: vec![1.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.25],
        };
        let want = (1.0 + 0.0 + 4.0) + (1.0 + 4.0 + 0.0);
        assert!((frechet_distance(&a, &b).unwrap() - want).abs() < 1e-12);
        assert!(frechet_distance(&a, &a).unwrap() < 1e-12);
    }

    #[test]
    fn distance_is_zero_for_a_set_against_itself_small_between_halves_and_large_when_shifted() {
        let dim = 8;
        let features = uniform(4000 * dim, 11);
        let whole = Gaussian::fit(&features, dim).unwrap();
        assert!(frechet_distance(&whole, &whole).unwrap() < 1e-10);
        let (first, second) = features.split_at(2000 * dim);
        let halves = frechet_distance(
            &Gaussian::fit(first, dim).unwrap(),
            &Gaussian::fit(second, dim).unwrap(),
        )
        .unwrap();
        let shifted: Vec<f32> = second.iter().map(|x| x + 0.5).collect();
        let far = frechet_distance(
            &Gaussian::fit(first, dim).unwrap(),
            &Gaussian::fit(&shifted, dim).unwrap(),
        )
        .unwrap();
        // Uniform on ±1 has variance 1/3: 2000 samples estimate each mean to ~0.013.
        assert!(halves < 0.02, "{halves}");
        assert!((far - 8.0 * 0.25).abs() < 0.1, "{far}");
    }

    #[test]
    fn fitting_refuses_ragged_or_too_few_vectors() {
        assert!(Gaussian::fit(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(Gaussian::fit(&[1.0, 2.0], 2).is_err());
        assert!(Gaussian::fit(&[], 0).is_err());
        let g = Gaussian::fit(&[1.0, 2.0, 3.0, 6.0], 2).unwrap();
        assert_eq!(g.mean, vec![2.0, 4.0]);
        assert_eq!(g.covariance, vec![2.0, 4.0, 4.0, 8.0]);
        let other = Gaussian::fit(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3).unwrap();
        assert!(frechet_distance(&g, &other).is_err());
    }

    /// The census sums in f32 (as both backends make them) give the Gaussian that
    /// `fit` finds, here with means of about 2 and spreads of about 0.6, as the
    /// classifier's features have: the cancellation in E[xxᵀ] − μμᵀ costs ~1e-6.
    #[test]
    fn sums_give_the_fitted_gaussian() {
        let (rows, dim) = (300, 5);
        let x: Vec<f32> = uniform(rows * dim, 9).iter().map(|v| v + 2.0).collect();
        let mut sum = vec![0.0f32; dim];
        let mut gram = vec![0.0f32; dim * dim];
        for row in x.chunks(dim) {
            for i in 0..dim {
                sum[i] += row[i];
                for j in 0..dim {
                    gram[i * dim + j] += row[i] * row[j];
                }
            }
        }
        let fitted = Gaussian::fit(&x, dim).unwrap();
        let summed = Gaussian::from_sums(rows, &sum, &gram).unwrap();
        assert!(max_diff(&fitted.mean, &summed.mean) < 1e-6);
        assert!(max_diff(&fitted.covariance, &summed.covariance) < 1e-4);
        let reference = Reference::new(fitted.clone());
        assert!(reference.distance(&summed).unwrap() < 1e-4);
        assert!(Gaussian::from_sums(1, &sum, &gram).is_err());
        assert!(Gaussian::from_sums(rows, &sum, &gram[1..]).is_err());
    }
}
