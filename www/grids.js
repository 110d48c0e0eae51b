// @ts-check
// Grids of images as the core draws them (src/formats/grid.rs: cells in rows, a
// gutter around each): drawn on a canvas, framed by D's output on each cell, and
// which cell the pointer is on.

import { $ } from './dom.js';
import { t } from './i18n.js';

// The gutter around the grid's cells (src/formats/grid.rs).
export const GUTTER = 2;

/**
 * How the cells lie in a grid canvas: its columns (as drawn), and the distance from
 * one cell to the next (a cell and a gutter).
 * @param {HTMLCanvasElement} target
 */
export function gridShape(target) {
  const cols = Number(target.dataset.columns) || 1;
  return { cols, pitch: (target.width - GUTTER) / cols };
}

/**
 * A grid of cells, each framed by D's output on it when `framed`: red where D says
 * generated (0), green where it says real (1).
 * @param {HTMLCanvasElement} target @param {ImageData} image @param {number} columns
 * @param {Float32Array} scores @param {boolean} framed
 */
export function drawGrid(target, image, columns, scores, framed) {
  target.width = image.width;
  target.height = image.height;
  target.dataset.columns = String(columns);
  const ctx = target.getContext('2d');
  if (!ctx) return;
  ctx.putImageData(image, 0, 0);
  if (!framed) return;
  const { cols, pitch } = gridShape(target);
  ctx.lineWidth = 2;
  scores.forEach((score, i) => {
    ctx.strokeStyle = `hsl(${Math.round(120 * score)}, 85%, 50%)`;
    ctx.strokeRect((i % cols) * pitch + 1, Math.floor(i / cols) * pitch + 1, pitch, pitch);
  });
}

/** The cell under the pointer, or -1 past the last column. @param {MouseEvent} event */
export function cellAt(event) {
  const target = /** @type {HTMLCanvasElement} */ (event.currentTarget);
  const { cols, pitch } = gridShape(target);
  const scale = target.width / target.clientWidth;
  const col = Math.floor((event.offsetX * scale) / pitch);
  return col < cols ? Math.floor((event.offsetY * scale) / pitch) * cols + col : -1;
}

/**
 * D's output on the cell under the pointer, in words, into `out`.
 * @param {MouseEvent} event @param {Float32Array | undefined} scores @param {string} what
 * @param {string} out
 */
export function describeCell(event, scores, what, out) {
  const i = cellAt(event);
  if (scores && i >= 0 && i < scores.length) $(out).textContent = t('cellValue', { what, value: scores[i].toFixed(3) });
}
