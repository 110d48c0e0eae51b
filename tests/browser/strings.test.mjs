// The page's string tables (www/strings/): every language has every key and no
// other, with the same `{placeholders}`; every key index.html or the scripts name
// exists, and every key is used. (tsc also refuses a table that misses a key.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import en from '../../www/strings/en.js';
import ko from '../../www/strings/ko.js';

const ROOT = new URL('../../', import.meta.url);
const read = (path) => readFileSync(new URL(path, ROOT), 'utf8');
const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('every language has exactly the keys of the English table, with the same placeholders', () => {
  for (const [name, table] of Object.entries({ ko })) {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(en).sort(), `${name} and en differ in keys`);
    for (const key of Object.keys(en)) {
      assert.deepEqual(placeholders(table[key]), placeholders(en[key]), `${name}.${key}`);
      assert.ok(table[key].trim(), `${name}.${key} is empty`);
    }
  }
});

test('the keys the page names exist, and every key is named somewhere', () => {
  const html = read('index.html');
  const inHtml = [...html.matchAll(/data-i18n(?:-html|-label|-title)?="(\w+)"/g)].map((m) => m[1]);
  const scripts = readdirSync(new URL('www/', ROOT)).filter((f) => f.endsWith('.js')).map((f) => read(`www/${f}`)).join('\n');
  // t('key', ...) calls and page errors (new PageError('key', ...)), and keys chosen
  // in a ternary inside one: t(x ? 'a' : 'b').
  const inScripts = [...scripts.matchAll(/\b(?:t|PageError|KeyedError)\(([^()]*?)(?:,|\))/g)]
    .flatMap((m) => [...m[1].matchAll(/(?:^|\?\s*|:\s*)'(\w+)'/g)].map((k) => k[1]));
  for (const key of [...inHtml, ...inScripts]) assert.ok(key in en, `"${key}" is named but not in the tables`);
  const named = new Set([...inHtml, ...inScripts]);
  const unused = Object.keys(en).filter((k) => !named.has(k));
  assert.deepEqual(unused, [], 'keys nothing names');
});
