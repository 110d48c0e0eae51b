//! The convolution kernels (`kernels::conv`) against a plain f64 definition, the GPU
//! against the CPU reference, and the gradient passes against finite differences of
//! the forward one, on DCGAN's geometries and on odd ones: sides that are not
//! multiples of the stride, one channel, a batch of one, a kernel larger than the
//! image's padded side is not allowed, outputs one past a workgroup.

mod common;

use ganvas::kernels::activation::Activation;
use ganvas::kernels::conv::{
    conv_cpu, conv_cpu_patches, Conv, ConvBuffers, ConvGeometry, ConvParams, ConvPass, LowerVariant, WeightVariant,
};

use common::random_vec;

/// (batch, big (C, H, W), small channels, kernel, stride, padding).
const GEOMETRIES: [(usize, [usize; 3], usize, usize, usize, usize); 12] = [
    // DCGAN's: 4×4 kernels at stride 2, padding 1 halve the side; the last of D
    // (and first of G) takes 4×4 to 1×1.
    (2, [3, 8, 8], 5, 4, 2, 1),
    (3, [4, 4, 4], 2, 4, 1, 0),
    // Odd sides, stride 3, a kernel of 1, one channel, a batch of one.
    (1, [1, 7, 5], 1, 3, 2, 1),
    (2, [2, 9, 9], 3, 2, 3, 0),
    (1, [3, 5, 6], 4, 1, 1, 0),
    (2, [1, 3, 3], 2, 5, 1, 2),
    // 2·5·11·11 = 1,210 outputs: a partial last workgroup of 64.
    (2, [3, 22, 22], 5, 4, 2, 1),
    // 16×16 small images: the CPU backend takes two a product (512 columns), so
    // five make groups of 2, 2 and 1.
    (5, [2, 32, 32], 3, 4, 2, 1),
    // The kernel covers the image (DCGAN's outer layers): the CPU backend multiplies
    // the images themselves, 256 a product, so 300 make groups of 256 and 44.
    (3, [5, 4, 4], 2, 4, 1, 0),
    (300, [2, 3, 3], 3, 3, 2, 0),
    // 70 small channels: a second row of the tiled lower's 64-channel workgroups.
    (2, [2, 5, 5], 70, 3, 2, 1),
    // 65 × 64 × 16 = 66,560 blocks of dW: weight_split's workgroups (one a block) in
    // two rows of the grid.
    (1, [256, 4, 4], 260, 4, 2, 1),
];

fn geometry(
    (batch, big, small_channels, kernel, stride, padding): (usize, [usize; 3], usize, usize, usize, usize),
) -> ConvGeometry {
    let side = |s| ConvGeometry::small_side(s, kernel, stride, padding).expect("the kernel fits");
    ConvGeometry {
        batch,
        big,
        small: [small_channels, side(big[1]), side(big[2])],
        kernel,
        stride,
        padding,
    }
}

/// Each pass's outputs by the definition in f64, and beside each output the sum of
/// its terms' sizes, Σ|term|: what its rounding error in f32 is proportional to.
struct Definition {
    sums: [Vec<f64>; 3],
    magnitudes: [Vec<f64>; 3],
}

