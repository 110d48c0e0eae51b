//! The folders of `src/` are layers (lib.rs lists them): a module imports only from
//! its own folder and from the layers below it, so there are no cycles and the
//! tree shows the design. Test code counts too.

use std::path::Path;

/// Each top-level module of `src/` and its layer: lower imports nothing higher.
/// `plan` and `formats` share a layer and do not import each other.
const LAYERS: [(&str, u32); 9] = [
    ("error", 0),
    ("rng", 0),
    ("kernels", 1),
    ("model", 2),
    ("plan", 3),
    ("formats", 3),
    ("backend", 4),
    ("quality", 5),
    ("web", 6),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|&(_, layer)| layer)
}

/// The top-level modules that `source` names as `crate::{module}`.
fn imports(source: &str) -> Vec<String> {
    let mut found: Vec<String> = source
        .match_indices("crate::")
        .map(|(i, m)| {
            let rest = &source[i + m.len()..];
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .filter(|name: &String| !name.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect();
    found.sort();
    found.dedup();
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_its_folder_and_the_layers_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_str().unwrap();
        let top = top.trim_end_matches(".rs");
        if top == "bin" || top == "lib" {
            continue;
        }
        let own = layer(top).unwrap_or_else(|| panic!("src/{top} is in no layer: add it to LAYERS"));
        for module in imports(&std::fs::read_to_string(&file).unwrap()) {
            let Some(theirs) = layer(&module) else {
                wrong.push(format!("{}: crate::{module} is in no layer", relative.display()));
                continue;
            };
            if module != top && theirs >= own {
                wrong.push(format!(
                    "{} (layer {own}) imports crate::{module} (layer {theirs})",
                    relative.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    let source = "use crate::backend::cpu;\nuse crate::model::{Layer};\nfn f() { crate::rng::x(); }";
    assert_eq!(imports(source), ["backend", "model", "rng"]);
}
