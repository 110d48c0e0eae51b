// The page in Firefox (issue 26): the paths every visitor takes, on Firefox's CPU
// path and on its own WebGPU implementation (wgpu, here on lavapipe), beside the
// Chromium suite. Skipped where Firefox is not installed, except in CI.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIREFOX, launchFirefox } from './firefox.mjs';
import { BASE, SLOW, storedZip } from './harness.mjs';

const missing = !existsSync(FIREFOX) && `${FIREFOX} is not installed (apt-get install firefox-esr)`;
if (missing && process.env.CI) throw new Error(`CI must run the Firefox tests: ${missing}`);

// The site as a host without the isolation headers serves it (`cargo xtask test` sets it).
const PLAIN = process.env.GANVAS_PLAIN_URL;
const noPlain = missing || (!PLAIN && 'GANVAS_PLAIN_URL is not set; `cargo xtask test` sets it');

let browser;
before(async () => {
  if (!missing) browser = await launchFirefox();
});
after(() => browser?.close());

/**
 * The page at `hash` (of `base`), and the errors its console logs (Firefox's WebGPU
 * logs its validation errors as errors). `withoutServiceWorkers`: as a browser that
 * has none.
 */
async function open(hash, { base = BASE, withoutServiceWorkers = false } = {}) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const errors = [];
  const messages = [];
  page.on('console', (m) => {
    messages.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  if (withoutServiceWorkers) {
    await page.evaluateOnNewDocument(() => Object.defineProperty(Navigator.prototype, 'serviceWorker', { get: () => undefined }));
  }
  await page.goto(base + hash);
  try {
    await page.waitForSelector('body[data-ready="true"]', { timeout: SLOW });
  } catch (e) {
    // What the page got to, for a start that never finished.
    const state = await page.evaluate(() => [document.getElementById('load-text')?.textContent, crossOriginIsolated]);
    throw new Error(`${hash} did not start (${e}); it shows ${JSON.stringify(state)}; its console: ${JSON.stringify([...messages, ...errors])}`);
  }
  return { page, errors, close: () => context.close() };
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent);
const waitFor = (page, fn, ...args) => page.waitForFunction(fn, { timeout: SLOW }, ...args);

test('Firefox: the page trains on the CPU path, draws, counts digits and carries its link', { skip: missing }, async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&until=3&autostart=1');
  await waitFor(page, () => window.ganvas.censusStep === 3);
  assert.equal(await page.evaluate(() => window.ganvas.backend.kind), 'cpu', 'a software adapter: the CPU is faster');
  assert.match(await text(page, '#census-count'), /2,048 samples at step 3/);
  // The grid was drawn at step 3, and is G's images, not a blank canvas.
  await waitFor(page, () => document.getElementById('grid').dataset.drawnStep === '3');
  const spread = await page.evaluate(() => {
    const canvas = document.getElementById('grid');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const gray = [...data].filter((_, i) => i % 4 === 0);
    const mean = gray.reduce((a, b) => a + b, 0) / gray.length;
    return Math.sqrt(gray.reduce((a, b) => a + (b - mean) ** 2, 0) / gray.length);
  });
  assert.ok(spread > 10, `G's images, spread ${spread}`);
  // The share link carries the settings; opened, it gives the same run.
  const link = await page.$eval('#share-link', (e) => e.value);
  assert.match(link, /batch=8/);
  assert.match(link, /seed=3/);
  const again = await open(new URL(link).hash);
  assert.equal(await again.page.$eval('#settings input[name="batch"]', (e) => e.value), '8');
  assert.deepEqual([...errors, ...again.errors], []);
  await again.close();
  await close();
});

