// @ts-check
// The fixed-latent grid over a run, kept for a timelapse: a frame every `every`
// steps, at most MAX_FRAMES of them (when full, every other frame goes and the
// spacing doubles, so a long run keeps its whole history in bounded memory).
// Exported as a filmstrip PNG, and as a WebM video where MediaRecorder can record a
// canvas, else as an animated GIF (the core encodes it); each frame carries its step.

import { animated_gif } from './pkg/ganvas.js';

const MAX_FRAMES = 60;
const FIRST_SPACING = 20;
const FRAMES_PER_SECOND = 8;
const PER_ROW = 10;
const CAPTION = 16;

/** @typedef {{ image: ImageData, step: number }} Frame */

export class Timelapse {
  constructor() {
    /** @type {Frame[]} */
    this.frames = [];
    this.every = FIRST_SPACING;
  }

  clear() {
    this.frames = [];
    this.every = FIRST_SPACING;
  }

  /** Keeps `image` if it is `every` steps past the last frame. @param {ImageData} image @param {number} step */
  offer(image, step) {
    const last = this.frames[this.frames.length - 1];
    if (last && step < last.step + this.every) return;
    this.frames.push({ image, step });
    if (this.frames.length > MAX_FRAMES) {
      this.frames = this.frames.filter((_, i) => i % 2 === 0);
      this.every *= 2;
    }
  }

  /** A frame with its step written under it, on a canvas of its own. @param {Frame} frame */
  static framed(frame) {
    const canvas = document.createElement('canvas');
    canvas.width = frame.image.width;
    canvas.height = frame.image.height + CAPTION;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.putImageData(frame.image, 0, 0);
    ctx.fillStyle = '#e6e6e6';
    ctx.font = '12px system-ui';
    ctx.fillText(`step ${frame.step}`, 4, canvas.height - 4);
    return canvas;
  }

  /** Every frame in rows of PER_ROW, as a PNG. @returns {Promise<Blob>} */
  filmstrip() {
    const cells = this.frames.map(Timelapse.framed);
    const [w, h] = [cells[0].width, cells[0].height];
    const strip = document.createElement('canvas');
    strip.width = w * Math.min(PER_ROW, cells.length);
    strip.height = h * Math.ceil(cells.length / PER_ROW);
    const ctx = /** @type {CanvasRenderingContext2D} */ (strip.getContext('2d'));
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, strip.width, strip.height);
    cells.forEach((cell, i) => ctx.drawImage(cell, (i % PER_ROW) * w, Math.floor(i / PER_ROW) * h));
    return new Promise((resolve, reject) => {
      strip.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the filmstrip could not be encoded'))), 'image/png');
    });
  }

  /** Whether this browser can record a WebM video of a canvas. */
  static canRecord() {
    return typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported('video/webm');
  }

  /** The frames as an animated GIF, looping. @returns {Blob} */
  gif() {
    const cells = this.frames.map(Timelapse.framed);
    const [w, h] = [cells[0].width, cells[0].height];
    const rgba = new Uint8Array(cells.length * w * h * 4);
    cells.forEach((cell, i) => {
      const ctx = /** @type {CanvasRenderingContext2D} */ (cell.getContext('2d'));
      rgba.set(ctx.getImageData(0, 0, w, h).data, i * w * h * 4);
    });
    const bytes = animated_gif(rgba, w, h, Math.round(100 / FRAMES_PER_SECOND));
    return new Blob([/** @type {BlobPart} */ (bytes)], { type: 'image/gif' });
  }

  /** The frames as a WebM video, played once in real time while it records. @returns {Promise<Blob>} */
  async video() {
    const cells = this.frames.map(Timelapse.framed);
    const screen = document.createElement('canvas');
    screen.width = cells[0].width;
    screen.height = cells[0].height;
    const ctx = /** @type {CanvasRenderingContext2D} */ (screen.getContext('2d'));
    ctx.drawImage(cells[0], 0, 0);
    const recorder = new MediaRecorder(screen.captureStream(FRAMES_PER_SECOND), { mimeType: 'video/webm' });
    /** @type {Blob[]} */
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
    recorder.start();
    for (const cell of cells) {
      ctx.drawImage(cell, 0, 0);
      await new Promise((r) => setTimeout(r, 1000 / FRAMES_PER_SECOND));
    }
    recorder.stop();
    await stopped;
    return new Blob(chunks, { type: 'video/webm' });
  }
}
