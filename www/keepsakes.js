// @ts-check
// What a visitor takes away or shows from the grid: the timelapse of the run (a
// video where the browser records one, else an animated GIF, or a filmstrip PNG),
// the grid as a PNG, and the presentation (the grid alone, as large as the window).

import { $, canvas, download } from './dom.js';
import { t } from './i18n.js';
import { Timelapse } from './timelapse.js';

/** @typedef {import('./messages.js').Messages} Messages */

export class Keepsakes {
  constructor() {
    this.timelapse = new Timelapse();
  }

  /**
   * @param {(action: (event: Event) => unknown) => (event: Event) => Promise<void>} guarded
   *   runs an action, showing its error
   * @param {Messages} messages where a recording says it is under way
   * @param {() => number} step the step the grid shows
   */
  wire(guarded, messages, step) {
    $('download-timelapse').addEventListener('click', guarded(async () => {
      const frames = this.timelapse.frames;
      if (frames.length < 2) throw new Error(t('timelapseShort'));
      const span = `steps-${frames[0].step}-${frames[frames.length - 1].step}`;
      if (Timelapse.canRecord()) {
        messages.show('timelapse', 'info', () => t('recording', { n: frames.length }));
        download(`ganvas-timelapse-${span}.webm`, await this.timelapse.video());
        messages.clear('timelapse');
      } else {
        download(`ganvas-timelapse-${span}.gif`, this.timelapse.gif());
      }
    }));
    $('download-filmstrip').addEventListener('click', guarded(async () => {
      const frames = this.timelapse.frames;
      if (frames.length < 1) throw new Error(t('timelapseEmpty'));
      const span = `steps-${frames[0].step}-${frames[frames.length - 1].step}`;
      download(`ganvas-filmstrip-${span}.png`, await this.timelapse.filmstrip());
    }));
    $('download-grid').addEventListener('click', () => {
      const at = step();
      canvas('grid').toBlob((blob) => blob && download(`ganvas-step-${at}.png`, blob), 'image/png');
    });
    $('present').addEventListener('click', () => document.body.classList.toggle('present'));
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.leave();
    });
  }

  presenting() {
    return document.body.classList.contains('present');
  }

  /** Back from the presentation to the page. */
  leave() {
    document.body.classList.remove('present');
  }
}
