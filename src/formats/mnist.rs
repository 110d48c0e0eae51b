//! The training images: MNIST in the IDX format, gzipped (as distributed) or raw,
//! or any images prepared as bytes (`Dataset::from_pixels`; the command line's
//! folders of image files, the page's own pictures).

use std::io::Read;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images as bytes, image after image, each its channels' planes (one for gray,
/// red, green and blue for colour), row-major; and a digit label for each, where the
/// images have them (MNIST's; empty for other images).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub count: usize,
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl Dataset {
    /// Values an image has, as the networks see it: width · height · channels.
    pub fn pixels(&self) -> usize {
        self.width * self.height * self.channels
    }

    /// Whether each image has a digit label (which the conditional GAN needs).
    pub fn has_labels(&self) -> bool {
        self.labels.len() == self.count
    }

    /// Each image centred in a larger square of `side` with background (byte 0, -1
    /// to the networks) around it: MNIST's 28×28 as the DCGAN's 32×32. Labels stay.
    pub fn padded(&self, side: usize) -> Result<Dataset> {
        if side < self.width || side < self.height {
            return Err(Error::of(
                ErrorKind::DataUnreadable,
                format!("images of {}×{} do not fit {side}×{side}", self.width, self.height),
            ));
        }
        let (left, top) = ((side - self.width) / 2, (side - self.height) / 2);
        let mut images = vec![0u8; self.count * self.channels * side * side];
        let planes = self
            .images
            .chunks(self.width * self.height)
            .zip(images.chunks_mut(side * side));
        for (plane, out) in planes {
            for (row, values) in plane.chunks(self.width).enumerate() {
                out[(top + row) * side + left..][..self.width].copy_from_slice(values);
            }
        }
        Ok(Dataset {
            images,
            width: side,
            height: side,
            ..self.clone()
        })
    }

    /// `count` square images of `side` pixels and `channels` planes, as bytes,
    /// without labels.
    pub fn from_pixels(images: Vec<u8>, side: usize, channels: usize) -> Result<Dataset> {
        let values = side * side * channels;
        if !matches!(channels, 1 | 3) || side == 0 || images.is_empty() || !images.len().is_multiple_of(values) {
            return Err(Error::of(
                ErrorKind::DataUnreadable,
                format!(
                    "{} bytes are not whole {side}×{side} images of {channels} channel(s)",
                    images.len()
                ),
            ));
        }
        Ok(Dataset {
            count: images.len() / values,
            images,
            labels: Vec::new(),
            width: side,
            height: side,
            channels,
        })
    }

    /// The training split from a folder holding the standard file names,
    /// `train-images-idx3-ubyte[.gz]` and `train-labels-idx1-ubyte[.gz]`.
    pub fn load_training_set(dir: &Path) -> Result<Dataset> {
        Dataset::load_split(dir, "train")
    }

    /// Whether `dir` holds a training split's IDX files (`load_training_set`).
    pub fn has_training_set(dir: &Path) -> bool {
        find(dir, "train-images-idx3-ubyte").is_ok()
    }

    /// The test split: `t10k-images-idx3-ubyte[.gz]` and `t10k-labels-idx1-ubyte[.gz]`.
    pub fn load_test_set(dir: &Path) -> Result<Dataset> {
        Dataset::load_split(dir, "t10k")
    }

    fn load_split(dir: &Path, split: &str) -> Result<Dataset> {
        let images = read_maybe_gzipped(&find(dir, &format!("{split}-images-idx3-ubyte"))?)?;
        let labels = read_maybe_gzipped(&find(dir, &format!("{split}-labels-idx1-ubyte"))?)?;
        Dataset::from_idx(&images, &labels)
    }

    /// The images as the networks see them: [count, pixels] in [-1, 1], scaled as the
    /// batch gather scales them.
    pub fn inputs(&self) -> Vec<f32> {
        (0..self.count).flat_map(|i| self.inputs_of(i)).collect()
    }

    /// Image `index` as the networks see it.
    pub fn inputs_of(&self, index: usize) -> impl Iterator<Item = f32> + '_ {
        let pixels = &self.images[index * self.pixels()..][..self.pixels()];
        pixels.iter().map(|&b| (f32::from(b) / 255.0 - 0.5) / 0.5)
    }

    /// Parses an IDX image file and its label file, both already decompressed.
    pub fn from_idx(images: &[u8], labels: &[u8]) -> Result<Dataset> {
        let [count, height, width] = parse_header(images, IMAGES_MAGIC, "image")?;
        let [label_count] = parse_header(labels, LABELS_MAGIC, "label")?;
        if count != label_count {
            return Err(Error::of(
                ErrorKind::DataUnreadable,
                format!("the image file has {count} images but the label file has {label_count} labels"),
            ));
        }
        if count == 0 || width == 0 || height == 0 {
            return Err(Error::of(ErrorKind::DataUnreadable, "the image file holds no pixels"));
        }
        if labels[8..].iter().any(|&l| l > 9) {
            return Err(Error::of(
                ErrorKind::DataUnreadable,
                "the label file has a label outside 0-9",
            ));
        }
        Ok(Dataset {
            images: images[16..].to_vec(),
            labels: labels[8..].to_vec(),
            count,
            width,
            height,
            channels: 1,
        })
    }
}

