//! The files of a zip archive, for the page's "use your own images" (a zip of
//! pictures). Only what that needs: stored and deflated entries, read through the
//! central directory. An entry that cannot be used (a path outside the archive's
//! root, an unknown compression, a size past `MAX_ENTRY_BYTES`, corrupt data) is
//! listed with why, never fatal; an archive that is not a zip at all is an error.

use std::io::Read;

use crate::error::{Error, ErrorKind, Result};

/// A picture larger than this (uncompressed) is not read: no sensible one is, and a
/// zip bomb's entries are.
pub const MAX_ENTRY_BYTES: usize = 64 << 20;

const END_OF_DIRECTORY: u32 = 0x0605_4b50;
const DIRECTORY_ENTRY: u32 = 0x0201_4b50;
const LOCAL_HEADER: u32 = 0x0403_4b50;

/// One entry of an archive: its path and its bytes, or why they could not be read.
pub struct Entry {
    pub name: String,
    pub contents: std::result::Result<Vec<u8>, EntryProblem>,
}

/// Why an entry was not read; the page words each (`skipOutsideRoot`, ...).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "camelCase")]
pub enum EntryProblem {
    /// Its path leaves the archive's root (`../x`, `/x`, `C:x`).
    OutsideRoot,
    /// More bytes uncompressed than a picture needs.
    TooLarge { bytes: usize },
    /// Its header, data or size do not add up.
    Damaged,
    /// A compression method other than stored (0) or deflate (8).
    Method { method: u16 },
}

/// The file entries of `archive` (folders left out), in the directory's order.
pub fn entries(archive: &[u8]) -> Result<Vec<Entry>> {
    let end = find_end(archive).ok_or_else(|| {
        Error::of(
            ErrorKind::DataUnreadable,
            "the file is not a zip archive (no end of directory)",
        )
    })?;
    let count = usize::from(u16_at(archive, end + 10)?);
    let mut at = u32_at(archive, end + 16)? as usize;
    let mut entries = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        if u32_at(archive, at)? != DIRECTORY_ENTRY {
            return Err(Error::of(
                ErrorKind::DataUnreadable,
                "the zip archive's directory is damaged",
            ));
        }
        let method = u16_at(archive, at + 10)?;
        let compressed = u32_at(archive, at + 20)? as usize;
        let size = u32_at(archive, at + 24)? as usize;
        let name_len = usize::from(u16_at(archive, at + 28)?);
        let extra_len = usize::from(u16_at(archive, at + 30)?);
        let comment_len = usize::from(u16_at(archive, at + 32)?);
        let local = u32_at(archive, at + 42)? as usize;
        let name_bytes = slice(archive, at + 46, name_len)?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if name.ends_with('/') {
            continue;
        }
        let contents = match safe_path(&name) {
            false => Err(EntryProblem::OutsideRoot),
            true => read_entry(archive, local, method, compressed, size),
        };
        entries.push(Entry { name, contents });
    }
    Ok(entries)
}

/// A relative path that stays inside the archive: no root, drive, `..` or backslash.
fn safe_path(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains(':')
        && name.split('/').all(|part| part != "..")
}

fn read_entry(
    archive: &[u8],
    local: usize,
    method: u16,
    compressed: usize,
    size: usize,
) -> std::result::Result<Vec<u8>, EntryProblem> {
    let damaged = |_| EntryProblem::Damaged;
    if size > MAX_ENTRY_BYTES {
        return Err(EntryProblem::TooLarge { bytes: size });
    }
    if u32_at(archive, local).map_err(damaged)? != LOCAL_HEADER {
        return Err(EntryProblem::Damaged);
    }
    let name_len = usize::from(u16_at(archive, local + 26).map_err(damaged)?);
    let extra_len = usize::from(u16_at(archive, local + 28).map_err(damaged)?);
    let data = slice(archive, local + 30 + name_len + extra_len, compressed).map_err(damaged)?;
    match method {
        0 if compressed == size => Ok(data.to_vec()),
        8 => {
            let mut out = Vec::with_capacity(size);
            // One byte past the size the directory gives tells a lying entry.
            let mut inflater = flate2::read::DeflateDecoder::new(data).take(size as u64 + 1);
            inflater.read_to_end(&mut out).map_err(|_| EntryProblem::Damaged)?;
            match out.len() == size {
                true => Ok(out),
                false => Err(EntryProblem::Damaged),
            }
        }
        0 => Err(EntryProblem::Damaged),
        other => Err(EntryProblem::Method { method: other }),
    }
}

/// The end-of-directory record, searched back from the end past a comment of up to
/// 64 KiB.
fn find_end(archive: &[u8]) -> Option<usize> {
    let last = archive.len().checked_sub(22)?;
    let first = last.saturating_sub(u16::MAX as usize);
    (first..=last)
        .rev()
        .find(|&at| u32_at(archive, at).ok() == Some(END_OF_DIRECTORY))
}

