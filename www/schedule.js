// @ts-check
// When the trainers report, one policy for both backends: the GPU backend's
// (www/backends.js, driven from animation frames) and the CPU worker's
// (www/cpu-worker.js). Each readout (stats, preview grids, census) comes at most
// every so often, and while training takes at most a share of the trainer's time:
// its cost is the core's estimate in steps (GPU) or timed (CPU).

// Stats windows: cheap, so just often enough for smooth curves.
const STATS_EVERY_MS = 100;
// A preview at most this often, and while training at most this share of the time:
// on a slow GPU a preview per step would cost a fifth of the speed at batch 64.
const PREVIEW_SHARE = 0.1;
// A census (at the defaults it costs about eight steps) at most this often and at
// most this share; paused, a step or a load is measured this soon.
const CENSUS_EVERY_MS = 2000;
const CENSUS_SHARE = 0.05;
const PAUSED_CENSUS_MS = 300;

/** One kind of readout's spacing. */
export class Cadence {
  /**
   * @param {number} every at most this often while training, in ms
   * @param {number} share at most this share of the trainer's time while training
   * @param {number} pausedEvery at most this often while paused
   */
  constructor(every, share, pausedEvery = every) {
    this.every = every;
    this.share = share;
    this.pausedEvery = pausedEvery;
    this.last = 0;
    this.costMs = 0;
  }

  /** The gap between two readouts now. @param {boolean} running */
  spacing(running) {
    return running ? Math.max(this.every, this.costMs / this.share) : this.pausedEvery;
  }

  /** Whether one is due at `now`. @param {number} now @param {boolean} running */
  due(now, running) {
    return now - this.last > this.spacing(running);
  }

  /** One was taken at `now`. @param {number} now */
  took(now) {
    this.last = now;
  }

  /** Due at once, whatever the spacing (after a step, a half step or Measure now). */
  now() {
    this.last = 0;
  }

  /** Its cost known in steps, at `rate` steps per second. @param {number} steps @param {number} rate */
  costSteps(steps, rate) {
    this.costMs = rate ? (1000 * steps) / rate : 0;
  }
}

/** The three readouts of a trainer. @param {number} previewEvery the grids' least spacing, in ms */
export function schedule(previewEvery) {
  return {
    stats: new Cadence(STATS_EVERY_MS, 1),
    preview: new Cadence(previewEvery, PREVIEW_SHARE),
    census: new Cadence(CENSUS_EVERY_MS, CENSUS_SHARE, PAUSED_CENSUS_MS),
  };
}
