// @ts-check
// Prepares the visitor's own pictures off the page's thread: each file (or zip
// entry, as a Blob) decoded by the browser (createImageBitmap; a GIF's first
// frame), its centre square resized with high-quality filtering to `side` × `side`,
// and written as bytes, gray by luminance or as red, green and blue planes (the
// core's layout). Bitmaps are closed as soon as they are drawn, so memory holds
// bytes, not decoded pictures. Unreadable files are listed with why, never fatal.
// In: { files: { name: string, blob: Blob }[], side, channels, limit }. Out:
// { type: 'progress', done, total } messages, then { type: 'done', bytes, count,
// skipped: { name, why }[], dropped } (`why` a SkipReason, www/worker-protocol.js; dropped:
// files left unread once `limit` pictures were had).

import init, { picture_dimensions } from './pkg/ganvas.js';

/** @typedef {import('./worker-protocol.js').SkipReason} SkipReason */

/** A file skipped, and why. */
class Skip extends Error {
  /** @param {SkipReason} why */
  constructor(why) {
    super(why.code);
    this.why = why;
  }
}

// A picture larger than this (in pixels) is skipped, from its header (the core's
// picture_size), before the browser decodes gigabytes for a 32 × 32 result.
const MAX_PIXELS = 8192 * 8192;
// Enough of a file for its header (a JPEG's size can follow its metadata).
const HEADER_BYTES = 256 * 1024;
const PROGRESS_EVERY = 50;

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));
const ready = init({ module_or_path: new URL('./pkg/ganvas_bg.wasm', import.meta.url) });

/**
 * @param {Blob} blob @param {number} side @param {number} channels
 * @param {OffscreenCanvasRenderingContext2D} ctx a side × side canvas's
 * @returns {Promise<Uint8Array>}
 */
async function prepare(blob, side, channels, ctx) {
  const size = picture_dimensions(new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer()));
  if (size && size[0] * size[1] > MAX_PIXELS) throw new Skip({ code: 'pixels', width: size[0], height: size[1] });
  const whole = await createImageBitmap(blob);
  try {
    if (whole.width * whole.height > MAX_PIXELS) {
      throw new Skip({ code: 'pixels', width: whole.width, height: whole.height });
    }
    const square = Math.min(whole.width, whole.height);
    const resized = await createImageBitmap(
      whole,
      Math.floor((whole.width - square) / 2),
      Math.floor((whole.height - square) / 2),
      square,
      square,
      { resizeWidth: side, resizeHeight: side, resizeQuality: 'high' },
    );
    ctx.clearRect(0, 0, side, side);
    ctx.drawImage(resized, 0, 0);
    resized.close();
  } finally {
    whole.close();
  }
  const rgba = ctx.getImageData(0, 0, side, side).data;
  const plane = side * side;
  const out = new Uint8Array(plane * channels);
  for (let p = 0; p < plane; p++) {
    const [r, g, b] = [rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]];
    if (channels === 3) {
      out[p] = r;
      out[plane + p] = g;
      out[2 * plane + p] = b;
    } else {
      out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  return out;
}

scope.onmessage = async (/** @type {MessageEvent} */ { data }) => {
  await ready;
  const { files, side, channels, limit } = /** @type {{ files: { name: string, blob: Blob }[], side: number, channels: number, limit: number }} */ (data);
  const canvas = new OffscreenCanvas(side, side);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d', { willReadFrequently: true }));
  const size = side * side * channels;
  const bytes = new Uint8Array(Math.min(files.length, limit) * size);
  /** @type {{ name: string, why: SkipReason }[]} */
  const skipped = [];
  let count = 0;
  let dropped = 0;
  for (const [i, { name, blob }] of files.entries()) {
    if (count === limit) {
      dropped += 1;
    } else {
      try {
        if (blob.size === 0) throw new Skip({ code: 'empty' });
        bytes.set(await prepare(blob, side, channels, ctx), count * size);
        count += 1;
      } catch (e) {
        skipped.push({ name, why: e instanceof Skip ? e.why : { code: 'notPicture' } });
      }
    }
    if ((i + 1) % PROGRESS_EVERY === 0) scope.postMessage({ type: 'progress', done: i + 1, total: files.length });
  }
  const result = bytes.slice(0, count * size);
  scope.postMessage({ type: 'done', bytes: result, count, skipped, dropped }, [result.buffer]);
};
