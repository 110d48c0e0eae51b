// @ts-check
// What the run shows over time: the loss and D-output curves (from the stats), the
// digit census and the quality curves (from each census), and the notes for
// textbook symptoms. It owns their DOM and strings, and how they reset and relabel.

import { Bars, Chart } from './chart.js';
import { $, canvas } from './dom.js';
import { language, t } from './i18n.js';

/** @typedef {import('./backends.js').CensusReport} CensusReport */
/** @typedef {import('./backends.js').StatsWindow} StatsWindow */

// Textbook symptoms, noted while they last: D(G(z)) this low over a stats window,
// or this share of the census on one digit (an even census gives each 0.1) once
// G's samples are digits (`readsAsDigits`).
const D_WINNING = 0.05;
const COLLAPSED = 0.5;
// G's samples read as digits with a mean confidence above this, nearer MNIST than
// this. README's calibration: uniform noise reads at 0.61 and 935, an untrained G at
// 0.14 and 1418 (both not yet), G after 1,000 steps at 0.78 and 668 (digits, a few
// of them: the collapse it shows is real). An untrained G's blobs read as one digit
// with a confidence near 1: the distance is what tells them.
const READS_AS_DIGITS = 0.7;
const NEAR_MNIST = 800;

/** Whether a census's samples read as digits yet, so that its shares mean something. @param {CensusReport} report */
export function readsAsDigits(report) {
  return (report.mean_confidence ?? 0) > READS_AS_DIGITS && (report.frechet_distance ?? Infinity) < NEAR_MNIST;
}

/** @param {number | null} value @param {number} digits */
function fixed(value, digits) {
  return value === null ? t('notFinite') : value.toFixed(digits);
}

export class Curves {
  constructor() {
    const stepText = (/** @type {number} */ step) => t('chartStep', { step });
    // At the GAN's equilibrium D(x) = D(G(z)) = 1/2 and each BCE term is ln 2.
    this.loss = new Chart(canvas('loss-chart'), ['#ff9b5e', '#6cb4ff'], stepText, [Math.LN2]);
    this.prob = new Chart(canvas('prob-chart'), ['#ff9b5e', '#6cb4ff'], stepText, [0.5]);
    this.frechet = new Chart(canvas('frechet-chart'), ['#7ddc8c'], stepText);
    this.score = new Chart(canvas('score-chart'), ['#7ddc8c'], stepText);
    this.bars = new Bars(canvas('census-chart'), '#7ddc8c');
    /** @type {CensusReport | null} the last census, for the tests and curious visitors */
    this.census = null;
    /** @type {number | null} the step of the last census */
    this.censusStep = null;
    /**
     * The symptoms the run shows now, each what its sentence says, or null.
     * @type {{ winning: { value: string, step: number } | null, collapse: { percent: string, digit: number, step: number } | null }}
     */
    this.symptoms = { winning: null, collapse: null };
  }

  /**
   * A new run: every curve and the census empty. A DCGAN's D loss is its real and
   * fake losses summed (pytorch/examples'), so its equilibrium is 2 ln 2, not ln 2.
   * @param {boolean} dcgan
   */
  reset(dcgan) {
    this.loss.guides = dcgan ? [Math.LN2, 2 * Math.LN2] : [Math.LN2];
    // Its key, so a language switch (which rewrites every data-i18n) words it too.
    const guide = $('loss-equilibrium');
    guide.dataset.i18n = dcgan ? 'lossEquilibriumDcgan' : 'lossEquilibrium';
    guide.textContent = t(dcgan ? 'lossEquilibriumDcgan' : 'lossEquilibrium');
    for (const chart of [this.loss, this.prob, this.frechet, this.score, this.bars]) chart.clear();
    this.census = null;
    this.censusStep = null;
    this.symptoms = { winning: null, collapse: null };
    for (const id of ['readout-frechet', 'readout-score']) $(id).textContent = '–';
    this.relabel();
  }

  /** Everything written again in the page's language. */
  relabel() {
    for (const chart of [this.loss, this.prob, this.frechet, this.score]) chart.draw();
    this.showCensusText();
    this.showSymptoms();
    this.describe();
  }

  /** The census's parts, shown only where there is a census. @param {boolean} shown */
  showCensusParts(shown) {
    document.querySelectorAll('.census-only').forEach((e) => { /** @type {HTMLElement} */ (e).hidden = !shown; });
  }

