//! Project tasks, run as `cargo xtask <task>` (an alias in .cargo/config.toml):
//!
//! - `build`: the web app's wasm packages, www/pkg and the threaded www/pkg-threads
//!   (see `PACKAGES`): release builds for wasm32-unknown-unknown, JS bindings (and
//!   their .d.ts, for tsc) from wasm-bindgen-cli-support at the same version as the
//!   wasm-bindgen in Cargo.lock (both pinned), then wasm-opt from the npm registry's
//!   binaryen package when npm can fetch it. It installs the wasm32 target and the
//!   rust-src component (for the threaded build's std) when they are missing.
//! - `serve [--port N]`: build, then serve the repository root (the static site),
//!   cross-origin isolated (see serve.rs),
//!   on http://127.0.0.1:8080.
//! - `dist DIR`: build, then write exactly the site's files into DIR, for any
//!   static host (see `dist`).
//! - `test`: every test: `cargo test --release`, then `tsc` over the page's
//!   JavaScript, then the browser tests in tests/browser against the `dist` output,
//!   served, in headless Chromium; the last line says which GPU or browser tests
//!   were skipped.
//! - `bench`: `ganvas bench` side by side with the PyTorch original
//!   (benches/pytorch_gan.py, torch from PyPI in a virtual environment made under
//!   the target directory), with ganvas/PyTorch ratios; see `bench::run`.

mod bench;
mod dist;
mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build(),
        Some("serve") => port(&args).and_then(|port| build().and_then(|()| serve::serve(&root(), port))),
        Some("dist") => match args.get(1) {
            Some(dir) => build().and_then(|()| {
                let files = dist::dist(Path::new(dir))?;
                eprintln!("wrote {} files of the site to {dir}", files.len());
                Ok(())
            }),
            None => Err("usage: cargo xtask dist DIR".to_string()),
        },
        Some("test") => test(),
        Some("bench") => bench::bench(),
        _ => Err("usage: cargo xtask build | serve [--port N] | dist DIR | test | bench".to_string()),
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

/// The two wasm packages the page chooses between (www/cpu-worker.js): the
/// single-threaded one, which runs everywhere, and the threaded one, whose memory
/// Web Workers share (atomics, bulk memory), for pages that are cross-origin isolated.
/// Each holds two modules behind one set of bindings: `ganvas_bg.wasm` (simd128) and
/// `ganvas_relaxed_bg.wasm` (with relaxed SIMD, whose fused multiply-add the wasm
/// GEMM, `kernels/matmul/packed_gemm.rs`, uses), for browsers that have it.
struct WasmPackage {
    out: &'static str,
    threaded: bool,
}

const PACKAGES: [WasmPackage; 2] = [
    WasmPackage {
        out: "www/pkg",
        threaded: false,
    },
    WasmPackage {
        out: "www/pkg-threads",
        threaded: true,
    },
];

const SIMD: &str = "+simd128";
const RELAXED_SIMD: &str = "+simd128,+relaxed-simd";

// The threaded build's code generation. Since Rust 1.93 (rust-lang/rust#147225)
// atomics no longer imply shared memory: the linker is asked for it, imported (so
// that every worker's instance gets the same one), with the thread-local storage
// exports wasm-bindgen's thread support uses. Shared memory must declare its
// maximum: 4 GiB, what the single-threaded build can grow to.
const THREADED_FEATURES: &str = "+atomics,+bulk-memory,+mutable-globals";
const THREADED_LINK_ARGS: &str = "link-args=--shared-memory --import-memory --max-memory=4294967296 \
     --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base";

fn build() -> Result<()> {
    rustup_install("target", "wasm32-unknown-unknown")?;
    // The threaded build rebuilds std with atomics (`-Z build-std`), from the sources of
    // the same stable compiler: one compiler for both builds, none to download.
    rustup_install("component", "rust-src")?;
    for package in &PACKAGES {
        build_package(package)?;
    }
    Ok(())
}

/// `rustup target|component add NAME` unless it is installed already.
fn rustup_install(what: &str, name: &str) -> Result<()> {
    let installed = Command::new("rustup").args([what, "list", "--installed"]).output();
    if installed.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with(name))) {
        return Ok(());
    }
    run(Command::new("rustup").args([what, "add", name]))
}

fn build_package(package: &WasmPackage) -> Result<()> {
    let out = root().join(package.out);
    build_module(package, SIMD, &out)?;
    // The relaxed module's bindings are generated beside, must be the same (the code
    // is), and only its module is kept.
    let relaxed = target_dir().join(format!("bindgen-relaxed-{}", package.threaded));
    build_module(package, RELAXED_SIMD, &relaxed)?;
    let read = |path: PathBuf| std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()));
    if read(out.join("ganvas.js"))? != read(relaxed.join("ganvas.js"))? {
        return Err(format!("{}: the relaxed SIMD module's bindings differ", package.out));
    }
    std::fs::rename(relaxed.join("ganvas_bg.wasm"), out.join("ganvas_relaxed_bg.wasm"))
        .map_err(|e| format!("keeping the relaxed SIMD module: {e}"))?;
    for module in ["ganvas_bg.wasm", "ganvas_relaxed_bg.wasm"] {
        let wasm = out.join(module);
        optimize(&wasm, package.threaded, module == "ganvas_relaxed_bg.wasm");
        let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
        eprintln!("built {} ({:.1} MB)", wasm.display(), size as f64 / 1e6);
    }
    Ok(())
}

