// @ts-check
// The page: loads MNIST, drives a training backend (WebGPU, or the CPU in a worker)
// and wires the controls. All training math runs in the core (www/pkg, from src/).

import init, { WebClassifier, WebDataset, default_config } from './pkg/ganvas.js';
import { CpuBackend, GpuBackend, setCpuThreads } from './backends.js';
import { isolate } from './isolation.js';
import * as checkpoints from './checkpoints.js';
import { Curves } from './curves.js';
import { $, button, canvas } from './dom.js';
import { DView } from './d-view.js';
import { HalfSteps } from './half-steps.js';
import { OwnImages } from './own-images.js';
import { SampleGrid } from './sample-grid.js';
import { Messages } from './messages.js';
import * as mnistData from './mnist-data.js';
import { Keepsakes } from './keepsakes.js';
import { Recovery } from './recovery.js';
import { probeWebGpu } from './webgpu.js';
import { Sharing } from './share.js';
import * as settings from './settings.js';
import { SettingsForm } from './settings-form.js';
import { errorText, PageError, problemText } from './errors.js';
import * as images from './images.js';
import { language, preferred, setLanguage, t } from './i18n.js';

/** @typedef {import('./backends.js').Backend} Backend */
/** @typedef {import('./settings.js').BackendKind} BackendKind */

const backendSelect = () => /** @type {HTMLSelectElement} */ ($('backend'));
const languageSelect = () => /** @type {HTMLSelectElement} */ ($('language'));

const BACKENDS = { gpu: GpuBackend, cpu: CpuBackend };

// The page's messages (about the page, the link and the device), and the run's (next
// to its controls).
const notices = new Messages($('notices'));
const messages = new Messages($('message'));

// The page's parts, each owning its DOM (app.js starts and drives them).
const curves = new Curves();
const form = new SettingsForm();
const halfSteps = new HalfSteps();
const keepsakes = new Keepsakes();
const sharing = new Sharing(() => ({
  values: appliedValues(),
  step: app.backend?.confirmedStep,
  backend: app.chosenBackend,
  until: app.until,
  ownImages: Boolean(app.pictures),
}));
const ownImages = new OwnImages((prepared) => useData(prepared), (action) => guarded(action), () => Boolean(app.backend));
const recovery = new Recovery({
  backend: () => app.backend,
  start: (kind, files) => startBackend(kind, files),
  running: () => app.running,
  setRunning: (running) => setRunning(running),
  messages,
});
const dView = new DView(() => app.backend?.confirmedStep ?? 0);
const grid = new SampleGrid(() => app.backend, (e) => messages.show('latent', 'error', () => errorText(e)));

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
  /** the run's timelapse, for the tests */
  get timelapse() { return keepsakes.timelapse; },
  /** the grid cells chosen for in-betweens, for the tests */
  get pinned() { return grid.pinned; },
  /** D's output on each cell of the grids, for the tests */
  get scores() { return dView.scores; },
  /** the last half step, as shown, for the tests */
  get halfStep() { return halfSteps.shown; },
  /** the last census and its step, for the tests and curious visitors */
  get census() { return curves.census; },
  get censusStep() { return curves.censusStep; },
  webgpu: false, // whether this browser offers a WebGPU adapter
  softwareAdapter: false, // whether that adapter is a CPU emulation (SwiftShader, lavapipe)
  adapterName: '',
  /** @type {BackendKind | undefined} once a link or the visitor has picked one */
  chosenBackend: undefined,
  /** @type {Backend | null} */
  backend: null,
  running: false,
  /** @type {number | undefined} the step a demo link trains to and stops at, until reached */
  until: undefined,
};


/** @param {string} title @param {string} text */
function fatal(title, text) {
  $('app').hidden = true;
  $('fatal').hidden = false;
  $('fatal-title').textContent = title;
  $('fatal-text').textContent = text;
}

