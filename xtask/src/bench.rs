//! `cargo xtask bench`: ganvas and the PyTorch original on this machine, in one run.
//! Training steps per second at batch 64 and 256 (medians of three runs): ganvas's
//! GPU and CPU backends (`ganvas bench`; the CPU one on one thread and on every core),
//! PyTorch on the CPU with one thread and with every core, and on CUDA where torch
//! finds a GPU. Each PyTorch row is set against ganvas on the same budget.
//! Writes target/bench/report.json beside the ganvas report.

use std::path::Path;
use std::process::Command;

use crate::{cargo, root, run as run_command, target_dir, Result};

const BATCHES: [usize; 2] = [64, 256];
const TORCH_RUNS: usize = 3;

pub fn bench() -> Result<()> {
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    run_command(cargo().args(["build", "--release", "--package", "ganvas", "--bin", "ganvas"]))?;
    let ganvas_json = out.join("ganvas.json");
    run_command(
        Command::new(target_dir().join("release/ganvas"))
            .args(["bench", "--repeats", "5", "--json"])
            .arg(&ganvas_json)
            .current_dir(root()),
    )?;
    let ganvas: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ganvas_json).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    // The row of that backend and batch with the fewest (`most` false) or most threads.
    let ganvas_rate = |backend: &str, batch: usize, most: bool| {
        let rows = ganvas["training"].as_array()?;
        let rows = rows.iter().filter(|r| r["backend"] == backend && r["batch"] == batch);
        let threads = |r: &&serde_json::Value| r["threads"].as_u64().unwrap_or(0);
        let row = if most {
            rows.max_by_key(threads)
        } else {
            rows.min_by_key(threads)
        };
        row?["steps_per_second"].as_f64()
    };

    let python = torch_python(&out.join("venv"))?;
    let cuda = Command::new(&python)
        .args(["-c", "import torch; print(torch.cuda.is_available())"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "True");
    let mut rows = Vec::new();
    for batch in BATCHES {
        let mut peers = vec![
            ("cpu, 1 thread", vec!["--device", "cpu", "--threads", "1"]),
            ("cpu, all threads", vec!["--device", "cpu"]),
        ];
        if cuda {
            peers.push(("cuda", vec!["--device", "cuda"]));
        }
        for (name, args) in peers {
            let steps = if batch == 64 { "400" } else { "150" };
            let mut rates = Vec::new();
            for _ in 0..TORCH_RUNS {
                let output = Command::new(&python)
                    .arg(root().join("benches/pytorch_gan.py"))
                    .args(["--steps", steps, "--batch", &batch.to_string()])
                    .args(&args)
                    .output()
                    .map_err(|e| format!("cannot run PyTorch: {e}"))?;
                let text = String::from_utf8_lossy(&output.stdout);
                let rate = text
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("steps_per_second ")
                            .and_then(|r| r.trim().parse::<f64>().ok())
                    })
                    .ok_or_else(|| {
                        format!(
                            "PyTorch ({name}) printed no rate: {}",
                            String::from_utf8_lossy(&output.stderr)
                        )
                    })?;
                rates.push(rate);
            }
            rates.sort_by(f64::total_cmp);
            let median = rates[rates.len() / 2];
            // The same cores on both sides; ganvas's GPU backend faces CUDA.
            let (ours, label) = match name {
                "cuda" => (ganvas_rate("gpu", batch, true), "GPU"),
                "cpu, 1 thread" => (ganvas_rate("cpu", batch, false), "CPU 1 thread"),
                _ => (ganvas_rate("cpu", batch, true), "CPU all threads"),
            };
            let ratio = ours.map(|r| r / median);
            rows.push(serde_json::json!({
                "peer": format!("pytorch {name}"),
                "batch": batch,
                "steps_per_second": median,
                "min": rates[0],
                "max": rates[rates.len() - 1],
                "ganvas_over_peer": ratio,
            }));
            let ratio = ratio.map_or("-".to_string(), |r| format!("{r:.2}"));
            println!(
                "pytorch {name:<17} batch {batch:>4}: {median:.2} steps/s ({:.2}-{:.2}); ganvas {label} / pytorch: {ratio}",
                rates[0],
                rates[rates.len() - 1]
            );
        }
    }
    let report = serde_json::json!({ "ganvas": ganvas, "pytorch": rows });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.json"), text).map_err(|e| e.to_string())?;
    println!("wrote {}", out.join("report.json").display());
    Ok(())
}

/// A Python with torch, numpy and safetensors: a virtual environment made once.
fn torch_python(venv: &Path) -> Result<std::path::PathBuf> {
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
