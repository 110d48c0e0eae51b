// @ts-check
// A compact line chart on a canvas: a few series over training steps, with dashed
// guide lines at fixed values (the GAN's equilibrium); and the census's bars. Each
// fills the box the stylesheet gives its canvas, at the screen's resolution, and is
// drawn again when that box changes.

/** @typedef {[number, number]} Point a step and a value */

/**
 * Gives `canvas` as many pixels as its box has on this screen, cleared, and a
 * context that draws in the box's CSS pixels; null while it has no box (not
 * displayed: drawn when it gets one).
 * @param {HTMLCanvasElement} canvas
 * @returns {{ ctx: CanvasRenderingContext2D, width: number, height: number } | null}
 */
function fitted(canvas) {
  const ctx = canvas.getContext('2d');
  const { clientWidth: width, clientHeight: height } = canvas;
  if (!ctx || width === 0 || height === 0) return null;
  const ratio = window.devicePixelRatio || 1;
  const [pixelsWide, pixelsHigh] = [Math.round(width * ratio), Math.round(height * ratio)];
  if (canvas.width !== pixelsWide || canvas.height !== pixelsHigh) {
    canvas.width = pixelsWide;
    canvas.height = pixelsHigh;
  }
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

/** Draws `chart` again whenever its canvas's box changes size. @param {{ canvas: HTMLCanvasElement, draw(): void }} chart */
function redrawOnResize(chart) {
  new ResizeObserver(() => chart.draw()).observe(chart.canvas);
}

export class Chart {
  /**
   * @param {HTMLCanvasElement} canvas @param {string[]} colors one per series
   * @param {(step: number) => string} stepText the x axis's last step, in the page's language
   * @param {number[]} [guides] values marked with a dashed line, always in view
   */
  constructor(canvas, colors, stepText, guides = []) {
    this.canvas = canvas;
    this.stepText = stepText;
    this.colors = colors;
    this.guides = guides;
    /** @type {Point[][]} */
    this.series = colors.map(() => []);
    redrawOnResize(this);
  }

  /**
   * One point per series, at `step`; long histories keep every other point.
   * @param {number} step @param {number[]} values
   */
  add(step, values) {
    values.forEach((v, i) => this.series[i].push([step, v]));
    if (this.series[0].length > 2000) this.series = this.series.map((s) => s.filter((_, j) => j % 2 === 0));
    this.canvas.dataset.points = String(this.series[0].length);
  }

  clear() {
    this.series = this.colors.map(() => []);
    this.canvas.dataset.points = '0';
    this.draw();
  }

  draw() {
    const box = fitted(this.canvas);
    if (!box) return;
    const { ctx, width, height } = box;
    const points = this.series.flat();
    if (points.length === 0) return;
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]).filter(Number.isFinite);
    const last = Math.max(...xs);
    // The axis spans at least one step; its label is the last point's step.
    const [x0, x1] = [Math.min(...xs), Math.max(last, Math.min(...xs) + 1)];
    const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys, ...this.guides, 1e-6)];
    const pad = 24;
    const px = (/** @type {number} */ x) => pad + ((x - x0) / (x1 - x0)) * (width - 2 * pad);
    const py = (/** @type {number} */ y) => height - pad - ((y - y0) / (y1 - y0)) * (height - 2 * pad);
    ctx.fillStyle = '#9a9ca3';
    ctx.font = '11px system-ui';
    ctx.fillText(y1.toFixed(2), 2, pad - 6);
    ctx.fillText(y0.toFixed(2), 2, height - pad + 12);
    this.canvas.dataset.lastStep = String(last);
    const label = this.stepText(last);
    ctx.fillText(label, width - pad - ctx.measureText(label).width, height - 6);
    ctx.strokeStyle = '#e6e6e6';
    ctx.setLineDash([4, 4]);
    for (const guide of this.guides) {
      ctx.beginPath();
      ctx.moveTo(pad, py(guide));
      ctx.lineTo(width - pad, py(guide));
      ctx.stroke();
    }
    ctx.setLineDash([]);
    this.series.forEach((series, i) => {
      ctx.strokeStyle = this.colors[i];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      series.forEach(([x, y], j) => (j === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
      ctx.stroke();
    });
  }
}

/** A bar per class: the census's share of samples read as each digit. */
export class Bars {
  /** @param {HTMLCanvasElement} canvas @param {string} color */
  constructor(canvas, color) {
    this.canvas = canvas;
    this.color = color;
    /** @type {number[]} */
    this.values = [];
    redrawOnResize(this);
  }

  /** @param {number[]} values */
  set(values) {
    this.values = values;
    this.canvas.dataset.bars = String(values.length);
    this.draw();
  }

  clear() {
    this.set([]);
  }

  draw() {
    const box = fitted(this.canvas);
    if (!box) return;
    const { ctx, width, height } = box;
    const n = this.values.length;
    if (n === 0) return;
    const [top, bottom] = [14, 18];
    // The scale reaches at least twice the even share, so an even census sits at half height.
    const max = Math.max(2 / n, ...this.values);
    const y = (/** @type {number} */ v) => height - bottom - (v / max) * (height - top - bottom);
    const slot = width / n;
    ctx.font = '11px system-ui';
    ctx.textAlign = 'center';
    this.values.forEach((v, i) => {
      ctx.fillStyle = this.color;
      ctx.fillRect(i * slot + slot * 0.15, y(v), slot * 0.7, height - bottom - y(v));
      ctx.fillStyle = '#9a9ca3';
      ctx.fillText(String(i), i * slot + slot / 2, height - 4);
    });
    // The even share: where every bar stands when no digit is missing.
    ctx.strokeStyle = '#e6e6e6';
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(0, y(1 / n));
    ctx.lineTo(width, y(1 / n));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.textAlign = 'left';
    ctx.fillStyle = '#9a9ca3';
    ctx.fillText(`${(100 * max).toFixed(0)}%`, 2, top - 3);
  }
}
