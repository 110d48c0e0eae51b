//! Square images in [-1, 1], gray or colour (`ImageShape`), tiled into one picture:
//! the sample grids of the command line's PNGs and of the web page's canvas.

use crate::error::Result;
use crate::formats::image_shape::ImageShape;

/// Gutter between tiles, in pixels.
const GUTTER: usize = 2;

/// A picture, row-major, `channels` bytes a pixel (gray, or red, green, blue).
pub struct Grid {
    pub width: usize,
    pub height: usize,
    /// Tiles in a row.
    pub columns: usize,
    pub channels: usize,
    pub bytes: Vec<u8>,
}

impl Grid {
    /// Red, green, blue and opaque alpha for each pixel, as a canvas takes them.
    pub fn rgba(&self) -> Vec<u8> {
        match self.channels {
            3 => self
                .bytes
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            _ => self.bytes.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        }
    }
}

/// Tiles `images` ([n, values], the shape the count of values tells) in rows of
/// `columns`, or about as wide as tall.
pub fn tile(images: &[f32], values: usize, columns: Option<usize>) -> Result<Grid> {
    let ImageShape { side, channels } = ImageShape::from_values(values)?;
    let n = images.len() / values;
    let square = (n as f64).sqrt().ceil() as usize;
    let cols = columns.unwrap_or(square).clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let (width, height) = (cols * (side + GUTTER) + GUTTER, rows * (side + GUTTER) + GUTTER);
    let mut bytes = vec![0u8; width * height * channels];
    let plane = side * side;
    for (i, image) in images.chunks_exact(values).enumerate() {
        let (x0, y0) = (
            GUTTER + (i % cols) * (side + GUTTER),
            GUTTER + (i / cols) * (side + GUTTER),
        );
        // Channel c of pixel p is value c·plane + p (planes, as PyTorch's CHW).
        for (v, value) in image.iter().enumerate() {
            let (c, p) = (v / plane, v % plane);
            let at = ((y0 + p / side) * width + x0 + p % side) * channels + c;
            bytes[at] = ((value.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
        }
    }
    Ok(Grid {
        width,
        height,
        columns: cols,
        channels,
        bytes,
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
        assert_eq!((grid.width, grid.height, grid.channels), (10, 10, 1));
        // The fourth image (white) sits at row 1, column 1: its first pixel at (6, 6).
        assert_eq!(grid.bytes[6 * 10 + 6], 255);
        assert_eq!(grid.bytes[2 * 10 + 2], 0);
        assert_eq!(grid.bytes[0], 0);
        assert!(tile(&images, 5, None).is_err());
        let row = tile(&images, 4, Some(3)).unwrap();
        assert_eq!((row.width, row.height), (3 * 4 + 2, 2 * 4 + 2));
    }

    #[test]
    fn colour_images_take_their_planes_as_red_green_blue() {
        // One 2×2 colour image: red plane all 1, green all -1, blue 1 only at pixel 3.
        let image = [1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 1.0];
        let grid = tile(&image, 12, None).unwrap();
        assert_eq!((grid.width, grid.height, grid.channels), (6, 6, 3));
        let pixel = |x: usize, y: usize| &grid.bytes[(y * 6 + x) * 3..][..3];
        assert_eq!(pixel(2, 2), [255, 0, 0]);
        assert_eq!(pixel(3, 3), [255, 0, 255]);
        assert_eq!(pixel(0, 0), [0, 0, 0]);
        assert_eq!(grid.rgba()[..4], [0, 0, 0, 255]);
        assert_eq!(grid.rgba()[(3 * 6 + 3) * 4..][..4], [255, 0, 255, 255]);
    }
}
