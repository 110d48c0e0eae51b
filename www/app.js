// @ts-check
// The page: loads MNIST, drives a training backend (WebGPU, or the CPU in a worker)
// and wires the controls. All training math runs in the core (www/pkg, from src/).

import init, { WebClassifier, WebDataset, default_config } from './pkg/ganvas.js';
import { CpuBackend, GpuBackend } from './backends.js';
import { Bars, Chart } from './chart.js';
import { Messages } from './messages.js';
import { Timelapse } from './timelapse.js';
import * as settings from './settings.js';
import * as images from './images.js';
import { language, preferred, setLanguage, t } from './i18n.js';

/** @typedef {import('./backends.js').Backend} Backend */
/** @typedef {import('./settings.js').BackendKind} BackendKind */

/** @param {string} id */
function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}
const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id));
const button = (/** @type {string} */ id) => /** @type {HTMLButtonElement} */ ($(id));
const backendSelect = () => /** @type {HTMLSelectElement} */ ($('backend'));
const languageSelect = () => /** @type {HTMLSelectElement} */ ($('language'));
const settingsForm = () => /** @type {HTMLFormElement} */ ($('settings'));
const canvas = (/** @type {string} */ id) => /** @type {HTMLCanvasElement} */ ($(id));

const DATA = 'data/mnist/';
const CLASSIFIER = 'data/classifier.safetensors';
const SNAPSHOT_EVERY_MS = 30_000;
const BACKENDS = { gpu: GpuBackend, cpu: CpuBackend };

// At the GAN's equilibrium D(x) = D(G(z)) = 1/2 and each BCE term is ln 2.
const stepText = (/** @type {number} */ step) => t('chartStep', { step });
const lossChart = new Chart(canvas('loss-chart'), ['#ff9b5e', '#6cb4ff'], stepText, [Math.LN2]);
const probChart = new Chart(canvas('prob-chart'), ['#ff9b5e', '#6cb4ff'], stepText, [0.5]);
const frechetChart = new Chart(canvas('frechet-chart'), ['#7ddc8c'], stepText);
const scoreChart = new Chart(canvas('score-chart'), ['#7ddc8c'], stepText);
const censusBars = new Bars(canvas('census-chart'), '#7ddc8c');

const app = {
  /** @type {Record<string, unknown>} the core's default config */
  defaults: {},
  /** @type {import('./backends.js').DataBytes | null} the MNIST and classifier files, for the CPU worker */
  bytes: null,
  /** @type {WebDataset | null} parsed MNIST, for the GPU backend */
  dataset: null,
  /** @type {WebClassifier | undefined} the census's classifier, if its file loaded (and the data is MNIST) */
  classifier: undefined,
  /** @type {{ dataset: WebDataset, bytes: import('./backends.js').DataBytes, classifier: WebClassifier | undefined } | null} MNIST, kept while training on pictures */
  mnist: null,
  /** @type {images.Prepared | null} the visitor's pictures being trained on */
  pictures: null,
  /** @type {images.Prepared | null} the visitor's pictures prepared (or kept), not yet in use */
  candidate: null,
  timelapse: new Timelapse(),
  /** @type {number[]} grid cells chosen for in-betweens (two at most, the oldest first) */
  pinned: [],
  /** the grid cell the arrow keys are on */
  keyCell: 0,
  /** @type {import('./backends.js').PreviewView | null} the grid last drawn, redrawn when pins change */
  lastPreview: null,
  interpolating: false,
  /** @type {{ start: number, frames: number, inFlight: boolean } | null} the latent walk, while on */
  walk: null,
  /** @type {number | null} the timer playing the in-betweens in turn, while on */
  morph: null,
  /** @type {{ fake: Float32Array, real: Float32Array } | null} D's output on each cell of the grids */
  scores: null,
  /** @type {{ half: import('./backends.js').Half, view: import('./backends.js').HalfStepView, step: number } | null} the last half step, as shown */
  halfStep: null,
  /** @type {import('./backends.js').CensusReport | null} the last census, for the tests and curious visitors */
  census: null,
  /** @type {number | null} the step of the last census */
  censusStep: null,
  /** @type {{ step: number, digits: number[] } | null} what the last census read in each preview cell */
  gridDigits: null,
  webgpu: false, // whether this browser offers a WebGPU adapter
  softwareAdapter: false, // whether that adapter is a CPU emulation (SwiftShader, lavapipe)
  batchFrom: 0, // the step the trainer started at: until it steps, no batch to show
  adapterName: '',
  /** @type {BackendKind | undefined} once a link or the visitor has picked one */
  chosenBackend: undefined,
  /** @type {Backend | null} */
  backend: null,
  running: false,
  /** @type {number | undefined} the step a demo link trains to and stops at, until reached */
  until: undefined,
  /** @type {{ step: number, files: import('./backends.js').CheckpointFiles } | null} kept in memory to recover from a lost GPU device */
  snapshot: null,
  lastSnapshot: 0,
  snapshotting: false,
  recovering: false,
};

// The page's messages (about the page, the link and the device), and the run's (next
// to its controls).
const notices = new Messages($('notices'));
const messages = new Messages($('message'));

/** @param {string} title @param {string} text */
function fatal(title, text) {
  $('app').hidden = true;
  $('fatal').hidden = false;
  $('fatal-title').textContent = title;
  $('fatal-text').textContent = text;
}