test('Firefox: a checkpoint saves and loads back', { skip: missing }, async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu');
  await page.click('#step');
  await waitFor(page, () => Number(document.getElementById('readout-step').textContent) >= 1);
  // The three files Save downloads (the page's own save), as base64.
  const saved = await page.evaluate(async () => {
    const files = await window.ganvas.backend.save();
    return files.map((bytes) => {
      let binary = '';
      for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
      return btoa(binary);
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'ganvas-firefox-'));
  const paths = ['generator', 'discriminator', 'optimizer'].map((name, i) => {
    const path = join(dir, `${name}.safetensors`);
    writeFileSync(path, Buffer.from(saved[i], 'base64'));
    return path;
  });
  // Two more steps, then the checkpoint of step 1 back.
  await page.click('#step');
  await page.click('#step');
  await waitFor(page, () => Number(document.getElementById('readout-step').textContent) >= 3);
  await (await page.$('#load')).uploadFile(...paths);
  await waitFor(page, () => /Loaded a checkpoint at step 1/.test(document.getElementById('message').textContent));
  assert.equal(await text(page, '#readout-step'), '1');
  assert.deepEqual(errors, []);
  await close();
});

test('Firefox: your own pictures, as a zip, are prepared', { skip: missing }, async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu');
  const pictures = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 40;
    const g = canvas.getContext('2d');
    return Array.from({ length: 110 }, (_, i) => {
      g.fillStyle = '#111';
      g.fillRect(0, 0, 40, 40);
      g.fillStyle = `hsl(${i * 37}, 80%, 60%)`;
      g.fillRect(5 + (i % 7), 8 + (i % 5), 20, 20);
      return canvas.toDataURL('image/png').split(',')[1];
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'ganvas-firefox-'));
  const zip = join(dir, 'pictures.zip');
  writeFileSync(zip, storedZip(pictures.map((b64, i) => ({ name: `p${i}.png`, buffer: Buffer.from(b64, 'base64') }))));
  const input = await page.$('#own-files');
  await input.uploadFile(zip);
  await waitFor(page, () => /^110 pictures ready as 28×28 gray/.test(document.getElementById('own-status').textContent));
  await page.click('#own-use');
  await waitFor(page, () => /^Training on your 110 pictures/.test(document.getElementById('own-status').textContent));
  assert.deepEqual(errors, []);
  await close();
});

// A second WebGPU implementation beside Chromium's Dawn: Firefox's, on wgpu.
for (const model of ['mlp', 'dcgan']) {
  test(`Firefox's WebGPU trains the ${model === 'mlp' ? 'MLP GAN' : 'DCGAN'} and runs the census`, { skip: missing }, async () => {
    const extra = model === 'dcgan' ? '&model=1&width=4' : '';
    const { page, errors, close } = await open(`#batch=8&seed=3&backend=gpu&until=2&autostart=1${extra}`);
    await waitFor(page, () => window.ganvas.censusStep === 2);
    assert.equal(await page.evaluate(() => window.ganvas.backend.kind), 'gpu');
    assert.match(await text(page, '#census-count'), /2,048 samples at step 2/);
    const fake = await page.evaluate(() => [...window.ganvas.scores.fake]);
    assert.ok(fake.length === 64 && fake.every((v) => v > 0 && v < 1), 'D scores every sample');
    assert.deepEqual(errors, []);
    await close();
  });
}

// What the CPU path shows after training to step 6: the grid's pixels, the census's
// distance, and the build that ran.
async function trainedRun(options, extra = '') {
  const { page, errors, close } = await open(`#backend=cpu&batch=32&seed=11&until=6&autostart=1${extra}`, options);
  await waitFor(page, () => window.ganvas.censusStep === 6);
  await waitFor(page, () => document.getElementById('grid').dataset.drawnStep === '6');
  const run = {
    grid: await page.evaluate(() => {
      const canvas = document.getElementById('grid');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      return data.reduce((hash, v, i) => (i % 4 === 0 ? (hash * 31 + v) >>> 0 : hash), 0);
    }),
    frechet: await text(page, '#readout-frechet'),
    device: await text(page, '#readout-adapter'),
  };
  assert.deepEqual(errors, []);
  await close();
  return run;
}

test('Firefox: the threaded CPU path where the page is isolated, the same bits as the single-threaded one', { skip: noPlain }, async () => {
  const threaded = await trainedRun({}, '&threads=2');
  const single = await trainedRun({ base: PLAIN, withoutServiceWorkers: true });
  assert.match(threaded.device, /^CPU: 2 threads of \d+ cores \(threaded WebAssembly SIMD, in workers\)$/);
  assert.match(single.device, /^CPU: 1 thread \(single-threaded WebAssembly SIMD: the page is not cross-origin isolated/);
  assert.deepEqual([threaded.grid, threaded.frechet], [single.grid, single.frechet]);
});

test('Firefox: on a host without the headers, the service worker isolates the page', { skip: noPlain }, async () => {
  const { page, errors, close } = await open('#backend=cpu', { base: PLAIN });
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  assert.match(await text(page, '#readout-adapter'), /threaded WebAssembly/);
  assert.deepEqual(errors, []);
  await close();
});
