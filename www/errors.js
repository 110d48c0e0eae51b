// @ts-check
// Errors in the page's language. The core's errors carry a `kind` (src/error.rs,
// `ErrorKind`) that is worded here; their English sentence stays as the detail, since
// it names the files, tensors, shapes and values involved. The page's own errors are
// `PageError`s: a string key and its values, worded when shown, so a message shown
// before a language switch is worded again after it.

import { t } from './i18n.js';
import { KeyedError } from './worker-protocol.js';

/** @typedef {import('./i18n.js').Key} Key */

/** The core's error kinds, each worded with its detail. */
const KINDS = {
  checkpointUnreadable: (/** @type {string} */ detail) => t('errorCheckpointUnreadable', { detail }),
  checkpointMismatch: (/** @type {string} */ detail) => t('errorCheckpointMismatch', { detail }),
  dataUnreadable: (/** @type {string} */ detail) => t('errorDataUnreadable', { detail }),
  settings: (/** @type {string} */ detail) => t('errorSettings', { detail }),
  device: (/** @type {string} */ detail) => t('errorDevice', { detail }),
  other: (/** @type {string} */ detail) => detail,
};

/**
 * An error of the page's own: a key of the string tables and its values (errors and
 * functions among them are worded when it is).
 */
export class PageError extends KeyedError {
  /** @param {Key} key @param {Record<string, unknown>} [values] */
  constructor(key, values = {}) {
    super(key);
    this.values = values;
  }
}

/**
 * An error as the page says it, in its current language.
 * @param {unknown} e
 * @returns {string}
 */
export function errorText(e) {
  if (e instanceof KeyedError) {
    /** @type {Record<string, string | number>} */
    const values = {};
    for (const [name, value] of Object.entries(e instanceof PageError ? e.values : {})) {
      if (typeof value === 'string' || typeof value === 'number') values[name] = value;
      else if (typeof value === 'function') values[name] = String(value());
      else values[name] = errorText(value);
    }
    return t(/** @type {Key} */ (e.key), values);
  }
  if (e instanceof Error) {
    const kind = /** @type {{ kind?: unknown }} */ (e).kind;
    return typeof kind === 'string' && kind in KINDS ? KINDS[/** @type {keyof typeof KINDS} */ (kind)](e.message) : e.message;
  }
  return String(e);
}

/**
 * A setting's problem (src/formats/settings.rs, `Problem`), worded: the key and value
 * are data, the rest is the page's.
 * @param {import('./settings.js').Problem} p
 */
export function problemText(p) {
  if (p.kind === 'range') return t('problemRange', { key: p.key, value: p.value, min: p.min, max: p.max });
  if (p.kind === 'choice') return t('problemChoice', { key: p.key, value: p.value, choices: p.choices.join(' / ') });
  return t('problemUnknown', { key: p.key });
}