  /** A stats window at `step`. @param {StatsWindow} s @param {number} step */
  onStats(s, step) {
    this.symptoms.winning = s.fake < D_WINNING ? { value: s.fake.toFixed(3), step } : null;
    this.showSymptoms();
    this.loss.add(step, [s.d, s.g]);
    this.prob.add(step, [s.real, s.fake]);
    this.loss.draw();
    this.prob.draw();
    this.describe();
  }

  /** A census at `step`. @param {CensusReport} report @param {number} step */
  onCensus(report, step) {
    // A conditional G: how often each digit asked for is read as asked; else the census.
    this.bars.set(report.agreement?.map((v) => v ?? 0) ?? report.class_fractions);
    // Only the unconditional preview's cells are among the census's samples.
    $('label-digits-control').hidden = Boolean(report.agreement);
    if (report.frechet_distance !== null) this.frechet.add(step, [report.frechet_distance]);
    if (report.classifier_score !== null) this.score.add(step, [report.classifier_score]);
    this.frechet.draw();
    this.score.draw();
    this.describe();
    this.census = report;
    this.censusStep = step;
    this.showCensusText();
    const top = Math.max(...report.class_fractions);
    const digit = report.class_fractions.indexOf(top);
    this.symptoms.collapse = !report.agreement && readsAsDigits(report) && top > COLLAPSED
      ? { percent: (100 * top).toFixed(0), digit, step }
      : null;
    this.showSymptoms();
  }

  /** Says a census has been asked for, until it comes. */
  measuring() {
    $('census-count').textContent = t('measuring');
  }

  showSymptoms() {
    const { winning, collapse } = this.symptoms;
    const text = [winning && t('dWinning', winning), collapse && t('collapse', collapse)].filter(Boolean).join(' ');
    $('symptom').textContent = text;
    $('symptom').hidden = text === '';
  }

  /** What the census chart shows, and of how many samples at which step (the last census's). */
  showCensusText() {
    const report = this.census;
    // Before the samples read as digits, the shares of an unconditional G's census are
    // noise's, however much one bar stands out.
    const young = Boolean(report && !report.agreement && !readsAsDigits(report));
    $('census').classList.toggle('young', young);
    $('census-what').textContent = young && report
      ? t('notDigitsYet', {
        confidence: fixed(report.mean_confidence, 2),
        distance: fixed(report.frechet_distance, 0),
      })
      : t(report?.agreement ? 'censusAgreement' : 'censusShares');
    $('census-count').textContent = report
      ? t('censusCount', { n: report.n.toLocaleString(language()), step: this.censusStep ?? '–' })
      : '';
    if (report) {
      $('readout-frechet').textContent = fixed(report.frechet_distance, 1);
      $('readout-score').textContent = fixed(report.classifier_score, 2);
    }
  }

  /**
   * The charts' text alternatives (their aria-labels): what they show and the latest
   * values, in the page's language.
   */
  describe() {
    /**
     * @param {Chart} chart @param {string[]} names the series' placeholders
     * @param {(values: Record<string, string | number>) => string} text
     */
    const describe = (chart, names, text) => {
      const values = chart.series.map((points) => points[points.length - 1]?.[1]);
      const steps = chart.series[0].length ? chart.series[0][chart.series[0].length - 1][0] : 0;
      /** @type {Record<string, string | number>} */
      const filled = { steps };
      names.forEach((name, i) => { filled[name] = values[i] === undefined ? '–' : values[i].toFixed(3); });
      chart.canvas.setAttribute('aria-label', values[0] === undefined ? t('chartEmpty') : text(filled));
    };
    describe(this.loss, ['d', 'g'], (v) => t('lossChartText', v));
    describe(this.prob, ['real', 'fake'], (v) => t('probChartText', v));
    describe(this.frechet, ['value'], (v) => t('frechetChartText', v));
    describe(this.score, ['value'], (v) => t('scoreChartText', v));
    const shares = this.bars.values.map((v, digit) => `${digit}: ${(100 * v).toFixed(0)}%`).join(', ');
    this.bars.canvas.setAttribute('aria-label', shares ? t('censusChartText', { shares }) : t('chartEmpty'));
  }
}
