// @ts-check
// The settings form: what it holds, which of its fields the core refuses (each marked
// where it is, with why), and whether it differs from the settings in use (then
// Reset applies it, and the share link does not carry it).

import { $ } from './dom.js';
import { problemText } from './errors.js';
import * as settings from './settings.js';

/** @typedef {import('./settings.js').Values} Values */
/** @typedef {import('./settings.js').Problem} Problem */

export class SettingsForm {
  constructor() {
    this.form = /** @type {HTMLFormElement} */ ($('settings'));
    /** @type {Problem[]} the problems marked now */
    this.problems = [];
  }

  /** The form's values as the core reads them (refused ones as defaults), and its problems. */
  read() {
    return settings.readForm(this.form);
  }

  /** @param {Values} values */
  write(values) {
    settings.writeForm(this.form, values);
    this.mark([]);
  }

  /** @param {string} key @returns {HTMLInputElement | HTMLSelectElement} */
  field(key) {
    return /** @type {HTMLInputElement | HTMLSelectElement} */ (this.form.elements.namedItem(key));
  }

  /**
   * Marks the fields the core refuses, each with why beside it, and clears the rest.
   * @param {Problem[]} problems
   */
  mark(problems) {
    this.problems = problems;
    for (const { key } of settings.settingSpecs()) {
      const field = this.field(key);
      const problem = problems.find((p) => p.key === key);
      const label = /** @type {HTMLElement} */ (field.closest('label'));
      let why = /** @type {HTMLElement | null} */ (label.querySelector('.field-problem'));
      if (!problem) {
        why?.remove();
        field.removeAttribute('aria-invalid');
        field.removeAttribute('aria-describedby');
        continue;
      }
      field.setAttribute('aria-invalid', 'true');
      if (!why) {
        why = document.createElement('span');
        why.className = 'field-problem';
        why.id = `problem-${key}`;
        label.append(why);
      }
      why.textContent = problemText(problem);
      field.setAttribute('aria-describedby', why.id);
    }
  }

  /**
   * Checks the form as it is edited: its fields marked, and whether it differs from `applied`.
   * @param {Values | null} applied the settings in use, if a run has started
   */
  check(applied) {
    const { values, problems } = this.read();
    this.mark(problems);
    const differs = Boolean(applied) && Object.keys(values).some((k) => values[k] !== applied?.[k]);
    $('settings-note').hidden = !differs;
    $('share-note').hidden = !differs;
  }

  /** The marks' words in the page's language. */
  relabel() {
    this.mark(this.problems);
  }
}