/** @param {string} name @param {Blob} blob */
function download(name, blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** @param {string} url @param {(received: number, total: number) => void} onProgress */
async function fetchBytes(url, onProgress) {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
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
  const progress = /** @type {HTMLProgressElement} */ ($('load-progress'));
  const text = $('load-text');
  const files = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'];
  const seen = files.map(() => [0, 0]);
  /** @type {(sum: number[], part: number[]) => number[]} */
  const add = ([a, b], [c, d]) => [a + c, b + d];
  const show = () => {
    const [got, total] = seen.reduce(add, [0, 0]);
    progress.value = total ? got / total : 0;
    text.textContent = t('downloading', { got: (got / 1e6).toFixed(1), total: (total / 1e6).toFixed(1) });
  };
  const classifierBytes = fetchBytes(CLASSIFIER, () => {}).catch((e) => e);
  const [images, labels] = await Promise.all(
    files.map((f, i) => fetchBytes(DATA + f, (got, total) => { seen[i] = [got, total]; show(); })),
  );
  text.textContent = t('decompressing');
  await new Promise((r) => setTimeout(r, 0));
  app.dataset = new WebDataset(images, labels);
  // Training goes on without the census if its classifier cannot be had.
  const classifier = await classifierBytes;
  try {
    if (classifier instanceof Error) throw classifier;
    app.classifier = new WebClassifier(classifier);
    app.bytes = { images, labels, classifier };
  } catch (e) {
    app.bytes = { images, labels };
    showCensusParts(false);
    const why = errorText(e);
    notices.show('census', 'warning', () => t('censusOff', { file: CLASSIFIER, why }));
  }
  app.mnist = { dataset: app.dataset, bytes: app.bytes, classifier: app.classifier };
}

/** The census's chart, readouts and buttons, shown only where there is a census. @param {boolean} shown */
function showCensusParts(shown) {
  document.querySelectorAll('.census-only').forEach((e) => { /** @type {HTMLElement} */ (e).hidden = !shown; });
}

/** The pictures' size in words. @param {images.Prepared} p */
function shapeText(p) {
  return t(p.channels === 3 ? 'ownColour32' : 'ownGray28');
}

/**
 * Shows prepared pictures: their count and size, the first 64, the files skipped,
 * and what can be done with them.
 * @param {images.Prepared} prepared @param {string} what the first sentence: where they come from
 */
function showCandidate(prepared, what) {
  const notes = [what];
  if (prepared.mirrored) notes.push(t('ownMirrored', { count: prepared.count }));
  if (prepared.dropped) notes.push(t('ownDropped', { count: prepared.count, dropped: prepared.dropped }));
  if (prepared.count < FEW_PICTURES) notes.push(t('ownFew', { count: prepared.count }));
  $('own-status').textContent = notes.join(' ');
  const dataset = WebDataset.from_pixels(prepared.bytes, prepared.side, prepared.channels);
  const image = /** @type {ImageData} */ (dataset.preview(64));
  dataset.free();
  const preview = canvas('own-preview');
  preview.width = image.width;
  preview.height = image.height;
  preview.getContext('2d')?.putImageData(image, 0, 0);
  preview.hidden = false;
  showSkipped(prepared.skipped);
  $('own-use').hidden = false;
  $('own-forget').hidden = false;
}

/** The files left out and why, folded. @param {{ name: string, why: string }[]} skipped */
function showSkipped(skipped) {
  $('own-skipped').hidden = skipped.length === 0;
  $('own-skipped-summary').textContent = t('ownSkipped', { n: skipped.length });
  const list = $('own-skipped-list');
  list.replaceChildren(...skipped.slice(0, 200).map(({ name, why }) => {
    const item = document.createElement('li');
    item.textContent = `${name}: ${why}`;
    return item;
  }));
}

// Fewer usable pictures than this cannot train (src/formats/image_folder.rs says why; the
// command line has the same rule); fewer than FEW_PICTURES trains with a warning.
const MIN_PICTURES = 100;
const FEW_PICTURES = 500;

/** Files chosen or dropped: prepared as the size chosen, kept, and shown. @param {File[]} files */
async function preparePictures(files) {
  if (files.length === 0) return;
  const progress = /** @type {HTMLProgressElement} */ ($('own-progress'));
  $('own-status').textContent = t('ownReading', { n: files.length });
  const { pictures, skipped } = await images.collect(files);
  progress.hidden = false;
  progress.value = 0;
  const shape = /** @type {images.ShapeName} */ (/** @type {HTMLSelectElement} */ ($('own-shape')).value);
  try {
    const prepared = await images.prepare(pictures, shape, input('own-mirror').checked, (done, total) => {
      progress.value = done / total;
      $('own-status').textContent = t('ownPreparing', { done, total });
    });
    prepared.skipped = [...skipped, ...prepared.skipped];
    const usable = prepared.mirrored ? prepared.count / 2 : prepared.count;
    if (usable < MIN_PICTURES) {
      showSkipped(prepared.skipped);
      $('own-status').textContent = t('ownTooFew', { count: usable, min: MIN_PICTURES });
      return;
    }
    app.candidate = prepared;
    showCandidate(prepared, t('ownReady', { count: prepared.count, shape: shapeText(prepared) }));
    // Kept for the next visit; where storage is off, they work for this one.
    await images.keep(prepared).catch(() => {});
  } finally {
    progress.hidden = true;
  }
}

/** Trains on `prepared` from now on (a new run), or on MNIST again with null. @param {images.Prepared | null} prepared */
async function useData(prepared) {
  const mnist = /** @type {NonNullable<typeof app.mnist>} */ (app.mnist);
  const previous = { dataset: app.dataset, bytes: app.bytes, classifier: app.classifier, pictures: app.pictures };
  if (prepared) {
    app.dataset = WebDataset.from_pixels(prepared.bytes, prepared.side, prepared.channels);
    app.bytes = { pictures: { bytes: prepared.bytes, side: prepared.side, channels: prepared.channels } };
    app.classifier = undefined;
    // Pictures have no digit labels: the conditional GAN needs them.
    const model = /** @type {HTMLSelectElement} */ (settingsForm().elements.namedItem('conditional'));
    if (model.value !== '0') {
      model.value = '0';
      messages.show('own', 'warning', () => t('ownNoLabels'));
    }
  } else {
    Object.assign(app, mnist);
  }
  app.pictures = prepared;
  try {
    await startBackend(activeBackend().kind);
  } catch (e) {
    if (app.dataset !== previous.dataset && app.dataset !== mnist.dataset) app.dataset?.free();
    Object.assign(app, previous);
    throw e;
  }
  if (previous.dataset && previous.dataset !== mnist.dataset && previous.dataset !== app.dataset) previous.dataset.free();
  app.timelapse.clear();
  showCensusParts(Boolean(app.classifier));
  $('own-mnist').hidden = !prepared;
  $('own-use').hidden = Boolean(prepared) || !app.candidate;
  $('own-status').textContent = prepared ? t('ownInUse', { count: prepared.count, shape: shapeText(prepared) }) : '';
}

function currentValues() {
  return settings.readForm(settingsForm());
}

/** The settings the run uses (not the form's unapplied edits), or the form's before one starts. */
function appliedValues() {
  return app.backend ? settings.fromConfig(JSON.parse(app.backend.configJson)) : currentValues().values;
}

/**
 * The link to this run: its applied settings and, unless asked not to, the step it
 * has reached, where the visitor's page trains to and stops (a link made at step 0
 * just starts).
 */
function updateShareLink() {
  const here = input('share-until').checked ? app.backend?.confirmedStep : undefined;
  const until = here || app.until;
  const url = new URL(location.href);
  url.hash = settings.toHash(appliedValues(), true, app.chosenBackend, until, language(), Boolean(app.pictures));
  input('share-link').value = url.toString();
}

function updateSettingsNote() {
  if (!app.backend) return;
  const { values } = currentValues();
  const active = appliedValues();
  const differs = Object.keys(values).some((k) => values[k] !== active[k]);
  $('settings-note').hidden = !differs;
  $('share-note').hidden = !differs;
}

/**
 * Replaces the backend: fresh from the form's settings, or from checkpoint files
 * ([generator, discriminator?, optimizer?]). The old one stays if this fails.
 * @param {BackendKind} kind
 * @param {import('./backends.js').CheckpointFiles} [files]
 */
async function startBackend(kind, files) {
  const { values, problems } = currentValues();
  if (!files && problems.length) throw new Error(t('settingsProblems', { problems: problems.join('; ') }));
  const config = settings.toConfigJson(app.defaults, values);
  const dataset = /** @type {WebDataset} */ (app.dataset);
  const bytes = /** @type {import('./backends.js').DataBytes} */ (app.bytes);
  const classifier = app.classifier;
  // A replaced backend's late callbacks are dropped: `free` clears them.
  const backend = await BACKENDS[kind].create({ dataset, classifier, bytes, config, files, onStats, onPreview, onCensus });
  setRunning(false);
  app.backend?.free();
  app.backend = backend;
  // A new trainer (fresh, loaded or switched) has no batch to show until its first step.
  app.batchFrom = backend.confirmedStep;
  $('reals').hidden = true;
  backend.setUntil(app.until);
  app.snapshot = null;
  backendSelect().value = kind;
  settings.writeForm(settingsForm(), settings.fromConfig(JSON.parse(backend.configJson)));
  updateShareLink();
  updateSettingsNote();
  for (const chart of [lossChart, probChart, frechetChart, scoreChart, censusBars]) chart.clear();
  describeCharts();
  // A new trainer draws its grid a row per digit (the conditional GAN's picker starts there).
  $('digit-picker').hidden = !JSON.parse(backend.configJson).conditional;
  /** @type {HTMLSelectElement} */ ($('digit')).value = '';
  app.census = null;
  app.censusStep = null;
  app.gridDigits = null;
  symptoms.winning = null;
  symptoms.collapse = null;
  showSymptoms();
  for (const id of ['readout-frechet', 'readout-score']) $(id).textContent = '–';
  showCensusText();
  app.pinned = [];
  $('latents').hidden = true;
  app.halfStep = null;
  $('half-step').hidden = true;
  showAdapter();
}

/** The device readout: the WebGPU adapter, or the CPU worker. */
function showAdapter() {
  $('readout-adapter').textContent = app.backend?.kind === 'gpu' ? app.adapterName : t('cpuDevice');
}

// Textbook symptoms, noted while they last: D(G(z)) this low over a stats window,
// or this share of the census on one digit (an even census gives each 0.1) once
// G's samples are digits: read with this mean confidence, this near MNIST. (An
// untrained G's noise, and its first blobs, read mostly as one digit too: at ~1420
// and ~890; README's calibration has collapses at 668 and 881.)
const D_WINNING = 0.05;
const COLLAPSED = 0.5;
const READS_AS_DIGITS = 0.7;
const NEAR_MNIST = 800;

/**
 * The symptoms the run shows now, each what its sentence says, or null.
 * @type {{ winning: { value: string, step: number } | null, collapse: { percent: string, digit: number, step: number } | null }}
 */
const symptoms = { winning: null, collapse: null };

function showSymptoms() {
  const text = [
    symptoms.winning && t('dWinning', symptoms.winning),
    symptoms.collapse && t('collapse', symptoms.collapse),
  ].filter(Boolean).join(' ');
  $('symptom').textContent = text;
  $('symptom').hidden = text === '';
}

/**
 * The charts' text alternatives (their aria-labels): what they show and the latest
 * values, in the page's language.
 */
function describeCharts() {
  /** @param {Chart} chart */
  const latest = (chart) => chart.series.map((points) => points[points.length - 1]?.[1]);
  /**
   * @param {Chart} chart @param {string[]} names the series' placeholders
   * @param {(values: Record<string, string | number>) => string} text
   */
  const describe = (chart, names, text) => {
    const values = latest(chart);
    const steps = chart.series[0].length ? chart.series[0][chart.series[0].length - 1][0] : 0;
    /** @type {Record<string, string | number>} */
    const filled = { steps };
    names.forEach((name, i) => { filled[name] = values[i] === undefined ? '–' : values[i].toFixed(3); });
    chart.canvas.setAttribute('aria-label', values[0] === undefined ? t('chartEmpty') : text(filled));
  };
  describe(lossChart, ['d', 'g'], (v) => t('lossChartText', v));
  describe(probChart, ['real', 'fake'], (v) => t('probChartText', v));
  describe(frechetChart, ['value'], (v) => t('frechetChartText', v));
  describe(scoreChart, ['value'], (v) => t('scoreChartText', v));
  const shares = censusBars.values.map((v, digit) => `${digit}: ${(100 * v).toFixed(0)}%`).join(', ');
  censusBars.canvas.setAttribute('aria-label', shares ? t('censusChartText', { shares }) : t('chartEmpty'));
}

/** @type {import('./backends.js').OnStats} */
function onStats(s, step) {
  symptoms.winning = s.fake < D_WINNING ? { value: s.fake.toFixed(3), step } : null;
  showSymptoms();
  lossChart.add(step, [s.d, s.g]);
  probChart.add(step, [s.real, s.fake]);
  lossChart.draw();
  probChart.draw();
  describeCharts();
  if (!s.finite) {
    setRunning(false);
    messages.show('run', 'error', () => t('nonFinite', { step }));
  }
}

/** @param {number | null} value @param {number} digits */
function fixed(value, digits) {
  return value === null ? t('notFinite') : value.toFixed(digits);
}

/**
 * Whether G's samples read as digits yet, so that their census means something: read
 * with a mean confidence above READS_AS_DIGITS and nearer MNIST than NEAR_MNIST.
 * README's calibration: uniform noise reads at 0.61 and 935, an untrained G at 0.14
 * and 1418 (both not yet), G after 1,000 steps at 0.78 and 668 (digits, a few of
 * them: the collapse it shows is real).
 * @param {import('./backends.js').CensusReport} report
 */
function readsAsDigits(report) {
  return (report.mean_confidence ?? 0) > READS_AS_DIGITS && (report.frechet_distance ?? Infinity) < NEAR_MNIST;
}

/** What the census chart shows, and of how many samples at which step (the last census's). */
function showCensusText() {
  const report = app.census;
  // Before the samples read as digits, the shares of an unconditional G's census are
  // noise's, however much one bar stands out.
  const young = Boolean(report && !report.agreement && !readsAsDigits(report));
  $('census').classList.toggle('young', young);
  $('census-what').textContent = young && report
    ? t('notDigitsYet', {
      confidence: fixed(report.mean_confidence, 2),
      distance: fixed(report.frechet_distance, 0),
    })
    : t(report?.agreement ? 'censusAgreement' : 'censusShares');
  $('census-count').textContent = report
    ? t('censusCount', { n: report.n.toLocaleString(language()), step: app.censusStep ?? '–' })
    : '';
  if (report) {
    $('readout-frechet').textContent = fixed(report.frechet_distance, 1);
    $('readout-score').textContent = fixed(report.classifier_score, 2);
  }
}

/** @type {import('./backends.js').OnCensus} */
function onCensus(report, step) {
  // A conditional G: how often each digit asked for is read as asked; else the census.
  censusBars.set(report.agreement?.map((v) => v ?? 0) ?? report.class_fractions);
  // Only the unconditional preview's cells are among the census's samples.
  $('label-digits-control').hidden = Boolean(report.agreement);
  if (report.frechet_distance !== null) frechetChart.add(step, [report.frechet_distance]);
  if (report.classifier_score !== null) scoreChart.add(step, [report.classifier_score]);
  frechetChart.draw();
  scoreChart.draw();
  describeCharts();
  app.census = report;
  app.censusStep = step;
  showCensusText();
  const top = Math.max(...report.class_fractions);
  const digit = report.class_fractions.indexOf(top);
  symptoms.collapse = !report.agreement && readsAsDigits(report) && top > COLLAPSED
    ? { percent: (100 * top).toFixed(0), digit, step }
    : null;
  showSymptoms();
  app.gridDigits = { step, digits: report.preview_digits };
  labelGrid();
}

/** @type {import('./backends.js').OnPreview} */
function onPreview(preview, step, digit) {
  const grid = canvas('grid');
  app.lastPreview = preview;
  // While walking, the grid shows the walk; the preview waits for its end.
  if (!app.walk) {
    drawGrid(grid, preview.image, preview.columns, preview.scores);
    drawPins();
  }
  drawBetween();
  grid.dataset.drawnStep = String(step);
  grid.dataset.digit = digit === undefined ? '' : String(digit);
  // The timelapse follows the fixed latents, not a picked digit.
  if (digit === undefined) app.timelapse.offer(preview.image, step);
  app.scores = { fake: preview.scores, real: preview.realScores };
  // Before this trainer's first step there is no batch to show.
  const batch = step > app.batchFrom;
  $('reals').hidden = !batch || !input('d-view').checked;
  if (batch) drawGrid(canvas('real-grid'), preview.real, preview.realColumns, preview.realScores);
  labelGrid();
}

/**
 * A grid of cells, each framed by D's output on it when asked (by default, as the
 * D's view box says): red where D says generated (0), green where it says real (1).
 * @param {HTMLCanvasElement} target @param {ImageData} image @param {number} columns
 * @param {Float32Array} scores @param {boolean} [framed]
 */
function drawGrid(target, image, columns, scores, framed = input('d-view').checked) {
  target.width = image.width;
  target.height = image.height;
  target.dataset.columns = String(columns);
  const ctx = target.getContext('2d');
  if (!ctx) return;
  ctx.putImageData(image, 0, 0);
  if (!framed) return;
  const { cols, pitch } = gridShape(target);
  ctx.lineWidth = 2;
  scores.forEach((score, i) => {
    ctx.strokeStyle = `hsl(${Math.round(120 * score)}, 85%, 50%)`;
    ctx.strokeRect((i % cols) * pitch + 1, Math.floor(i / cols) * pitch + 1, pitch, pitch);
  });
}

/** Outlines the chosen cells on the grid. */
function drawPins() {
  const grid = canvas('grid');
  const ctx = grid.getContext('2d');
  if (!ctx) return;
  const { cols, pitch } = gridShape(grid);
  ctx.strokeStyle = '#6cb4ff';
  ctx.lineWidth = 2;
  for (const cell of app.pinned) ctx.strokeRect((cell % cols) * pitch + 1, Math.floor(cell / cols) * pitch + 1, pitch, pitch);
  // The keyboard's cell, while the grid has the keyboard's focus.
  if (grid.matches(':focus-visible')) {
    ctx.strokeStyle = '#ffffff';
    ctx.setLineDash([3, 2]);
    const cell = app.keyCell;
    ctx.strokeRect((cell % cols) * pitch + 1, Math.floor(cell / cols) * pitch + 1, pitch, pitch);
    ctx.setLineDash([]);
  }
}

// The in-betweens played in turn, there and back, at this many a second.
const MORPH_FRAMES_PER_SECOND = 8;

/** Plays the in-betweens one after another, large, there and back; or stops. */
function toggleMorph() {
  if (app.morph !== null) {
    stopMorph();
    return;
  }
  const morph = canvas('morph');
  morph.hidden = false;
  let frame = 0;
  morph.dataset.frames = '0';
  app.morph = window.setInterval(() => {
    const between = canvas('between');
    const cells = 10;
    const pitch = (between.width - GUTTER) / cells;
    const side = pitch - GUTTER;
    // 0, 1, ..., 9, 8, ..., 1: there and back.
    const cell = frame % (2 * cells - 2) < cells ? frame % (2 * cells - 2) : 2 * cells - 2 - (frame % (2 * cells - 2));
    morph.width = side;
    morph.height = side;
    morph.getContext('2d')?.drawImage(between, GUTTER + cell * pitch, GUTTER, side, side, 0, 0, side, side);
    frame += 1;
    morph.dataset.frames = String(frame);
  }, 1000 / MORPH_FRAMES_PER_SECOND);
  $('play-between').dataset.i18n = 'stopBetween';
  $('play-between').textContent = t('stopBetween');
}

function stopMorph() {
  if (app.morph !== null) window.clearInterval(app.morph);
  app.morph = null;
  canvas('morph').hidden = true;
  $('play-between').dataset.i18n = 'playBetween';
  $('play-between').textContent = t('playBetween');
}

/** G's in-betweens of the two chosen cells, as G is now (one request at a time). */
function drawBetween() {
  const between = canvas('between');
  between.hidden = app.pinned.length < 2;
  $('morph-controls').hidden = app.pinned.length < 2;
  if (app.pinned.length < 2) stopMorph();
  if (app.pinned.length < 2 || app.interpolating || !app.backend) return;
  app.interpolating = true;
  const [from, to] = app.pinned;
  app.backend
    .interpolate(from, to, input('slerp').checked)
    .then((image) => {
      between.width = image.width;
      between.height = image.height;
      between.getContext('2d')?.putImageData(image, 0, 0);
      between.dataset.cells = `${from}-${to}`;
    })
    .catch((e) => messages.show('latent', 'error', () => errorText(e)))
    .finally(() => {
      app.interpolating = false;
    });
}

// The walk's pace: a full turn of every cell's great circle in about 12 s.
const WALK_RADIANS_PER_SECOND = 0.5;

/** Starts or stops the latent walk; stopped, the grid shows the preview again. */
function toggleWalk() {
  app.walk = app.walk ? null : { start: performance.now(), frames: 0, inFlight: false };
  $('walk').dataset.i18n = app.walk ? 'stopWalking' : 'walk';
  $('walk').textContent = t(app.walk ? 'stopWalking' : 'walk');
  canvas('grid').dataset.walkFrames = '0';
  const preview = app.lastPreview;
  if (!app.walk && preview) {
    drawGrid(canvas('grid'), preview.image, preview.columns, preview.scores);
    drawPins();
  }
}

/** The walk's next frame, once the last has been drawn (called every animation frame). @param {number} now */
function stepWalk(now) {
  const walk = app.walk;
  if (!walk || walk.inFlight || !app.backend) return;
  walk.inFlight = true;
  const angle = ((now - walk.start) / 1000) * WALK_RADIANS_PER_SECOND;
  app.backend
    .walk(angle)
    .then((image) => {
      if (app.walk !== walk) return;
      const grid = canvas('grid');
      drawGrid(grid, image, Number(grid.dataset.columns), new Float32Array(), false);
      walk.frames += 1;
      grid.dataset.walkFrames = String(walk.frames);
    })
    .catch((e) => {
      app.walk = walk;
      toggleWalk();
      messages.show('latent', 'error', () => errorText(e));
    })
    .finally(() => {
      walk.inFlight = false;
    });
}

/**
 * The chosen cells' latent vectors as a strip, a row each: blue below 0, black at 0,
 * orange above (full colour from ±2.5, beyond which few of a Gaussian's values lie).
 */
async function drawLatents() {
  const pinned = app.pinned;
  $('latents').hidden = pinned.length === 0 || !app.backend;
  if (!app.backend || pinned.length === 0) return;
  const backend = app.backend;
  const latents = await Promise.all(pinned.map((cell) => backend.latentOf(cell)));
  if (app.pinned !== pinned) return;
  const strip = canvas('latent-strip');
  const cell = 4;
  strip.width = latents[0].length * cell;
  strip.height = latents.length * cell * 2;
  const ctx = strip.getContext('2d');
  if (!ctx) return;
  latents.forEach((z, row) => {
    z.forEach((value, i) => {
      const v = Math.max(-1, Math.min(1, value / 2.5));
      const [r, g, b] = v < 0 ? [108, 180, 255] : [255, 155, 94];
      const k = Math.abs(v);
      ctx.fillStyle = `rgb(${Math.round(r * k)}, ${Math.round(g * k)}, ${Math.round(b * k)})`;
      ctx.fillRect(i * cell, row * cell * 2, cell, cell * 2);
    });
  });
  strip.dataset.cells = pinned.join('-');
}

/** Chooses (or lets go of) the grid cell under the pointer. @param {MouseEvent} event */
function pinCell(event) {
  const grid = /** @type {HTMLCanvasElement} */ (event.currentTarget);
  const { cols, pitch } = gridShape(grid);
  const scale = grid.width / grid.clientWidth;
  const col = Math.floor((event.offsetX * scale) / pitch);
  if (col < cols) toggleCell(Math.floor((event.offsetY * scale) / pitch) * cols + col);
}

/** Chooses grid cell `cell`, or lets go of it (two at most, the oldest goes). @param {number} cell */
function toggleCell(cell) {
  const preview = app.lastPreview;
  if (!preview || cell < 0 || cell >= preview.scores.length) return;
  app.keyCell = cell;
  app.pinned = app.pinned.includes(cell) ? app.pinned.filter((c) => c !== cell) : [...app.pinned, cell].slice(-2);
  drawGrid(canvas('grid'), preview.image, preview.columns, preview.scores);
  drawPins();
  drawBetween();
  drawLatents().catch((e) => messages.show('latent', 'error', () => errorText(e)));
}

/** On the focused grid, the arrow keys move a cell and Enter or Space chooses it. @param {KeyboardEvent} event */
function gridKey(event) {
  const preview = app.lastPreview;
  if (!preview) return;
  const cols = Number(canvas('grid').dataset.columns) || 1;
  /** @type {Record<string, number>} */
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols };
  if (event.key in moves) {
    app.keyCell = Math.max(0, Math.min(preview.scores.length - 1, app.keyCell + moves[event.key]));
    drawGrid(canvas('grid'), preview.image, preview.columns, preview.scores);
    drawPins();
  } else if (event.key === 'Enter' || event.key === ' ') {
    toggleCell(app.keyCell);
  } else {
    return;
  }
  event.preventDefault();
}

