// @ts-check
// The CPU backend in a Web Worker, so the page stays responsive while it computes.
// One worker serves the page's whole life. Its requests and reports are
// www/worker-protocol.js's; when it reports is www/schedule.js's policy, as for the GPU.
// Its first request, `start`, picks the build: the threaded one on a pool of workers
// (www/cpu-thread.js) where the page is cross-origin isolated, else the single-threaded
// one; of either, the module with relaxed SIMD where the browser has it.

import { schedule } from './schedule.js';
import { KeyedError, sentError, statsWindow } from './worker-protocol.js';

/** @typedef {typeof import('./pkg/ganvas.js')} Core either build: their bindings are the same */
/** @typedef {import('./pkg/ganvas.js').WebTrainer} WebTrainer */
/** @typedef {import('./pkg/ganvas.js').WebDataset} WebDataset */
/** @typedef {import('./pkg/ganvas.js').WebClassifier} WebClassifier */
/** @typedef {import('./pkg/ganvas.js').WebThreadPool} WebThreadPool */
/** @typedef {import('./worker-protocol.js').CpuRuntime} CpuRuntime */

/** @typedef {import('./worker-protocol.js').Requests} Requests */
/** @typedef {import('./worker-protocol.js').Request} Request */
/** @typedef {import('./worker-protocol.js').Report} Report */

// Steps are computed in slices this long, between which messages (Pause) get through.
const SLICE_MS = 50;
// The grids at most this often: each costs the worker what a few steps do.
const PREVIEW_EVERY_MS = 250;

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));
/** @type {Core} the build `start` loaded */
let core;
/** @type {WebThreadPool | undefined} the threaded build's threads, for every trainer */
let pool;
/** @type {WebDataset | null} */
let dataset = null;
/** @type {WebClassifier | undefined} */
let classifier;
/** @type {WebTrainer | null} */
let trainer = null;
let generation = 0;
let running = false;
let readouts = schedule(PREVIEW_EVERY_MS);
/** @type {number | undefined} the conditional GAN's grid as one digit */
let digit;
/** @type {number | undefined} the step not to train past (a demo link's `until`) */
let until;

/** @param {Report} report */
function report(report) {
  scope.postMessage(report);
}

/** The module of a package: built with relaxed SIMD, or with simd128 alone. @param {string} pkg @param {boolean} relaxed */
const moduleUrl = (pkg, relaxed) => new URL(`./${pkg}/${relaxed ? 'ganvas_relaxed_bg.wasm' : 'ganvas_bg.wasm'}`, import.meta.url);

/**
 * Loads the threaded build and makes a pool of `threads` threads, whose workers the
 * page starts, each on the same module and memory.
 * @param {number} threads @param {boolean} relaxed @returns {Promise<CpuRuntime>}
 */
async function startThreaded(threads, relaxed) {
  const threaded = /** @type {Core} */ (/** @type {unknown} */ (await import('./pkg-threads/ganvas.js')));
  // Compiled here once: this worker and each thread's instantiate the same module.
  const module = await WebAssembly.compileStreaming(fetch(moduleUrl('pkg-threads', relaxed)));
  const wasm = await threaded.default({ module_or_path: module });
  const made = new threaded.WebThreadPool(threads);
  // The page starts the threads' workers (www/cpu-threads.js). Made here, inside
  // this worker, they stalled it now and then in Firefox ESR 153 (2026-12-07: 1 page load in ~6
  // with both cores busy: no thread started, and not even a timer here ran again).
  scope.postMessage({ type: 'threads', module, memory: wasm.memory, count: made.workers() });
  core = threaded;
  pool = made;
  return { threads: made.threads(), threaded: true, relaxed, cores: navigator.hardwareConcurrency };
}

/**
 * The single-threaded build. @param {boolean} relaxed @param {string} why why not the
 * threaded one @returns {Promise<CpuRuntime>}
 */
async function startSingle(relaxed, why) {
  const single = await import('./pkg/ganvas.js');
  await single.default({ module_or_path: moduleUrl('pkg', relaxed) });
  core = single;
  return { threads: 1, threaded: false, relaxed, cores: navigator.hardwareConcurrency, why };
}

/** @param {WebTrainer} t */
function sendStats(t) {
  t.request_stats();
  const polled = t.poll_stats();
  if (!polled) return;
  const stats = statsWindow(polled);
  if (stats.steps > 0) report({ type: 'stats', stats, step: t.step(), generation });
  if (!stats.finite) running = false;
}

/** @param {WebTrainer} t */
async function sendPreview(t) {
  const step = t.step();
  const made = generation;
  const shown = digit;
  const preview = await t.preview(shown);
  report({ type: 'preview', preview, step, digit: shown, generation: made });
}