/// The definition: small[n, o, y, x] = Σ big[n, i, y·s − p + ky, x·s − p + kx]
/// · W[o, i, ky, kx]. Its adjoints (raise, weight) by scattering each term back,
/// a different loop from the kernels' gathers.
fn definition(g: &ConvGeometry, big: &[f32], w: &[f32], small: &[f32]) -> Definition {
    let [bc, bh, bw] = g.big;
    let [sc, sh, sw] = g.small;
    let k = g.kernel;
    let mut lowered = vec![0.0; g.small_len()];
    let mut raised = vec![0.0; g.big_len()];
    let mut weight = vec![0.0; g.weights()];
    let mut magnitudes = [lowered.clone(), raised.clone(), weight.clone()];
    for n in 0..g.batch {
        for o in 0..sc {
            for y in 0..sh {
                for x in 0..sw {
                    let s_at = ((n * sc + o) * sh + y) * sw + x;
                    for i in 0..bc {
                        for ky in 0..k {
                            for kx in 0..k {
                                let by = (y * g.stride + ky) as isize - g.padding as isize;
                                let bx = (x * g.stride + kx) as isize - g.padding as isize;
                                if by < 0 || bx < 0 || by >= bh as isize || bx >= bw as isize {
                                    continue;
                                }
                                let b_at = ((n * bc + i) * bh + by as usize) * bw + bx as usize;
                                let w_at = ((o * bc + i) * k + ky) * k + kx;
                                let (b, w, s) = (f64::from(big[b_at]), f64::from(w[w_at]), f64::from(small[s_at]));
                                lowered[s_at] += b * w;
                                raised[b_at] += s * w;
                                weight[w_at] += s * b;
                                magnitudes[0][s_at] += (b * w).abs();
                                magnitudes[1][b_at] += (s * w).abs();
                                magnitudes[2][w_at] += (s * b).abs();
                            }
                        }
                    }
                }
            }
        }
    }
    Definition {
        sums: [lowered, raised, weight],
        magnitudes,
    }
}

/// Each pass's operands A and B and its output's length.
fn operands<'a>(
    pass: ConvPass,
    g: &ConvGeometry,
    big: &'a [f32],
    w: &'a [f32],
    small: &'a [f32],
) -> (&'a [f32], &'a [f32], usize) {
    match pass {
        ConvPass::Lower => (big, w, g.small_len()),
        ConvPass::Raise => (small, w, g.big_len()),
        ConvPass::Weight => (small, big, g.weights()),
    }
}

/// How far an f32 sum of `pass`'s products may lie from the exact one: a sum of n
/// terms, each product rounded once (or fused), in any order, is within
/// n·u·Σ|term| (u = 2⁻²⁴, Higham's γₙ bound; f32::EPSILON is 2u, a margin of two),
/// where n is the most terms an output of that pass sums (padding only drops some).
fn rounding_bound(pass: ConvPass, g: &ConvGeometry, magnitude: f64) -> f64 {
    let k2 = g.kernel * g.kernel;
    let terms = match pass {
        ConvPass::Lower => g.big[0] * k2,
        ConvPass::Raise => g.small[0] * k2,
        ConvPass::Weight => g.batch * g.small[1] * g.small[2],
    };
    terms as f64 * f64::from(f32::EPSILON) * magnitude
}

/// Two f32 computations of one pass, each within `rounding_bound` of the exact sum,
/// then the same epilogue (activations and gate derivatives whose slopes are at most
/// 1) or the same addition to C, each rounding by a few ulps of the result.
fn agreement(pass: ConvPass, g: &ConvGeometry, magnitude: f64, want: f32) -> f32 {
    (2.0 * rounding_bound(pass, g, magnitude)) as f32 + 8.0 * f32::EPSILON * (1.0 + want.abs())
}

#[test]
fn the_cpu_reference_computes_the_definition_in_every_pass() {
    for (t, &shape) in GEOMETRIES.iter().enumerate() {
        let g = geometry(shape);
        let (big, w, small) = inputs(&g, t as u64);
        let Definition { sums, magnitudes } = definition(&g, &big, &w, &small);
        for ((pass, want), magnitude) in [ConvPass::Lower, ConvPass::Raise, ConvPass::Weight]
            .into_iter()
            .zip(&sums)
            .zip(&magnitudes)
        {
            let (a, b, len) = operands(pass, &g, &big, &w, &small);
            // Offsets inside larger buffers, as the plan places them.
            let (a, b) = (padded(a, 3), padded(b, 5));
            let mut out = vec![f32::NAN; len + 7];
            conv_cpu(&ConvParams::new(pass, &g, 3, 5, 7), &a, &b, &[], &mut out);
            for (i, ((got, want), magnitude)) in out[7..].iter().zip(want).zip(magnitude).enumerate() {
                // The sum's rounding, then its storing as f32.
                let tol = rounding_bound(pass, &g, *magnitude) + f64::from(f32::EPSILON) * want.abs();
                assert!(
                    (f64::from(*got) - want).abs() <= tol,
                    "{pass:?} {shape:?}[{i}]: {got} vs {want}"
                );
            }
        }
    }
}

