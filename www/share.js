// @ts-check
// The link to a run: its applied settings and, unless unticked, the step it has
// reached (a visitor's page trains to it and stops), copied on request.

import { $, input } from './dom.js';
import { language, t } from './i18n.js';
import * as settings from './settings.js';

/** @typedef {import('./messages.js').Messages} Messages */
/**
 * What a link says of a run.
 * @typedef {{ values: settings.Values, step: number | undefined, backend: settings.BackendKind | undefined,
 *   until: number | undefined, ownImages: boolean }} Run
 */

export class Sharing {
  /** @param {() => Run} run the run as it is now */
  constructor(run) {
    this.run = run;
  }

  /** Writes the link to the run as it is now. */
  update() {
    const { values, step, backend, until, ownImages } = this.run();
    const here = input('share-until').checked ? step : undefined;
    const url = new URL(location.href);
    url.hash = settings.toHash(values, true, backend, here || until, language(), ownImages);
    input('share-link').value = url.toString();
  }

  /**
   * @param {(action: (event: Event) => unknown) => (event: Event) => Promise<void>} guarded
   *   runs an action, showing its error
   * @param {Messages} messages where a refused copy says so
   */
  wire(guarded, messages) {
    $('share-until').addEventListener('change', () => this.update());
    $('copy-link').addEventListener('click', guarded(async () => {
      this.update();
      const link = input('share-link');
      try {
        await navigator.clipboard.writeText(link.value);
        messages.clear('copy');
        $('copy-link').textContent = t('copied');
        setTimeout(() => { $('copy-link').textContent = t('copyLink'); }, 1500);
      } catch {
        link.select();
        messages.show('copy', 'warning', () => t('copyRefused'));
      }
    }));
  }
}
