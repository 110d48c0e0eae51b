// The page: loads MNIST, drives the wasm trainer from animation frames, and wires the
// controls. All training math runs in the core (www/pkg, built from src/).

import init, { WebCheckpoint, WebDataset, WebTrainer, default_config } from './pkg/ganvas.js';
import { Chart } from './chart.js';
import * as settings from './settings.js';

const $ = (id) => document.getElementById(id);
const DATA = 'data/mnist/';
// Work kept queued on the GPU, in seconds of its measured speed: enough to keep it
// busy between frames, little enough that Pause and the grid respond at once.
const QUEUED_SECONDS = 0.25;
// Time the page may spend recording steps in one frame.
const RECORD_BUDGET_MS = 6;
const SNAPSHOT_EVERY_MS = 30_000;

const lossChart = new Chart($('loss-chart'), ['#ff9b5e', '#6cb4ff']);
const probChart = new Chart($('prob-chart'), ['#ff9b5e', '#6cb4ff']);

const app = {
  defaults: null, // the core's default config
  dataset: null,
  trainer: null,
  running: false,
  confirmedStep: 0, // steps whose stats have come back: the GPU has finished them
  rate: 0, // measured steps per second
  stepsPerFrame: 1,
  lastStatsRequest: 0,
  lastConfirm: 0,
  lastDraw: 0,
  drawnStep: -1,
  drawing: false,
  snapshot: null, // { step, files } kept in memory to recover from a lost device
  lastSnapshot: 0,
  snapshotting: false,
  recovering: false,
};

function notice(text) {
  const p = document.createElement('p');
  p.textContent = text;
  $('notices').append(p);
}

function message(text) {
  $('message').textContent = text;
}

function fatal(title, text) {
  $('app').hidden = true;
  $('fatal').hidden = false;
  $('fatal-title').textContent = title;
  $('fatal-text').textContent = text;
}

