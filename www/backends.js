// @ts-check
// The two ways the page trains, behind one interface (`Backend`, below):
//   GpuBackend: the core on WebGPU, driven from animation frames in this thread;
//   CpuBackend: the core's CPU backend in a Web Worker (www/cpu-worker.js), one
//   worker for the page's whole life, so a reset or a load keeps it and its data.
// Both report stats windows through onStats(stats, step), preview grids through
// onPreview(preview, step, digit) and digit censuses through onCensus(report, step),
// callbacks given to create().

import { WebCheckpoint, WebClassifier, WebDataset, WebTrainer } from './pkg/ganvas.js';
import { schedule } from './schedule.js';
import { startThreads } from './cpu-threads.js';
import { receivedError, statsWindow } from './worker-protocol.js';

/** @typedef {import('./settings.js').BackendKind} BackendKind */
/** @typedef {import('./worker-protocol.js').StatsWindow} StatsWindow */
/** @typedef {(stats: StatsWindow, step: number) => void} OnStats */
/** @typedef {import('./worker-protocol.js').PreviewView} PreviewView the core's preview (G's grid, D's view) */
/** @typedef {import('./worker-protocol.js').HalfStepView} HalfStepView the core's view of a half step */
/** @typedef {import('./worker-protocol.js').Half} Half */
/** @typedef {(preview: PreviewView, step: number, digit: number | undefined) => void} OnPreview the grids, and the one digit G's shows (conditional GAN) */
/** @typedef {import('./worker-protocol.js').CensusReport} CensusReport the core's `web::CensusReport` */
/** @typedef {(report: CensusReport, step: number) => void} OnCensus */
/** @typedef {import('./worker-protocol.js').CheckpointFiles} CheckpointFiles */
/** @typedef {import('./worker-protocol.js').SavedFiles} SavedFiles */
/** @typedef {import('./worker-protocol.js').DataBytes} DataBytes */
/** @typedef {import('./worker-protocol.js').CpuRuntime} CpuRuntime */
/**
 * What `create` needs: the data and the census's classifier (parsed for the GPU, as
 * bytes for the worker; no classifier, no census), the config JSON, optional
 * checkpoint files to start from, and the callbacks.
 * @typedef {{ dataset: WebDataset, classifier?: WebClassifier, bytes: DataBytes,
 *   config: string, files?: CheckpointFiles, onStats: OnStats, onPreview: OnPreview, onCensus: OnCensus }} CreateOptions
 */
/**
 * @typedef {object} Backend
 * @property {BackendKind} kind
 * @property {CpuRuntime | undefined} runtime the CPU worker's build and threads; none on the GPU
 * @property {number} confirmedStep steps known to be done
 * @property {number} stepsPerEpoch
 * @property {string} configJson the hyperparameters in use
 * @property {number} rate smoothed steps per second
 * @property {(running: boolean) => void} setRunning
 * @property {() => void} stepOnce
 * @property {(half: Half) => Promise<HalfStepView>} halfStep updates only D or only G, as half of the current step
 * @property {() => void} measure runs a census now (after the queued steps)
 * @property {(digit: number | undefined) => void} setDigit the conditional GAN's grid: all one digit, or a row per digit
 * @property {(step: number | undefined) => void} setUntil never trains past this step (a demo link's `until`)
 * @property {(from: number, to: number, spherical: boolean) => Promise<ImageData>} interpolate G's in-betweens of two grid cells
 * @property {(angle: number) => Promise<ImageData>} walk the grid with its latents walked by `angle` radians
 * @property {(cell: number) => Promise<Float32Array>} latentOf a grid cell's latent vector
 * @property {(now: number) => void} update called every animation frame
 * @property {() => Promise<SavedFiles>} save
 * @property {() => string | undefined} lost why the device was lost, once it has been
 * @property {() => string | undefined} error the first uncaught GPU error
 * @property {() => void} loseDevice for the tests: as a driver reset would
 * @property {() => void} free
 */

// Work kept queued on the GPU, in seconds of its measured speed: enough to keep it
// busy between frames, little enough that Pause and the grid respond at once.
const QUEUED_SECONDS = 0.25;
// At least this many steps queued, so that on a slow GPU the next step is already
// there while the page learns that the last one finished.
const MIN_QUEUED_STEPS = 2;
// Time the page may spend recording steps in one frame.
const RECORD_BUDGET_MS = 6;
// The grids at most this often (www/schedule.js has the rest of the policy).
const PREVIEW_EVERY_MS = 150;

