// @ts-check
// Run settings: the form, the share link (URL hash) and the JSON the core reads.
// The core parses both links and the form (src/formats/settings.rs), so their keys, ranges
// and limits are its own; a value that is present but malformed or out of range is
// reported and falls back to its default. Nothing from the URL ever becomes HTML.

import { parse_settings, setting_specs } from './pkg/ganvas.js';

/** @typedef {{ key: string, field: string, integer: boolean, min: number, max: number }} Setting */
/** @typedef {Record<string, number>} Values settings by link key */
/** @typedef {'gpu' | 'cpu'} BackendKind */
/**
 * A value that was not used, and why (src/formats/settings.rs, `Problem`): worded by
 * www/errors.js's `problemText`; `message` is the core's English.
 * @typedef {{ key: string, value: string, message: string } & ({ kind: 'range', min: string, max: string }
 *   | { kind: 'choice', choices: string[] } | { kind: 'unknown' })} Problem
 */
/**
 * @typedef {{ values: Values, autostart: boolean, backend: BackendKind | null, until: number | null,
 *   lang: import('./i18n.js').Language | null, threads: number | null, own_images: boolean, problems: Problem[] }} Parsed
 */

/** @type {Setting[] | null} */
let specs = null;

/** Each setting's key, config field and range, from the core (after its `init`). */
export function settingSpecs() {
  specs ??= /** @type {Setting[]} */ (JSON.parse(setting_specs()));
  return specs;
}

/**
 * Settings from a URL hash such as "#lr_g=0.0002&batch=64&seed=3&autostart=1".
 * @param {string} hash
 * @returns {Parsed}
 */
export function fromHash(hash) {
  return JSON.parse(parse_settings(hash.replace(/^#/, '')));
}

/**
 * The link names the backend only when one was chosen (by a link or by hand): by
 * default a link trains on whatever its visitor's machine does best.
 * @param {Values} values
 * @param {boolean} autostart
 * @param {BackendKind | undefined} backend
 * @param {number | undefined} [until] the step a demo link trains to and stops at
 * @param {import('./i18n.js').Language} [lang] the page's language, carried when not English
 * @param {boolean} [ownImages] the run is on the sender's own pictures (`data=own`)
 */
export function toHash(values, autostart, backend, until, lang, ownImages) {
  const params = new URLSearchParams();
  for (const { key } of settingSpecs()) params.set(key, String(values[key]));
  if (backend) params.set('backend', backend);
  if (until) params.set('until', String(until));
  if (lang && lang !== 'en') params.set('lang', lang);
  if (ownImages) params.set('data', 'own');
  if (autostart) params.set('autostart', '1');
  return '#' + params.toString();
}

/**
 * The core's `Model` (src/model/config.rs) in a config.
 * @typedef {{ kind: 'mlp' } | { kind: 'dcgan', image_size: number, channels: number, width: number }} Model
 */
/** @typedef {{ side: number, channels: number }} ImageShape the images a run trains on */

// The settings that make the config's `model` rather than a field of their own.
const MODEL_KEYS = ['model', 'width'];
// The DCGAN's width where a config has none (pytorch/examples' ngf = ndf).
const DCGAN_WIDTH = 64;

/**
 * Link-keyed values from the core's config (as parsed from its JSON).
 * @param {Record<string, unknown>} config
 * @returns {Values}
 */
export function fromConfig(config) {
  /** @type {Values} */
  const values = {};
  // Number(true) is 1: a boolean field (the conditional model) as 0 or 1.
  for (const { key, field } of settingSpecs()) {
    if (!MODEL_KEYS.includes(key)) values[key] = Number(config[field]);
  }
  const model = /** @type {Model} */ (config.model);
  values.model = model.kind === 'dcgan' ? 1 : 0;
  values.width = model.kind === 'dcgan' ? model.width : DCGAN_WIDTH;
  return values;
}

/**
 * The core's config JSON: `base` (a config object) with the link-keyed values
 * applied, the DCGAN's for images of `image` (MNIST: 32×32 gray, padded by the core).
 * @param {Record<string, unknown>} base
 * @param {Values} values
 * @param {ImageShape} image
 */
export function toConfigJson(base, values, image) {
  const config = { ...base };
  for (const { key, field } of settingSpecs()) {
    if (MODEL_KEYS.includes(key)) continue;
    config[field] = typeof base[field] === 'boolean' ? values[key] !== 0 : values[key];
  }
  /** @type {Model} */
  const model = values.model
    ? { kind: 'dcgan', image_size: image.side, channels: image.channels, width: values.width }
    : { kind: 'mlp' };
  config.model = model;
  return JSON.stringify(config);
}

/** A setting's field: an input, or a select of its values (the model). @param {HTMLFormElement} form @param {string} name */
function input(form, name) {
  return /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
}

/**
 * The form's settings, read by the core as a link would be: invalid ones take their
 * defaults and are listed in `problems`.
 * @param {HTMLFormElement} form
 * @returns {{ values: Values, problems: Problem[] }}
 */
export function readForm(form) {
  const params = new URLSearchParams();
  for (const { key } of settingSpecs()) params.set(key, input(form, key).value);
  const parsed = fromHash(params.toString());
  return { values: parsed.values, problems: parsed.problems };
}

/** @param {HTMLFormElement} form @param {Values} values */
export function writeForm(form, values) {
  for (const { key, min, max, integer } of settingSpecs()) {
    const field = input(form, key);
    field.value = String(values[key]);
    if (!(field instanceof HTMLInputElement)) continue;
    field.min = String(min);
    field.max = String(max);
    if (integer) field.step = '1';
  }
}
