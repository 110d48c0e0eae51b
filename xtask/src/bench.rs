//! `cargo xtask bench`: ganvas and the PyTorch original on this machine, in one run.
//! First `ganvas bench` (both backends at batch 64 and 256, the CPU one on one thread
//! and on every core, and the matmul table). Then, for each PyTorch configuration (CPU
//! with one thread, CPU with every core, CUDA where torch finds a GPU), three rounds
//! that each time ganvas on the same budget and then PyTorch, back to back: on a busy
//! machine whose speed drifts, each round's ratio compares like with like, and the
//! median of the rounds' ratios is reported. Writes target/bench/report.json.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, root, run as run_command, target_dir, Result};

const BATCHES: [usize; 2] = [64, 256];
const ROUNDS: usize = 3;

pub fn bench() -> Result<()> {
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    run_command(cargo().args(["build", "--release", "--package", "ganvas", "--bin", "ganvas"]))?;
    let ganvas_json = out.join("ganvas.json");
    run_command(ganvas().args(["bench", "--repeats", "5", "--json"]).arg(&ganvas_json))?;
    let ganvas_report = read_json(&ganvas_json)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let python = torch_python(&out.join("venv"))?;
    let cuda = Command::new(&python)
        .args(["-c", "import torch; print(torch.cuda.is_available())"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "True");
    let mut rows = Vec::new();
    for batch in BATCHES {
        // (peer, its arguments, ganvas's CPU threads on the same budget; none: the GPU)
        let mut peers = vec![
            ("cpu, 1 thread", vec!["--device", "cpu", "--threads", "1"], Some(1)),
            ("cpu, all threads", vec!["--device", "cpu"], Some(cores)),
        ];
        if cuda {
            peers.push(("cuda", vec!["--device", "cuda"], None));
        }
        for (name, args, threads) in peers {
            let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let ganvas_rate = match threads {
                    Some(threads) => ganvas_cpu_rate(&out, batch, threads)?,
                    None => gpu_rate(&ganvas_report, batch).ok_or("ganvas bench gave no GPU row")?,
                };
                let torch_rate = torch_rate(&python, name, batch, &args)?;
                ours.push(ganvas_rate);
                theirs.push(torch_rate);
                ratios.push(ganvas_rate / torch_rate);
            }
            let (ours, theirs, ratios) = (median(ours), median(theirs), median(ratios));
            let label = threads.map_or("GPU".to_string(), |t| format!("CPU, {t} thread(s)"));
            let spread =
                |(median, min, max): (f64, f64, f64)| serde_json::json!({ "median": median, "min": min, "max": max });
            rows.push(serde_json::json!({
                "peer": format!("pytorch {name}"),
                "batch": batch,
                "steps_per_second": spread(theirs),
                "ganvas": label,
                "ganvas_steps_per_second": spread(ours),
                "ganvas_over_peer": spread(ratios),
            }));
            println!(
                "batch {batch:>4}: pytorch {name:<17} {:.2} steps/s, ganvas {label} {:.2}; ratio {:.2} (medians of {ROUNDS} back-to-back rounds)",
                theirs.0, ours.0, ratios.0
            );
        }
    }
    let report = serde_json::json!({ "ganvas": ganvas_report, "pytorch": rows });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.json"), text).map_err(|e| e.to_string())?;
    println!("wrote {}", out.join("report.json").display());
    Ok(())
}

fn ganvas() -> Command {
    let mut command = Command::new(target_dir().join("release/ganvas"));
    command.current_dir(root());
    command
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The CPU backend's steps/s with `threads` threads: one timed run of about 3 s.
fn ganvas_cpu_rate(out: &Path, batch: usize, threads: usize) -> Result<f64> {
    let json = out.join("ganvas-round.json");
    let output = ganvas()
        .args(["bench", "--cpu-only", "--repeats", "1", "--seconds", "3", "--json"])
        .arg(&json)
        .args(["--batches", &batch.to_string(), "--threads", &threads.to_string()])
        .output()
        .map_err(|e| format!("cannot run ganvas bench: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "ganvas bench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    read_json(&json)?["training"][0]["steps_per_second"]
        .as_f64()
        .ok_or_else(|| "ganvas bench gave no CPU row".to_string())
}

fn gpu_rate(report: &serde_json::Value, batch: usize) -> Option<f64> {
    report["training"]
        .as_array()?
        .iter()
        .find(|r| r["backend"] == "gpu" && r["batch"] == batch)?["steps_per_second"]
        .as_f64()
}

fn torch_rate(python: &Path, name: &str, batch: usize, args: &[&str]) -> Result<f64> {
    let steps = if batch == 64 { "400" } else { "150" };
    let output = Command::new(python)
        .arg(root().join("benches/pytorch_gan.py"))
        .args(["--steps", steps, "--batch", &batch.to_string()])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run PyTorch: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("steps_per_second ")
                .and_then(|r| r.trim().parse::<f64>().ok())
        })
        .ok_or_else(|| {
            format!(
                "PyTorch ({name}) printed no rate: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// The median with the range: (median, min, max).
fn median(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[0], values[values.len() - 1])
}

/// A Python with torch, numpy and safetensors: a virtual environment made once.
fn torch_python(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    if !python.exists() {
        run_command(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    }
    let ready = Command::new(&python)
        .args(["-c", "import torch, numpy, safetensors"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        run_command(Command::new(&python).args(["-m", "pip", "install", "--quiet", "torch", "numpy", "safetensors"]))?;
    }
    Ok(python)
}
