// @ts-check
// One thread of the CPU backend's pool, in the threaded build (src/web/threads.rs):
// the page starts one of these for each thread (www/cpu-threads.js) and sends it the
// CPU worker's compiled module and shared memory. It instantiates the module on that
// memory and runs one of the pool's parked threads until the pool ends.

import init, { run_pool_thread } from './pkg-threads/ganvas.js';

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));

scope.onmessage = async (/** @type {MessageEvent<{ module: WebAssembly.Module, memory: WebAssembly.Memory }>} */ { data }) => {
  await init({ module_or_path: data.module, memory: data.memory });
  run_pool_thread();
  scope.close();
};
