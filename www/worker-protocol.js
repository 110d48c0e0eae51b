// @ts-check
// What the page and its workers send each other, checked on both sides against one
// set of types. The CPU worker (www/cpu-worker.js, driven by www/backends.js):
// requests, each answered by one reply with its result or error, and reports (stats,
// previews, censuses) tagged with the generation of the trainer that made them. The
// picture worker (www/image-worker.js): why a file was skipped. Errors cross as
// `SentError`s. No DOM here: it runs on both sides.

/** @typedef {import('./pkg/ganvas.js').PreviewView} PreviewView */
/** @typedef {import('./pkg/ganvas.js').HalfStepView} HalfStepView */
/** @typedef {import('./pkg/ganvas.js').CensusReport} CensusReport */
/** @typedef {import('./pkg/ganvas.js').WebStats} WebStats */
/** @typedef {'discriminator' | 'generator'} Half */
/** @typedef {{ steps: number, d: number, g: number, real: number, fake: number, finite: boolean }} StatsWindow */
/** @typedef {[Uint8Array, (Uint8Array | undefined)?, (Uint8Array | undefined)?]} CheckpointFiles generator, discriminator, optimizer */
/** @typedef {[Uint8Array, Uint8Array, Uint8Array]} SavedFiles generator, discriminator, optimizer */
/**
 * The training data as bytes: MNIST's IDX files (with the census's classifier), or
 * the visitor's own pictures (`www/images.js`).
 * @typedef {{ images: Uint8Array, labels: Uint8Array, classifier?: Uint8Array }
 *   | { pictures: { bytes: Uint8Array, side: number, channels: number } }} DataBytes
 */

/**
 * The CPU worker's build: on how many threads, threaded or not, of the machine's
 * cores; why not threaded (`notIsolated`, or the error that stopped it).
 * @typedef {{ threads: number, threaded: boolean, relaxed: boolean, cores: number, why?: string }} CpuRuntime
 */
/**
 * Every request: what it sends and what its reply resolves to.
 * @typedef {{
 *   start: [{ threads: number, relaxed: boolean }, CpuRuntime],
 *   data: [DataBytes, void],
 *   create: [{ config: string, files?: CheckpointFiles, generation: number }, { step: number, config: string, stepsPerEpoch: number }],
 *   run: [{ value: boolean }, void],
 *   step: [{}, void],
 *   half: [{ half: Half }, HalfStepView],
 *   census: [{}, void],
 *   digit: [{ value: number | undefined }, void],
 *   until: [{ value: number | undefined }, void],
 *   interpolate: [{ from: number, to: number, spherical: boolean }, ImageData],
 *   walk: [{ angle: number }, ImageData],
 *   latent: [{ cell: number }, Float32Array],
 *   save: [{}, { files: SavedFiles, step: number }],
 * }} Requests
 */
/**
 * The threaded build's request to the page: start `count` workers (www/cpu-threads.js)
 * on this module and memory, one for each of the pool's threads.
 * @typedef {{ type: 'threads', module: WebAssembly.Module, memory: WebAssembly.Memory, count: number }} ThreadsMessage
 */
/** @typedef {keyof Requests} RequestType */
/** @template {RequestType} T @typedef {Requests[T][0]} Payload */
/** @template {RequestType} T @typedef {Requests[T][1]} Result */
/** @typedef {{ [T in RequestType]: Payload<T> & { type: T, id: number } }[RequestType]} Request */
/** @typedef {{ type: 'reply', id: number, result?: unknown, error?: SentError }} Reply */
/**
 * What the worker reports unasked, for the trainer of `generation`.
 * @typedef {{ generation: number, step: number } & ({ type: 'stats', stats: StatsWindow }
 *   | { type: 'preview', preview: PreviewView, digit: number | undefined }
 *   | { type: 'census', census: CensusReport })} Report
 */

/**
 * Why a file was left out: a file the browser cannot use as a picture (www/image-worker.js),
 * a zip entry the core refused (src/formats/zip.rs, `EntryProblem`), or a whole archive
 * it could not read (the core's error, as sent between threads). The page words each.
 * @typedef {{ code: 'empty' } | { code: 'notPicture' } | { code: 'pixels', width: number, height: number }
 *   | { code: 'outsideRoot' } | { code: 'tooLarge', bytes: number } | { code: 'damaged' }
 *   | { code: 'method', method: number } | { code: 'archive', error: SentError }} SkipReason
 */

/**
 * An error as it crosses between threads (or into storage): the core's sentence and
 * kind (src/error.rs), or the key of a page string.
 * @typedef {{ message: string, kind?: string, key?: string }} SentError
 */

/** An error the page words from its string tables by `key` (www/errors.js). */
export class KeyedError extends Error {
  /** @param {string} key */
  constructor(key) {
    super(key);
    this.key = key;
  }
}

/** What is sent of an error. @param {unknown} e @returns {SentError} */
export function sentError(e) {
  if (e instanceof KeyedError) return { message: e.message, key: e.key };
  if (!(e instanceof Error)) return { message: String(e) };
  const kind = /** @type {{ kind?: unknown }} */ (e).kind;
  return { message: e.message, kind: typeof kind === 'string' ? kind : undefined };
}

/** The error a `SentError` describes. @param {SentError} sent @returns {Error} */
export function receivedError(sent) {
  if (sent.key) return new KeyedError(sent.key);
  return Object.assign(new Error(sent.message), { kind: sent.kind });
}

/** The core's stats window as plain numbers (the core's object is freed). @param {WebStats} s @returns {StatsWindow} */
export function statsWindow(s) {
  const stats = {
    steps: s.steps,
    d: s.discriminator_loss,
    g: s.generator_loss,
    real: s.probability_real,
    fake: s.probability_fake,
    finite: s.finite,
  };
  s.free();
  return stats;
}
