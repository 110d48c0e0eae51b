#!/usr/bin/env bash
# The DCGAN on the CPU, ganvas against PyTorch (pytorch/examples' loop, eager and
# torch.compile), batch 64, width 64, 32×32 MNIST: alternating rounds at 1 and 2
# threads, each a steady rate (PyTorch: 65 steps, the first 5 untimed; ganvas: 60
# steps). Prints one line a run; README's table takes the medians.
#
#   PYTHON=/path/to/venv/bin/python GANVAS=target/release/ganvas ROUNDS=3 bash benches/dcgan_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
GANVAS=${GANVAS:-target/release/ganvas}
ROUNDS=${ROUNDS:-3}
out=$(mktemp -d)
for round in $(seq 1 "$ROUNDS"); do
  for threads in 2 1; do
    for mode in eager compiled; do
      flag=""
      [ "$mode" = compiled ] && flag="--compile"
      rate=$("$PYTHON" benches/pytorch_dcgan.py --steps 65 --threads "$threads" $flag | grep -o '^[0-9.]*')
      echo "round $round threads $threads pytorch-$mode $rate"
    done
    rate=$("$GANVAS" train --model dcgan --backend cpu --threads "$threads" --steps 60 --log-every 60 \
      --out "$out" 2>&1 | grep -o '([0-9.]* steps/s)' | tail -1 | grep -o '[0-9.]*')
    echo "round $round threads $threads ganvas $rate"
  done
done
rm -rf "$out"
