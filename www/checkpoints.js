// @ts-check
// Checkpoints as files: the three that the command line and PyTorch read
// (generator, discriminator and optimizer safetensors), saved as downloads and read
// back from the files a visitor chooses (a generator alone starts a fresh run).

import { download } from './dom.js';
import { t } from './i18n.js';

/** @typedef {import('./backends.js').CheckpointFiles} CheckpointFiles */
/** @typedef {import('./backends.js').SavedFiles} SavedFiles */

/** Downloads a run's three files. @param {SavedFiles} files */
export function save(files) {
  const names = ['generator.safetensors', 'discriminator.safetensors', 'optimizer.safetensors'];
  names.forEach((name, i) => download(name, new Blob([/** @type {BlobPart} */ (files[i])])));
}

/**
 * The checkpoint in the files chosen, each found by its name (one file alone is a
 * generator); the core checks what they hold.
 * @param {File[]} chosen @returns {Promise<CheckpointFiles>}
 */
export async function read(chosen) {
  const pick = (/** @type {string} */ word) => chosen.find((f) => f.name.toLowerCase().includes(word));
  const generator = pick('generator') ?? (chosen.length === 1 ? chosen[0] : undefined);
  if (!generator) throw new Error(t('chooseGenerator'));
  /** @param {File | undefined} f */
  const bytes = async (f) => (f ? new Uint8Array(await f.arrayBuffer()) : undefined);
  const [g, d, o] = [await bytes(generator), await bytes(pick('discriminator')), await bytes(pick('optimizer'))];
  if (!g) throw new Error(t('unreadableGenerator'));
  // Without a discriminator an optimizer file is refused by the core, with a reason.
  return [g, d, o];
}
