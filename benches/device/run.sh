#!/usr/bin/env bash
# Run on the device machine (#18), from the repository root, with target/device
# carried (benches/device/prepare.sh makes it): the tests that use a GPU, the
# per-op profile, the lecture's full run (50 epochs at batch 64) timed from start to
# last checkpoint, and alternating rounds of `ganvas bench` and PyTorch (eager, a
# CUDA graph of the whole step, torch.compile) at batch 64, 256 and 1024; then the
# DCGAN (#25, width 64, 32×32 MNIST, batch 64): `ganvas bench --model dcgan` (per-op
# profile in round 1; again with --conv-lower tiled, and with --conv-weight split)
# against pytorch/examples'
# loop, eager and compiled. Writes
# logs and JSON into $OUT, and summary.json (medians and ratios) last.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-target/device/out}
ROUNDS=${ROUNDS:-2}
COMPILE_MODE=${COMPILE_MODE:-reduce-overhead}
mkdir -p "$OUT"
tar -C target/device -xzf target/device/bundle.tar.gz
BIN=target/device/bin
# With CI set, a test that finds no GPU fails instead of skipping.
export CI=true
{ nvidia-smi; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } > "$OUT/machine.txt" 2>&1
for t in kernels conv backends_agree half_steps own_images checkpoint; do
  timeout 240 "$BIN/$t" > "$OUT/test-$t.log" 2>&1
  echo "$t $?" >> "$OUT/tests.txt"
done
start=$EPOCHREALTIME
timeout 120 "$BIN/ganvas" train --epochs 50 --backend gpu --out "$OUT/run50" --log-every 5000 > "$OUT/run50.log" 2>&1
code=$?
python3 -c "import json, sys; print(json.dumps({'epochs': 50, 'exit': $code, 'seconds': $EPOCHREALTIME - $start}))" > "$OUT/run50.json"
for round in $(seq 1 "$ROUNDS"); do
  profile=""
  [ "$round" = 1 ] && profile="--profile"
  timeout 180 "$BIN/ganvas" bench --gpu-only --batches 64,256,1024 --repeats 3 $profile \
    --json "$OUT/ganvas-$round.json" > "$OUT/ganvas-$round.log" 2>&1
  for batch in 64 256 1024; do
    for mode in eager graph compile; do
      timeout 240 python3 benches/pytorch_gan.py --device cuda --steps 1000 --batch "$batch" --mode "$mode" \
        --compile-mode "$COMPILE_MODE" > "$OUT/torch-$mode-$batch-$round.log" 2>&1
    done
  done
done
for round in $(seq 1 "$ROUNDS"); do
  profile=""
  [ "$round" = 1 ] && profile="--profile"
  timeout 120 "$BIN/ganvas" bench --gpu-only --model dcgan --batches 64 --repeats 3 $profile \
    --json "$OUT/dcgan-ganvas-$round.json" > "$OUT/dcgan-ganvas-$round.log" 2>&1
  # The convolutions' forward pass on workgroup-memory tiles (not the default until
  # measured faster on a GPU: summary.json's "dcgan-tiled-64" against "dcgan-64").
  timeout 120 "$BIN/ganvas" bench --gpu-only --model dcgan --conv-lower tiled --batches 64 --repeats 3 $profile \
    --json "$OUT/dcgan-tiled-ganvas-$round.json" > "$OUT/dcgan-tiled-ganvas-$round.log" 2>&1
  # The weight gradients split over workgroups ("dcgan-split-64"), likewise.
  timeout 120 "$BIN/ganvas" bench --gpu-only --model dcgan --conv-weight split --batches 64 --repeats 3 $profile \
    --json "$OUT/dcgan-split-ganvas-$round.json" > "$OUT/dcgan-split-ganvas-$round.log" 2>&1
  for mode in eager compile; do
    flag=""
    [ "$mode" = compile ] && flag="--compile"
    timeout 180 python3 benches/pytorch_dcgan.py --device cuda --steps 500 $flag \
      > "$OUT/dcgan-torch-$mode-$round.log" 2>&1
  done
done
python3 benches/device/summarize.py "$OUT" > "$OUT/summary.json"
cat "$OUT/tests.txt" "$OUT/run50.json" "$OUT/summary.json"
