// @ts-check
// One step, half at a time: D's half or G's alone, shown as D's output on the same
// images before and after it, with the batch's loss. It owns this part's DOM, its
// state (the last half step shown) and how it resets and relabels.

import { $, button, canvas } from './dom.js';
import { describeCell, drawGrid } from './grids.js';
import { t } from './i18n.js';

/** @typedef {import('./backends.js').Backend} Backend */
/** @typedef {import('./backends.js').Half} Half */
/** @typedef {import('./backends.js').HalfStepView} HalfStepView */

/** @param {Float32Array} scores */
function mean(scores) {
  return scores.reduce((a, b) => a + b, 0) / scores.length;
}

// The losses a half step lowers, from D's outputs on the images shown.
const meanLog = (/** @type {Float32Array} */ p, /** @type {boolean} */ real) =>
  p.reduce((a, x) => a + Math.log(real ? x : 1 - x), 0) / p.length;
const dLoss = (/** @type {Float32Array} */ r, /** @type {Float32Array} */ f) => -(meanLog(r, true) + meanLog(f, false)) / 2;
const gLoss = (/** @type {Float32Array} */ f) => -meanLog(f, true);

export class HalfSteps {
  constructor() {
    /** @type {{ half: Half, view: HalfStepView, step: number } | null} the last half step, as shown */
    this.shown = null;
  }

  /** Pointing at a cell of the before and after grids gives D's output on it. */
  wire() {
    for (const [id, output, before, key] of /** @type {const} */ ([
      ['half-fake-before', 'D(G(z))', true, 'fakeScores'],
      ['half-fake-after', 'D(G(z))', false, 'fakeScoresAfter'],
      ['half-real-before', 'D(x)', true, 'realScores'],
      ['half-real-after', 'D(x)', false, 'realScoresAfter'],
    ])) {
      canvas(id).addEventListener('mousemove', (e) => {
        const what = t(before ? 'valueBefore' : 'valueAfter', { what: output });
        describeCell(e, this.shown?.view[key], what, 'half-step-score');
      });
      canvas(id).addEventListener('mouseleave', () => { $('half-step-score').textContent = t('halfPoint'); });
    }
  }

  /** A new trainer: nothing shown. */
  reset() {
    this.shown = null;
    $('half-step').hidden = true;
  }

  /**
   * Runs `half` of the current step on `backend` alone and shows it; the buttons stay
   * disabled meanwhile, and while `running()` after.
   * @param {Backend} backend @param {Half} half @param {() => boolean} running
   */
  async run(backend, half, running) {
    const step = backend.confirmedStep;
    for (const id of ['d-step', 'g-step']) button(id).disabled = true;
    try {
      this.shown = { half, view: await backend.halfStep(half), step };
      this.relabel();
    } finally {
      for (const id of ['d-step', 'g-step']) button(id).disabled = running();
    }
  }

  /** The last half step drawn, and its sentence in the page's language. */
  relabel() {
    if (!this.shown) return;
    const { half, view, step } = this.shown;
    $('half-step').hidden = false;
    drawGrid(canvas('half-fake-before'), view.fake, view.columns, view.fakeScores, true);
    drawGrid(canvas('half-fake-after'), view.fakeAfter, view.columns, view.fakeScoresAfter, true);
    drawGrid(canvas('half-real-before'), view.real, view.columns, view.realScores, true);
    drawGrid(canvas('half-real-after'), view.real, view.columns, view.realScoresAfter, true);
    // G's step leaves D, so its view of the real images, as it was.
    $('half-reals').hidden = half === 'generator';
    const three = (/** @type {number} */ x) => x.toFixed(3);
    const scores = {
      step,
      realBefore: three(mean(view.realScores)),
      realAfter: three(mean(view.realScoresAfter)),
      fakeBefore: three(mean(view.fakeScores)),
      fakeAfter: three(mean(view.fakeScoresAfter)),
    };
    $('half-step-what').textContent = half === 'discriminator'
      ? t('dStepDone', {
        ...scores,
        lossBefore: three(dLoss(view.realScores, view.fakeScores)),
        lossAfter: three(dLoss(view.realScoresAfter, view.fakeScoresAfter)),
      })
      : t('gStepDone', { ...scores, lossBefore: three(gLoss(view.fakeScores)), lossAfter: three(gLoss(view.fakeScoresAfter)) });
  }
}
