// The page's CPU path on every core (issue 26), in Chromium and Firefox, beside the
// native CPU backend, in alternating rounds: the single-threaded build (the site
// served without isolation headers, service workers off) and the threaded build on
// each thread count, each with its simd128 module (relaxed SIMD hidden from the page)
// and its relaxed SIMD one, at each batch size, against `ganvas bench --cpu-only` on
// as many threads. Pages run without the census's classifier (its file refused), so that
// both sides time training alone. Then "time to digits": the page opened with
// autostart (census on, all cores) until the census first reads 8 digit classes,
// each at least 5% of samples.
//
//   cargo xtask build && (cargo xtask serve --port 8124 &) && (python3 -m http.server 8126 &)
//   cd benches/browser && npm ci && GANVAS_URL=http://127.0.0.1:8124/ GANVAS_PLAIN_URL=http://127.0.0.1:8126/ \
//     GANVAS=/path/to/release/ganvas node threads.mjs [seconds] [rounds] [threads,...] [batches,...] [browsers,...]
//
// Defaults: 10 s a run, 3 rounds, threads 1 and every core, batches 64 and 256, both browsers.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, FLAGS } from '../../tests/browser/chromium.mjs';
import { launchFirefox } from '../../tests/browser/firefox.mjs';
import { withoutRelaxedSimd, withoutServiceWorkers } from '../../tests/browser/without.mjs';

const ISOLATED = process.env.GANVAS_URL ?? 'http://127.0.0.1:8124/';
const PLAIN = process.env.GANVAS_PLAIN_URL ?? 'http://127.0.0.1:8126/';
const GANVAS = process.env.GANVAS ?? '../../target/release/ganvas';
const seconds = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 3);
const threadCounts = (process.argv[4] ?? `1,${cpus().length}`).split(',').map(Number);
const batches = (process.argv[5] ?? '64,256').split(',').map(Number);
const browserNames = (process.argv[6] ?? 'chromium,firefox').split(',');
const dataDir = new URL('../../data/mnist', import.meta.url).pathname;