/// One module of `package` with the SIMD `features`, and its bindings, into `out`.
fn build_module(package: &WasmPackage, features: &str, out: &Path) -> Result<()> {
    let mut cargo = cargo();
    cargo.args([
        "build",
        "--release",
        "--lib",
        "--package",
        "ganvas",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    // A target directory of its own for each kind of module, so that their flags do
    // not rebuild each other.
    let relaxed = if features == RELAXED_SIMD { "-relaxed" } else { "" };
    let threaded = if package.threaded { "-threads" } else { "" };
    let target = target_dir().join(format!("wasm{threaded}{relaxed}"));
    let mut flags = vec!["-C".to_string()];
    if package.threaded {
        flags.push(format!("target-feature={THREADED_FEATURES},{features}"));
        flags.extend(["-C".to_string(), THREADED_LINK_ARGS.to_string()]);
        cargo
            .args(["-Z", "build-std=panic_abort,std"])
            // build-std is unstable: allowed on this stable compiler for this build only.
            .env("RUSTC_BOOTSTRAP", "1");
    } else {
        flags.push(format!("target-feature={features}"));
    }
    cargo
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
        .env("CARGO_TARGET_DIR", &target);
    run(&mut cargo)?;
    let wasm = target.join("wasm32-unknown-unknown/release/ganvas.wasm");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .map_err(|e| e.to_string())?
        .typescript(true)
        .out_name("ganvas")
        .generate(out)
        .map_err(|e| format!("wasm-bindgen: {e}"))
}

/// wasm-opt -O3 from binaryen (the npm package, pinned); skipped with a note when
/// npm cannot provide it, since the unoptimized module works the same.
fn optimize(wasm: &Path, threaded: bool, relaxed: bool) {
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
        .args(threaded.then_some("--enable-threads"))
        .args(relaxed.then_some("--enable-relaxed-simd"))
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
    let ci = std::env::var_os("CI").is_some();
    // GPU tests that find no Vulkan adapter note themselves here (tests/common).
    let skipped_log = target_dir().join("gpu-tests-skipped.txt");
    let _ = std::fs::remove_file(&skipped_log);
    run(cargo()
        .args(["test", "--release", "--package", "ganvas"])
        .env("GANVAS_SKIPPED", &skipped_log))?;
    let gpu_skips = std::fs::read_to_string(&skipped_log).unwrap_or_default();

    // The page's JavaScript against the DOM's types and the wasm bindings' declarations.
    build()?;
    let browser_tests = root().join("tests/browser");
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&browser_tests))?;
    let tsc = browser_tests.join("node_modules/typescript/bin/tsc");
    for config in [
        "www/tsconfig.json",
        "www/tsconfig.worker.json",
        "www/tsconfig.service-worker.json",
    ] {
        run(Command::new("node").arg(&tsc).args(["-p", config]).current_dir(root()))?;
    }
    eprintln!("tsc: the page's JavaScript type-checks");

    // The whole suite runs once per browser: Chromium by Playwright, Firefox by
    // Puppeteer behind the same API (tests/browser/firefox-driver.mjs).
    let browsers = [("chromium", "/usr/bin/chromium"), ("firefox", "/usr/bin/firefox-esr")];
    let mut browser_skips = Vec::new();
    let mut present = Vec::new();
    for (name, path) in browsers {
        if Path::new(path).exists() {
            present.push((name, path));
        } else if ci {
            return Err(format!(
                "CI must run the browser tests in {name}: install {path} (see .ci/install-deps)"
            ));
        } else {
            browser_skips.push(format!("{path} is not installed"));
        }
    }
    if !present.is_empty() {
        // The site as `dist` publishes it: a file it left out fails a test here.
        let site = target_dir().join("site");
        let _ = std::fs::remove_dir_all(&site);
        dist::dist(&site)?;
        // The server thread ends with this process.
        let port = serve::spawn(&site, serve::Isolation::Headers)?;
        // The same site as a static host without headers serves it.
        let plain_port = serve::spawn(&site, serve::Isolation::None)?;
        for (name, path) in present {
            eprintln!("xtask: the browser tests in {name}");
            let variable = if name == "chromium" { "CHROMIUM" } else { "FIREFOX" };
            run(Command::new("node")
                .args(["--test", "--test-concurrency=1"])
                .env("GANVAS_BROWSER", name)
                .env(variable, path)
                .env("GANVAS_URL", format!("http://127.0.0.1:{port}/"))
                .env("GANVAS_PLAIN_URL", format!("http://127.0.0.1:{plain_port}/"))
                .env("GANVAS_CLI", target_dir().join("release/ganvas"))
                .current_dir(&browser_tests))?;
        }
    }
    print_skips(&gpu_skips, &browser_skips);
    Ok(())
}

/// The last line of `cargo xtask test`: what did not run, why, and how to get it.
fn print_skips(gpu_skips: &str, browser_skips: &[String]) {
    let gpu: Vec<&str> = gpu_skips.lines().collect();
    if gpu.is_empty() && browser_skips.is_empty() {
        eprintln!("xtask: every GPU and browser test ran");
        return;
    }
    let mut parts = Vec::new();
    if let Some(first) = gpu.first() {
        let why = first.split('\t').nth(1).unwrap_or("no GPU adapter");
        parts.push(format!("{} GPU tests skipped ({why})", gpu.len()));
    }
    for why in browser_skips {
        parts.push(format!("the browser tests skipped in one browser ({why})"));
    }
    eprintln!(
        "xtask: {}; `bash .ci/install-deps` installs lavapipe, Chromium and Firefox ESR",
        parts.join(", ")
    );
}