/**
 * How the cells lie in a grid canvas (src/formats/grid.rs): its columns (as drawn), and the
 * distance from one cell to the next (a cell and a gutter).
 * @param {HTMLCanvasElement} target
 */
function gridShape(target) {
  const cols = Number(target.dataset.columns) || 1;
  return { cols, pitch: (target.width - GUTTER) / cols };
}

/**
 * D's output on the cell under the pointer, in words, into `out`.
 * @param {MouseEvent} event @param {Float32Array | undefined} scores @param {string} what
 * @param {string} out
 */
function describeCell(event, scores, what, out) {
  const target = /** @type {HTMLCanvasElement} */ (event.currentTarget);
  if (!scores) return;
  const { cols, pitch } = gridShape(target);
  const scale = target.width / target.clientWidth;
  const col = Math.floor((event.offsetX * scale) / pitch);
  const row = Math.floor((event.offsetY * scale) / pitch);
  const i = row * cols + col;
  if (col < cols && i < scores.length) $(out).textContent = t('cellValue', { what, value: scores[i].toFixed(3) });
}

// The gutter around the grid's cells (src/formats/grid.rs).
const GUTTER = 2;

/** Writes the digit the last census read in each cell into its corner, when asked. */
function labelGrid() {
  const grid = canvas('grid');
  const ctx = grid.getContext('2d');
  const read = app.gridDigits;
  if (!ctx || !read || !input('label-digits').checked) return;
  const { cols, pitch } = gridShape(grid);
  ctx.font = 'bold 7px system-ui';
  ctx.textBaseline = 'top';
  read.digits.forEach((digit, i) => {
    const x = GUTTER + (i % cols) * pitch;
    const y = GUTTER + Math.floor(i / cols) * pitch;
    ctx.fillStyle = 'rgba(0, 0, 0, 0.6)';
    ctx.fillRect(x, y, 6, 8);
    ctx.fillStyle = '#7ddc8c';
    ctx.fillText(String(digit), x + 1, y + 1);
  });
  grid.dataset.labelledStep = String(read.step);
}

