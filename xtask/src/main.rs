//! Project tasks, run as `cargo xtask <task>` (an alias in .cargo/config.toml):
//!
//! - `build`: the web app's wasm package in www/pkg: a release build for
//!   wasm32-unknown-unknown, JS bindings from wasm-bindgen-cli-support at the same
//!   version as the wasm-bindgen in Cargo.lock (both pinned), then wasm-opt from
//!   the npm registry's binaryen package when npm can fetch it.
//! - `serve [--port N]`: build, then serve the repository root (the static site)
//!   on http://127.0.0.1:8080.
//! - `test`: every test: `cargo test --release`, then the browser tests in
//!   tests/browser against a served build, in headless Chromium.
//! - `bench`: `ganvas bench` side by side with the PyTorch original
//!   (benches/pytorch_gan.py, torch from PyPI in a virtual environment made under
//!   the target directory), with ganvas/PyTorch ratios; see `bench::run`.

mod bench;

mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build(),
        Some("serve") => port(&args).and_then(|port| build().and_then(|()| serve::serve(&root(), port))),
        Some("test") => test(),
        Some("bench") => bench::bench(),
        _ => Err("usage: cargo xtask build | serve [--port N] | test | bench".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn port(args: &[String]) -> Result<u16> {
    match args.iter().position(|a| a == "--port") {
        None => Ok(8080),
        Some(i) => args
            .get(i + 1)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| "--port takes a number".to_string()),
    }
}

/// The repository root: the static site's root too.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub fn run(command: &mut Command) -> Result<()> {
    let status = command.status().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

fn build() -> Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if !installed.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l == "wasm32-unknown-unknown")
    }) {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    run(cargo().args([
        "build",
        "--release",
        "--lib",
        "--package",
        "ganvas",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    let wasm = target_dir().join("wasm32-unknown-unknown/release/ganvas.wasm");
    let out = root().join("www/pkg");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .map_err(|e| e.to_string())?
        .typescript(false)
        .out_name("ganvas")
        .generate(&out)
        .map_err(|e| format!("wasm-bindgen: {e}"))?;
    let bindgen_wasm = out.join("ganvas_bg.wasm");
    optimize(&bindgen_wasm);
    let size = std::fs::metadata(&bindgen_wasm).map(|m| m.len()).unwrap_or(0);
    eprintln!("built {} ({:.1} MB)", bindgen_wasm.display(), size as f64 / 1e6);
    Ok(())
}

/// wasm-opt -O3 from binaryen (the npm package, pinned); skipped with a note when
/// npm cannot provide it, since the unoptimized module works the same.
fn optimize(wasm: &Path) {
    let optimized = wasm.with_extension("opt.wasm");
    let status = Command::new("npm")
        .args([
            "exec",
            "--yes",
            "--package=binaryen@132.0.0",
            "--",
            "wasm-opt",
            "-O3",
            "--enable-bulk-memory",
        ])
        .args([
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-simd",
        ])
        .arg(wasm)
        .arg("-o")
        .arg(&optimized)
        .status();
    match status {
        Ok(s) if s.success() => {
            if let Err(e) = std::fs::rename(&optimized, wasm) {
                eprintln!("note: keeping the unoptimized wasm ({e})");
            }
        }
        _ => {
            let _ = std::fs::remove_file(&optimized);
            eprintln!("note: wasm-opt (npm package binaryen) is not available; the wasm is left unoptimized");
        }
    }
}

fn test() -> Result<()> {
    run(cargo().args(["test", "--release", "--package", "ganvas"]))?;
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        if std::env::var_os("CI").is_some() {
            return Err("CI must run the browser tests: install chromium (see .ci/install-deps)".into());
        }
        eprintln!("note: skipping the browser tests: /usr/bin/chromium is not installed");
        return Ok(());
    }
    build()?;
    let browser_tests = root().join("tests/browser");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&browser_tests))?;
    // The server thread ends with this process.
    let port = serve::spawn(&root())?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .env("GANVAS_URL", format!("http://127.0.0.1:{port}/"))
        .env("CHROMIUM", chromium)
        .env("GANVAS_CLI", target_dir().join("release/ganvas"))
        .current_dir(&browser_tests))
}