fn find(dir: &Path, stem: &str) -> Result<std::path::PathBuf> {
    [format!("{stem}.gz"), stem.to_string()]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Error::of(
                ErrorKind::DataUnreadable,
                format!("no {stem}.gz (or {stem}) in {}", dir.display()),
            )
        })
}

/// The file's bytes, decompressed when they start with the gzip magic number.
pub fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| {
        Error::of(
            ErrorKind::DataUnreadable,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    decompress_if_gzipped(raw).map_err(|e| Error::of(ErrorKind::DataUnreadable, format!("{}: {e}", path.display())))
}

/// The most a gzipped file may expand to: MNIST's training images are 47 MB, and a
/// few kilobytes of crafted gzip could otherwise ask for gigabytes.
pub const MAX_DECOMPRESSED: u64 = 256 << 20;

pub fn decompress_if_gzipped(raw: Vec<u8>) -> Result<Vec<u8>> {
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::of(
                ErrorKind::DataUnreadable,
                format!("the gzip stream is corrupt or truncated ({e})"),
            )
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(Error::of(
            ErrorKind::DataUnreadable,
            format!(
                "the gzip stream expands past {} MiB, more than any training set ganvas reads",
                MAX_DECOMPRESSED >> 20
            ),
        ));
    }
    Ok(out)
}

/// The dimensions of an IDX file of unsigned bytes, after checking that its body
/// has exactly the length they imply.
fn parse_header<const DIMS: usize>(bytes: &[u8], magic: u32, what: &str) -> Result<[usize; DIMS]> {
    let header = 4 + 4 * DIMS;
    let too_short = || {
        Error::of(
            ErrorKind::DataUnreadable,
            format!("the {what} file is {} bytes, too short for an IDX header", bytes.len()),
        )
    };
    let word = |i: usize| {
        bytes
            .get(4 * i..4 * i + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    let found = word(0).ok_or_else(too_short)?;
    if found != magic {
        return Err(Error::of(
            ErrorKind::DataUnreadable,
            format!("the {what} file starts with 0x{found:08x}, not the IDX {what} magic number 0x{magic:08x}"),
        ));
    }
    if bytes.len() < header {
        return Err(too_short());
    }
    let word = |i: usize| word(i).unwrap_or(0);
    let mut dims = [0usize; DIMS];
    for (i, d) in dims.iter_mut().enumerate() {
        *d = word(i + 1) as usize;
    }
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match expected {
        Some(n) if bytes.len() - header == n => Ok(dims),
        Some(n) => Err(Error::of(ErrorKind::DataUnreadable, format!(
            "the {what} file's header promises {n} bytes of data ({dims:?}) but {} follow: the file is truncated or wrong",
            bytes.len() - header
        ))),
        None => Err(Error::of(ErrorKind::DataUnreadable, format!("the {what} file's dimensions {dims:?} are impossibly large"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_centres_each_image_on_background() {
        let data = Dataset::from_pixels((1..=8).collect(), 2, 1).unwrap();
        let padded = data.padded(4).unwrap();
        assert_eq!((padded.count, padded.width, padded.pixels()), (2, 4, 16));
        #[rustfmt::skip]
        assert_eq!(&padded.images[..16], &[0, 0, 0, 0,  0, 1, 2, 0,  0, 3, 4, 0,  0, 0, 0, 0]);
        assert_eq!(&padded.images[16 + 5..16 + 7], &[5, 6]);
        assert!(data.padded(1).is_err());
    }

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(body);
        v
    }

    #[test]
    fn parses_a_small_valid_pair() {
        let images = idx(IMAGES_MAGIC, &[2, 2, 3], &[7; 12]);
        let labels = idx(LABELS_MAGIC, &[2], &[3, 9]);
        let d = Dataset::from_idx(&images, &labels).unwrap();
        assert_eq!((d.count, d.height, d.width, d.pixels()), (2, 2, 3, 6));
        assert_eq!(d.labels, vec![3, 9]);
    }

    #[test]
    fn rejects_wrong_truncated_and_mismatched_files() {
        let images = idx(IMAGES_MAGIC, &[2, 2, 3], &[7; 12]);
        let labels = idx(LABELS_MAGIC, &[2], &[3, 9]);
        let err = |i: &[u8], l: &[u8]| Dataset::from_idx(i, l).unwrap_err().message;
        let e = err(&labels, &labels);
        assert!(e.contains("magic number"), "{e}");
        assert!(err(&images[..20], &labels).contains("truncated"));
        assert!(err(&images[..10], &labels).contains("too short"));
        assert!(err(&images, &idx(LABELS_MAGIC, &[3], &[1, 2, 3])).contains("3 labels"));
        assert!(err(&images, &idx(LABELS_MAGIC, &[2], &[1, 12])).contains("outside"));
        let huge = idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(!err(&huge, &labels).is_empty());
    }

    #[test]
    fn reports_a_corrupt_gzip_stream() {
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        gz.extend([0xff; 20]);
        assert!(decompress_if_gzipped(gz).unwrap_err().message.contains("gzip"));
    }
}