/** @param {Float32Array} scores */
function mean(scores) {
  return scores.reduce((a, b) => a + b, 0) / scores.length;
}

/**
 * Runs D's or G's half of the current step alone and shows D's output on the same
 * images before and after it.
 * @param {import('./backends.js').Half} half
 */
async function halfStep(half) {
  const backend = activeBackend();
  const step = backend.confirmedStep;
  for (const id of ['d-step', 'g-step']) button(id).disabled = true;
  try {
    const view = await backend.halfStep(half);
    app.halfStep = { half, view, step };
    showHalfStep();
  } finally {
    for (const id of ['d-step', 'g-step']) button(id).disabled = app.running;
  }
}

function showHalfStep() {
  const shown = app.halfStep;
  if (!shown) return;
  const { half, view, step } = shown;
  $('half-step').hidden = false;
  drawGrid(canvas('half-fake-before'), view.fake, view.columns, view.fakeScores, true);
  drawGrid(canvas('half-fake-after'), view.fakeAfter, view.columns, view.fakeScoresAfter, true);
  drawGrid(canvas('half-real-before'), view.real, view.columns, view.realScores, true);
  drawGrid(canvas('half-real-after'), view.real, view.columns, view.realScoresAfter, true);
  // G's step leaves D, so its view of the real images, as it was.
  $('half-reals').hidden = half === 'generator';
  // The losses the step lowers, on the images shown (the batch, or its first 64).
  const meanLog = (/** @type {Float32Array} */ p, /** @type {boolean} */ real) => p.reduce((a, x) => a + Math.log(real ? x : 1 - x), 0) / p.length;
  const dLoss = (/** @type {Float32Array} */ r, /** @type {Float32Array} */ f) => -(meanLog(r, true) + meanLog(f, false)) / 2;
  const gLoss = (/** @type {Float32Array} */ f) => -meanLog(f, true);
  const three = (/** @type {number} */ x) => x.toFixed(3);
  const scores = {
    step,
    realBefore: three(mean(view.realScores)),
    realAfter: three(mean(view.realScoresAfter)),
    fakeBefore: three(mean(view.fakeScores)),
    fakeAfter: three(mean(view.fakeScoresAfter)),
  };
  $('half-step-what').textContent = half === 'discriminator'
    ? t('dStepDone', {
      ...scores,
      lossBefore: three(dLoss(view.realScores, view.fakeScores)),
      lossAfter: three(dLoss(view.realScoresAfter, view.fakeScoresAfter)),
    })
    : t('gStepDone', { ...scores, lossBefore: three(gLoss(view.fakeScores)), lossAfter: three(gLoss(view.fakeScoresAfter)) });
}