// Each browser behind one interface: a fresh page, with or without service workers
// and relaxed SIMD, with the classifier refused, and closing it.
async function chromiumDriver() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  return {
    name: 'Chromium',
    async open(url, { workers = true, census = false, relaxed = true } = {}) {
      const context = await browser.newContext();
      const page = await context.newPage();
      if (!workers) await page.addInitScript(withoutServiceWorkers);
      if (!relaxed) await page.addInitScript(withoutRelaxedSimd);
      if (!census) await page.route('**/classifier.safetensors', (route) => route.fulfill({ status: 404 }));
      await page.goto(url);
      return { evaluate: (fn) => page.evaluate(fn), close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

async function firefoxDriver() {
  const browser = await launchFirefox();
  return {
    name: 'Firefox',
    async open(url, { workers = true, census = false, relaxed = true } = {}) {
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      if (!workers) await page.evaluateOnNewDocument(withoutServiceWorkers);
      if (!relaxed) await page.evaluateOnNewDocument(withoutRelaxedSimd);
      if (!census) {
        await page.setRequestInterception(true);
        page.on('request', (r) => (r.url().includes('classifier.safetensors') ? r.respond({ status: 404, body: '' }) : r.continue()));
      }
      await page.goto(url);
      return { evaluate: (fn) => page.evaluate(fn), close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(page, fn, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(fn))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${fn}`);
    await sleep(200);
  }
}

// Steps per second the page confirms over `seconds`, from its second step on.
async function pageRate(driver, url, workers, relaxed) {
  const page = await driver.open(url, { workers, relaxed });
  await waitFor(page, () => window.ganvas?.backend?.confirmedStep >= 2);
  const device = await page.evaluate(() => document.getElementById('readout-adapter').textContent);
  const read = () => page.evaluate(() => [window.ganvas.backend.confirmedStep, performance.now()]);
  const [s0, t0] = await read();
  await sleep(seconds * 1000);
  const [s1, t1] = await read();
  await page.close();
  return { rate: (s1 - s0) / ((t1 - t0) / 1000), device };
}

function nativeRate(threads, batch) {
  const json = join(mkdtempSync(join(tmpdir(), 'ganvas-bench-')), 'bench.json');
  execFileSync(GANVAS, ['bench', '--cpu-only', '--threads', String(threads), '--batches', String(batch), '--repeats', '1',
    '--seconds', String(seconds), '--data', dataDir, '--json', json], { stdio: 'ignore' });
  return JSON.parse(readFileSync(json, 'utf8')).training[0].steps_per_second;
}

const drivers = [];
for (const name of browserNames) drivers.push(await (name === 'firefox' ? firefoxDriver() : chromiumDriver()));

/** @type {Map<string, number[]>} */
const runs = new Map();
const devices = new Map();
const record = (key, rate, device) => {
  runs.set(key, [...(runs.get(key) ?? []), rate]);
  if (device) devices.set(key, device);
};
for (let round = 0; round < rounds; round++) {
  for (const batch of batches) {
    for (const driver of drivers) {
      const hash = `#batch=${batch}&seed=0&autostart=1&backend=cpu`;
      for (const relaxed of [false, true]) {
        const modules = relaxed ? 'relaxed SIMD' : 'simd128';
        const single = await pageRate(driver, `${PLAIN}${hash}`, false, relaxed);
        record(`${driver.name} ${modules}, single-threaded build|${batch}`, single.rate, single.device);
        for (const threads of threadCounts) {
          const run = await pageRate(driver, `${ISOLATED}${hash}&threads=${threads}`, true, relaxed);
          record(`${driver.name} ${modules}, threaded, ${threads}|${batch}`, run.rate, run.device);
        }
      }
    }
    for (const threads of threadCounts) record(`native, ${threads}|${batch}`, nativeRate(threads, batch));
  }
  console.error(`round ${round + 1} of ${rounds} done`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const rate = (key) => median(runs.get(key) ?? [NaN]);
console.log(`MLP GAN, CPU path without the census, ${rounds} alternating rounds of ${seconds} s (median, min-max), steps/s`);
for (const [key, values] of runs) {
  const [name, batch] = key.split('|');
  console.log(`batch ${batch.padEnd(4)} ${name.padEnd(50)} ${rate(key).toFixed(1).padStart(6)} (${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)})`);
}
const most = Math.max(...threadCounts);
for (const batch of batches) {
  for (const { name } of drivers) {
    const page = (modules, build) => rate(`${name} ${modules}, ${build}|${batch}`);
    for (const modules of ['simd128', 'relaxed SIMD']) {
      const single = page(modules, 'single-threaded build');
      const ratios = threadCounts.map((t) => `${t}: ${(page(modules, `threaded, ${t}`) / rate(`native, ${t}|${batch}`)).toFixed(2)}`);
      console.log(`batch ${batch} ${name} ${modules}: threaded ${most} / single-threaded build ${(page(modules, `threaded, ${most}`) / single).toFixed(2)}; `
        + `page / native at equal threads ${ratios.join(', ')}`);
    }
    const gains = ['single-threaded build', ...threadCounts.map((t) => `threaded, ${t}`)]
      .map((build) => `${build} ${(page('relaxed SIMD', build) / page('simd128', build)).toFixed(2)}`);
    console.log(`batch ${batch} ${name}: relaxed SIMD / simd128: ${gains.join(', ')}`);
  }
}

// Time to digits, census on, every core.
for (const driver of drivers) {
  const started = Date.now();
  const page = await driver.open(`${ISOLATED}#autostart=1&backend=cpu`, { census: true });
  await waitFor(page, () => {
    const fractions = window.ganvas?.census?.class_fractions;
    return fractions && fractions.filter((f) => f >= 0.05).length >= 8;
  }, 600_000);
  const step = await page.evaluate(() => window.ganvas.censusStep);
  console.log(`${driver.name}: time to digits ${((Date.now() - started) / 1000).toFixed(1)} s from opening the page, at census step ${step}`);
  await page.close();
}
for (const driver of drivers) await driver.close();
console.log(JSON.stringify({ seconds, rounds, runs: Object.fromEntries(runs), devices: Object.fromEntries(devices) }));