fn inputs(g: &ConvGeometry, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    (
        random_vec(g.big_len(), seed, 1.0),
        random_vec(g.weights(), seed + 100, 1.0),
        random_vec(g.small_len(), seed + 200, 1.0),
    )
}

fn padded(values: &[f32], before: usize) -> Vec<f32> {
    [vec![f32::NAN; before], values.to_vec()].concat()
}

/// The backward passes are the forward one's gradients: for L = Σ r ⊙ act(lower(x, W)),
/// dL/d(pre-activation) = r ⊙ act'; then raise gives dL/dx and weight dL/dW. Checked
/// against central differences of L in f64 (the sums are exact enough in f64 that a
/// step of 1e-3 leaves only the activation's curvature, O(h²)).
#[test]
fn raise_and_weight_are_the_gradients_of_lower_through_its_activation() {
    for &shape in &GEOMETRIES[..6] {
        let g = geometry(shape);
        let (x, w, r) = inputs(&g, 7);
        let act = Activation::Tanh;
        let loss = |x: &[f32], w: &[f32]| -> f64 {
            let [lowered, ..] = definition(&g, x, w, &r).sums;
            lowered
                .iter()
                .zip(&r)
                .map(|(z, r)| f64::from(act.forward(*z as f32)) * f64::from(*r))
                .sum()
        };
        // The forward pass's output, then the gradient at its pre-activation.
        let mut y = vec![0.0; g.small_len()];
        conv_cpu(
            &ConvParams::new(ConvPass::Lower, &g, 0, 0, 0).with_epilogue(act, Activation::Identity, 0),
            &x,
            &w,
            &[],
            &mut y,
        );
        let dz: Vec<f32> = r
            .iter()
            .zip(&y)
            .map(|(r, y)| r * act.derivative_from_output(*y))
            .collect();
        let mut dx = vec![0.0; g.big_len()];
        conv_cpu(&ConvParams::new(ConvPass::Raise, &g, 0, 0, 0), &dz, &w, &[], &mut dx);
        let mut dw = vec![0.0; g.weights()];
        conv_cpu(&ConvParams::new(ConvPass::Weight, &g, 0, 0, 0), &dz, &x, &[], &mut dw);
        let h = 1e-3f32;
        for (what, values, grads) in [("x", &x, &dx), ("W", &w, &dw)] {
            for i in (0..values.len()).step_by(values.len().div_ceil(12)) {
                let nudged = |delta: f32| {
                    let mut v = values.clone();
                    v[i] += delta;
                    if what == "x" {
                        loss(&v, &w)
                    } else {
                        loss(&x, &v)
                    }
                };
                let numeric = (nudged(h) - nudged(-h)) / (2.0 * f64::from(h));
                let analytic = f64::from(grads[i]);
                assert!(
                    (numeric - analytic).abs() < 2e-3 * (1.0 + analytic.abs()),
                    "d{what}[{i}] {shape:?}: {numeric} vs {analytic}"
                );
            }
        }
    }
}