function download(name, blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function fetchBytes(url, onProgress) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get('Content-Length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress(received, total);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  return bytes;
}

async function loadData() {
  const progress = $('load-progress');
  const text = $('load-text');
  const files = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'];
  const seen = files.map(() => [0, 0]);
  const show = () => {
    const [got, total] = seen.reduce(([a, b], [c, d]) => [a + c, b + d], [0, 0]);
    progress.value = total ? got / total : 0;
    text.textContent = `Downloading MNIST: ${(got / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
  };
  const [images, labels] = await Promise.all(
    files.map((f, i) => fetchBytes(DATA + f, (got, total) => { seen[i] = [got, total]; show(); })),
  );
  text.textContent = 'Decompressing MNIST…';
  await new Promise((r) => setTimeout(r, 0));
  return new WebDataset(images, labels);
}

function currentValues() {
  return settings.readForm($('settings'), settings.fromConfig(app.defaults));
}

function updateShareLink() {
  const { values } = currentValues();
  const url = new URL(location.href);
  url.hash = settings.toHash(values, true);
  $('share-link').value = url.toString();
}

function updateSettingsNote() {
  if (!app.trainer) return;
  const { values } = currentValues();
  const active = settings.fromConfig(JSON.parse(app.trainer.config_json()));
  const differs = Object.keys(values).some((k) => values[k] !== active[k]);
  $('settings-note').hidden = !differs;
}

// Replaces the trainer: fresh from the form's settings, or from a checkpoint.
async function createTrainer(checkpoint) {
  setRunning(false);
  if (app.trainer) {
    app.trainer.free();
    app.trainer = null;
  }
  const { values, problems } = currentValues();
  if (!checkpoint && problems.length) throw new Error(`Settings: ${problems.join('; ')}.`);
  const json = settings.toConfigJson(app.defaults, values);
  const trainer = await WebTrainer.create(app.dataset.share(), json, checkpoint ?? undefined);
  app.trainer = trainer;
  app.confirmedStep = trainer.step();
  app.rate = 0;
  app.stepsPerFrame = 1;
  app.drawnStep = -1;
  app.snapshot = null;
  settings.writeForm($('settings'), settings.fromConfig(JSON.parse(trainer.config_json())));
  updateShareLink();
  updateSettingsNote();
  lossChart.clear();
  probChart.clear();
  drawPreview();
}

// Draws G's current samples for the fixed latents, read back from the GPU.
function drawPreview() {
  if (app.drawing) return;
  app.drawing = true;
  const trainer = app.trainer;
  const step = trainer.step();
  trainer
    .preview()
    .then((image) => {
      if (app.trainer !== trainer) return;
      const canvas = $('grid');
      canvas.width = image.width;
      canvas.height = image.height;
      canvas.getContext('2d').putImageData(image, 0, 0);
      canvas.dataset.drawnStep = String(step);
    })
    .catch(() => {
      // A read fails only when the device is lost; the frame loop recovers.
    })
    .finally(() => {
      app.drawing = false;
    });
}

function setRunning(running) {
  app.running = running;
  $('train').textContent = running ? 'Pause' : 'Train';
  $('step').disabled = running || !app.trainer;
}

function takeStats(now) {
  const stats = app.trainer.poll_stats();
  if (!stats) return;
  const s = {
    steps: stats.steps,
    d: stats.discriminator_loss,
    g: stats.generator_loss,
    real: stats.probability_real,
    fake: stats.probability_fake,
    finite: stats.finite,
  };
  stats.free();
  if (s.steps === 0) return;
  app.confirmedStep += s.steps;
  const seconds = (now - app.lastConfirm) / 1000;
  if (app.lastConfirm && seconds > 0) {
    const rate = s.steps / seconds;
    app.rate = app.rate ? 0.7 * app.rate + 0.3 * rate : rate;
  }
  app.lastConfirm = now;
  lossChart.add(app.confirmedStep, [s.d, s.g]);
  probChart.add(app.confirmedStep, [s.real, s.fake]);
  lossChart.draw();
  probChart.draw();
  if (!s.finite) {
    setRunning(false);
    message(`The losses became non-finite (NaN or infinity) by step ${app.confirmedStep}. Training is paused: lower the learning rates and press Reset.`);
  }
}

function recordSteps() {
  const queued = app.trainer.step() - app.confirmedStep;
  const limit = Math.max(1, Math.round(app.rate * QUEUED_SECONDS));
  const n = Math.min(limit - queued, app.stepsPerFrame);
  if (n <= 0) return;
  const start = performance.now();
  app.trainer.train(n);
  const spent = performance.now() - start;
  if (spent > RECORD_BUDGET_MS) app.stepsPerFrame = Math.max(1, Math.floor(n / 2));
  else if (n === app.stepsPerFrame) app.stepsPerFrame = Math.min(app.stepsPerFrame * 2, 1024);
}

async function takeSnapshot() {
  if (app.snapshotting) return;
  app.snapshotting = true;
  const trainer = app.trainer;
  const step = trainer.step();
  try {
    const files = await trainer.save();
    if (app.trainer === trainer) app.snapshot = { step, files };
  } catch (e) {
    // A snapshot fails when the device is lost mid-read; recovery uses the previous one.
  } finally {
    app.snapshotting = false;
  }
}

async function recover(why) {
  app.recovering = true;
  const wasRunning = app.running;
  setRunning(false);
  const from = app.snapshot;
  message(`The GPU device was lost (${why}). Recovering from step ${from ? from.step : 0}…`);
  try {
    app.trainer.free();
    app.trainer = null;
    const checkpoint = from
      ? WebCheckpoint.from_files(from.files[0], from.files[1], from.files[2], '{}')
      : null;
    await createTrainer(checkpoint);
    app.snapshot = from;
    message(`The GPU device was lost (${why}); training continues from step ${app.trainer.step()}.`);
    setRunning(wasRunning);
  } catch (e) {
    message(`The GPU device was lost and could not be recreated: ${e.message}. Reload the page to try again.`);
  }
  app.recovering = false;
}

function frame(now) {
  requestAnimationFrame(frame);
  const trainer = app.trainer;
  if (!trainer || app.recovering) return;
  const lost = trainer.lost();
  if (lost) {
    recover(lost);
    return;
  }
  const error = trainer.gpu_error();
  if (error && app.running) {
    setRunning(false);
    message(`GPU error: ${error}`);
  }
  try {
    takeStats(now);
    if (app.running) {
      recordSteps();
      if (now - app.lastSnapshot > SNAPSHOT_EVERY_MS) {
        app.lastSnapshot = now;
        takeSnapshot();
      }
    }
    if (trainer.step() > app.confirmedStep && now - app.lastStatsRequest > 100) {
      trainer.request_stats();
      app.lastStatsRequest = now;
    }
    if (trainer.step() !== app.drawnStep && now - app.lastDraw > 150) {
      drawPreview();
      app.drawnStep = trainer.step();
      app.lastDraw = now;
    }
  } catch (e) {
    setRunning(false);
    message(e.message);
  }
  const step = trainer.step();
  $('readout-step').textContent = String(app.confirmedStep);
  $('readout-epoch').textContent = (app.confirmedStep / trainer.steps_per_epoch()).toFixed(2);
  $('readout-rate').textContent = app.rate ? app.rate.toFixed(1) : '–';
  $('grid').dataset.step = String(step);
}

// Runs `action`, showing its error (if any) instead of letting it escape.
function guarded(action) {
  return async (event) => {
    try {
      await action(event);
    } catch (e) {
      message(e.message ?? String(e));
    }
  };
}

function wireControls() {
  $('train').addEventListener('click', () => setRunning(!app.running));
  $('step').addEventListener('click', guarded(() => {
    app.trainer.train(1);
  }));
  $('reset').addEventListener('click', guarded(async () => {
    message('');
    await createTrainer(null);
  }));
  $('settings').addEventListener('input', () => {
    updateShareLink();
    updateSettingsNote();
  });
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  $('copy-link').addEventListener('click', guarded(async () => {
    updateShareLink();
    const link = $('share-link');
    try {
      await navigator.clipboard.writeText(link.value);
      message('');
      $('copy-link').textContent = 'Copied';
      setTimeout(() => { $('copy-link').textContent = 'Copy link'; }, 1500);
    } catch {
      link.select();
      message('Copying was not allowed here: the link is selected, copy it by hand.');
    }
  }));
  $('save').addEventListener('click', guarded(async () => {
    const files = await app.trainer.save();
    const names = ['generator.safetensors', 'discriminator.safetensors', 'optimizer.safetensors'];
    names.forEach((name, i) => download(name, new Blob([files[i]])));
  }));
  $('load').addEventListener('change', guarded(async (event) => {
    const input = event.target;
    const files = [...input.files];
    input.value = '';
    const pick = (word) => files.find((f) => f.name.toLowerCase().includes(word));
    const generator = pick('generator') ?? (files.length === 1 ? files[0] : undefined);
    if (!generator) throw new Error('Load checkpoint: choose generator.safetensors (with discriminator and optimizer files to resume exactly).');
    const bytes = async (f) => (f ? new Uint8Array(await f.arrayBuffer()) : undefined);
    const { values } = currentValues();
    let checkpoint;
    try {
      checkpoint = WebCheckpoint.from_files(
        await bytes(generator),
        await bytes(pick('discriminator')),
        await bytes(pick('optimizer')),
        settings.toConfigJson(app.defaults, values),
      );
    } catch (e) {
      throw new Error(`Could not load the checkpoint: ${e.message}`);
    }
    await createTrainer(checkpoint);
    message(`Loaded a checkpoint at step ${app.trainer.step()}.`);
  }));
  $('download-grid').addEventListener('click', () => {
    $('grid').toBlob((blob) => blob && download(`ganvas-step-${app.confirmedStep}.png`, blob), 'image/png');
  });
}

async function main() {
  if (!navigator.gpu) {
    fatal(
      'This browser has no WebGPU',
      'ganvas trains on your GPU through WebGPU, which this browser does not offer. Try a recent Chrome or Edge; '
        + 'Firefox and Safari ship it on some systems only. On Linux, Chrome may need WebGPU enabled at '
        + 'chrome://flags/#enable-unsafe-webgpu.',
    );
    return;
  }
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (adapter) {
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
    $('readout-adapter').textContent = (name || 'WebGPU adapter') + (adapter.isFallbackAdapter || info.isFallbackAdapter ? ' (software)' : '');
  } else {
    fatal(
      'No WebGPU adapter',
      'This browser supports WebGPU but offered no GPU adapter: the GPU may be blocklisted or disabled. '
        + 'Check chrome://gpu, update the graphics driver, or try another browser or machine.',
    );
    return;
  }
  await init({ module_or_path: new URL('./pkg/ganvas_bg.wasm', import.meta.url) });
  app.defaults = JSON.parse(default_config());
  const { values, autostart, problems } = settings.fromHash(location.hash, settings.fromConfig(app.defaults));
  problems.forEach(notice);
  settings.writeForm($('settings'), values);
  wireControls();
  app.dataset = await loadData();
  $('load-text').textContent = 'Setting up the GPU…';
  await createTrainer(null);
  $('loading').hidden = true;
  for (const id of ['train', 'step', 'reset', 'copy-link', 'save', 'load', 'download-grid']) $(id).disabled = false;
  document.body.dataset.ready = 'true';
  if (autostart) setRunning(true);
  requestAnimationFrame(frame);
}

// The browser tests (and curious visitors) read the state from here.
window.ganvas = app;

main().catch((e) => {
  fatal('ganvas could not start', e.message ?? String(e));
});