/** MNIST and the census's classifier, parsed; training goes on without the census if the classifier cannot be had. */
async function loadData() {
  const { images, labels, classifier } = await mnistData.download();
  app.dataset = new WebDataset(images, labels);
  try {
    if (classifier instanceof Error) throw classifier;
    app.classifier = new WebClassifier(classifier);
    app.bytes = { images, labels, classifier };
  } catch (e) {
    app.bytes = { images, labels };
    curves.showCensusParts(false);
    const why = errorText(e);
    notices.show('census', 'warning', () => t('censusOff', { file: mnistData.CLASSIFIER, why }));
  }
  app.mnist = { dataset: app.dataset, bytes: app.bytes, classifier: app.classifier };
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
    const conditional = form.field('conditional');
    if (conditional.value !== '0') {
      conditional.value = '0';
      messages.show('own', 'warning', () => t('ownNoLabels'));
    }
    // Pictures train with the DCGAN where their size allows it (32 or 64 a side).
    const networks = form.field('model');
    const dcgan = prepared.side === 32 || prepared.side === 64;
    if (networks.value !== (dcgan ? '1' : '0')) {
      networks.value = dcgan ? '1' : '0';
      messages.show('own model', 'info', () => t(dcgan ? 'ownDcgan' : 'ownMlp28'));
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
  curves.showCensusParts(Boolean(app.classifier));
  ownImages.inUse(prepared);
}

/** The settings the run uses (not the form's unapplied edits), or the form's before one starts. */
function appliedValues() {
  return app.backend ? settings.fromConfig(JSON.parse(app.backend.configJson)) : form.read().values;
}

/**
 * Replaces the backend: fresh from the form's settings, or from checkpoint files
 * ([generator, discriminator?, optimizer?]). The old one stays if this fails.
 * @param {BackendKind} kind
 * @param {import('./backends.js').CheckpointFiles} [files]
 */
async function startBackend(kind, files) {
  const { values, problems } = form.read();
  if (!files && problems.length) {
    form.mark(problems);
    throw new PageError('settingsProblems', { problems: () => problems.map(problemText).join('; ') });
  }
  // The DCGAN trains on MNIST as 32×32 (padded by the core), on pictures as prepared.
  const image = app.pictures ?? { side: 32, channels: 1 };
  const config = settings.toConfigJson(app.defaults, values, image);
  const dataset = /** @type {WebDataset} */ (app.dataset);
  const bytes = /** @type {import('./backends.js').DataBytes} */ (app.bytes);
  const classifier = app.classifier;
  // A replaced backend's late callbacks are dropped: `free` clears them.
  const backend = await BACKENDS[kind].create({ dataset, classifier, bytes, config, files, onStats, onPreview, onCensus });
  setRunning(false);
  app.backend?.free();
  app.backend = backend;
  // A new trainer (fresh, loaded or switched) has no batch to show until its first step.
  dView.reset(backend.confirmedStep);
  backend.setUntil(app.until);
  recovery.forget();
  backendSelect().value = kind;
  form.write(settings.fromConfig(JSON.parse(backend.configJson)));
  sharing.update();
  form.check(appliedValues());
  const dcgan = JSON.parse(backend.configJson).model.kind === 'dcgan';
  curves.reset(dcgan);
  $('eval-note').hidden = !dcgan;
  // A new trainer draws its grid a row per digit (the conditional GAN's picker starts there).
  $('digit-picker').hidden = !JSON.parse(backend.configJson).conditional;
  /** @type {HTMLSelectElement} */ ($('digit')).value = '';
  grid.reset();
  $('latents').hidden = true;
  halfSteps.reset();
  showAdapter();
  showDcganOnCpu();
}

// The widest DCGAN that trains fast enough to watch on the CPU path (25 steps a
// second in Chromium on both threads of a 2-core machine, against 2 at the default
// 64; 2026-12-07, README). At 64×64 even that width runs at 3.6 steps a second,
// so pictures of that size bring their own notice at any width.
const CPU_DCGAN_WIDTH = 16;

/** A DCGAN heavier than the CPU path trains at a watchable speed: say so, and what helps. */
function showDcganOnCpu() {
  const { model, width } = appliedValues();
  const large = app.backend && JSON.parse(app.backend.configJson).model?.image_size === 64;
  if (app.backend?.kind === 'cpu' && model === 1 && (large || width > CPU_DCGAN_WIDTH)) {
    notices.show('cpu dcgan', 'info', () => t(large ? 'cpuDcgan64' : 'cpuDcgan'));
  } else notices.clear('cpu dcgan');
}

/** The device readout: the WebGPU adapter, or the CPU worker's build and threads. */
function showAdapter() {
  $('readout-adapter').textContent = app.backend?.runtime ? cpuText(app.backend.runtime) : app.adapterName;
}

/** @param {import('./backends.js').CpuRuntime} r */
function cpuText(r) {
  const simd = t(r.relaxed ? 'simdRelaxed' : 'simd128');
  if (r.threaded) {
    return r.threads > 1 ? t('cpuThreads', { threads: r.threads, cores: r.cores, simd }) : t('cpuOneThread', { cores: r.cores, simd });
  }
  return r.why === 'notIsolated' ? t('cpuNotIsolated', { simd }) : t('cpuThreadsFailed', { why: r.why ?? '', simd });
}

/** @type {import('./backends.js').OnStats} */
function onStats(s, step) {
  curves.onStats(s, step);
  if (!s.finite) {
    setRunning(false);
    messages.show('run', 'error', () => t('nonFinite', { step }));
  }
}

/** @type {import('./backends.js').OnCensus} */
function onCensus(report, step) {
  curves.onCensus(report, step);
  grid.read(report.preview_digits, step);
}

/** @type {import('./backends.js').OnPreview} */
function onPreview(preview, step, digit) {
  grid.show(preview, step, digit);
  // The timelapse follows the fixed latents, not a picked digit.
  if (digit === undefined) app.timelapse.offer(preview.image, step);
  dView.show(preview, step);
}

/** @param {boolean} running */
function setRunning(running) {
  app.running = running;
  app.backend?.setRunning(running);
  sharing.update();
  $('train').dataset.i18n = running ? 'pause' : 'train';
  $('train').textContent = t(running ? 'pause' : 'train');
  for (const id of ['step', 'd-step', 'g-step']) button(id).disabled = running || !app.backend;
  $('half-hint').hidden = !running;
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

/** @param {number} now */
function frame(now) {
  requestAnimationFrame(frame);
  const backend = app.backend;
  if (!backend || recovery.recovering) return;
  const lost = backend.lost();
  if (lost) {
    recovery.recover(lost);
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
    sharing.update();
  }
  try {
    backend.update(now);
    grid.stepWalk(now);
    recovery.keep(now);
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
    for (const part of [notices, messages, curves, halfSteps, grid, form, ownImages]) part.relabel();
    if (app.backend) showAdapter();
    sharing.update();
  });
  $('step').addEventListener('click', guarded(() => {
    activeBackend().stepOnce();
  }));
  for (const [id, half] of /** @type {const} */ ([['d-step', 'discriminator'], ['g-step', 'generator']])) {
    $(id).addEventListener('click', guarded(() => halfSteps.run(activeBackend(), half, () => app.running)));
  }
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
      sharing.update();
      setRunning(previous.running);
      throw new PageError('switchFailed', { kind: kind.toUpperCase(), why: e });
    }
    app.chosenBackend = kind;
    sharing.update();
    showBackendChoice(kind);
    setRunning(previous.running);
  }));
  $('settings').addEventListener('input', () => {
    sharing.update();
    form.check(app.backend ? appliedValues() : null);
  });
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  sharing.wire(guarded, messages);
  $('save').addEventListener('click', guarded(async () => checkpoints.save(await activeBackend().save())));
  $('load').addEventListener('change', guarded(async (event) => {
    const picker = /** @type {HTMLInputElement} */ (event.target);
    const chosen = [...(picker.files ?? [])];
    picker.value = '';
    const files = await checkpoints.read(chosen);
    try {
      await startBackend(activeBackend().kind, files);
    } catch (e) {
      // The core's checkpoint errors say what failed; others are said as a failed load.
      const kind = /** @type {{ kind?: string }} */ (e).kind;
      throw kind?.startsWith('checkpoint') ? e : new PageError('loadFailed', { why: e });
    }
    app.timelapse.clear();
    const step = activeBackend().confirmedStep;
    messages.show('checkpoint', 'success', () => t(files[1] ? 'loaded' : 'loadedGenerator', { step }));
  }));
  ownImages.wire();
  $('own-forget').addEventListener('click', guarded(async () => {
    await ownImages.forget();
    if (app.pictures) await useData(null);
  }));
  // The census's line says it is measuring until the new census arrives.
  $('measure').addEventListener('click', guarded(() => {
    curves.measuring();
    activeBackend().measure();
  }));
  $('digit').addEventListener('change', guarded(() => {
    const value = /** @type {HTMLSelectElement} */ ($('digit')).value;
    // The chosen cells were cells of the other grid.
    grid.reset();
    activeBackend().setDigit(value === '' ? undefined : Number(value));
  }));
  dView.wire();
  halfSteps.wire();
  // A video where this browser records one, else an animated GIF.
  keepsakes.wire(guarded, messages, () => app.backend?.confirmedStep ?? 0);
  // In the presentation a click leaves it; else it chooses a cell for in-betweens.
  canvas('grid').addEventListener('click', (e) => {
    if (keepsakes.presenting()) keepsakes.leave();
    else grid.click(e);
  });
  grid.wire();
}

async function main() {
  if (await isolate()) return;
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
  for (const p of link.problems) {
    notices.show(`link ${p.key}`, 'warning', () => (p.key in link.values
      ? t('linkProblemUsing', { problem: problemText(p), value: link.values[p.key] })
      : t('linkProblem', { problem: problemText(p) })));
  }
  form.write(link.values);
  app.chosenBackend = link.backend ?? undefined;
  app.until = link.until ?? undefined;
  if (link.threads) setCpuThreads(link.threads);
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
  const kept = await ownImages.offerKept();
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
