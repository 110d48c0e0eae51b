#!/usr/bin/env bash
# Run here, before a device session (#18): the H200 machine has no Rust toolchain,
# so this builds the release CLI and the test binaries that use a GPU, strips them
# and packs them into target/device/bundle.tar.gz. Then, with the `device` tool:
#   run(command="bash benches/device/run.sh", carry=["target/device"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/../.."
TESTS="kernels conv backends_agree half_steps own_images checkpoint"
cargo build --release --bin ganvas
out=target/device
rm -rf "$out"
mkdir -p "$out/bin"
cp target/release/ganvas "$out/bin/"
for t in $TESTS; do
  exe=$(cargo test --release --no-run --test "$t" --message-format=json 2>/dev/null \
    | T="$t" python3 -c 'import json, os, sys
for m in map(json.loads, sys.stdin):
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == os.environ["T"]:
        print(m["executable"])')
  cp "$exe" "$out/bin/$t"
done
strip "$out"/bin/*
tar -C "$out" -czf "$out/bundle.tar.gz" bin
rm -rf "$out/bin"
du -h "$out/bundle.tar.gz"
