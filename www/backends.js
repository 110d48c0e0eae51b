// The two ways the page trains, behind one interface:
//   GpuBackend: the core on WebGPU, driven from animation frames in this thread;
//   CpuBackend: the core's CPU backend in a Web Worker (www/cpu-worker.js).
// Both report stats windows through onStats(stats, step) and preview grids through
// onPreview(imageData, step), callbacks given to create(); `confirmedStep` counts the
// steps known to be done.

import { WebCheckpoint, WebTrainer } from './pkg/ganvas.js';

// Work kept queued on the GPU, in seconds of its measured speed: enough to keep it
// busy between frames, little enough that Pause and the grid respond at once.
const QUEUED_SECONDS = 0.25;
// At least this many steps queued, so that on a slow GPU the next step is already
// there while the page learns that the last one finished.
const MIN_QUEUED_STEPS = 2;
// Time the page may spend recording steps in one frame.
const RECORD_BUDGET_MS = 6;
const PREVIEW_EVERY_MS = 150;
// While training, previews get about this share of the GPU's time: on a slow GPU
// a preview per step would cost a fifth of the speed at batch 64.
const PREVIEW_SHARE = 0.1;
const STATS_EVERY_MS = 100;

function smoothRate(backend, steps, now) {
  const seconds = (now - backend.lastConfirm) / 1000;
  if (backend.lastConfirm && seconds > 0) {
    const rate = steps / seconds;
    backend.rate = backend.rate ? 0.7 * backend.rate + 0.3 * rate : rate;
  }
  backend.lastConfirm = now;
}

export class GpuBackend {
  // `files`: [generator, discriminator?, optimizer?] checkpoint bytes, or undefined.
  static async create({ dataset, config, files, onStats, onPreview }) {
    const checkpoint = files ? WebCheckpoint.from_files(files[0], files[1], files[2], config) : undefined;
    return new GpuBackend(await WebTrainer.create(dataset.share(), config, checkpoint), onStats, onPreview);
  }

  constructor(trainer, onStats, onPreview) {
    this.kind = 'gpu';
    this.trainer = trainer;
    this.stepsPerEpoch = trainer.steps_per_epoch();
    this.configJson = trainer.config_json();
    this.previewCost = trainer.preview_cost();
    this.confirmedStep = trainer.step();
    this.rate = 0;
    this.running = false;
    this.stepsPerFrame = 1;
    this.lastConfirm = 0;
    this.lastStatsRequest = 0;
    this.lastPreview = 0;
    this.previewStep = -1;
    this.drawing = false;
    this.onStats = onStats;
    this.onPreview = onPreview;
  }

  setRunning(running) {
    this.running = running;
  }

  stepOnce() {
    this.trainer.train(1);
  }

  update(now) {
    const trainer = this.trainer;
    const stats = trainer.poll_stats();
    if (stats) {
      const s = {
        steps: stats.steps,
        d: stats.discriminator_loss,
        g: stats.generator_loss,
        real: stats.probability_real,
        fake: stats.probability_fake,
        finite: stats.finite,
      };
      stats.free();
      if (s.steps > 0) {
        this.confirmedStep += s.steps;
        smoothRate(this, s.steps, now);
        this.onStats(s, this.confirmedStep);
      }
    }
    if (this.running) this.record();
    if (trainer.step() > this.confirmedStep && now - this.lastStatsRequest > STATS_EVERY_MS) {
      trainer.request_stats();
      this.lastStatsRequest = now;
    }
    if (trainer.step() !== this.previewStep && now - this.lastPreview > this.previewSpacing()) this.drawPreview(now);
  }

  previewSpacing() {
    if (!this.running || !this.rate) return PREVIEW_EVERY_MS;
    return Math.max(PREVIEW_EVERY_MS, (1000 * this.previewCost) / (this.rate * PREVIEW_SHARE));
  }

  record() {
    const queued = this.trainer.step() - this.confirmedStep;
    const limit = Math.max(MIN_QUEUED_STEPS, Math.round(this.rate * QUEUED_SECONDS));
    const n = Math.min(limit - queued, this.stepsPerFrame);
    if (n <= 0) return;
    const start = performance.now();
    this.trainer.train(n);
    const spent = performance.now() - start;
    if (spent > RECORD_BUDGET_MS) this.stepsPerFrame = Math.max(1, Math.floor(n / 2));
    else if (n === this.stepsPerFrame) this.stepsPerFrame = Math.min(this.stepsPerFrame * 2, 1024);
  }

  drawPreview(now) {
    if (this.drawing) return;
    this.drawing = true;
    this.lastPreview = now;
    const step = this.trainer.step();
    this.previewStep = step;
    this.trainer
      .preview()
      .then((image) => this.onPreview(image, step))
      .catch(() => {
        // A read fails only when the device is lost; the page then recovers.
      })
      .finally(() => {
        this.drawing = false;
      });
  }

  async save() {
    return [...(await this.trainer.save())];
  }

  lost() {
    return this.trainer.lost();
  }

  error() {
    return this.trainer.gpu_error();
  }

  // For the tests: destroys the device, as a driver reset would.
  loseDevice() {
    this.trainer.lose_device();
  }

  free() {
    this.onStats = () => {};
    this.onPreview = () => {};
    this.trainer.free();
  }
}

export class CpuBackend {
  // `bytes`: the MNIST files, which the worker parses for itself.
  static async create({ bytes, config, files, onStats, onPreview }) {
    const worker = new Worker(new URL('./cpu-worker.js', import.meta.url), { type: 'module' });
    const backend = new CpuBackend(worker, onStats, onPreview);
    try {
      await backend.call('data', bytes);
      const made = await backend.call('create', { config, files });
      backend.confirmedStep = made.step;
      backend.configJson = made.config;
      backend.stepsPerEpoch = made.stepsPerEpoch;
      return backend;
    } catch (e) {
      worker.terminate();
      throw e;
    }
  }

  constructor(worker, onStats, onPreview) {
    this.kind = 'cpu';
    this.worker = worker;
    this.rate = 0;
    this.lastConfirm = 0;
    this.confirmedStep = 0;
    this.nextId = 0;
    this.pending = new Map();
    this.onStats = onStats;
    this.onPreview = onPreview;
    worker.onmessage = ({ data }) => this.receive(data);
  }

  call(type, payload = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...payload, type, id });
    });
  }

  receive(message) {
    if (message.type === 'reply') {
      const request = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) request?.reject(new Error(message.error));
      else request?.resolve(message.result);
    } else if (message.type === 'stats') {
      this.confirmedStep = message.step;
      smoothRate(this, message.stats.steps, performance.now());
      this.onStats(message.stats, message.step);
    } else if (message.type === 'preview') {
      this.onPreview(message.image, message.step);
    }
  }

  setRunning(running) {
    this.call('run', { value: running });
  }

  stepOnce() {
    this.call('step');
  }

  update() {}

  async save() {
    return (await this.call('save')).files;
  }

  lost() {
    return null;
  }

  error() {
    return null;
  }

  free() {
    this.onStats = () => {};
    this.onPreview = () => {};
    this.worker.terminate();
  }
}
