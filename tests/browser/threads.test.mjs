// The CPU path's builds (issue 26): the threaded one on a pool of workers where the
// page is cross-origin isolated (the test server sends the headers: GANVAS_URL), the
// page's own service worker giving isolation on a host that sends none
// (GANVAS_PLAIN_URL, as GitHub Pages), and the single-threaded build where neither
// can. Every build and thread count trains to the same bits.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, SLOW, close as closeBrowser, gridPixels, launch, newContext } from './harness.mjs';
import { withoutRelaxedSimd as noRelaxedSimd, withoutServiceWorkers as noServiceWorkers } from './without.mjs';

const PLAIN = process.env.GANVAS_PLAIN_URL;
const noPlain = !PLAIN && 'GANVAS_PLAIN_URL (the site served without headers) is not set; `cargo xtask test` sets it';
if (noPlain && process.env.CI) throw new Error(noPlain);

before(launch);
after(closeBrowser);

/**
 * The page at `url` in a context of its own, ready; `withoutServiceWorkers`,
 * `withoutRelaxedSimd`: as a browser without them (without.mjs). Console errors are
 * collected.
 */
async function openAt(url, { withoutServiceWorkers = false, withoutRelaxedSimd = false } = {}) {
  const context = await newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  if (withoutServiceWorkers) await page.addInitScript(noServiceWorkers);
  if (withoutRelaxedSimd) await page.addInitScript(noRelaxedSimd);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: SLOW });
  return { page, errors, close: () => context.close() };
}

const readout = (page) => page.textContent('#readout-adapter');
const isolated = (page) => page.evaluate(() => crossOriginIsolated);

// Trains to step 6 (a census at 6) and returns what the page shows of it: the grid's
// pixels, the census's distance and score, and the build that ran.
async function trainedRun(url, options) {
  const { page, errors, close } = await openAt(`${url}#backend=cpu&batch=32&seed=11&until=6&autostart=1${options.hash ?? ''}`, options);
  await page.waitForFunction(() => window.ganvas.censusStep === 6, null, { timeout: SLOW });
  await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '6', null, { timeout: SLOW });
  const run = {
    grid: await gridPixels(page),
    frechet: await page.textContent('#readout-frechet'),
    score: await page.textContent('#readout-score'),
    device: await readout(page),
  };
  assert.deepEqual(errors, []);
  await close();
  return run;
}

test('isolated by its server, the CPU path runs the threaded build on every core', async () => {
  const { page, errors, close } = await openAt(`${BASE}#backend=cpu`);
  assert.equal(await isolated(page), true);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  // Chromium 156 and Firefox ESR 153 both have relaxed SIMD.
  assert.equal(await readout(page), cores > 1
    ? `CPU: ${cores} threads of ${cores} cores (threaded WebAssembly relaxed SIMD with fused multiply-add, in workers)`
    : 'CPU: 1 thread of 1 cores (threaded WebAssembly relaxed SIMD with fused multiply-add, in a worker)');
  // A link may ask for fewer; a bad count is reported and all cores are used.
  const one = await openAt(`${BASE}#backend=cpu&threads=1`);
  assert.match(await readout(one.page), /^CPU: 1 thread of \d+ cores \(threaded/);
  const bad = await openAt(`${BASE}#backend=cpu&threads=0`);
  assert.match(await bad.page.textContent('#notices'), /threads=0/);
  assert.match(await readout(bad.page), new RegExp(`^CPU: ${cores > 1 ? `${cores} threads` : '1 thread'} of`));
  assert.deepEqual([...errors, ...one.errors, ...bad.errors], []);
  await Promise.all([close(), one.close(), bad.close()]);
});

test('on a host without the headers, the service worker isolates the page after one reload', { skip: noPlain }, async () => {
  const { page, errors, close } = await openAt(`${PLAIN}#backend=cpu`);
  assert.equal(await isolated(page), true, 'reloaded through the service worker');
  assert.match(await readout(page), /threaded WebAssembly/);
  // Later visits arrive through it at once.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: SLOW });
  assert.equal(await isolated(page), true);
  assert.deepEqual(errors, []);
  await close();
});

test('without isolation the page runs the single-threaded build and says why', { skip: noPlain }, async () => {
  const { page, errors, close } = await openAt(`${PLAIN}#backend=cpu&batch=8&until=2&autostart=1`, { withoutServiceWorkers: true });
  assert.equal(await isolated(page), false);
  assert.equal(await readout(page), 'CPU: 1 thread (single-threaded WebAssembly relaxed SIMD with fused multiply-add: '
    + 'the page is not cross-origin isolated, which threads need)');
  await page.waitForFunction(() => window.ganvas.censusStep === 2, null, { timeout: SLOW });
  assert.deepEqual(errors, []);
  await close();
});

// With relaxed SIMD and without it (whose fused multiply-add rounds once where
// simd128 rounds twice, so the two may differ in the last bits).
for (const withoutRelaxedSimd of [false, true]) {
  test(`both builds, on one thread or several, train to the same bits, ${withoutRelaxedSimd ? 'without' : 'with'} relaxed SIMD`, { skip: noPlain }, async () => {
    const single = await trainedRun(PLAIN, { withoutServiceWorkers: true, withoutRelaxedSimd });
    const one = await trainedRun(BASE, { hash: '&threads=1', withoutRelaxedSimd });
    const three = await trainedRun(BASE, { hash: '&threads=3', withoutRelaxedSimd });
    assert.match(single.device, /single-threaded/);
    assert.match(one.device, /^CPU: 1 thread of/);
    assert.match(three.device, /^CPU: 3 threads of/);
    for (const run of [single, one, three]) {
      assert.equal(run.device.includes('WebAssembly relaxed SIMD with fused multiply-add'), !withoutRelaxedSimd, run.device);
    }
    assert.ok(single.grid.std > 10, `G's images, spread ${single.grid.std}`);
    for (const run of [one, three]) {
      assert.deepEqual([run.grid, run.frechet, run.score], [single.grid, single.frechet, single.score], run.device);
    }
  });
}
