//! A picture's width and height from its header, without decoding it: the page
//! refuses a 20,000 × 20,000 picture before the browser spends gigabytes decoding
//! it (the command line's `image` crate does the same with its own reader).

/// The size a PNG, GIF, JPEG or WebP header gives; `None` for anything else, or a
/// header cut short. `bytes` may be just the file's start (JPEG's size can follow
/// its metadata, so give it the first 256 KiB or so).
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let le16 = |at: usize| Some(u32::from(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?)));
    let be16 = |at: usize| Some(u32::from(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?)));
    let le24 = |at: usize| {
        let b = bytes.get(at..at + 3)?;
        Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16)? == b"IHDR" {
        return Some((be32(16)?, be32(20)?));
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some((le16(6)?, le16(8)?));
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12)? == b"WEBP" {
        return match bytes.get(12..16)? {
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let bits = u32::from_le_bytes(bytes.get(21..25)?.try_into().ok()?);
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            _ => None,
        };
    }
    if bytes.starts_with(&[0xff, 0xd8]) {
        // Segments until a start-of-frame marker (SOF0-SOF15 but DHT, JPG and DAC).
        let mut at = 2;
        loop {
            while *bytes.get(at)? != 0xff {
                at += 1;
            }
            while *bytes.get(at)? == 0xff {
                at += 1;
            }
            let marker = *bytes.get(at)?;
            at += 1;
            if matches!(marker, 0xd0..=0xd9 | 0x01) {
                continue;
            }
            let length = be16(at)? as usize;
            if (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
                return Some((be16(at + 5)?, be16(at + 3)?));
            }
            at += length.max(2);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_formats_header() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend(20_000u32.to_be_bytes());
        png.extend(300u32.to_be_bytes());
        assert_eq!(dimensions(&png), Some((20_000, 300)));
        assert_eq!(dimensions(b"GIF89a\x40\x01\xf0\x00"), Some((320, 240)));
        // A JPEG: SOI, an APP0 segment, then SOF0 with height 480 and width 640.
        let jpeg = [
            0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2, 0xff, 0xc0, 0, 11, 8, 0x01, 0xe0, 0x02, 0x80, 3,
        ];
        assert_eq!(dimensions(&jpeg), Some((640, 480)));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        webp.extend([0x3f, 0x1f, 0x00, 0x1f, 0x4e, 0x00]);
        assert_eq!(dimensions(&webp), Some((8000, 20_000)));
        for bad in [
            &b""[..],
            b"hello",
            b"\x89PNG\r\n\x1a\n",
            &jpeg[..9],
            b"RIFF\0\0\0\0WEBPVP8Z",
        ] {
            assert_eq!(dimensions(bad), None);
        }
    }

    proptest::proptest! {
        /// Any bytes give a size or `None`: never a panic, never a loop without end.
        #[test]
        fn any_bytes_give_a_size_or_none(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), start in 0usize..5) {
            let prefixes: [&[u8]; 5] = [b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", b"GIF89a", b"RIFF\0\0\0\0WEBPVP8L", &[0xff, 0xd8], b""];
            let mut input = prefixes[start].to_vec();
            input.extend(bytes);
            let _ = dimensions(&input);
        }
    }
}
