// The page: loads MNIST, drives a training backend (WebGPU, or the CPU in a worker)
// and wires the controls. All training math runs in the core (www/pkg, from src/).

import init, { WebDataset, default_config } from './pkg/ganvas.js';
import { CpuBackend, GpuBackend } from './backends.js';
import { Chart } from './chart.js';
import * as settings from './settings.js';

const $ = (id) => document.getElementById(id);
const DATA = 'data/mnist/';
const SNAPSHOT_EVERY_MS = 30_000;
const BACKENDS = { gpu: GpuBackend, cpu: CpuBackend };

const lossChart = new Chart($('loss-chart'), ['#ff9b5e', '#6cb4ff']);
const probChart = new Chart($('prob-chart'), ['#ff9b5e', '#6cb4ff']);

const app = {
  defaults: null, // the core's default config
  bytes: null, // the MNIST files, for the CPU worker
  dataset: null, // parsed MNIST, for the GPU backend
  webgpu: false, // whether this browser offers a WebGPU adapter
  adapterName: '',
  chosenBackend: undefined, // 'gpu' or 'cpu' once a link or the visitor has picked one
  backend: null, // GpuBackend or CpuBackend
  running: false,
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
  app.bytes = { images, labels };
  app.dataset = new WebDataset(images, labels);
}

function currentValues() {
  return settings.readForm($('settings'), settings.fromConfig(app.defaults));
}

function updateShareLink() {
  const { values } = currentValues();
  const url = new URL(location.href);
  url.hash = settings.toHash(values, true, app.chosenBackend);
  $('share-link').value = url.toString();
}

function updateSettingsNote() {
  if (!app.backend) return;
  const { values } = currentValues();
  const active = settings.fromConfig(JSON.parse(app.backend.configJson));
  const differs = Object.keys(values).some((k) => values[k] !== active[k]);
  $('settings-note').hidden = !differs;
}

// Replaces the backend: fresh from the form's settings, or from checkpoint files
// ([generator, discriminator?, optimizer?]). The old one stays if this fails.
async function startBackend(kind, files) {
  const { values, problems } = currentValues();
  if (!files && problems.length) throw new Error(`Settings: ${problems.join('; ')}.`);
  const config = settings.toConfigJson(app.defaults, values);
  // A replaced backend's late callbacks are dropped: `free` clears them.
  const backend = await BACKENDS[kind].create({ dataset: app.dataset, bytes: app.bytes, config, files, onStats, onPreview });
  setRunning(false);
  app.backend?.free();
  app.backend = backend;
  app.snapshot = null;
  $('backend').value = kind;
  settings.writeForm($('settings'), settings.fromConfig(JSON.parse(backend.configJson)));
  updateShareLink();
  updateSettingsNote();
  lossChart.clear();
  probChart.clear();
  $('readout-adapter').textContent = kind === 'gpu' ? app.adapterName : 'CPU (WebAssembly SIMD, in a worker)';
}

function onStats(s, step) {
  lossChart.add(step, [s.d, s.g]);
  probChart.add(step, [s.real, s.fake]);
  lossChart.draw();
  probChart.draw();
  if (!s.finite) {
    setRunning(false);
    message(`The losses became non-finite (NaN or infinity) by step ${step}. Training is paused: lower the learning rates and press Reset.`);
  }
}

function onPreview(image, step) {
  const canvas = $('grid');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d').putImageData(image, 0, 0);
  canvas.dataset.drawnStep = String(step);
}

function setRunning(running) {
  app.running = running;
  app.backend?.setRunning(running);
  $('train').textContent = running ? 'Pause' : 'Train';
  $('step').disabled = running || !app.backend;
}

async function takeSnapshot() {
  if (app.snapshotting) return;
  app.snapshotting = true;
  const backend = app.backend;
  const step = backend.confirmedStep;
  try {
    const files = await backend.save();
    if (app.backend === backend) app.snapshot = { step, files };
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
    await startBackend('gpu', from?.files);
    app.snapshot = from;
    message(`The GPU device was lost (${why}); training continues from step ${app.backend.confirmedStep}.`);
    setRunning(wasRunning);
  } catch (e) {
    try {
      await startBackend('cpu', from?.files);
      message(`The GPU device was lost and could not be recreated (${e.message}); training continues on the CPU.`);
      setRunning(wasRunning);
    } catch (cpuError) {
      message(`The GPU device was lost and training could not continue: ${cpuError.message}. Reload the page.`);
    }
  }
  app.recovering = false;
}