fn slice(bytes: &[u8], at: usize, len: usize) -> Result<&[u8]> {
    at.checked_add(len)
        .and_then(|end| bytes.get(at..end))
        .ok_or_else(|| Error::of(ErrorKind::DataUnreadable, "the zip archive ends too early"))
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16> {
    let b = slice(bytes, at, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32> {
    let b = slice(bytes, at, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A zip of `(name, contents, deflated)` entries, as any zip tool writes one.
    pub(crate) fn archive(files: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let (mut out, mut directory) = (Vec::new(), Vec::new());
        for (name, contents, deflated) in files {
            let data = match deflated {
                true => {
                    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                    e.write_all(contents).unwrap();
                    e.finish().unwrap()
                }
                false => contents.to_vec(),
            };
            let method: u16 = if *deflated { 8 } else { 0 };
            let local = out.len() as u32;
            out.extend(LOCAL_HEADER.to_le_bytes());
            out.extend([20, 0, 0, 0]);
            out.extend(method.to_le_bytes());
            out.extend([0; 8]); // time, date, crc (not checked)
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((contents.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend([0, 0]);
            out.extend(name.as_bytes());
            out.extend(&data);
            directory.extend(DIRECTORY_ENTRY.to_le_bytes());
            directory.extend([20, 0, 20, 0, 0, 0]);
            directory.extend(method.to_le_bytes());
            directory.extend([0; 8]);
            directory.extend((data.len() as u32).to_le_bytes());
            directory.extend((contents.len() as u32).to_le_bytes());
            directory.extend((name.len() as u16).to_le_bytes());
            directory.extend([0; 12]); // extra, comment, disk, attributes
            directory.extend(local.to_le_bytes());
            directory.extend(name.as_bytes());
        }
        let start = out.len() as u32;
        let size = directory.len() as u32;
        out.extend(directory);
        out.extend(END_OF_DIRECTORY.to_le_bytes());
        out.extend([0; 4]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend(size.to_le_bytes());
        out.extend(start.to_le_bytes());
        out.extend([0, 0]);
        out
    }

    #[test]
    fn reads_stored_and_deflated_entries_and_lists_unsafe_paths() {
        let picture = vec![7u8; 5000];
        let zip = archive(&[
            ("a.png", &picture, false),
            ("photos/b.jpg", &picture, true),
            ("photos/", b"", false),
            ("../evil.png", b"x", false),
            ("/etc/passwd", b"x", false),
            ("photos/../../up.png", b"x", false),
            ("C:\\win.png", b"x", false),
        ]);
        let entries = entries(&zip).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "a.png",
                "photos/b.jpg",
                "../evil.png",
                "/etc/passwd",
                "photos/../../up.png",
                "C:\\win.png"
            ]
        );
        assert_eq!(entries[0].contents.as_ref().unwrap(), &picture);
        assert_eq!(entries[1].contents.as_ref().unwrap(), &picture);
        for e in &entries[2..] {
            assert_eq!(
                e.contents.as_ref().unwrap_err(),
                &EntryProblem::OutsideRoot,
                "{}",
                e.name
            );
        }
        assert!(super::entries(b"not a zip").is_err());
        assert!(super::entries(&[]).is_err());
    }

    proptest::proptest! {
        /// Any archive cut short or with bytes rewritten lists its entries (each read
        /// or refused with a reason) or is refused as a whole: never a panic.
        #[test]
        fn mutated_archives_list_entries_or_are_refused(
            cut in proptest::option::of(0.0f64..1.0),
            flips in proptest::collection::vec((0.0f64..1.0, proptest::prelude::any::<u8>()), 0..8),
        ) {
            let mut zip = archive(&[("a.png", &[1u8; 300], true), ("b/c.gif", b"GIF89a", false)]);
            for (at, value) in flips {
                let i = ((zip.len() - 1) as f64 * at) as usize;
                zip[i] = value;
            }
            if let Some(cut) = cut {
                zip.truncate((zip.len() as f64 * cut) as usize);
            }
            if let Ok(entries) = entries(&zip) {
                for e in entries {
                    match e.contents {
                        Ok(bytes) => proptest::prop_assert!(bytes.len() <= MAX_ENTRY_BYTES),
                        Err(EntryProblem::TooLarge { bytes }) => proptest::prop_assert!(bytes > MAX_ENTRY_BYTES),
                        Err(_) => {}
                    }
                }
            }
        }
    }

    #[test]
    fn an_entry_larger_than_its_directory_says_is_refused() {
        let mut zip = archive(&[("bomb.png", &vec![0u8; 100_000], true)]);
        // The directory's uncompressed size (at 24 in the entry) says 10 bytes.
        let directory = zip.len() - 22 - (46 + 8);
        zip[directory + 24..directory + 28].copy_from_slice(&10u32.to_le_bytes());
        let entries = entries(&zip).unwrap();
        assert_eq!(entries[0].contents.as_ref().unwrap_err(), &EntryProblem::Damaged);
    }
}
