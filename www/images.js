// @ts-check
// The visitor's own pictures: gathered from a folder, files or a zip (by button or
// dropped on the page), prepared by www/image-worker.js into the bytes the core
// trains on, and kept in this browser's IndexedDB so a reload does not ask again.
// Nothing leaves the machine.

import { sentError } from './worker-protocol.js';
import { zip_entries } from './pkg/ganvas.js';

/** The sizes offered: 28 × 28 gray (as MNIST, for the MLP), 32 × 32 gray or colour, 64 × 64 colour (the DCGAN's). */
export const SHAPES = {
  gray28: { side: 28, channels: 1 },
  gray32: { side: 32, channels: 1 },
  colour32: { side: 32, channels: 3 },
  colour64: { side: 64, channels: 3 },
};
/** @typedef {keyof typeof SHAPES} ShapeName */

// WebGPU's default maxStorageBufferBindingSize, which ganvas's device asks for
// (src/backend/gpu/mod.rs): the training images are one buffer of bytes on the GPU.
const GPU_BUFFER_BYTES = 134_217_728;

/**
 * Prepared pictures: `count` images of `side` × `side` and `channels` planes each, as
 * bytes; the files skipped and why; how many files the GPU's limit left unread.
 * @typedef {{ bytes: Uint8Array, count: number, side: number, channels: number,
 *   skipped: { name: string, why: SkipReason }[], dropped: number, mirrored: boolean }} Prepared
 */
/** @typedef {import('./worker-protocol.js').SkipReason} SkipReason */
/** @typedef {{ name: string, blob: Blob }} Picture a file or zip entry, by its path */

/**
 * The pictures among `files`: each file as itself, each zip's entries expanded
 * (those it cannot read go to `skipped`).
 * @param {File[]} files
 */
export async function collect(files) {
  /** @type {Picture[]} */
  const pictures = [];
  /** @type {{ name: string, why: SkipReason }[]} */
  const skipped = [];
  for (const file of files) {
    const name = file.webkitRelativePath || file.name;
    if (!/\.zip$/i.test(file.name)) {
      pictures.push({ name, blob: file });
      continue;
    }
    try {
      for (const entry of zip_entries(new Uint8Array(await file.arrayBuffer()))) {
        const path = `${name}/${entry.name}`;
        if (entry.error) skipped.push({ name: path, why: entry.error });
        else pictures.push({ name: path, blob: new Blob([entry.bytes]) });
      }
    } catch (e) {
      skipped.push({ name, why: { code: 'archive', error: sentError(e) } });
    }
  }
  return { pictures, skipped };
}

/**
 * Every file of a drop, folders searched recursively (entries the browser cannot
 * read are left out).
 * @param {DataTransfer} transfer
 * @returns {Promise<File[]>}
 */
export async function droppedFiles(transfer) {
  /** @type {File[]} */
  const files = [];
  /** @param {FileSystemEntry} entry @returns {Promise<void>} */
  const visit = async (entry) => {
    if (entry.isFile) {
      const file = await new Promise((resolve) => /** @type {FileSystemFileEntry} */ (entry).file(resolve, () => resolve(null)));
      if (file) files.push(/** @type {File} */ (file));
    } else if (entry.isDirectory) {
      const reader = /** @type {FileSystemDirectoryEntry} */ (entry).createReader();
      // A directory reader returns its entries in batches until an empty one.
      for (;;) {
        /** @type {FileSystemEntry[]} */
        const batch = await new Promise((resolve) => reader.readEntries(resolve, () => resolve([])));
        if (batch.length === 0) break;
        for (const child of batch) await visit(child);
      }
    }
  };
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry()).filter((e) => e !== null);
  for (const entry of entries) await visit(/** @type {FileSystemEntry} */ (entry));
  return files;
}

/**
 * The pictures prepared as `shape` in a worker, at most as many as the GPU holds
 * (twice over when mirrored copies are added).
 * @param {Picture[]} pictures @param {ShapeName} shape @param {boolean} mirrored
 * @param {(done: number, total: number) => void} onProgress
 * @returns {Promise<Prepared>}
 */
export function prepare(pictures, shape, mirrored, onProgress) {
  const { side, channels } = SHAPES[shape];
  const fit = Math.floor(GPU_BUFFER_BYTES / (side * side * channels));
  const limit = mirrored ? Math.floor(fit / 2) : fit;
  const worker = new Worker(new URL('./image-worker.js', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`the pictures could not be prepared (${e.message})`));
    };
    worker.onmessage = ({ data }) => {
      if (data.type === 'progress') {
        onProgress(data.done, data.total);
        return;
      }
      worker.terminate();
      /** @type {Prepared} */
      const prepared = { bytes: data.bytes, count: data.count, side, channels, skipped: data.skipped, dropped: data.dropped, mirrored: false };
      resolve(mirrored ? withMirrors(prepared) : prepared);
    };
    worker.postMessage({ files: pictures, side, channels, limit });
  });
}

/**
 * The pictures and their mirror images (flipped left to right): the simplest
 * augmentation, which doubles what G sees of each pose.
 * @param {Prepared} prepared @returns {Prepared}
 */
function withMirrors(prepared) {
  const { side, channels, count } = prepared;
  const size = side * side * channels;
  const bytes = new Uint8Array(2 * count * size);
  bytes.set(prepared.bytes);
  for (let i = 0; i < count; i++) {
    for (let row = 0; row < side * channels; row++) {
      const from = i * size + row * side;
      const to = (count + i) * size + row * side;
      for (let x = 0; x < side; x++) bytes[to + x] = prepared.bytes[from + side - 1 - x];
    }
  }
  return { ...prepared, bytes, count: 2 * count, mirrored: true };
}

// IndexedDB: one database, one store, the prepared pictures under one key.
const DB = 'ganvas';
const STORE = 'pictures';
const KEY = 'prepared';

/** @returns {Promise<IDBDatabase>} */
function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Runs `action` on the store and resolves to its request's result.
 * @param {IDBTransactionMode} mode @param {(store: IDBObjectStore) => IDBRequest} action
 * @returns {Promise<any>}
 */
async function withStore(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const request = action(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

/** Keeps `prepared` in this browser. @param {Prepared} prepared */
export function keep(prepared) {
  return withStore('readwrite', (store) => store.put(prepared, KEY));
}

/** The pictures kept from an earlier visit, if any. @returns {Promise<Prepared | null>} */
export async function kept() {
  try {
    const prepared = await withStore('readonly', (store) => store.get(KEY));
    return prepared && prepared.bytes instanceof Uint8Array ? prepared : null;
  } catch {
    // Storage may be off (a private window): then nothing was kept.
    return null;
  }
}

export function forget() {
  return withStore('readwrite', (store) => store.delete(KEY));
}
