// @ts-check
// Your own images: pictures chosen (a folder, files or a zip) or dropped on the
// page, prepared in a worker (www/images.js), kept in this browser, shown with the
// files left out and why, and offered to train on. It owns this part's DOM and the
// pictures prepared but not yet in use; what training on them means is its caller's
// (`use`).

import { WebDataset } from './pkg/ganvas.js';
import { $, canvas, input } from './dom.js';
import { errorText } from './errors.js';
import { receivedError } from './worker-protocol.js';
import { language, t } from './i18n.js';
import * as images from './images.js';

// Fewer usable pictures than this cannot train (src/formats/image_folder.rs says why;
// the command line has the same rule); fewer than FEW_PICTURES trains with a warning.
const MIN_PICTURES = 100;
const FEW_PICTURES = 500;

/** The pictures' size in words. @param {images.Prepared} p */
export function shapeText(p) {
  if (p.channels === 3) return t(p.side === 64 ? 'ownColour64' : 'ownColour32');
  return t(p.side === 32 ? 'ownGray32' : 'ownGray28');
}

export class OwnImages {
  /**
   * @param {(prepared: images.Prepared | null) => Promise<void>} use trains on them
   *   (a new run), or on MNIST again with null
   * @param {(action: (event: Event) => unknown) => (event: Event) => Promise<void>} guarded
   *   runs an action, showing its error
   * @param {() => boolean} ready whether the page takes pictures yet
   */
  constructor(use, guarded, ready) {
    this.use = use;
    this.guarded = guarded;
    this.ready = ready;
    /** @type {images.Prepared | null} pictures prepared (or kept), not yet in use */
    this.candidate = null;
    /** @type {() => string} what the panel says, worded again on a language switch */
    this.status = () => '';
    /** @type {{ name: string, why: images.SkipReason | string }[]} the files left out of the last pictures shown */
    this.skipped = [];
  }

  /** @param {() => string} status */
  setStatus(status) {
    this.status = status;
    $('own-status').textContent = status();
  }

  /** The panel's words in the page's language. */
  relabel() {
    $('own-status').textContent = this.status();
    this.showSkipped(this.skipped);
  }

  wire() {
    for (const id of ['own-folder', 'own-files']) {
      $(id).addEventListener('change', this.guarded(async (event) => {
        const picker = /** @type {HTMLInputElement} */ (event.target);
        const files = [...(picker.files ?? [])];
        picker.value = '';
        await this.prepare(files);
      }));
    }
    // Pictures dropped anywhere on the page, once it is ready.
    document.addEventListener('dragover', (e) => e.preventDefault());
    document.addEventListener('drop', this.guarded(async (event) => {
      const drop = /** @type {DragEvent} */ (event);
      drop.preventDefault();
      if (drop.dataTransfer && this.ready()) await this.prepare(await images.droppedFiles(drop.dataTransfer));
    }));
    $('own-use').addEventListener('click', this.guarded(() => this.use(this.candidate)));
    $('own-mnist').addEventListener('click', this.guarded(() => this.use(null)));
  }

  /** Forgets the kept pictures; says so. */
  async forget() {
    await images.forget();
    this.candidate = null;
    for (const id of ['own-use', 'own-forget', 'own-preview', 'own-skipped']) $(id).hidden = true;
    this.setStatus(() => t('ownForgotten'));
  }

  /** Pictures kept from an earlier visit, offered again (or null). */
  async offerKept() {
    const kept = await images.kept();
    if (kept) {
      this.candidate = kept;
      this.show(kept, () => t('ownKept', { count: kept.count, shape: shapeText(kept) }));
    }
    return kept;
  }

  /** What the panel says once `prepared` (or MNIST, with null) is what trains. @param {images.Prepared | null} prepared */
  inUse(prepared) {
    $('own-mnist').hidden = !prepared;
    $('own-use').hidden = Boolean(prepared) || !this.candidate;
    this.setStatus(() => prepared ? t('ownInUse', { count: prepared.count, shape: shapeText(prepared) }) : '');
  }

