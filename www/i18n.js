// @ts-check
// The page's languages: a string table each (www/strings/), chosen by the link's
// `lang`, else by the browser's preferred languages, and switchable. index.html
// marks its text by key: data-i18n (text), data-i18n-html (a table's markup),
// data-i18n-label (aria-label) and data-i18n-title (title).

import en from './strings/en.js';
import ko from './strings/ko.js';

/** @typedef {keyof import('./strings/en.js').Strings} Key */
/** @typedef {keyof typeof TABLES} Language */

export const TABLES = { en, ko };

/** @type {Language} */
let current = 'en';

export function language() {
  return current;
}

/**
 * The first of the browser's preferred languages that the page has ('ko-KR' is ko).
 * @returns {Language}
 */
export function preferred() {
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'en' || base === 'ko') return base;
  }
  return 'en';
}

/**
 * The text of `key` in the current language, with each `{name}` filled from `values`.
 * @param {Key} key @param {Record<string, string | number>} [values]
 */
export function t(key, values = {}) {
  return TABLES[current][key].replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Switches the page's static text to `lang`. @param {Language} lang */
export function setLanguage(lang) {
  current = lang;
  document.documentElement.lang = lang;
  document.title = t('title');
  /** @param {string} attribute @param {(element: HTMLElement, text: string) => void} write */
  const each = (attribute, write) => {
    document.querySelectorAll(`[${attribute}]`).forEach((element) => {
      write(/** @type {HTMLElement} */ (element), t(/** @type {Key} */ (element.getAttribute(attribute))));
    });
  };
  each('data-i18n', (e, text) => { e.textContent = text; });
  // Only the tables' own markup: nothing from a link or a file reaches here.
  each('data-i18n-html', (e, text) => { e.innerHTML = text; });
  each('data-i18n-label', (e, text) => e.setAttribute('aria-label', text));
  each('data-i18n-title', (e, text) => { e.title = text; });
}