/** @param {{ rate: number, lastConfirm: number }} backend @param {number} steps @param {number} now */
function smoothRate(backend, steps, now) {
  const seconds = (now - backend.lastConfirm) / 1000;
  if (backend.lastConfirm && seconds > 0) {
    const rate = steps / seconds;
    backend.rate = backend.rate ? 0.7 * backend.rate + 0.3 * rate : rate;
  }
  backend.lastConfirm = now;
}

/** @param {CheckpointFiles | undefined} files @param {string} config */
function checkpoint(files, config) {
  return files ? WebCheckpoint.from_files(files[0], files[1], files[2], config) : undefined;
}

/** @implements {Backend} */
export class GpuBackend {
  /** @param {CreateOptions} options */
  static async create({ dataset, classifier, config, files, onStats, onPreview, onCensus }) {
    const trainer = await WebTrainer.create(dataset.share(), config, checkpoint(files, config), 'gpu', classifier?.share());
    return new GpuBackend(trainer, onStats, onPreview, onCensus);
  }

  /**
   * @param {WebTrainer} trainer @param {OnStats} onStats @param {OnPreview} onPreview
   * @param {OnCensus} onCensus
   */
  constructor(trainer, onStats, onPreview, onCensus) {
    /** @type {BackendKind} */
    this.kind = 'gpu';
    /** @type {CpuRuntime | undefined} */
    this.runtime = undefined;
    this.trainer = trainer;
    this.stepsPerEpoch = trainer.steps_per_epoch();
    this.configJson = trainer.config_json();
    this.previewCost = trainer.preview_cost();
    this.confirmedStep = trainer.step();
    this.rate = 0;
    this.running = false;
    this.stepsPerFrame = 1;
    this.lastConfirm = 0;
    this.schedule = schedule(PREVIEW_EVERY_MS);
    this.previewStep = -1;
    /** @type {number | undefined} */
    this.digit = undefined;
    /** @type {number | undefined} */
    this.until = undefined;
    this.drawing = false;
    this.censusCost = trainer.census_cost();
    this.censusStep = -1;
    this.measuring = false;
    this.onStats = onStats;
    this.onPreview = onPreview;
    this.onCensus = onCensus;
  }

  /** @param {boolean} running */
  setRunning(running) {
    this.running = running;
  }

  stepOnce() {
    this.trainer.train(1);
  }

  /** @param {Half} half @returns {Promise<HalfStepView>} */
  halfStep(half) {
    const view = this.trainer.half_step(half);
    // D's half leaves the step number as it was: redraw D's view anyway.
    this.previewStep = -1;
    this.schedule.preview.now();
    return view;
  }

  /** @param {number} now */
  update(now) {
    const trainer = this.trainer;
    const polled = trainer.poll_stats();
    if (polled) {
      const s = statsWindow(polled);
      if (s.steps > 0) {
        this.confirmedStep += s.steps;
        smoothRate(this, s.steps, now);
        this.onStats(s, this.confirmedStep);
      }
    }
    if (this.running) this.record();
    const { stats, preview, census } = this.schedule;
    preview.costSteps(this.previewCost, this.rate);
    census.costSteps(this.censusCost, this.rate);
    if (trainer.step() > this.confirmedStep && stats.due(now, this.running)) {
      trainer.request_stats();
      stats.took(now);
    }
    if (trainer.step() !== this.previewStep && preview.due(now, this.running)) this.drawPreview(now);
    if (this.censusCost && trainer.step() !== this.censusStep && census.due(now, this.running)) this.runCensus(now);
  }

  measure() {
    this.censusStep = -1;
    this.schedule.census.now();
  }

  /** @param {number | undefined} digit */
  setDigit(digit) {
    this.digit = digit;
    this.previewStep = -1;
    this.schedule.preview.now();
  }

  /** @param {number | undefined} step */
  setUntil(step) {
    this.until = step;
  }

  /** @param {number} from @param {number} to @param {boolean} spherical @returns {Promise<ImageData>} */
  interpolate(from, to, spherical) {
    return this.trainer.interpolate(from, to, this.digit, spherical);
  }

  /** @param {number} angle @returns {Promise<ImageData>} */
  walk(angle) {
    return this.trainer.walk(angle, this.digit);
  }

  /** @param {number} cell */
  async latentOf(cell) {
    return this.trainer.latent_of(cell, this.digit);
  }

  /** @param {number} now */
  runCensus(now) {
    if (this.measuring) return;
    const census = this.trainer.census();
    if (!census) return;
    this.measuring = true;
    this.schedule.census.took(now);
    const step = this.trainer.step();
    this.censusStep = step;
    census
      .then((report) => this.onCensus(report, step))
      .catch(() => {
        // As for previews: only a lost device fails a read, and the page recovers.
      })
      .finally(() => {
        this.measuring = false;
      });
  }

