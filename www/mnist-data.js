// @ts-check
// MNIST's training files and the census's classifier, downloaded with the page's
// progress bar.

import { $ } from './dom.js';
import { t } from './i18n.js';

const DATA = 'data/mnist/';
export const CLASSIFIER = 'data/classifier.safetensors';

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

/**
 * The training images and labels (gzipped IDX), and the classifier's file or why it
 * could not be had (training goes on without the census).
 * @returns {Promise<{ images: Uint8Array, labels: Uint8Array, classifier: Uint8Array | Error }>}
 */
export async function download() {
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
  const classifier = fetchBytes(CLASSIFIER, () => {}).catch((e) => (e instanceof Error ? e : new Error(String(e))));
  const [images, labels] = await Promise.all(
    files.map((f, i) => fetchBytes(DATA + f, (got, total) => { seen[i] = [got, total]; show(); })),
  );
  text.textContent = t('decompressing');
  await new Promise((r) => setTimeout(r, 0));
  return { images, labels, classifier: await classifier };
}
