//! Philox4x32-10, the counter-based generator both backends draw from.
//!
//! Every random number is a pure function of (seed, stream, counters), so the
//! GPU noise kernel (`shaders/noise.wgsl` has the same rounds) and the CPU backend
//! draw identical bits with no generator state to carry between steps.

const MUL0: u32 = 0xD251_1F53;
const MUL1: u32 = 0xCD9E_8D57;
const WEYL0: u32 = 0x9E37_79B9;
const WEYL1: u32 = 0xBB67_AE85;

/// Independent streams, placed in the third counter word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Stream {
    /// Latent noise of a training step: counters (group, step).
    Noise = 1,
    /// Parameter initialisation: counters (group, tensor index).
    Init = 2,
    /// Epoch shuffle: counters (group, epoch).
    Shuffle = 3,
    /// Latent vectors for sampling: counters (group, 0).
    Sample = 4,
    /// The conditional GAN's class labels: counters (row, step).
    Label = 5,
}

/// The value a shader receives, back to the stream; unknown values are refused, not
/// taken for a default stream.
impl TryFrom<u32> for Stream {
    type Error = crate::Error;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(Stream::Noise),
            2 => Ok(Stream::Init),
            3 => Ok(Stream::Shuffle),
            4 => Ok(Stream::Sample),
            5 => Ok(Stream::Label),
            other => Err(crate::Error::new(format!("{other} is not a random stream (1 to 5)"))),
        }
    }
}

/// The 64-bit seed split into Philox's two key words.
pub fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(WEYL0), k[1].wrapping_add(WEYL1)];
        }
        let p0 = u64::from(MUL0) * u64::from(c[0]);
        let p1 = u64::from(MUL1) * u64::from(c[2]);
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// Four words of stream `stream` at counter (`group`, `index`).
pub fn draw(seed: u64, stream: Stream, group: u32, index: u32) -> [u32; 4] {
    philox4x32([group, index, stream as u32, 0], seed_key(seed))
}

/// A uniform float in the open interval (0, 1): 24 random bits, centred in their cell,
/// so `ln` never sees 0.
pub fn unit_open(bits: u32) -> f32 {
    ((bits >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

/// Box-Muller: two uniforms to two standard normals, in f32 like the shader.
pub fn normal_pair(bits0: u32, bits1: u32) -> [f32; 2] {
    let radius = (-2.0 * unit_open(bits0).ln()).sqrt();
    let angle = std::f32::consts::TAU * unit_open(bits1);
    [radius * angle.cos(), radius * angle.sin()]
}

/// Element `i` of a standard normal sequence: group `i / 4` gives four normals.
pub fn normals(seed: u64, stream: Stream, index: u32, out: &mut [f32]) {
    for (group, chunk) in out.chunks_mut(4).enumerate() {
        let w = draw(seed, stream, group as u32, index);
        let [n0, n1] = normal_pair(w[0], w[1]);
        let [n2, n3] = normal_pair(w[2], w[3]);
        for (dst, src) in chunk.iter_mut().zip([n0, n1, n2, n3]) {
            *dst = src;
        }
    }
}

/// Row `row`'s class, uniform over `classes` (at most 256): 24 random bits of
/// counter (`row`, `index`) in the label stream, scaled, as the labels shader does.
pub fn uniform_class(seed: u64, row: u32, index: u32, classes: u32) -> u32 {
    let bits = draw(seed, Stream::Label, row, index)[0];
    ((bits >> 8) * classes) >> 24
}

/// Uniform floats in [-bound, bound), as PyTorch's `nn.Linear` initialisation draws them.
pub fn uniform_symmetric(seed: u64, stream: Stream, index: u32, bound: f32, out: &mut [f32]) {
    for (group, chunk) in out.chunks_mut(4).enumerate() {
        let w = draw(seed, stream, group as u32, index);
        for (dst, bits) in chunk.iter_mut().zip(w) {
            *dst = (2.0 * unit_open(bits) - 1.0) * bound;
        }
    }
}

/// The order in which epoch `epoch` visits `count` items (Fisher-Yates).
pub fn epoch_order(seed: u64, epoch: u32, count: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..count as u32).collect();
    for i in (1..count).rev() {
        let bits = draw(seed, Stream::Shuffle, (i / 4) as u32, epoch)[i % 4];
        // Lemire's multiply-shift maps 32 random bits to 0..=i without a division.
        let j = ((u64::from(bits) * (i as u64 + 1)) >> 32) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_round_trip_through_their_shader_values_and_others_are_refused() {
        for stream in [
            Stream::Noise,
            Stream::Init,
            Stream::Shuffle,
            Stream::Sample,
            Stream::Label,
        ] {
            assert_eq!(Stream::try_from(stream as u32), Ok(stream));
        }
        assert!(Stream::try_from(0).is_err() && Stream::try_from(6).is_err());
    }

    #[test]
    fn philox_matches_the_published_known_answers() {
        // Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32_10).
        assert_eq!(
            philox4x32([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn normals_have_unit_moments() {
        let mut z = vec![0.0; 100_000];
        normals(7, Stream::Noise, 3, &mut z);
        let n = z.len() as f64;
        let mean = z.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = z.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
        // Standard errors at n = 1e5: 0.003 for the mean, 0.0045 for the variance.
        assert!(mean.abs() < 0.015, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        assert!(z.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn epoch_order_is_a_permutation_that_changes_per_epoch() {
        let a = epoch_order(1, 0, 1000);
        let b = epoch_order(1, 1, 1000);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_ne!(a, b);
        assert_eq!(a, epoch_order(1, 0, 1000));
    }
}