function frame(now) {
  requestAnimationFrame(frame);
  const backend = app.backend;
  if (!backend || app.recovering) return;
  const lost = backend.lost();
  if (lost) {
    recover(lost);
    return;
  }
  const error = backend.error();
  if (error && app.running) {
    setRunning(false);
    message(`GPU error: ${error}`);
  }
  try {
    backend.update(now);
    if (app.running && now - app.lastSnapshot > SNAPSHOT_EVERY_MS) {
      app.lastSnapshot = now;
      takeSnapshot();
    }
  } catch (e) {
    setRunning(false);
    message(e.message);
  }
  $('readout-step').textContent = String(backend.confirmedStep);
  $('readout-epoch').textContent = (backend.confirmedStep / backend.stepsPerEpoch).toFixed(2);
  $('readout-rate').textContent = backend.rate ? backend.rate.toFixed(1) : '–';
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
    app.backend.stepOnce();
  }));
  $('reset').addEventListener('click', guarded(async () => {
    message('');
    await startBackend($('backend').value);
  }));
  // Switching carries the run over: the same state continues on the other backend.
  $('backend').addEventListener('change', guarded(async () => {
    const kind = $('backend').value;
    app.chosenBackend = kind;
    const wasRunning = app.running;
    setRunning(false);
    const files = await app.backend.save();
    await startBackend(kind, files);
    message(kind === 'cpu' ? 'Training on the CPU (WebAssembly): slower than a GPU, but it works everywhere.' : '');
    setRunning(wasRunning);
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
    const files = await app.backend.save();
    const names = ['generator.safetensors', 'discriminator.safetensors', 'optimizer.safetensors'];
    names.forEach((name, i) => download(name, new Blob([files[i]])));
  }));
  $('load').addEventListener('change', guarded(async (event) => {
    const input = event.target;
    const chosen = [...input.files];
    input.value = '';
    const pick = (word) => chosen.find((f) => f.name.toLowerCase().includes(word));
    const generator = pick('generator') ?? (chosen.length === 1 ? chosen[0] : undefined);
    if (!generator) throw new Error('Load checkpoint: choose generator.safetensors (with discriminator and optimizer files to resume exactly).');
    const bytes = async (f) => (f ? new Uint8Array(await f.arrayBuffer()) : undefined);
    const files = [await bytes(generator), await bytes(pick('discriminator')), await bytes(pick('optimizer'))];
    try {
      await startBackend(app.backend.kind, files);
    } catch (e) {
      throw new Error(`Could not load the checkpoint: ${e.message}`);
    }
    message(`Loaded a checkpoint at step ${app.backend.confirmedStep}.`);
  }));
  $('download-grid').addEventListener('click', () => {
    $('grid').toBlob((blob) => blob && download(`ganvas-step-${app.confirmedStep}.png`, blob), 'image/png');
  });
}

// The WebGPU adapter's name, or null (and why) when this browser has none.
async function probeWebGpu() {
  if (!navigator.gpu) return { why: 'This browser has no WebGPU.' };
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (!adapter) return { why: 'This browser supports WebGPU but offered no GPU adapter (it may be blocklisted or disabled).' };
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
  const software = Boolean(adapter.isFallbackAdapter || info.isFallbackAdapter);
  return { name: name + (software ? ' (software)' : ''), software };
}

async function main() {
  const gpu = await probeWebGpu();
  app.webgpu = Boolean(gpu.name);
  app.adapterName = gpu.name ?? '';
  $('backend').querySelector('option[value="gpu"]').disabled = !app.webgpu;
  await init({ module_or_path: new URL('./pkg/ganvas_bg.wasm', import.meta.url) });
  app.defaults = JSON.parse(default_config());
  const { values, autostart, backend, problems } = settings.fromHash(location.hash, settings.fromConfig(app.defaults));
  problems.forEach(notice);
  settings.writeForm($('settings'), values);
  app.chosenBackend = backend;
  let kind = backend ?? (gpu.software ? 'cpu' : 'gpu');
  if (!backend && gpu.software) {
    // A software adapter emulates the GPU on the CPU's cores, with overheads the CPU
    // backend does not have: on one 2-core machine it trained 13x slower.
    notice(
      `This browser's WebGPU adapter, ${gpu.name}, runs on the CPU, so ganvas trains with its CPU backend, `
        + 'which is faster there. Choose GPU under "Train on" to compare.',
    );
  }
  if (kind === 'gpu' && !app.webgpu) {
    kind = 'cpu';
    notice(
      `${gpu.why} Training on the CPU instead (WebAssembly, much slower than a GPU). For GPU speed, try a recent `
        + 'Chrome or Edge; on Linux, Chrome may need chrome://flags/#enable-unsafe-webgpu.',
    );
  }
  $('backend').value = kind;
  wireControls();
  await loadData();
  $('load-text').textContent = kind === 'gpu' ? 'Setting up the GPU…' : 'Starting the CPU trainer…';
  await startBackend(kind);
  $('loading').hidden = true;
  for (const id of ['train', 'step', 'reset', 'copy-link', 'save', 'load', 'download-grid', 'backend']) $(id).disabled = false;
  document.body.dataset.ready = 'true';
  if (autostart) setRunning(true);
  requestAnimationFrame(frame);
}

// The browser tests (and curious visitors) read the state from here.
window.ganvas = app;

main().catch((e) => {
  fatal('ganvas could not start', e.message ?? String(e));
});
