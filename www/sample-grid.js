// @ts-check
// The grid of G's samples and the latent space behind it: the cells chosen (by
// pointer or keyboard) and G's in-betweens of two of them (a row, played in turn on
// request, and their latent vectors as a strip), the walk that turns every cell's
// latents along a great circle, and the digits the census read in each cell. It owns
// this DOM and state, and how it resets and relabels.

import { $, canvas, input } from './dom.js';
import { GUTTER, cellAt, drawGrid, gridShape } from './grids.js';
import { t } from './i18n.js';

/** @typedef {import('./backends.js').Backend} Backend */
/** @typedef {import('./backends.js').PreviewView} PreviewView */

// The in-betweens played in turn, there and back, at this many a second.
const MORPH_FRAMES_PER_SECOND = 8;
// The walk's pace: a full turn of every cell's great circle in about 12 s.
const WALK_RADIANS_PER_SECOND = 0.5;

export class SampleGrid {
  /**
   * @param {() => Backend | null} backend the one training now
   * @param {(e: unknown) => void} onError shows what went wrong
   */
  constructor(backend, onError) {
    this.backend = backend;
    this.onError = onError;
    this.grid = canvas('grid');
    /** @type {PreviewView | null} the grid last drawn, redrawn when pins change */
    this.preview = null;
    /** @type {number[]} cells chosen for in-betweens (two at most, the oldest first) */
    this.pinned = [];
    /** the cell the arrow keys are on */
    this.keyCell = 0;
    this.interpolating = false;
    /** @type {{ start: number, frames: number, inFlight: boolean } | null} the walk, while on */
    this.walk = null;
    /** @type {number | null} the timer playing the in-betweens in turn, while on */
    this.morph = null;
    /** @type {{ step: number, digits: number[] } | null} what the last census read in each cell */
    this.digits = null;
  }

  /** Listens to the grid and the latent space's controls. */
  wire() {
    this.grid.addEventListener('keydown', (e) => this.key(e));
    // The keyboard's cell shows only while the grid has the keyboard's focus.
    for (const change of ['focus', 'blur']) this.grid.addEventListener(change, () => !this.walk && this.redraw());
    $('slerp').addEventListener('change', () => this.drawBetween());
    $('walk').addEventListener('click', () => this.toggleWalk());
    $('play-between').addEventListener('click', () => this.toggleMorph());
    $('label-digits').addEventListener('change', () => this.label());
  }

  /** A new trainer, or another grid (a digit picked): no cell chosen, no digits read. */
  reset() {
    this.pinned = [];
    this.digits = null;
    $('latents').hidden = true;
  }

  relabel() {
    $('walk').textContent = t(this.walk ? 'stopWalking' : 'walk');
    $('play-between').textContent = t(this.morph === null ? 'playBetween' : 'stopBetween');
  }

  /** A preview of the grid (unless walking, which draws its own) at `step`. @param {PreviewView} preview @param {number} step @param {number | undefined} digit */
  show(preview, step, digit) {
    this.preview = preview;
    if (!this.walk) this.redraw();
    this.drawBetween();
    this.grid.dataset.drawnStep = String(step);
    this.grid.dataset.digit = digit === undefined ? '' : String(digit);
    this.label();
  }

  /** The digit the census read in each cell. @param {number[]} digits @param {number} step */
  read(digits, step) {
    this.digits = { step, digits };
    this.label();
  }

  /** The last preview again, framed as D's view says, with the chosen cells. */
  redraw() {
    const preview = this.preview;
    if (!preview) return;
    drawGrid(this.grid, preview.image, preview.columns, preview.scores, input('d-view').checked);
    this.drawPins();
    this.label();
  }

  /** Outlines the chosen cells, and the keyboard's while the grid has its focus. */
  drawPins() {
    const ctx = this.grid.getContext('2d');
    if (!ctx) return;
    const { cols, pitch } = gridShape(this.grid);
    /** @param {number} cell */
    const outline = (cell) => ctx.strokeRect((cell % cols) * pitch + 1, Math.floor(cell / cols) * pitch + 1, pitch, pitch);
    ctx.strokeStyle = '#6cb4ff';
    ctx.lineWidth = 2;
    this.pinned.forEach(outline);
    if (this.grid.matches(':focus-visible')) {
      ctx.strokeStyle = '#ffffff';
      ctx.setLineDash([3, 2]);
      outline(this.keyCell);
      ctx.setLineDash([]);
    }
  }

  /** Writes the digit the last census read in each cell into its corner, when asked. */
  label() {
    const ctx = this.grid.getContext('2d');
    const read = this.digits;
    if (!ctx || !read || !input('label-digits').checked) return;
    const { cols, pitch } = gridShape(this.grid);
    ctx.font = 'bold 7px system-ui';
    ctx.textBaseline = 'top';
    read.digits.forEach((digit, i) => {
      const x = GUTTER + (i % cols) * pitch;
      const y = GUTTER + Math.floor(i / cols) * pitch;
      ctx.fillStyle = 'rgba(0, 0, 0, 0.6)';
      ctx.fillRect(x, y, 6, 8);
      ctx.fillStyle = '#7ddc8c';
      ctx.fillText(String(digit), x + 1, y + 1);
    });
    this.grid.dataset.labelledStep = String(read.step);
  }

  /** Chooses (or lets go of) the cell under the pointer. @param {MouseEvent} event */
  click(event) {
    const cell = cellAt(event);
    if (cell >= 0) this.toggleCell(cell);
  }

