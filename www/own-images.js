// @ts-check
// Your own images: pictures chosen (a folder, files or a zip) or dropped on the
// page, prepared in a worker (www/images.js), kept in this browser, shown with the
// files left out and why, and offered to train on. It owns this part's DOM and the
// pictures prepared but not yet in use; what training on them means is its caller's
// (`use`).

import { WebDataset } from './pkg/ganvas.js';
import { $, canvas, input } from './dom.js';
import { t } from './i18n.js';
import * as images from './images.js';

// Fewer usable pictures than this cannot train (src/formats/image_folder.rs says why;
// the command line has the same rule); fewer than FEW_PICTURES trains with a warning.
const MIN_PICTURES = 100;
const FEW_PICTURES = 500;

/** The pictures' size in words. @param {images.Prepared} p */
export function shapeText(p) {
  return t(p.channels === 3 ? 'ownColour32' : 'ownGray28');
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
    $('own-status').textContent = t('ownForgotten');
  }

  /** Pictures kept from an earlier visit, offered again (or null). */
  async offerKept() {
    const kept = await images.kept();
    if (kept) {
      this.candidate = kept;
      this.show(kept, t('ownKept', { count: kept.count, shape: shapeText(kept) }));
    }
    return kept;
  }

  /** What the panel says once `prepared` (or MNIST, with null) is what trains. @param {images.Prepared | null} prepared */
  inUse(prepared) {
    $('own-mnist').hidden = !prepared;
    $('own-use').hidden = Boolean(prepared) || !this.candidate;
    $('own-status').textContent = prepared ? t('ownInUse', { count: prepared.count, shape: shapeText(prepared) }) : '';
  }

  /** Files chosen or dropped: prepared as the size chosen, kept, and shown. @param {File[]} files */
  async prepare(files) {
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
        this.showSkipped(prepared.skipped);
        $('own-status').textContent = t('ownTooFew', { count: usable, min: MIN_PICTURES });
        return;
      }
      this.candidate = prepared;
      this.show(prepared, t('ownReady', { count: prepared.count, shape: shapeText(prepared) }));
      // Kept for the next visit; where storage is off, they work for this one.
      await images.keep(prepared).catch(() => {});
    } finally {
      progress.hidden = true;
    }
  }

  /**
   * Shows prepared pictures: their count and size, the first 64, the files skipped,
   * and what can be done with them.
   * @param {images.Prepared} prepared @param {string} what the first sentence: where they come from
   */
  show(prepared, what) {
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
    this.showSkipped(prepared.skipped);
    $('own-use').hidden = false;
    $('own-forget').hidden = false;
  }

  /** The files left out and why, folded. @param {{ name: string, why: string }[]} skipped */
  showSkipped(skipped) {
    $('own-skipped').hidden = skipped.length === 0;
    $('own-skipped-summary').textContent = t('ownSkipped', { n: skipped.length });
    const list = $('own-skipped-list');
    list.replaceChildren(...skipped.slice(0, 200).map(({ name, why }) => {
      const item = document.createElement('li');
      item.textContent = `${name}: ${why}`;
      return item;
    }));
  }
}