  record() {
    const queued = this.trainer.step() - this.confirmedStep;
    const limit = Math.max(MIN_QUEUED_STEPS, Math.round(this.rate * QUEUED_SECONDS));
    const left = this.until === undefined ? Infinity : this.until - this.trainer.step();
    const n = Math.min(limit - queued, this.stepsPerFrame, left);
    if (n <= 0) return;
    const start = performance.now();
    this.trainer.train(n);
    const spent = performance.now() - start;
    if (spent > RECORD_BUDGET_MS) this.stepsPerFrame = Math.max(1, Math.floor(n / 2));
    else if (n === this.stepsPerFrame) this.stepsPerFrame = Math.min(this.stepsPerFrame * 2, 1024);
  }

  /** @param {number} now */
  drawPreview(now) {
    if (this.drawing) return;
    this.drawing = true;
    this.schedule.preview.took(now);
    const step = this.trainer.step();
    const digit = this.digit;
    this.previewStep = step;
    this.trainer
      .preview(digit)
      .then((preview) => this.onPreview(preview, step, digit))
      .catch(() => {
        // A read fails only when the device is lost; the page then recovers.
      })
      .finally(() => {
        this.drawing = false;
      });
  }

  /** @returns {Promise<SavedFiles>} */
  async save() {
    const [generator, discriminator, optimizer] = await this.trainer.save();
    return [generator, discriminator, optimizer];
  }

  lost() {
    return this.trainer.lost();
  }

  error() {
    return this.trainer.gpu_error();
  }

  loseDevice() {
    this.trainer.lose_device();
  }

  free() {
    this.onStats = () => {};
    this.onPreview = () => {};
    this.onCensus = () => {};
    this.trainer.free();
  }
}

/** @typedef {import('./worker-protocol.js').Requests} Requests */
/** @typedef {import('./worker-protocol.js').Report} Report */
/**
 * @typedef {{ worker: Worker, nextId: number, pending: Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>,
 *   receivers: Map<number, (report: Report) => void>, runtime: Promise<CpuRuntime>, data: Promise<unknown>,
 *   bytes: DataBytes | null }} SharedWorker
 */
/** @type {SharedWorker | null} the page's one CPU worker, made on first use; it parses MNIST once */
let cpuWorker = null;
/** The CPU worker's threads, where the page is cross-origin isolated: all cores unless a link says. */
let cpuThreads = navigator.hardwareConcurrency || 1;

// A module whose one function is an f32x4.relaxed_madd of three zero vectors: it
// validates where the browser has WebAssembly's relaxed SIMD.
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, // the header
  1, 5, 1, 0x60, 0, 1, 0x7b, // a type: () -> v128
  3, 2, 1, 0, // a function of it
  10, 61, 1, 59, 0, ...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x85, 0x02, 0x0b, // its body
]);

/**
 * Whether the CPU worker loads the modules built with relaxed SIMD, whose fused
 * multiply-add makes the matrix products faster (README, the CPU path). Decided
 * here, in the page, so a test can take it away as a browser without it would.
 */
function hasRelaxedSimd() {
  return WebAssembly.validate(RELAXED_SIMD_PROBE);
}

/** The threads the CPU worker starts with (before its first use; a link's `threads`). @param {number} threads */
export function setCpuThreads(threads) {
  cpuThreads = threads;
}

/** The page's CPU worker, holding `bytes` (sent again only when they change). @param {DataBytes} bytes */
function workerWith(bytes) {
  if (!cpuWorker) {
    const worker = new Worker(new URL('./cpu-worker.js', import.meta.url), { type: 'module' });
    /** @type {SharedWorker} */
    const shared = {
      worker, nextId: 0, pending: new Map(), receivers: new Map(), runtime: Promise.resolve(/** @type {CpuRuntime} */ ({ threads: 1, threaded: false, relaxed: false, cores: 1 })),
      data: Promise.resolve(), bytes: null,
    };
    worker.onmessage = ({ data }) => {
      const message = /** @type {import('./worker-protocol.js').Reply | Report | import('./worker-protocol.js').ThreadsMessage} */ (data);
      if (message.type === 'threads') {
        startThreads(message);
      } else if (message.type === 'reply') {
        const request = shared.pending.get(message.id);
        shared.pending.delete(message.id);
        if (message.error !== undefined) request?.reject(receivedError(message.error));
        else request?.resolve(message.result);
      } else {
        shared.receivers.get(message.generation)?.(message);
      }
    };
    cpuWorker = shared;
    shared.runtime = call('start', { threads: cpuThreads, relaxed: hasRelaxedSimd() });
  }
  if (cpuWorker.bytes !== bytes) {
    cpuWorker.bytes = bytes;
    cpuWorker.data = call('data', { ...bytes });
  }
  return cpuWorker;
}

