//! A folder of the user's own pictures as a training set (`ganvas train --data DIR`):
//! every PNG, JPEG, WebP or GIF (its first frame) under it, decoded, cropped to the
//! centre square, resized with Lanczos filtering to the chosen side, gray or colour,
//! and kept as bytes. A file that cannot be used is skipped and listed with why;
//! nothing in the folder stops the others.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};

use crate::error::{Error, Result};
use crate::formats::image_shape::ImageShape;
use crate::formats::mnist::Dataset;

/// Fewer usable images than this is an error: a GAN learns a distribution from many
/// examples, and with fewer than a batch or two there is nothing to learn it from.
pub const MIN_IMAGES: usize = 100;
/// Fewer than this trains, with a warning: G will memorise them.
pub const FEW_IMAGES: usize = 500;
/// Larger pictures are skipped, not decoded: a 20,000 × 20,000 image would take
/// 1.6 GB of memory to decode before shrinking to 32 × 32.
pub const MAX_SIDE: u32 = 8192;

/// The training set a folder gave, and the files it skipped with why.
pub struct ImageFolder {
    pub dataset: Dataset,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Every file under `dir` (recursively, in name order) made into an image of `shape`.
pub fn load(dir: &Path, shape: ImageShape) -> Result<ImageFolder> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut bytes = Vec::new();
    let mut skipped = Vec::new();
    for path in files {
        match prepare(&path, shape) {
            Ok(image) => bytes.extend(image),
            // On one line, whatever the decoder's message holds.
            Err(why) => skipped.push((path, why.split_whitespace().collect::<Vec<_>>().join(" "))),
        }
    }
    let usable = bytes.len() / shape.values();
    if usable < MIN_IMAGES {
        return Err(Error::new(format!(
            "{} holds {usable} usable image(s) ({} skipped); a GAN needs at least {MIN_IMAGES} examples to learn \
             what they have in common, and thousands to learn it well",
            dir.display(),
            skipped.len()
        )));
    }
    let dataset = Dataset::from_pixels(bytes, shape.side, shape.channels)?;
    Ok(ImageFolder { dataset, skipped })
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::new(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, files)?,
            Ok(t) if t.is_file() => files.push(path),
            _ => {}
        }
    }
    Ok(())
}

/// One picture as `shape`'s bytes (the channels' planes), or why it cannot be one.
pub fn prepare(path: &Path, shape: ImageShape) -> std::result::Result<Vec<u8>, String> {
    // The header first: a huge picture is refused before any pixel is decoded.
    let (width, height) = open(path)?
        .into_dimensions()
        .map_err(|e| format!("cannot be decoded: {e}"))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("is {width}×{height}, larger than {MAX_SIDE} pixels a side"));
    }
    let mut reader = open(path)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| format!("cannot be decoded: {e}"))?;
    Ok(square_planes(&image, shape))
}

fn open(path: &Path) -> std::result::Result<ImageReader<std::io::BufReader<std::fs::File>>, String> {
    let reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| format!("cannot be read: {e}"))?;
    match reader.format() {
        Some(_) => Ok(reader),
        None => Err("is not a PNG, JPEG, WebP or GIF image".to_string()),
    }
}

/// The centre square of `image`, resized to `shape.side` (Lanczos), as its
/// channels' planes: gray by luminance, or red, green and blue.
pub fn square_planes(image: &DynamicImage, shape: ImageShape) -> Vec<u8> {
    let (w, h) = (image.width(), image.height());
    let side = w.min(h);
    let square = image.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let size = shape.side as u32;
    let resized = square.resize_exact(size, size, FilterType::Lanczos3);
    match shape.channels {
        3 => {
            let rgb = resized.to_rgb8();
            (0..3).flat_map(|c| rgb.pixels().map(move |p| p[c])).collect()
        }
        _ => resized.to_luma8().into_raw(),
    }
}
