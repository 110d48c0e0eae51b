//! Square images in [-1, 1] tiled into one grayscale PNG.

use std::path::Path;

use ganvas::{Error, Result};

/// Writes `images` ([n, side·side]) as a grid about as wide as tall, 2-pixel gutters.
pub fn write_png(path: &Path, images: &[f32], pixels: usize) -> Result<()> {
    let side = (pixels as f64).sqrt().round() as usize;
    if side * side != pixels {
        return Err(Error::new(format!(
            "images of {pixels} pixels are not square; write .npy instead"
        )));
    }
    let n = images.len() / pixels;
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols).max(1);
    let gutter = 2;
    let (width, height) = (cols * (side + gutter) + gutter, rows * (side + gutter) + gutter);
    let mut canvas = vec![0u8; width * height];
    for (i, image) in images.chunks(pixels).enumerate() {
        let (x0, y0) = (
            gutter + (i % cols) * (side + gutter),
            gutter + (i / cols) * (side + gutter),
        );
        for (p, v) in image.iter().enumerate() {
            canvas[(y0 + p / side) * width + x0 + p % side] = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
        }
    }
    let file = std::fs::File::create(path).map_err(|e| Error::new(format!("cannot create {}: {e}", path.display())))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let png_error = |e: png::EncodingError| Error::new(format!("cannot write {}: {e}", path.display()));
    encoder
        .write_header()
        .map_err(png_error)?
        .write_image_data(&canvas)
        .map_err(png_error)
}
