//! Two-dimensional float32 arrays in NumPy's .npy format, for latent vectors in and
//! images out of `ganvas sample`.

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// A C-order float32 matrix as `numpy.save` writes it (format version 1.0).
pub fn to_bytes(rows: usize, cols: usize, data: &[f32]) -> Vec<u8> {
    assert_eq!(rows * cols, data.len());
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // The header, with its 10-byte preamble, pads to a multiple of 64 and ends in '\n'.
    let padded = (10 + dict.len() + 1).div_ceil(64) * 64;
    let header = format!("{dict}{}\n", " ".repeat(padded - 10 - dict.len() - 1));
    let mut out = MAGIC.to_vec();
    out.extend([1, 0]);
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// (rows, cols, values) of a 2-D little-endian float32 C-order array.
pub fn from_bytes(bytes: &[u8]) -> Result<(usize, usize, Vec<f32>)> {
    if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
        return Err(Error::new("not a .npy file (no \\x93NUMPY magic)"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(Error::new(format!("unsupported .npy format version {v}"))),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| Error::new("the .npy header is truncated or not text"))?;
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("'descr':'<f4'") {
        return Err(Error::new(
            "the .npy array must be float32 ('<f4'); convert with .astype(np.float32)",
        ));
    }
    if !compact.contains("'fortran_order':False") {
        return Err(Error::new("the .npy array must be in C order"));
    }
    let shape = compact
        .split("'shape':(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .ok_or_else(|| Error::new("the .npy header has no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| Error::new(format!("bad .npy shape ({shape})"))))
        .collect::<Result<_>>()?;
    let [rows, cols] = dims[..] else {
        return Err(Error::new(format!("the .npy array must be 2-D, found shape ({shape})")));
    };
    let body = &bytes[start + header_len..];
    if Some(body.len()) != rows.checked_mul(cols).and_then(|n| n.checked_mul(4)) {
        return Err(Error::new(format!(
            "the .npy body has {} bytes, not the {rows}×{cols} float32 the header says",
            body.len()
        )));
    }
    let values = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((rows, cols, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_pads_the_header() {
        let bytes = to_bytes(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        // Data starts on a 64-byte boundary: the file is a header of 64·k bytes plus 24.
        assert_eq!(bytes.len() % 64, 24);
        assert_eq!(from_bytes(&bytes).unwrap(), (2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]));
    }

    fn with_header(dict: &str, body_bytes: usize) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([1, 0]);
        out.extend((dict.len() as u16).to_le_bytes());
        out.extend(dict.as_bytes());
        out.extend(vec![0; body_bytes]);
        out
    }

    #[test]
    fn rejects_other_dtypes_shapes_and_truncation() {
        let good = to_bytes(2, 2, &[0.0; 4]);
        assert!(from_bytes(&good[..good.len() - 1])
            .unwrap_err()
            .message
            .contains("body"));
        let f64_file = with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", 32);
        assert!(from_bytes(&f64_file).unwrap_err().message.contains("float32"));
        let fortran = with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16);
        assert!(from_bytes(&fortran).unwrap_err().message.contains("C order"));
        let three_d = with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }", 16);
        assert!(from_bytes(&three_d).unwrap_err().message.contains("2-D"));
        let one_d = with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 16);
        assert!(from_bytes(&one_d).unwrap_err().message.contains("2-D"));
        assert!(from_bytes(b"hello").is_err());
    }
}
