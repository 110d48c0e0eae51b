// @ts-check
// A lost GPU device: the page keeps an in-memory snapshot of a GPU run (every 30 s
// while it trains; the CPU backend cannot lose its state, so it takes none), and
// when the device is lost, starts the GPU again from it, or the CPU if no GPU comes
// back, saying what happened.

import { errorText } from './errors.js';
import { t } from './i18n.js';

/** @typedef {import('./backends.js').Backend} Backend */
/** @typedef {import('./backends.js').CheckpointFiles} CheckpointFiles */
/** @typedef {import('./settings.js').BackendKind} BackendKind */
/** @typedef {import('./messages.js').Messages} Messages */

const SNAPSHOT_EVERY_MS = 30_000;

export class Recovery {
  /**
   * @param {{ backend: () => Backend | null, start: (kind: BackendKind, files?: CheckpointFiles) => Promise<void>,
   *   running: () => boolean, setRunning: (running: boolean) => void, messages: Messages }} page
   */
  constructor(page) {
    this.page = page;
    /** @type {{ step: number, files: CheckpointFiles } | null} */
    this.snapshot = null;
    this.lastSnapshot = 0;
    this.snapshotting = false;
    this.recovering = false;
  }

  /** A new trainer: the old one's snapshot is of another run. */
  forget() {
    this.snapshot = null;
  }

  /** Takes a snapshot of a training GPU run when one is due. @param {number} now */
  keep(now) {
    if (!this.page.running() || now - this.lastSnapshot <= SNAPSHOT_EVERY_MS) return;
    this.lastSnapshot = now;
    this.take();
  }

  async take() {
    const backend = this.page.backend();
    if (this.snapshotting || backend?.kind !== 'gpu') return;
    this.snapshotting = true;
    const step = backend.confirmedStep;
    try {
      const files = await backend.save();
      if (this.page.backend() === backend) this.snapshot = { step, files };
    } catch {
      // A snapshot fails when the device is lost mid-read; recovery uses the previous one.
    } finally {
      this.snapshotting = false;
    }
  }

  /** Starts again after the device was lost, `why`. @param {string} why */
  async recover(why) {
    const { start, setRunning, messages } = this.page;
    this.recovering = true;
    const wasRunning = this.page.running();
    setRunning(false);
    const from = this.snapshot;
    messages.show('device', 'warning', () => t('deviceLost', { why, step: from ? from.step : 0 }));
    try {
      await start('gpu', from?.files);
      this.snapshot = from;
      const step = this.page.backend()?.confirmedStep ?? 0;
      messages.show('device', 'success', () => t('deviceRecovered', { why, step }));
      setRunning(wasRunning);
    } catch (e) {
      try {
        await start('cpu', from?.files);
        messages.show('device', 'warning', () => t('deviceToCpu', { why: errorText(e) }));
        setRunning(wasRunning);
      } catch (cpuError) {
        messages.show('device', 'error', () => t('deviceGone', { why: errorText(cpuError) }));
      }
    }
    this.recovering = false;
  }
}
