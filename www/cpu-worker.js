// The CPU backend in a Web Worker, so the page stays responsive while it computes.
// Messages in: data, create, run, step, save. Messages out: the replies (with the
// request's id), and, while running, stats and preview grids.

import init, { WebCheckpoint, WebCpuTrainer, WebDataset } from './pkg/ganvas.js';

// Steps are computed in slices this long, between which messages (Pause) get through.
const SLICE_MS = 50;
const STATS_EVERY_MS = 100;
const PREVIEW_EVERY_MS = 250;

const ready = init({ module_or_path: new URL('./pkg/ganvas_bg.wasm', import.meta.url) });
let dataset = null;
let trainer = null;
let running = false;
let lastStats = 0;
let lastPreview = 0;

function sendStats() {
  const s = trainer.take_stats();
  const stats = {
    steps: s.steps,
    d: s.discriminator_loss,
    g: s.generator_loss,
    real: s.probability_real,
    fake: s.probability_fake,
    finite: s.finite,
  };
  s.free();
  if (stats.steps > 0) postMessage({ type: 'stats', stats, step: trainer.step() });
  if (!stats.finite) running = false;
}

function sendPreview() {
  postMessage({ type: 'preview', image: trainer.preview(), step: trainer.step() });
}

function loop() {
  if (!running || !trainer) return;
  const start = performance.now();
  while (performance.now() - start < SLICE_MS) trainer.train(1);
  const now = performance.now();
  if (now - lastStats > STATS_EVERY_MS) {
    lastStats = now;
    sendStats();
  }
  if (now - lastPreview > PREVIEW_EVERY_MS) {
    lastPreview = now;
    sendPreview();
  }
  setTimeout(loop, 0);
}

const handlers = {
  data({ images, labels }) {
    dataset = new WebDataset(images, labels);
  },
  create({ config, files }) {
    running = false;
    trainer?.free();
    trainer = null;
    const checkpoint = files ? WebCheckpoint.from_files(files[0], files[1], files[2], config) : undefined;
    trainer = WebCpuTrainer.create(dataset, config, checkpoint);
    sendPreview();
    return { step: trainer.step(), config: trainer.config_json(), stepsPerEpoch: trainer.steps_per_epoch() };
  },
  run({ value }) {
    const start = value && !running;
    running = value;
    if (start) loop();
    else if (!value && trainer) {
      sendStats();
      sendPreview();
    }
  },
  step() {
    trainer.train(1);
    sendStats();
    sendPreview();
  },
  save() {
    if (running) sendStats();
    return { files: [...trainer.save()], step: trainer.step() };
  },
};

onmessage = async ({ data: message }) => {
  try {
    await ready;
    const result = handlers[message.type](message);
    postMessage({ type: 'reply', id: message.id, result });
  } catch (e) {
    postMessage({ type: 'reply', id: message.id, error: e.message ?? String(e) });
  }
};
