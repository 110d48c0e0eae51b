// @ts-check
// The CPU backend in a Web Worker, so the page stays responsive while it computes.
// One worker serves the page's whole life. Messages in: data (once), create, run,
// step, half, census, digit, until, interpolate, walk, latent, save. Messages out: the replies (with the request's id), and stats,
// preview grids and censuses tagged with the generation of the trainer that made them.

import init, { WebCheckpoint, WebClassifier, WebDataset, WebTrainer } from './pkg/ganvas.js';

// Steps are computed in slices this long, between which messages (Pause) get through.
const SLICE_MS = 50;
const STATS_EVERY_MS = 100;
const PREVIEW_EVERY_MS = 250;
// A census takes this share of the worker's time at most (each is timed), and
// comes at most this often.
const CENSUS_SHARE = 0.05;
const CENSUS_EVERY_MS = 2000;

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));
const ready = init({ module_or_path: new URL('./pkg/ganvas_bg.wasm', import.meta.url) });
/** @type {WebDataset | null} */
let dataset = null;
/** @type {WebClassifier | undefined} */
let classifier;
/** @type {WebTrainer | null} */
let trainer = null;
let generation = 0;
let running = false;
let lastStats = 0;
let lastPreview = 0;
let lastCensus = 0;
/** @type {number | undefined} the conditional GAN's grid as one digit */
let digit;
/** @type {number | undefined} the step not to train past (a demo link's `until`) */
let until;
let censusSpacing = CENSUS_EVERY_MS;

/** @param {WebTrainer} t */
function sendStats(t) {
  t.request_stats();
  const s = t.poll_stats();
  if (!s) return;
  const stats = {
    steps: s.steps,
    d: s.discriminator_loss,
    g: s.generator_loss,
    real: s.probability_real,
    fake: s.probability_fake,
    finite: s.finite,
  };
  s.free();
  if (stats.steps > 0) scope.postMessage({ type: 'stats', stats, step: t.step(), generation });
  if (!stats.finite) running = false;
}

/** @param {WebTrainer} t */
async function sendPreview(t) {
  const step = t.step();
  const made = generation;
  const shown = digit;
  const preview = await t.preview(shown);
  scope.postMessage({ type: 'preview', preview, step, digit: shown, generation: made });
}

/** @param {WebTrainer} t */
async function sendCensus(t) {
  // On the CPU the census is computed within `census()`, before its promise.
  const start = performance.now();
  const census = t.census();
  if (!census) return;
  const step = t.step();
  const made = generation;
  const report = await census;
  const spent = performance.now() - start;
  censusSpacing = Math.max(CENSUS_EVERY_MS, spent / CENSUS_SHARE);
  lastCensus = performance.now();
  scope.postMessage({ type: 'census', census: report, step, generation: made });
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
  if (now - lastStats > STATS_EVERY_MS) {
    lastStats = now;
    sendStats(t);
  }
  if (now - lastPreview > PREVIEW_EVERY_MS) {
    lastPreview = now;
    await sendPreview(t);
  }
  if (now - lastCensus > censusSpacing) await sendCensus(t);
  setTimeout(loop, 0);
}

/** @param {WebTrainer | null} t */
function need(t) {
  if (!t) throw new Error('The CPU trainer is not ready.');
  return t;
}

/** @type {Record<string, (message: any) => unknown>} */
const handlers = {
  // MNIST, or the visitor's own pictures. Without a classifier (its file failed to
  // load, or the pictures are not MNIST's kind) there is no census.
  data({ images, labels, classifier: bytes, pictures }) {
    dataset?.free();
    dataset = pictures
      ? WebDataset.from_pixels(pictures.bytes, pictures.side, pictures.channels)
      : new WebDataset(images, labels);
    classifier = bytes ? new WebClassifier(bytes) : undefined;
  },
  // The current trainer stays until the new one exists: a bad checkpoint loses nothing.
  async create({ config, files, generation: next }) {
    const data = /** @type {WebDataset} */ (dataset);
    const start = files ? WebCheckpoint.from_files(files[0], files[1], files[2], config) : undefined;
    const made = await WebTrainer.create(data.share(), config, start, 'cpu', classifier?.share());
    running = false;
    trainer?.free();
    trainer = made;
    generation = next;
    digit = undefined;
    await sendPreview(made);
    await sendCensus(made);
    return { step: made.step(), config: made.config_json(), stepsPerEpoch: made.steps_per_epoch() };
  },
  run({ value }) {
    const start = value && !running;
    running = value;
    if (start) loop();
    else if (!value && trainer) {
      sendStats(trainer);
      return sendPreview(trainer);
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
    return { files: [...(await t.save())], step: t.step() };
  },
};

// Messages are handled one at a time, in order, so a `create` finishes before the
// `run` or `step` that follows it starts.
let queue = Promise.resolve();
scope.onmessage = (/** @type {MessageEvent} */ { data: message }) => {
  queue = queue.then(async () => {
    try {
      await ready;
      const result = await handlers[message.type](message);
      scope.postMessage({ type: 'reply', id: message.id, result });
    } catch (e) {
      scope.postMessage({ type: 'reply', id: message.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
};