  /** Chooses cell `cell`, or lets go of it (two at most, the oldest goes). @param {number} cell */
  toggleCell(cell) {
    if (!this.preview || cell < 0 || cell >= this.preview.scores.length) return;
    this.keyCell = cell;
    this.pinned = this.pinned.includes(cell) ? this.pinned.filter((c) => c !== cell) : [...this.pinned, cell].slice(-2);
    this.redraw();
    this.drawBetween();
    this.drawLatents().catch(this.onError);
  }

  /** On the focused grid, the arrow keys move a cell and Enter or Space chooses it. @param {KeyboardEvent} event */
  key(event) {
    if (!this.preview) return;
    const cols = Number(this.grid.dataset.columns) || 1;
    /** @type {Record<string, number>} */
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols };
    if (event.key in moves) {
      this.keyCell = Math.max(0, Math.min(this.preview.scores.length - 1, this.keyCell + moves[event.key]));
      this.redraw();
    } else if (event.key === 'Enter' || event.key === ' ') {
      this.toggleCell(this.keyCell);
    } else {
      return;
    }
    event.preventDefault();
  }

  /** G's in-betweens of the two chosen cells, as G is now (one request at a time). */
  drawBetween() {
    const between = canvas('between');
    const chosen = this.pinned.length === 2;
    between.hidden = !chosen;
    $('morph-controls').hidden = !chosen;
    if (!chosen) this.stopMorph();
    const backend = this.backend();
    if (!chosen || this.interpolating || !backend) return;
    this.interpolating = true;
    const [from, to] = this.pinned;
    backend
      .interpolate(from, to, input('slerp').checked)
      .then((image) => {
        between.width = image.width;
        between.height = image.height;
        between.getContext('2d')?.putImageData(image, 0, 0);
        between.dataset.cells = `${from}-${to}`;
      })
      .catch(this.onError)
      .finally(() => {
        this.interpolating = false;
      });
  }

  /** Plays the in-betweens one after another, large, there and back; or stops. */
  toggleMorph() {
    if (this.morph !== null) {
      this.stopMorph();
      return;
    }
    const morph = canvas('morph');
    morph.hidden = false;
    let frame = 0;
    morph.dataset.frames = '0';
    this.morph = window.setInterval(() => {
      const between = canvas('between');
      const cells = 10;
      const pitch = (between.width - GUTTER) / cells;
      const side = pitch - GUTTER;
      // 0, 1, ..., 9, 8, ..., 1: there and back.
      const turn = frame % (2 * cells - 2);
      const cell = turn < cells ? turn : 2 * cells - 2 - turn;
      morph.width = side;
      morph.height = side;
      morph.getContext('2d')?.drawImage(between, GUTTER + cell * pitch, GUTTER, side, side, 0, 0, side, side);
      frame += 1;
      morph.dataset.frames = String(frame);
    }, 1000 / MORPH_FRAMES_PER_SECOND);
    $('play-between').dataset.i18n = 'stopBetween';
    this.relabel();
  }

  stopMorph() {
    if (this.morph !== null) window.clearInterval(this.morph);
    this.morph = null;
    canvas('morph').hidden = true;
    $('play-between').dataset.i18n = 'playBetween';
    this.relabel();
  }

  /** Starts or stops the walk; stopped, the grid shows the preview again. */
  toggleWalk() {
    this.walk = this.walk ? null : { start: performance.now(), frames: 0, inFlight: false };
    $('walk').dataset.i18n = this.walk ? 'stopWalking' : 'walk';
    this.relabel();
    this.grid.dataset.walkFrames = '0';
    if (!this.walk) this.redraw();
  }

  /** The walk's next frame, once the last has been drawn (called every animation frame). @param {number} now */
  stepWalk(now) {
    const walk = this.walk;
    const backend = this.backend();
    if (!walk || walk.inFlight || !backend) return;
    walk.inFlight = true;
    const angle = ((now - walk.start) / 1000) * WALK_RADIANS_PER_SECOND;
    backend
      .walk(angle)
      .then((image) => {
        if (this.walk !== walk) return;
        drawGrid(this.grid, image, Number(this.grid.dataset.columns), new Float32Array(), false);
        walk.frames += 1;
        this.grid.dataset.walkFrames = String(walk.frames);
      })
      .catch((e) => {
        this.walk = walk;
        this.toggleWalk();
        this.onError(e);
      })
      .finally(() => {
        walk.inFlight = false;
      });
  }

  /**
   * The chosen cells' latent vectors as a strip, a row each: blue below 0, black at 0,
   * orange above (full colour from ±2.5, beyond which few of a Gaussian's values lie).
   */
  async drawLatents() {
    const pinned = this.pinned;
    const backend = this.backend();
    $('latents').hidden = pinned.length === 0 || !backend;
    if (!backend || pinned.length === 0) return;
    const latents = await Promise.all(pinned.map((cell) => backend.latentOf(cell)));
    if (this.pinned !== pinned) return;
    const strip = canvas('latent-strip');
    const cell = 4;
    strip.width = latents[0].length * cell;
    strip.height = latents.length * cell * 2;
    const ctx = strip.getContext('2d');
    if (!ctx) return;
    latents.forEach((z, row) => {
      z.forEach((value, i) => {
        const v = Math.max(-1, Math.min(1, value / 2.5));
        const [r, g, b] = v < 0 ? [108, 180, 255] : [255, 155, 94];
        const k = Math.abs(v);
        ctx.fillStyle = `rgb(${Math.round(r * k)}, ${Math.round(g * k)}, ${Math.round(b * k)})`;
        ctx.fillRect(i * cell, row * cell * 2, cell, cell * 2);
      });
    });
    strip.dataset.cells = pinned.join('-');
  }
}