/** @param {WebTrainer} t */
async function sendCensus(t) {
  // On the CPU the census is computed within `census()`, before its promise: timed,
  // it spaces the next ones.
  const start = performance.now();
  const census = t.census();
  if (!census) return;
  const step = t.step();
  const made = generation;
  const result = await census;
  readouts.census.costMs = performance.now() - start;
  readouts.census.took(performance.now());
  report({ type: 'census', census: result, step, generation: made });
}

async function loop() {
  if (!running || !trainer) return;
  const t = trainer;
  const start = performance.now();
  while (performance.now() - start < SLICE_MS && (until === undefined || t.step() < until)) t.train(1);
  const now = performance.now();
  if (until !== undefined && t.step() >= until) {
    // There: the page sees the step in the stats and pauses.
    running = false;
    sendStats(t);
    await sendPreview(t);
    await sendCensus(t);
    return;
  }
  const { stats, preview, census } = readouts;
  if (stats.due(now, true)) {
    stats.took(now);
    sendStats(t);
  }
  if (preview.due(now, true)) {
    preview.took(now);
    await sendPreview(t);
  }
  if (census.due(now, true)) await sendCensus(t);
  setTimeout(loop, 0);
}

/** @param {WebTrainer | null} t */
function need(t) {
  if (!t) throw new KeyedError('notReady');
  return t;
}

/**
 * Each request's handler, typed by the protocol's table.
 * @type {{ [T in keyof Requests]: (payload: Requests[T][0]) => Requests[T][1] | Promise<Requests[T][1]> }}
 */
const handlers = {
  // The build and its threads, once, before every other request.
  async start({ threads, relaxed }) {
    if (!scope.crossOriginIsolated) return startSingle(relaxed, 'notIsolated');
    try {
      return await startThreaded(threads, relaxed);
    } catch (e) {
      return startSingle(relaxed, e instanceof Error ? e.message : String(e));
    }
  },
  // MNIST, or the visitor's own pictures. Without a classifier (its file failed to
  // load, or the pictures are not MNIST's kind) there is no census.
  data(bytes) {
    dataset?.free();
    dataset = 'pictures' in bytes
      ? core.WebDataset.from_pixels(bytes.pictures.bytes, bytes.pictures.side, bytes.pictures.channels)
      : new core.WebDataset(bytes.images, bytes.labels);
    classifier = 'classifier' in bytes && bytes.classifier ? new core.WebClassifier(bytes.classifier) : undefined;
  },
  // The current trainer stays until the new one exists: a bad checkpoint loses nothing.
  async create({ config, files, generation: next }) {
    const data = /** @type {WebDataset} */ (dataset);
    const start = files ? core.WebCheckpoint.from_files(files[0], files[1], files[2], config) : undefined;
    const made = await core.WebTrainer.create(data.share(), config, start, 'cpu', classifier?.share(), pool?.share());
    running = false;
    trainer?.free();
    trainer = made;
    generation = next;
    digit = undefined;
    readouts = schedule(PREVIEW_EVERY_MS);
    await sendPreview(made);
    await sendCensus(made);
    return { step: made.step(), config: made.config_json(), stepsPerEpoch: made.steps_per_epoch() };
  },
  async run({ value }) {
    const start = value && !running;
    running = value;
    if (start) loop();
    else if (!value && trainer) {
      sendStats(trainer);
      await sendPreview(trainer);
    }
  },
  async step() {
    const t = need(trainer);
    t.train(1);
    sendStats(t);
    await sendPreview(t);
    await sendCensus(t);
  },
  async half({ half }) {
    const t = need(trainer);
    const view = await t.half_step(half);
    sendStats(t);
    await sendPreview(t);
    return view;
  },
  census() {
    return sendCensus(need(trainer));
  },
  digit({ value }) {
    digit = value;
    return sendPreview(need(trainer));
  },
  until({ value }) {
    until = value;
  },
  interpolate({ from, to, spherical }) {
    return need(trainer).interpolate(from, to, digit, spherical);
  },
  walk({ angle }) {
    return need(trainer).walk(angle, digit);
  },
  latent({ cell }) {
    return need(trainer).latent_of(cell, digit);
  },
  async save() {
    const t = need(trainer);
    if (running) sendStats(t);
    const [generator, discriminator, optimizer] = await t.save();
    return { files: [generator, discriminator, optimizer], step: t.step() };
  },
};

/**
 * @template {keyof Requests} T
 * @param {T} type @param {Requests[T][0]} payload
 */
function handle(type, payload) {
  return handlers[type](payload);
}

// Messages are handled one at a time, in order, so a `create` finishes before the
// `run` or `step` that follows it starts.
let queue = Promise.resolve();
scope.onmessage = (/** @type {MessageEvent<Request>} */ { data: request }) => {
  queue = queue.then(async () => {
    try {
      const result = await handle(request.type, request);
      scope.postMessage({ type: 'reply', id: request.id, result });
    } catch (e) {
      scope.postMessage({ type: 'reply', id: request.id, error: sentError(e) });
    }
  });
};
