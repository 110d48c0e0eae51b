//! What an image is to the models: a square of `side` × `side` pixels, gray (one
//! channel) or colour (three, red, green and blue planes one after the other, as
//! PyTorch's `view(n, 3, side, side)` reads them). The networks see only the count
//! of values, which tells the shape: a square count is gray, three times a square
//! is colour (no count is both).

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    pub side: usize,
    pub channels: usize,
}

impl ImageShape {
    pub const MNIST: ImageShape = ImageShape { side: 28, channels: 1 };

    /// Values an image has: side · side · channels.
    pub fn values(&self) -> usize {
        self.side * self.side * self.channels
    }

    /// The shape of images of `values` values.
    pub fn from_values(values: usize) -> Result<ImageShape> {
        let square = |n: usize| {
            let side = (n as f64).sqrt().round() as usize;
            (side > 0 && side * side == n).then_some(side)
        };
        if let Some(side) = square(values) {
            return Ok(ImageShape { side, channels: 1 });
        }
        match values.is_multiple_of(3).then(|| square(values / 3)).flatten() {
            Some(side) => Ok(ImageShape { side, channels: 3 }),
            None => Err(Error::new(format!(
                "images of {values} values are neither square gray nor square colour"
            ))),
        }
    }

    /// As a checkpoint's metadata and the messages write it: "3,32,32" (channels,
    /// height, width, PyTorch's order).
    pub fn to_metadata(&self) -> String {
        format!("{},{},{}", self.channels, self.side, self.side)
    }

    /// From `to_metadata`'s form; anything else is an error that quotes it.
    pub fn from_metadata(text: &str) -> Result<ImageShape> {
        let parts: Vec<Option<usize>> = text.split(',').map(|p| p.trim().parse().ok()).collect();
        match parts[..] {
            [Some(channels @ (1 | 3)), Some(height), Some(width)] if height == width && (1..=1024).contains(&width) => {
                Ok(ImageShape { side: width, channels })
            }
            _ => Err(Error::new(format!(
                "the image shape {:?} is not channels,height,width of a square gray or colour image",
                text.chars().take(40).collect::<String>()
            ))),
        }
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.channels == 3 { "colour" } else { "gray" };
        write!(f, "{}×{} {kind}", self.side, self.side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_of_values_tells_the_shape() {
        assert_eq!(ImageShape::from_values(784).unwrap(), ImageShape::MNIST);
        assert_eq!(
            ImageShape::from_values(3072).unwrap(),
            ImageShape { side: 32, channels: 3 }
        );
        assert_eq!(
            ImageShape::from_values(1024).unwrap(),
            ImageShape { side: 32, channels: 1 }
        );
        for bad in [0, 6, 785, 3000] {
            assert!(ImageShape::from_values(bad).is_err(), "{bad}");
        }
        // 3 is colour of side 1; 1 is gray of side 1.
        assert_eq!(
            ImageShape::from_values(3).ok(),
            Some(ImageShape { side: 1, channels: 3 })
        );
    }

    #[test]
    fn metadata_round_trips_and_bad_text_is_an_error() {
        for shape in [ImageShape::MNIST, ImageShape { side: 32, channels: 3 }] {
            assert_eq!(ImageShape::from_metadata(&shape.to_metadata()).unwrap(), shape);
        }
        for bad in [
            "",
            "3,32",
            "2,32,32",
            "3,32,16",
            "1,0,0",
            "x,y,z",
            "3,32,32,1",
            "1,99999,99999",
        ] {
            assert!(ImageShape::from_metadata(bad).is_err(), "{bad}");
        }
    }
}