  /** Files chosen or dropped: prepared as the size chosen, kept, and shown. @param {File[]} files */
  async prepare(files) {
    if (files.length === 0) return;
    const progress = /** @type {HTMLProgressElement} */ ($('own-progress'));
    this.setStatus(() => t('ownReading', { n: files.length }));
    const { pictures, skipped } = await images.collect(files);
    progress.hidden = false;
    progress.value = 0;
    const shape = /** @type {images.ShapeName} */ (/** @type {HTMLSelectElement} */ ($('own-shape')).value);
    try {
      const prepared = await images.prepare(pictures, shape, input('own-mirror').checked, (done, total) => {
        progress.value = done / total;
        this.setStatus(() => t('ownPreparing', { done, total }));
      });
      prepared.skipped = [...skipped, ...prepared.skipped];
      const usable = prepared.mirrored ? prepared.count / 2 : prepared.count;
      if (usable < MIN_PICTURES) {
        this.showSkipped(prepared.skipped);
        this.setStatus(() => t('ownTooFew', { count: usable, min: MIN_PICTURES }));
        return;
      }
      this.candidate = prepared;
      this.show(prepared, () => t('ownReady', { count: prepared.count, shape: shapeText(prepared) }));
      // Kept for the next visit; where storage is off, they work for this one.
      await images.keep(prepared).catch(() => {});
    } finally {
      progress.hidden = true;
    }
  }

  /**
   * Shows prepared pictures: their count and size, the first 64, the files skipped,
   * and what can be done with them.
   * @param {images.Prepared} prepared @param {() => string} what the first sentence: where they come from
   */
  show(prepared, what) {
    this.setStatus(() => {
      const notes = [what()];
      if (prepared.mirrored) notes.push(t('ownMirrored', { count: prepared.count }));
      if (prepared.dropped) notes.push(t('ownDropped', { count: prepared.count, dropped: prepared.dropped }));
      if (prepared.count < FEW_PICTURES) notes.push(t('ownFew', { count: prepared.count }));
      return notes.join(' ');
    });
    const dataset = WebDataset.from_pixels(prepared.bytes, prepared.side, prepared.channels);
    const image = /** @type {ImageData} */ (dataset.preview(64));
    dataset.free();
    const preview = canvas('own-preview');
    preview.width = image.width;
    preview.height = image.height;
    preview.getContext('2d')?.putImageData(image, 0, 0);
    preview.hidden = false;
    this.showSkipped(prepared.skipped);
    $('own-use').hidden = false;
    $('own-forget').hidden = false;
  }

  /** The files left out and why, folded. @param {{ name: string, why: images.SkipReason | string }[]} skipped */
  showSkipped(skipped) {
    this.skipped = skipped;
    $('own-skipped').hidden = skipped.length === 0;
    $('own-skipped-summary').textContent = t('ownSkipped', { n: skipped.length });
    const list = $('own-skipped-list');
    list.replaceChildren(...skipped.slice(0, 200).map(({ name, why }) => {
      const item = document.createElement('li');
      item.textContent = `${name}: ${skipText(why)}`;
      return item;
    }));
  }
}

/**
 * Why a file was left out, in the page's language (pictures kept by an older version
 * of the page carry an English sentence instead).
 * @param {images.SkipReason | string} why
 */
function skipText(why) {
  if (typeof why === 'string') return why;
  switch (why.code) {
    case 'empty': return t('skipEmpty');
    case 'notPicture': return t('skipNotPicture');
    case 'pixels': return t('skipPixels', { width: why.width, height: why.height });
    case 'outsideRoot': return t('skipOutsideRoot');
    case 'tooLarge': return t('skipTooLarge', { bytes: why.bytes.toLocaleString(language()) });
    case 'damaged': return t('skipDamaged');
    case 'method': return t('skipMethod', { method: why.method });
    case 'archive': return errorText(receivedError(why.error));
    default: return String(/** @type {{ code: unknown }} */ (why).code);
  }
}