/// The shader against the CPU reference, each pass with its epilogue (an activation
/// and a gate's derivative, at large values too): the same sums in the same order,
/// so they differ only by fused multiply-adds, within the bound above.
#[test]
fn the_shader_matches_the_cpu_reference() {
    let Some(gpu) = common::gpu() else { return };
    let device = &gpu.device;
    let buffer = |data: &[f32]| common::storage_buffer(&gpu, data);
    let mut passes: Vec<Conv> = [ConvPass::Lower, ConvPass::Raise, ConvPass::Weight]
        .map(|pass| Conv::new(device, pass))
        .into();
    passes.push(Conv::lower(device, LowerVariant::Tiled));
    passes.push(Conv::weight(device, WeightVariant::Split));
    for (t, &shape) in GEOMETRIES.iter().enumerate() {
        let g = geometry(shape);
        let (mut big, w, small) = inputs(&g, 40 + t as u64);
        // Edge values: past where tanh saturates and LeakyReLU's kink at 0.
        big[0] = 30.0;
        big[g.big_len() - 1] = 0.0;
        let magnitudes = definition(&g, &big, &w, &small).magnitudes;
        for kernel in &passes {
            let (a, b, len) = operands(kernel.pass, &g, &big, &w, &small);
            let gate: Vec<f32> = random_vec(len, 9, 1.0).iter().map(|v| v.tanh()).collect();
            let mut p = ConvParams::new(kernel.pass, &g, 3, 5, 2);
            // The weight gradient added to what C holds, as a second pass adds its own,
            // on every other geometry; on the others, written over C, NaN or not.
            let before = match kernel.pass {
                ConvPass::Weight if t % 2 == 0 => {
                    p.accumulate = 1;
                    [vec![f32::NAN; 2], random_vec(len, 5, 1.0)].concat()
                }
                ConvPass::Weight => vec![f32::NAN; len + 2],
                _ => {
                    let act = [Activation::LeakyRelu, Activation::Tanh, Activation::Relu][t % 3];
                    p = p.with_epilogue(act, Activation::Tanh, 1);
                    vec![f32::NAN; len + 2]
                }
            };
            let (a, b, gate) = (padded(a, 3), padded(b, 5), padded(&gate, 1));
            let mut want = before.clone();
            conv_cpu(&p, &a, &b, &gate, &mut want);
            if p.accumulate == 1 {
                let (_, _, len) = operands(kernel.pass, &g, &big, &w, &small);
                let mut alone = vec![0.0; len];
                conv_cpu(&ConvParams::new(ConvPass::Weight, &g, 3, 5, 0), &a, &b, &[], &mut alone);
                for ((sum, first), second) in want[2..].iter().zip(&before[2..]).zip(&alone) {
                    assert!(
                        (sum - (first + second)).abs() <= 1e-5 * (1.0 + sum.abs()),
                        "accumulated"
                    );
                }
            }
            let c = buffer(&before);
            let (a, b, gate) = (buffer(&a), buffer(&b), buffer(&gate));
            let dispatch = kernel.dispatch(
                device,
                "test conv",
                &ConvBuffers {
                    a: &a,
                    b: &b,
                    gate: &gate,
                    c: &c,
                },
                &p,
            );
            common::run_dispatch(&gpu, dispatch);
            let got = &common::read_floats(&gpu, &c, len + 2);
            assert!(
                got[..2].iter().all(|v| v.is_nan()),
                "{:?} wrote before its offset",
                kernel.pass
            );
            let magnitude = &magnitudes[kernel.pass as usize];
            for (i, ((got, want), m)) in got[2..].iter().zip(&want[2..]).zip(magnitude).enumerate() {
                let tol = agreement(kernel.pass, &g, *m, *want);
                assert!(
                    (got - want).abs() <= tol,
                    "{:?} {shape:?}[{i}]: GPU {got}, CPU {want}",
                    kernel.pass
                );
            }
        }
    }
}

#[test]
fn small_side_is_pytorchs_and_refuses_a_kernel_that_does_not_fit() {
    assert_eq!(ConvGeometry::small_side(64, 4, 2, 1), Some(32));
    assert_eq!(ConvGeometry::small_side(4, 4, 1, 0), Some(1));
    assert_eq!(ConvGeometry::small_side(7, 3, 2, 1), Some(4));
    assert_eq!(ConvGeometry::small_side(2, 4, 1, 0), None);
    assert_eq!(ConvGeometry::small_side(8, 4, 0, 1), None);
}