/** @param {boolean} running */
function setRunning(running) {
  app.running = running;
  app.backend?.setRunning(running);
  updateShareLink();
  $('train').dataset.i18n = running ? 'pause' : 'train';
  $('train').textContent = t(running ? 'pause' : 'train');
  for (const id of ['step', 'd-step', 'g-step']) button(id).disabled = running || !app.backend;
  $('half-hint').hidden = !running;
}

// Only a lost GPU device needs a snapshot: the CPU backend cannot lose its state.
async function takeSnapshot() {
  if (app.snapshotting || app.backend?.kind !== 'gpu') return;
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

/** @param {string} why */
async function recover(why) {
  app.recovering = true;
  const wasRunning = app.running;
  setRunning(false);
  const from = app.snapshot;
  messages.show('device', 'warning', () => t('deviceLost', { why, step: from ? from.step : 0 }));
  try {
    await startBackend('gpu', from?.files);
    app.snapshot = from;
    const step = app.backend?.confirmedStep ?? 0;
    messages.show('device', 'success', () => t('deviceRecovered', { why, step }));
    setRunning(wasRunning);
  } catch (e) {
    try {
      await startBackend('cpu', from?.files);
      messages.show('device', 'warning', () => t('deviceToCpu', { why: errorText(e) }));
      setRunning(wasRunning);
    } catch (cpuError) {
      messages.show('device', 'error', () => t('deviceGone', { why: errorText(cpuError) }));
    }
  }
  app.recovering = false;
}

/**
 * What the backend chosen by hand means here: the CPU is slower than a hardware GPU
 * but faster than a software one, and a software GPU is slow.
 * @param {BackendKind} kind
 */
function showBackendChoice(kind) {
  const name = app.adapterName;
  if (kind === 'gpu' && app.softwareAdapter) notices.show('backend', 'warning', () => t('gpuOnSoftware', { name }));
  else if (kind === 'cpu' && app.softwareAdapter) notices.show('backend', 'info', () => t('softwareAdapter', { name }));
  else if (kind === 'cpu') notices.show('backend', 'info', () => t('onCpu'));
  else notices.clear('backend');
}

/** @param {unknown} e */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

/** @param {number} now */
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
    messages.show('device', 'error', () => t('gpuError', { why: error }));
  }
  if (app.running && app.until !== undefined && backend.confirmedStep >= app.until) {
    // A demo link's state is reached: from here on the visitor decides.
    setRunning(false);
    const [step, until] = [backend.confirmedStep, app.until];
    messages.show('run', 'info', () => t('stoppedAt', { step, until }));
    app.until = undefined;
    backend.setUntil(undefined);
    updateShareLink();
  }
  try {
    backend.update(now);
    stepWalk(now);
    if (app.running && now - app.lastSnapshot > SNAPSHOT_EVERY_MS) {
      app.lastSnapshot = now;
      takeSnapshot();
    }
  } catch (e) {
    setRunning(false);
    messages.show('run', 'error', () => errorText(e));
  }
  $('readout-step').textContent = String(backend.confirmedStep);
  $('readout-epoch').textContent = (backend.confirmedStep / backend.stepsPerEpoch).toFixed(2);
  $('readout-rate').textContent = backend.rate ? backend.rate.toFixed(1) : '–';
}

