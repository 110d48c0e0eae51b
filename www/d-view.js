// @ts-check
// D's view on the grids: each cell framed by D's output on it (G's samples and the
// last batch's real images alike), the real batch beside G's grid, and the value of
// the cell pointed at. It owns #d-view, #reals, #real-grid and #d-score.

import { $, canvas, input } from './dom.js';
import { describeCell, drawGrid } from './grids.js';
import { t } from './i18n.js';

/** @typedef {import('./backends.js').PreviewView} PreviewView */

export class DView {
  /** @param {() => number} step the step the run has confirmed */
  constructor(step) {
    this.step = step;
    /** @type {{ fake: Float32Array, real: Float32Array } | null} D's output on each cell of the grids */
    this.scores = null;
    // The step the trainer started at: until it steps, there is no batch to show.
    this.batchFrom = 0;
  }

  /** Whether D's view is on. */
  on() {
    return input('d-view').checked;
  }

  /** A new trainer, at `step`: no batch to show until its first step. @param {number} step */
  reset(step) {
    this.batchFrom = step;
    $('reals').hidden = true;
  }

  /** A preview at `step`: the real batch drawn, framed while D's view is on. @param {PreviewView} preview @param {number} step */
  show(preview, step) {
    this.scores = { fake: preview.scores, real: preview.realScores };
    const batch = step > this.batchFrom;
    $('reals').hidden = !batch || !this.on();
    if (batch) drawGrid(canvas('real-grid'), preview.real, preview.realColumns, preview.realScores, this.on());
  }

  wire() {
    // The grids' values only while D's view is on.
    const shown = (/** @type {'fake' | 'real'} */ grid) => (this.on() ? this.scores?.[grid] : undefined);
    canvas('grid').addEventListener('mousemove', (e) => describeCell(e, shown('fake'), 'D(G(z))', 'd-score'));
    canvas('real-grid').addEventListener('mousemove', (e) => describeCell(e, shown('real'), 'D(x)', 'd-score'));
    // A value belongs to the cell pointed at: gone with the pointer.
    for (const id of ['grid', 'real-grid']) {
      canvas(id).addEventListener('mouseleave', () => { $('d-score').textContent = t('pointAtSample'); });
    }
    // Unticked, the next previews draw the grids bare.
    $('d-view').addEventListener('change', () => {
      $('reals').hidden = !this.on() || this.step() <= this.batchFrom;
    });
  }
}
