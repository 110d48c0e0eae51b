//! Sample grids as PNG files, gray or colour as the images are.

use std::path::Path;

use ganvas::formats::grid;
use ganvas::{Error, Result};

/// `images` tiled in rows of `columns` (or about square).
pub fn write_png(path: &Path, images: &[f32], pixels: usize, columns: Option<usize>) -> Result<()> {
    let grid = grid::tile(images, pixels, columns).map_err(|e| Error::new(format!("{e}; write .npy instead")))?;
    let file = std::fs::File::create(path).map_err(|e| Error::new(format!("cannot create {}: {e}", path.display())))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), grid.width as u32, grid.height as u32);
    encoder.set_color(match grid.channels {
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Grayscale,
    });
    encoder.set_depth(png::BitDepth::Eight);
    let png_error = |e: png::EncodingError| Error::new(format!("cannot write {}: {e}", path.display()));
    encoder
        .write_header()
        .map_err(png_error)?
        .write_image_data(&grid.bytes)
        .map_err(png_error)
}
