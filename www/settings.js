// Run settings: the form, the share link (URL hash) and the JSON the core reads.
// A link value that is missing, malformed or out of range falls back to its default
// with a notice; nothing from the URL ever becomes HTML.

// Link key -> config field, whether it must be an integer, and its valid range.
export const FIELDS = {
  lr_g: { field: 'generator_lr', integer: false, min: 1e-7, max: 1 },
  lr_d: { field: 'discriminator_lr', integer: false, min: 1e-7, max: 1 },
  beta1: { field: 'beta1', integer: false, min: 0, max: 0.999999 },
  beta2: { field: 'beta2', integer: false, min: 0, max: 0.999999 },
  batch: { field: 'batch', integer: true, min: 1, max: 1024 },
  seed: { field: 'seed', integer: true, min: 0, max: 2 ** 32 - 1 },
};

function parse(text, spec) {
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text.trim())) return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value < spec.min || value > spec.max) return null;
  if (spec.integer && !Number.isInteger(value)) return null;
  return value;
}

// Settings from a URL hash such as "#lr_g=0.0002&batch=64&seed=3&autostart=1".
// Returns { values, autostart, backend, problems }.
export function fromHash(hash, defaults) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const values = { ...defaults };
  const problems = [];
  // A link that sets anything is meant to reproduce a run: say which settings it lacks.
  const isRunLink = Object.keys(FIELDS).some((key) => params.has(key));
  for (const [key, spec] of Object.entries(FIELDS)) {
    if (!params.has(key)) {
      if (isRunLink) problems.push(`The link does not set ${key}; using ${defaults[key]}.`);
      continue;
    }
    const raw = params.get(key);
    const value = parse(raw, spec);
    if (value === null) {
      problems.push(`The link's ${key}=${raw.slice(0, 40)} is not valid (${spec.min} to ${spec.max}); using ${defaults[key]}.`);
    } else {
      values[key] = value;
    }
  }
  for (const key of params.keys()) {
    if (!(key in FIELDS) && key !== 'autostart' && key !== 'backend') {
      problems.push(`The link's setting "${key.slice(0, 40)}" is unknown and was ignored.`);
    }
  }
  let backend;
  if (params.has('backend')) {
    const raw = params.get('backend');
    if (raw === 'gpu' || raw === 'cpu') backend = raw;
    else problems.push(`The link's backend=${raw.slice(0, 40)} is not gpu or cpu; using gpu where WebGPU works.`);
  }
  const autostart = params.get('autostart') === '1';
  return { values, autostart, backend, problems };
}

// The link names the backend only when one was chosen (by a link or by hand): by
// default a link trains on whatever its visitor's machine does best.
export function toHash(values, autostart, backend) {
  const params = new URLSearchParams();
  for (const key of Object.keys(FIELDS)) params.set(key, String(values[key]));
  if (backend) params.set('backend', backend);
  if (autostart) params.set('autostart', '1');
  return '#' + params.toString();
}

// Link-keyed values from the core's config JSON.
export function fromConfig(config) {
  const values = {};
  for (const [key, spec] of Object.entries(FIELDS)) values[key] = config[spec.field];
  return values;
}

// The core's config JSON: `base` (a config object) with the link-keyed values applied.
export function toConfigJson(base, values) {
  const config = { ...base };
  for (const [key, spec] of Object.entries(FIELDS)) config[spec.field] = values[key];
  return JSON.stringify(config);
}

export function readForm(form, fallback) {
  const values = {};
  const problems = [];
  for (const [key, spec] of Object.entries(FIELDS)) {
    const value = parse(form.elements[key].value, spec);
    if (value === null) problems.push(`${key} must be between ${spec.min} and ${spec.max}`);
    values[key] = value ?? fallback[key];
  }
  return { values, problems };
}

export function writeForm(form, values) {
  for (const key of Object.keys(FIELDS)) form.elements[key].value = String(values[key]);
}
