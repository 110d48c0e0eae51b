"""Medians and ratios of a device run (benches/device/run.sh): for each batch size
of the MLP GAN, and for the DCGAN ("dcgan-64"; "dcgan-tiled-64" with the tiled
convolution forward pass and "dcgan-split-64" with the weight gradient split over
workgroups, ganvas alone), ganvas's GPU steps/s over its rounds
and each PyTorch mode's, the fastest PyTorch mode, and ganvas's ratio to it.

    python3 benches/device/summarize.py OUT > OUT/summary.json
"""
import json
import pathlib
import statistics
import sys


def main():
    out = pathlib.Path(sys.argv[1])
    rates = {}
    for prefix, key in [
        ("", lambda batch: batch),
        ("dcgan-", lambda batch: f"dcgan-{batch}"),
        ("dcgan-tiled-", lambda batch: f"dcgan-tiled-{batch}"),
        ("dcgan-split-", lambda batch: f"dcgan-split-{batch}"),
    ]:
        for path in sorted(out.glob(f"{prefix}ganvas-*.json")):
            for row in json.loads(path.read_text())["training"]:
                rates.setdefault(key(row["batch"]), {}).setdefault("ganvas", []).append(row["steps_per_second"])
        for path in sorted(out.glob(f"{prefix}torch-*.log")):
            for line in path.read_text().splitlines():
                if line.startswith("json "):
                    run = json.loads(line[5:])
                    name = f"torch-{run['mode']}"
                    rates.setdefault(key(run["batch"]), {}).setdefault(name, []).append(run["steps_per_second"])
    summary = {}
    for batch, runs in sorted(rates.items(), key=lambda kv: str(kv[0])):
        medians = {name: statistics.median(values) for name, values in runs.items()}
        torch_modes = {name: m for name, m in medians.items() if name.startswith("torch-")}
        best = max(torch_modes, key=torch_modes.get) if torch_modes else None
        summary[batch] = {
            "rounds": runs,
            "medians": medians,
            "fastest_torch": best,
            "ganvas_over_fastest_torch": medians.get("ganvas", 0) / torch_modes[best] if best else None,
        }
    json.dump(summary, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