/**
 * Runs `action`, showing its error (if any) instead of letting it escape.
 * @param {(event: Event) => unknown} action
 */
function guarded(action) {
  return async (/** @type {Event} */ event) => {
    try {
      await action(event);
    } catch (e) {
      messages.show('action', 'error', () => errorText(e));
    }
  };
}

/** The backend, once the page has one (every control is disabled before). */
function activeBackend() {
  if (!app.backend) throw new Error(t('notReady'));
  return app.backend;
}

function wireControls() {
  $('train').addEventListener('click', () => setRunning(!app.running));
  // The page's text, and the messages shown, in the other language.
  languageSelect().addEventListener('change', () => {
    setLanguage(/** @type {import('./i18n.js').Language} */ (languageSelect().value));
    notices.relabel();
    messages.relabel();
    for (const chart of [lossChart, probChart, frechetChart, scoreChart]) chart.draw();
    showCensusText();
    showSymptoms();
    showHalfStep();
    describeCharts();
    if (app.backend) showAdapter();
    updateShareLink();
  });
  $('step').addEventListener('click', guarded(() => {
    activeBackend().stepOnce();
  }));
  $('d-step').addEventListener('click', guarded(() => halfStep('discriminator')));
  $('g-step').addEventListener('click', guarded(() => halfStep('generator')));
  $('reset').addEventListener('click', guarded(async () => {
    for (const topic of ['run', 'action', 'checkpoint']) messages.clear(topic);
    await startBackend(activeBackend().kind);
    app.timelapse.clear();
  }));
  // Switching carries the run over: the same state continues on the other backend.
  // If the other backend cannot start, the choice, the link and the run stay as they were.
  backendSelect().addEventListener('change', guarded(async () => {
    const kind = /** @type {BackendKind} */ (backendSelect().value);
    const previous = { kind: activeBackend().kind, chosen: app.chosenBackend, running: app.running };
    setRunning(false);
    try {
      const files = await activeBackend().save();
      await startBackend(kind, files);
    } catch (e) {
      backendSelect().value = previous.kind;
      app.chosenBackend = previous.chosen;
      updateShareLink();
      setRunning(previous.running);
      throw new Error(t('switchFailed', { kind: kind.toUpperCase(), why: errorText(e) }));
    }
    app.chosenBackend = kind;
    updateShareLink();
    showBackendChoice(kind);
    setRunning(previous.running);
  }));
  $('settings').addEventListener('input', () => {
    updateShareLink();
    updateSettingsNote();
  });
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  $('share-until').addEventListener('change', updateShareLink);
  $('copy-link').addEventListener('click', guarded(async () => {
    updateShareLink();
    const link = input('share-link');
    try {
      await navigator.clipboard.writeText(link.value);
      messages.clear('copy');
      $('copy-link').textContent = t('copied');
      setTimeout(() => { $('copy-link').textContent = t('copyLink'); }, 1500);
    } catch {
      link.select();
      messages.show('copy', 'warning', () => t('copyRefused'));
    }
  }));
  $('save').addEventListener('click', guarded(async () => {
    const files = await activeBackend().save();
    const names = ['generator.safetensors', 'discriminator.safetensors', 'optimizer.safetensors'];
    names.forEach((name, i) => download(name, new Blob([/** @type {BlobPart} */ (files[i])])));
  }));
  $('load').addEventListener('change', guarded(async (event) => {
    const picker = /** @type {HTMLInputElement} */ (event.target);
    const chosen = [...(picker.files ?? [])];
    picker.value = '';
    const pick = (/** @type {string} */ word) => chosen.find((f) => f.name.toLowerCase().includes(word));
    const generator = pick('generator') ?? (chosen.length === 1 ? chosen[0] : undefined);
    if (!generator) throw new Error(t('chooseGenerator'));
    /** @param {File | undefined} f */
    const bytes = async (f) => (f ? new Uint8Array(await f.arrayBuffer()) : undefined);
    const [g, d, o] = [await bytes(generator), await bytes(pick('discriminator')), await bytes(pick('optimizer'))];
    if (!g) throw new Error(t('unreadableGenerator'));
    // Without a discriminator an optimizer file is refused by the core, with a reason.
    /** @type {import('./backends.js').CheckpointFiles} */
    const files = [g, d, o];
    try {
      await startBackend(activeBackend().kind, files);
    } catch (e) {
      throw new Error(t('loadFailed', { why: errorText(e) }));
    }
    app.timelapse.clear();
    const step = activeBackend().confirmedStep;
    messages.show('checkpoint', 'success', () => t(d ? 'loaded' : 'loadedGenerator', { step }));
  }));
  for (const id of ['own-folder', 'own-files']) {
    $(id).addEventListener('change', guarded(async (event) => {
      const picker = /** @type {HTMLInputElement} */ (event.target);
      const files = [...(picker.files ?? [])];
      picker.value = '';
      await preparePictures(files);
    }));
  }
  // Pictures dropped anywhere on the page, once it is ready.
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', guarded(async (event) => {
    const drop = /** @type {DragEvent} */ (event);
    drop.preventDefault();
    if (drop.dataTransfer && app.backend) await preparePictures(await images.droppedFiles(drop.dataTransfer));
  }));
  $('own-use').addEventListener('click', guarded(() => useData(app.candidate)));
  $('own-mnist').addEventListener('click', guarded(() => useData(null)));
  $('own-forget').addEventListener('click', guarded(async () => {
    await images.forget();
    app.candidate = null;
    for (const id of ['own-use', 'own-forget', 'own-preview', 'own-skipped']) $(id).hidden = true;
    $('own-status').textContent = t('ownForgotten');
    if (app.pictures) await useData(null);
  }));
  // The census's line says it is measuring until the new census arrives.
  $('measure').addEventListener('click', guarded(() => {
    $('census-count').textContent = t('measuring');
    activeBackend().measure();
  }));
  $('digit').addEventListener('change', guarded(() => {
    const value = /** @type {HTMLSelectElement} */ ($('digit')).value;
    // The chosen cells were cells of the other grid.
    app.pinned = [];
    $('latents').hidden = true;
    activeBackend().setDigit(value === '' ? undefined : Number(value));
  }));
  // The grids' values only while D's view is on.
  const shown = (/** @type {'fake' | 'real'} */ grid) => (input('d-view').checked ? app.scores?.[grid] : undefined);
  canvas('grid').addEventListener('mousemove', (e) => describeCell(e, shown('fake'), 'D(G(z))', 'd-score'));
  canvas('real-grid').addEventListener('mousemove', (e) => describeCell(e, shown('real'), 'D(x)', 'd-score'));
  // A value belongs to the cell pointed at: gone with the pointer.
  for (const id of ['grid', 'real-grid']) {
    canvas(id).addEventListener('mouseleave', () => { $('d-score').textContent = t('pointAtSample'); });
  }
  for (const [id, what, key] of /** @type {const} */ ([
    ['half-fake-before', 'D(G(z)) before', 'fakeScores'],
    ['half-fake-after', 'D(G(z)) after', 'fakeScoresAfter'],
    ['half-real-before', 'D(x) before', 'realScores'],
    ['half-real-after', 'D(x) after', 'realScoresAfter'],
  ])) {
    canvas(id).addEventListener('mousemove', (e) => describeCell(e, app.halfStep?.view[key], what, 'half-step-score'));
    canvas(id).addEventListener('mouseleave', () => { $('half-step-score').textContent = t('halfPoint'); });
  }
  // Unticked, the next previews draw the grids bare.
  $('d-view').addEventListener('change', () => {
    $('reals').hidden = !input('d-view').checked || (app.backend?.confirmedStep ?? 0) <= app.batchFrom;
  });
  $('label-digits').addEventListener('change', () => labelGrid());
  // A video where this browser records one, else an animated GIF.
  $('download-timelapse').addEventListener('click', guarded(async () => {
    const frames = app.timelapse.frames;
    if (frames.length < 2) throw new Error(t('timelapseShort'));
    const span = `steps-${frames[0].step}-${frames[frames.length - 1].step}`;
    if (Timelapse.canRecord()) {
      messages.show('timelapse', 'info', () => t('recording', { n: frames.length }));
      download(`ganvas-timelapse-${span}.webm`, await app.timelapse.video());
      messages.clear('timelapse');
    } else {
      download(`ganvas-timelapse-${span}.gif`, app.timelapse.gif());
    }
  }));
  $('download-filmstrip').addEventListener('click', guarded(async () => {
    const frames = app.timelapse.frames;
    if (frames.length < 1) throw new Error(t('timelapseEmpty'));
    const span = `steps-${frames[0].step}-${frames[frames.length - 1].step}`;
    download(`ganvas-filmstrip-${span}.png`, await app.timelapse.filmstrip());
  }));
  $('present').addEventListener('click', () => document.body.classList.toggle('present'));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') document.body.classList.remove('present');
  });
  // In the presentation a click leaves it; else it chooses a cell for in-betweens.
  canvas('grid').addEventListener('click', (e) => {
    if (document.body.classList.contains('present')) document.body.classList.remove('present');
    else pinCell(e);
  });
  canvas('grid').addEventListener('keydown', gridKey);
  for (const change of ['focus', 'blur']) {
    canvas('grid').addEventListener(change, () => {
      const preview = app.lastPreview;
      if (!preview || app.walk) return;
      drawGrid(canvas('grid'), preview.image, preview.columns, preview.scores);
      drawPins();
    });
  }
  $('slerp').addEventListener('change', () => drawBetween());
  $('walk').addEventListener('click', () => toggleWalk());
  $('play-between').addEventListener('click', () => toggleMorph());
  $('download-grid').addEventListener('click', () => {
    const step = app.backend?.confirmedStep ?? 0;
    canvas('grid').toBlob((blob) => blob && download(`ganvas-step-${step}.png`, blob), 'image/png');
  });
}