/**
 * A request to the worker, answered by its reply.
 * @template {keyof Requests} T
 * @param {T} type @param {Requests[T][0]} payload
 * @returns {Promise<Requests[T][1]>}
 */
function call(type, payload) {
  const shared = /** @type {SharedWorker} */ (cpuWorker);
  const id = shared.nextId++;
  return new Promise((resolve, reject) => {
    shared.pending.set(id, { resolve, reject });
    shared.worker.postMessage({ ...payload, type, id });
  });
}

// Each CPU trainer the worker makes gets a number, so that stats and previews still
// on their way from a replaced trainer are told apart from the new one's.
let generations = 0;

/** @implements {Backend} */
export class CpuBackend {
  /** @param {CreateOptions} options */
  static async create({ bytes, config, files, onStats, onPreview, onCensus }) {
    const shared = workerWith(bytes);
    const runtime = await shared.runtime;
    await shared.data;
    const generation = ++generations;
    // The new trainer's first preview and census arrive before the reply that creates its backend.
    /** @type {Report[]} */
    const early = [];
    shared.receivers.set(generation, (message) => early.push(message));
    try {
      const made = await call('create', { config, files, generation });
      const backend = new CpuBackend(generation, made, runtime, onStats, onPreview, onCensus);
      // Delivered once the caller has installed the backend (and cleared the old
      // run's charts), in order; unless the backend was freed first.
      setTimeout(() => {
        if (!shared.receivers.has(generation)) return;
        shared.receivers.set(generation, (message) => backend.receive(message));
        early.forEach((message) => backend.receive(message));
      }, 0);
      return backend;
    } catch (e) {
      shared.receivers.delete(generation);
      throw e;
    }
  }

  /**
   * @param {number} generation
   * @param {{ step: number, config: string, stepsPerEpoch: number }} made
   * @param {CpuRuntime} runtime
   * @param {OnStats} onStats @param {OnPreview} onPreview @param {OnCensus} onCensus
   */
  constructor(generation, made, runtime, onStats, onPreview, onCensus) {
    /** @type {BackendKind} */
    this.kind = 'cpu';
    /** @type {CpuRuntime | undefined} */
    this.runtime = runtime;
    this.generation = generation;
    this.confirmedStep = made.step;
    this.configJson = made.config;
    this.stepsPerEpoch = made.stepsPerEpoch;
    this.rate = 0;
    this.lastConfirm = 0;
    this.onStats = onStats;
    this.onPreview = onPreview;
    this.onCensus = onCensus;
  }

  /** @param {Report} report */
  receive(report) {
    if (report.type === 'stats') {
      this.confirmedStep = report.step;
      smoothRate(this, report.stats.steps, performance.now());
      this.onStats(report.stats, report.step);
    } else if (report.type === 'preview') {
      this.onPreview(report.preview, report.step, report.digit);
    } else {
      this.onCensus(report.census, report.step);
    }
  }

  /** @param {boolean} running */
  setRunning(running) {
    call('run', { value: running });
  }

  stepOnce() {
    call('step', {});
  }

  /** @param {Half} half @returns {Promise<HalfStepView>} */
  halfStep(half) {
    return call('half', { half });
  }

  measure() {
    call('census', {});
  }

  /** @param {number | undefined} digit */
  setDigit(digit) {
    call('digit', { value: digit });
  }

  /** @param {number | undefined} step */
  setUntil(step) {
    call('until', { value: step });
  }

  /** @param {number} from @param {number} to @param {boolean} spherical @returns {Promise<ImageData>} */
  interpolate(from, to, spherical) {
    return call('interpolate', { from, to, spherical });
  }

  /** @param {number} angle @returns {Promise<ImageData>} */
  walk(angle) {
    return call('walk', { angle });
  }

  /** @param {number} cell @returns {Promise<Float32Array>} */
  latentOf(cell) {
    return call('latent', { cell });
  }

  update() {}

  /** @returns {Promise<SavedFiles>} */
  async save() {
    return (await call('save', {})).files;
  }

  lost() {
    return undefined;
  }

  error() {
    return undefined;
  }

  loseDevice() {}

  // The worker stays for the next trainer; this one's late messages are dropped.
  free() {
    cpuWorker?.receivers.delete(this.generation);
  }
}
