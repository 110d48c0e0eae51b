// @ts-check
// The threaded build's pool (src/web/threads.rs): one worker (www/cpu-thread.js) for
// each of its threads, started from the page when the CPU worker asks, and kept
// referenced for the page's life (a worker sharing memory that nothing references
// may be collected while it runs). A thread that fails to start says so on the
// console; the pool's other threads do its share.

/** @type {Worker[]} */
const workers = [];

/** @param {import('./worker-protocol.js').ThreadsMessage} request */
export function startThreads({ module, memory, count }) {
  for (let i = 0; i < count; i++) {
    const worker = new Worker(new URL('./cpu-thread.js', import.meta.url), { type: 'module' });
    worker.onerror = (e) => console.error(`a CPU thread's worker failed: ${e.message}`);
    worker.postMessage({ module, memory });
    workers.push(worker);
  }
}