/// The CPU backend's convolutions (patches and one matrix product per image) against
/// the reference loops, with each epilogue and with an accumulated weight gradient,
/// on one thread and on three: the same bits on any number of threads.
#[test]
fn the_cpu_backends_patch_products_match_the_reference() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    for (t, &shape) in GEOMETRIES.iter().enumerate() {
        let g = geometry(shape);
        let (big, w, small) = inputs(&g, 60 + t as u64);
        let magnitudes = definition(&g, &big, &w, &small).magnitudes;
        for pass in [ConvPass::Lower, ConvPass::Raise, ConvPass::Weight] {
            let (a, b, len) = operands(pass, &g, &big, &w, &small);
            let gate: Vec<f32> = random_vec(len, 3, 1.0).iter().map(|v| v.tanh()).collect();
            let mut p = ConvParams::new(pass, &g, 3, 5, 2);
            let before = match pass {
                ConvPass::Weight => {
                    p.accumulate = 1;
                    [vec![f32::NAN; 2], random_vec(len, 4, 1.0)].concat()
                }
                _ => {
                    p = p.with_epilogue(
                        [Activation::Tanh, Activation::Relu, Activation::LeakyRelu][t % 3],
                        Activation::Tanh,
                        1,
                    );
                    vec![f32::NAN; len + 2]
                }
            };
            let (a, b, gate) = (padded(a, 3), padded(b, 5), padded(&gate, 1));
            let mut want = before.clone();
            conv_cpu(&p, &a, &b, &gate, &mut want);
            let mut one = before.clone();
            conv_cpu_patches(&p, &a, &b, &gate, &mut one, 1);
            let mut three = before.clone();
            pool.install(|| conv_cpu_patches(&p, &a, &b, &gate, &mut three, 3));
            assert!(one[..2].iter().all(|v| v.is_nan()), "{pass:?} wrote before its offset");
            assert_eq!(
                one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                three.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{pass:?} {shape:?}: threads change the bits"
            );
            for (i, ((got, want), m)) in one[2..]
                .iter()
                .zip(&want[2..])
                .zip(&magnitudes[pass as usize])
                .enumerate()
            {
                let tol = agreement(pass, &g, *m, *want);
                assert!((got - want).abs() <= tol, "{pass:?} {shape:?}[{i}]: {got} vs {want}");
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// The CPU backend's patch products on any small geometry (strides longer than the
    /// kernel, padding up to the kernel's side, sides shorter than the stride, whole-
    /// image kernels) against the reference loops, every pass, on one thread and three:
    /// what the stride phases, block copies and dense products get right on the
    /// DCGAN's shapes they get right everywhere.
    #[test]
    fn the_patch_products_match_the_reference_on_any_geometry(
        batch in 1usize..4,
        big_channels in 1usize..4,
        small_channels in 1usize..4,
        height in 1usize..11,
        width in 1usize..11,
        kernel in 1usize..6,
        stride in 1usize..5,
        padding in 0usize..5,
        seed in 0u64..1000,
    ) {
        let (Some(sh), Some(sw)) = (
            ConvGeometry::small_side(height, kernel, stride, padding),
            ConvGeometry::small_side(width, kernel, stride, padding),
        ) else {
            return Ok(());
        };
        let g = ConvGeometry {
            batch,
            big: [big_channels, height, width],
            small: [small_channels, sh, sw],
            kernel,
            stride,
            padding,
        };
        let (big, w, small) = inputs(&g, seed);
        let magnitudes = definition(&g, &big, &w, &small).magnitudes;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for pass in [ConvPass::Lower, ConvPass::Raise, ConvPass::Weight] {
            let (a, b, len) = operands(pass, &g, &big, &w, &small);
            let p = ConvParams::new(pass, &g, 0, 0, 0);
            let mut want = vec![0.0; len];
            conv_cpu(&p, a, b, &[], &mut want);
            let mut one = vec![f32::NAN; len];
            conv_cpu_patches(&p, a, b, &[], &mut one, 1);
            let mut three = vec![f32::NAN; len];
            pool.install(|| conv_cpu_patches(&p, a, b, &[], &mut three, 3));
            for (i, ((got, want), m)) in one.iter().zip(&want).zip(&magnitudes[pass as usize]).enumerate() {
                let tol = agreement(pass, &g, *m, *want);
                proptest::prop_assert!((got - want).abs() <= tol, "{pass:?} {g:?}[{i}]: {got} vs {want}");
            }
            proptest::prop_assert_eq!(
                one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                three.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
