//! Animated GIFs of RGBA frames: the page's timelapse where the browser cannot
//! record a video. One fixed palette serves every frame (a 6 × 6 × 6 colour cube
//! and 40 grays), so each pixel maps to its colour in a few operations, and the
//! gray digits of MNIST keep 40 levels.

use crate::error::{Error, Result};

/// The palette's colours, red-green-blue: the cube, then the grays.
fn palette() -> Vec<u8> {
    let level = |i: u32| (i * 51) as u8;
    let cube = (0..216).flat_map(|i| [level(i / 36), level(i / 6 % 6), level(i % 6)]);
    let grays = (0..40u32).flat_map(|i| [(i * 255 / 39) as u8; 3]);
    cube.chain(grays).collect()
}

/// A pixel's palette index: a gray where the channels are within 12 of each other,
/// else the cube's nearest corner.
fn index(r: u8, g: u8, b: u8) -> u8 {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    if max - min <= 12 {
        let mean = (u32::from(r) + u32::from(g) + u32::from(b)) / 3;
        return (216 + (mean * 39 + 127) / 255) as u8;
    }
    let step = |c: u8| (u32::from(c) + 25) / 51;
    (step(r) * 36 + step(g) * 6 + step(b)) as u8
}

/// `rgba` holds frames of `width` × `height` pixels one after another; each is shown
/// for `delay` hundredths of a second, and the animation loops.
pub fn animated_gif(rgba: &[u8], width: u16, height: u16, delay: u16) -> Result<Vec<u8>> {
    let frame_bytes = usize::from(width) * usize::from(height) * 4;
    if frame_bytes == 0 || rgba.is_empty() || !rgba.len().is_multiple_of(frame_bytes) {
        return Err(Error::new("the timelapse frames are not whole frames of one size"));
    }
    let failed = |e: gif::EncodingError| Error::new(format!("cannot write the GIF: {e}"));
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, width, height, &palette()).map_err(failed)?;
        encoder.set_repeat(gif::Repeat::Infinite).map_err(failed)?;
        for pixels in rgba.chunks_exact(frame_bytes) {
            let indices: Vec<u8> = pixels.chunks_exact(4).map(|p| index(p[0], p[1], p[2])).collect();
            let mut frame = gif::Frame::from_indexed_pixels(width, height, indices, None);
            frame.delay = delay;
            encoder.write_frame(&frame).map_err(failed)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_in_the_palettes_colours() {
        // Two 3×2 frames: black, white, mid gray, pure red, pure green, pure blue; then reversed.
        let first: Vec<u8> = [
            [0, 0, 0],
            [255, 255, 255],
            [128, 130, 126],
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
        ]
        .iter()
        .flat_map(|&[r, g, b]| [r, g, b, 255])
        .collect();
        let second: Vec<u8> = first.chunks(4).rev().flatten().copied().collect();
        let bytes = animated_gif(&[first.clone(), second.clone()].concat(), 3, 2, 12).unwrap();
        assert!(bytes.starts_with(b"GIF89a"));
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options.read_info(&bytes[..]).unwrap();
        let mut frames = Vec::new();
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert_eq!(frame.delay, 12);
            frames.push(frame.buffer.to_vec());
        }
        assert_eq!(frames.len(), 2);
        for (decoded, sent) in frames.iter().zip([&first, &second]) {
            for (d, s) in decoded.iter().zip(sent.iter()) {
                assert!(d.abs_diff(*s) <= 4, "{decoded:?} vs {sent:?}");
            }
        }
        assert!(animated_gif(&first[..7], 3, 2, 12).is_err());
        assert!(animated_gif(&[], 3, 2, 12).is_err());
    }
}
