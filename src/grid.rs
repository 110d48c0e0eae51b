//! Square images in [-1, 1] tiled into one grayscale picture: the sample grids of the
//! command line's PNGs and of the web page's canvas.

use crate::error::{Error, Result};

/// Gutter between tiles, in pixels.
const GUTTER: usize = 2;

/// A grayscale picture, row-major, one byte a pixel.
pub struct Grid {
    pub width: usize,
    pub height: usize,
    /// Tiles in a row.
    pub columns: usize,
    pub gray: Vec<u8>,
}

/// Tiles `images` ([n, side·side]) in rows of `columns`, or about as wide as tall.
pub fn tile(images: &[f32], pixels: usize, columns: Option<usize>) -> Result<Grid> {
    let side = (pixels as f64).sqrt().round() as usize;
    if side * side != pixels || pixels == 0 {
        return Err(Error::new(format!("images of {pixels} pixels are not square")));
    }
    let n = images.len() / pixels;
    let square = (n as f64).sqrt().ceil() as usize;
    let cols = columns.unwrap_or(square).clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let (width, height) = (cols * (side + GUTTER) + GUTTER, rows * (side + GUTTER) + GUTTER);
    let mut gray = vec![0u8; width * height];
    for (i, image) in images.chunks_exact(pixels).enumerate() {
        let (x0, y0) = (
            GUTTER + (i % cols) * (side + GUTTER),
            GUTTER + (i / cols) * (side + GUTTER),
        );
        for (p, v) in image.iter().enumerate() {
            gray[(y0 + p / side) * width + x0 + p % side] = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
        }
    }
    Ok(Grid {
        width,
        height,
        columns: cols,
        gray,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_each_image_in_its_tile() {
        // Four 2×2 images: a 2×2 grid of tiles, 2 + 2·(2 + 2) = 10 pixels wide.
        let images: Vec<f32> = (0..16).map(|i| if i / 4 == 3 { 1.0 } else { -1.0 }).collect();
        let grid = tile(&images, 4, None).unwrap();
        assert_eq!((grid.width, grid.height), (10, 10));
        // The fourth image (white) sits at row 1, column 1: its first pixel at (6, 6).
        assert_eq!(grid.gray[6 * 10 + 6], 255);
        assert_eq!(grid.gray[2 * 10 + 2], 0);
        assert_eq!(grid.gray[0], 0);
        assert!(tile(&images, 3, None).is_err());
        let row = tile(&images, 4, Some(3)).unwrap();
        assert_eq!((row.width, row.height), (3 * 4 + 2, 2 * 4 + 2));
    }
}
