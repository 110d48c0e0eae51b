// Steps per second of the CPU backend compiled to WebAssembly (simd128), in Node,
// at several batch sizes: the per-row slope is the matrix products, the intercept
// the per-step work that does not scale with the batch (Adam over 2M parameters).
//
//   cargo xtask build && node benches/wasm_cpu.mjs
//
// Compare with the native CPU backend: `ganvas train --backend cpu --steps 300`.

import { readFileSync } from 'node:fs';
import { initSync, WebCpuTrainer, WebDataset, default_config } from '../www/pkg/ganvas.js';

const root = new URL('..', import.meta.url);
initSync({ module: readFileSync(new URL('www/pkg/ganvas_bg.wasm', root)) });
const data = new WebDataset(
  readFileSync(new URL('data/mnist/train-images-idx3-ubyte.gz', root)),
  readFileSync(new URL('data/mnist/train-labels-idx1-ubyte.gz', root)),
);

const STEPS = 30;
const REPEATS = 3;
for (const batch of [8, 64, 256]) {
  const trainer = WebCpuTrainer.create(data, JSON.stringify({ ...JSON.parse(default_config()), batch }));
  trainer.train(3); // warm-up: lets V8 tier up the hot functions
  const times = [];
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    trainer.train(STEPS);
    times.push((performance.now() - start) / STEPS);
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(REPEATS / 2)];
  console.log(`batch ${batch}: ${ms.toFixed(1)} ms/step (median of ${REPEATS}), ${(1000 / ms).toFixed(1)} steps/s`);
  trainer.free();
}
