//! `cargo xtask dist DIR`: the static site, and nothing else, in DIR: the page, its
//! scripts and style, its service worker (for isolation on hosts that cannot send
//! headers), the two wasm packages with their two modules each (without their
//! TypeScript declarations), the
//! MNIST training files and the census's classifier. Any static host serves DIR as
//! the app; the browser tests run against this output, so it holds what they need.

use std::path::{Path, PathBuf};

use crate::{root, Result};

/// The site's files, relative to the repository root; the `.js` and `.css` files of
/// `SCRIPT_DIRS` are added by extension.
const FILES: [&str; 10] = [
    "index.html",
    "cross-origin-isolation.js",
    "www/pkg/ganvas.js",
    "www/pkg/ganvas_bg.wasm",
    "www/pkg/ganvas_relaxed_bg.wasm",
    "www/pkg-threads/ganvas.js",
    "www/pkg-threads/ganvas_bg.wasm",
    "www/pkg-threads/ganvas_relaxed_bg.wasm",
    "data/mnist/train-images-idx3-ubyte.gz",
    "data/mnist/train-labels-idx1-ubyte.gz",
];
const CLASSIFIER: &str = "data/classifier.safetensors";
/// The page's scripts and style, and its string tables.
const SCRIPT_DIRS: [&str; 2] = ["www", "www/strings"];

/// Writes the site into `out` (made if missing; files already there are replaced,
/// others left alone) and returns the files written, relative to `out`.
pub fn dist(out: &Path) -> Result<Vec<PathBuf>> {
    let root = root();
    let mut files: Vec<PathBuf> = FILES.iter().chain([&CLASSIFIER]).map(PathBuf::from).collect();
    for dir in SCRIPT_DIRS {
        let listed = std::fs::read_dir(root.join(dir)).map_err(|e| format!("cannot list {dir}: {e}"))?;
        for entry in listed.flatten() {
            let name = PathBuf::from(dir).join(entry.file_name());
            if matches!(name.extension().and_then(|e| e.to_str()), Some("js" | "css")) {
                files.push(name);
            }
        }
    }
    files.sort();
    for file in &files {
        let (from, to) = (root.join(file), out.join(file));
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        }
        std::fs::copy(&from, &to).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
    }
    Ok(files)
}