/** @typedef {{ vendor?: string, architecture?: string, description?: string, isFallbackAdapter?: boolean }} AdapterInfo */
/** @typedef {{ info?: AdapterInfo, isFallbackAdapter?: boolean }} Adapter what the page reads of a GPUAdapter */

// The WebGPU adapter's name, or null (and why) when this browser has none.
async function probeWebGpu() {
  const gpu = /** @type {{ gpu?: { requestAdapter(): Promise<Adapter | null> } }} */ (/** @type {unknown} */ (navigator)).gpu;
  if (!gpu) return { why: t('noWebGpu') };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { why: t('noAdapter') };
  // `isFallbackAdapter` moved from the adapter to its info; browsers have either.
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'WebGPU adapter';
  const software = Boolean(adapter.isFallbackAdapter || info.isFallbackAdapter);
  return { name: name + (software ? ' (software)' : ''), software };
}

async function main() {
  await init({ module_or_path: new URL('./pkg/ganvas_bg.wasm', import.meta.url) });
  app.defaults = JSON.parse(default_config());
  const link = settings.fromHash(location.hash);
  setLanguage(link.lang ?? preferred());
  languageSelect().value = language();
  const gpu = await probeWebGpu();
  app.webgpu = Boolean(gpu.name);
  app.softwareAdapter = Boolean(gpu.software);
  app.adapterName = gpu.name ?? '';
  const gpuOption = /** @type {HTMLOptionElement} */ (backendSelect().querySelector('option[value="gpu"]'));
  gpuOption.disabled = !app.webgpu;
  // Only values that are present and wrong get a notice; missing ones are defaults.
  // (What was wrong is the core's sentence, in English.)
  for (const p of link.problems) {
    notices.show(`link ${p.key}`, 'warning', () => (p.key in link.values
      ? t('linkProblemUsing', { problem: p.message, value: link.values[p.key] })
      : t('linkProblem', { problem: p.message })));
  }
  settings.writeForm(settingsForm(), link.values);
  app.chosenBackend = link.backend ?? undefined;
  app.until = link.until ?? undefined;
  /** @type {BackendKind} */
  let kind = link.backend ?? (gpu.software ? 'cpu' : 'gpu');
  if (!link.backend && gpu.software) {
    // A software adapter emulates the GPU on the CPU's cores, with overheads the CPU
    // backend does not have: on one 2-core machine it trained 13x slower.
    notices.show('backend', 'info', () => t('softwareAdapter', { name: gpu.name ?? '' }));
  }
  if (link.backend === 'gpu' && gpu.software) showBackendChoice('gpu');
  if (kind === 'gpu' && !app.webgpu) {
    kind = 'cpu';
    notices.show('backend', 'warning', () => t('cpuInstead', { why: gpu.why ?? '' }));
  }
  backendSelect().value = kind;
  wireControls();
  await loadData();
  // Pictures kept from an earlier visit: offered, or used when the link was made
  // from a run on pictures (the sender's, which the link cannot carry).
  const kept = await images.kept();
  if (kept) {
    app.candidate = kept;
    showCandidate(kept, t('ownKept', { count: kept.count, shape: shapeText(kept) }));
  }
  if (link.own_images) notices.show('own link', 'info', () => t(kept ? 'ownLinkKept' : 'ownLink'));
  $('load-text').textContent = t(kind === 'gpu' ? 'settingUpGpu' : 'startingCpu');
  await startBackend(kind);
  if (link.own_images && kept) await useData(kept);
  $('loading').hidden = true;
  const ready = ['train', 'step', 'd-step', 'g-step', 'walk', 'own-folder', 'own-files', 'reset', 'copy-link', 'save', 'load', 'download-grid', 'backend', 'measure'];
  for (const id of [...ready, 'download-timelapse', 'download-filmstrip', 'present']) {
    /** @type {HTMLButtonElement | HTMLInputElement | HTMLSelectElement} */ ($(id)).disabled = false;
  }
  document.body.dataset.ready = 'true';
  if (link.autostart) setRunning(true);
  requestAnimationFrame(frame);
}

// The browser tests (and curious visitors) read the state from here.
/** @type {Window & { ganvas?: typeof app }} */ (window).ganvas = app;

main().catch((e) => {
  fatal(t('couldNotStart'), errorText(e));
});
