// Steps per second of the CPU backend compiled to WebAssembly, in Node, single-
// threaded, at several batch sizes, for each module of the single-threaded package:
// simd128 alone and with relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd
// for the second; without it that module is skipped). The per-row slope is the
// matrix products, the intercept the per-step work that does not scale with the
// batch (Adam over 2M parameters). The modules run in alternating rounds.
//
//   cargo xtask build && node --experimental-wasm-relaxed-simd benches/wasm_cpu.mjs
//
// Compare with the native CPU backend: `ganvas bench --cpu-only --threads 1`.

import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const images = readFileSync(new URL('data/mnist/train-images-idx3-ubyte.gz', root));
const labels = readFileSync(new URL('data/mnist/train-labels-idx1-ubyte.gz', root));
const STEPS = 30;
const ROUNDS = 3;

// Each module in an instance of the bindings of its own (they keep their module's
// memory in module state): the bindings file imported under a distinct query.
const modules = [];
for (const file of ['ganvas_bg.wasm', 'ganvas_relaxed_bg.wasm']) {
  const bytes = readFileSync(new URL(`www/pkg/${file}`, root));
  if (!WebAssembly.validate(bytes)) {
    console.log(`${file}: this Node cannot run it (relaxed SIMD needs --experimental-wasm-relaxed-simd)`);
    continue;
  }
  const core = await import(new URL(`www/pkg/ganvas.js?${file}`, root).href);
  core.initSync({ module: bytes });
  modules.push({ file, core, data: new core.WebDataset(images, labels) });
}

const times = new Map();
for (let round = 0; round < ROUNDS; round++) {
  for (const batch of [8, 64, 256]) {
    for (const { file, core, data } of modules) {
      const config = JSON.stringify({ ...JSON.parse(core.default_config()), batch });
      const trainer = await core.WebTrainer.create(data.share(), config, undefined, 'cpu', undefined, undefined);
      trainer.train(3); // warm-up: lets V8 tier up the hot functions
      const start = performance.now();
      trainer.train(STEPS);
      const key = `${file} batch ${batch}`;
      times.set(key, [...(times.get(key) ?? []), (performance.now() - start) / STEPS]);
      trainer.free();
    }
  }
}
for (const [key, values] of times) {
  const ms = [...values].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
  console.log(`${key}: ${ms.toFixed(1)} ms/step (median of ${ROUNDS} alternating rounds), ${(1000 / ms).toFixed(1)} steps/s`);
}
