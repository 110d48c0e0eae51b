// ganvas against TensorFlow.js in one headless Chromium (WebGPU on SwiftShader here;
// on a machine with a GPU, drop the SwiftShader flags): training steps per second
// at one batch size for ganvas's GPU and CPU (wasm) backends and TF.js's webgpu,
// webgl and wasm backends, time to the first ganvas step, and the .wasm size.
//
//   cargo xtask build && (cargo xtask serve &) && cd benches/browser && npm ci
//   GANVAS_URL=http://127.0.0.1:8080/ node bench.mjs [batch] [seconds] [repeats] [runners]
//
// Each runner gets `repeats` fresh pages (default 3), in alternating rounds; the table
// shows the median and the range. `runners` is a comma list to run only some of them,
// e.g. ganvas-gpu,tfjs-webgpu. ganvas-gpu-nocensus and ganvas-cpu-nocensus run the
// page without its classifier (so without the digit census), to measure its cost.
// MODEL=dcgan (WIDTH=64 by default) runs the DCGAN on both sides instead of the MLP.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { CHROMIUM, FLAGS } from '../../tests/browser/chromium.mjs';

const BASE = process.env.GANVAS_URL ?? 'http://127.0.0.1:8080/';
const batch = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 15);
const repeats = Number(process.argv[4] ?? 3);
const RUNNERS = [
  'ganvas-gpu',
  'ganvas-cpu',
  'tfjs-webgpu',
  'tfjs-webgl',
  'tfjs-wasm',
  // TF.js's plain-JavaScript backend: where its wasm one lacks a kernel (it has no
  // convolution weight gradient, so it cannot train the DCGAN), a user falls back here.
  'tfjs-cpu',
  'ganvas-gpu-nocensus',
  'ganvas-cpu-nocensus',
];
const selected = process.argv[5]?.split(',') ?? RUNNERS;
const dcgan = process.env.MODEL === 'dcgan';
const width = Number(process.env.WIDTH ?? 64);
const ganvasModel = dcgan ? `&model=1&width=${width}` : '';
const tfjsModel = dcgan ? `&model=dcgan&width=${width}` : '';

const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
const results = [];
let adapter = '';

// ganvas's page with autostart: steps confirmed over the window, after the first.
async function ganvas(backend, census = true) {
  const page = await browser.newPage();
  if (!census) await page.route('**/classifier.safetensors', (route) => route.fulfill({ status: 404 }));
  const start = Date.now();
  await page.goto(`${BASE}#batch=${batch}&seed=0&autostart=1&backend=${backend}${ganvasModel}`);
  await page.waitForFunction(() => window.ganvas?.backend?.confirmedStep >= 1, null, { timeout: 600_000 });
  const firstStep = (Date.now() - start) / 1000;
  adapter ||= await page.evaluate(() => window.ganvas.adapterName);
  const read = () => page.evaluate(() => [window.ganvas.backend.confirmedStep, performance.now()]);
  const [s0, t0] = await read();
  let s1;
  let t1;
  do {
    await page.waitForTimeout(1000);
    [s1, t1] = await read();
  } while ((t1 - t0 < seconds * 1000 || s1 - s0 < 3) && t1 - t0 < 120_000);
  await page.close();
  const name = `ganvas ${backend}${census ? '' : ' (no census)'}`;
  return { name, stepsPerSecond: (s1 - s0) / ((t1 - t0) / 1000), firstStepSeconds: firstStep };
}

async function tfjs(backend) {
  const page = await browser.newPage();
  await page.goto(`${BASE}benches/browser/tfjs.html?backend=${backend}&batch=${batch}&seconds=${seconds}${tfjsModel}`);
  await page.waitForFunction(() => window.benchResult, null, { timeout: 600_000 });
  const result = await page.evaluate(() => window.benchResult);
  await page.close();
  return { name: `tfjs ${backend}`, stepsPerSecond: result.stepsPerSecond ?? NaN, error: result.error };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const chosen = RUNNERS.filter((r) => selected.includes(r));
/** @type {Record<string, any[]>} */
const runsOf = Object.fromEntries(chosen.map((r) => [r, []]));
for (let i = 0; i < repeats; i++) {
  for (const runner of chosen) {
    const [library, backend, census] = runner.split('-');
    runsOf[runner].push(await (library === 'ganvas' ? ganvas(backend, census !== 'nocensus') : tfjs(backend)));
  }
}
for (const runner of chosen) {
  const runs = runsOf[runner];
  const rates = runs.map((r) => r.stepsPerSecond).filter(Number.isFinite);
  results.push({
    name: runs[0].name,
    stepsPerSecond: rates.length ? median(rates) : NaN,
    min: Math.min(...rates),
    max: Math.max(...rates),
    runs: rates,
    firstStepSeconds: runs[0].firstStepSeconds && median(runs.map((r) => r.firstStepSeconds)),
    error: runs.find((r) => r.error)?.error,
  });
}
await browser.close();

const wasm = readFileSync(new URL('../../www/pkg/ganvas_bg.wasm', import.meta.url));
console.log(`${dcgan ? `DCGAN width ${width}` : 'MLP GAN'}, batch ${batch}, ${repeats} runs each (median, min-max), WebGPU adapter: ${adapter || 'not seen'}`);
for (const r of results) {
  const extra = r.firstStepSeconds ? `, first step ${r.firstStepSeconds.toFixed(1)} s after load` : '';
  const rate = Number.isFinite(r.stepsPerSecond)
    ? `${r.stepsPerSecond.toFixed(3)} steps/s (${r.min.toFixed(3)}-${r.max.toFixed(3)})`
    : r.error;
  console.log(`${r.name.padEnd(14)} ${rate}${extra}`);
}
const rate = (name) => results.find((r) => r.name === name)?.stepsPerSecond;
console.log(`ganvas gpu / tfjs webgpu: ${(rate('ganvas gpu') / rate('tfjs webgpu')).toFixed(2)}`);
// Backends that did not run (or failed) drop out of the best.
const best = (...names) => Math.max(...names.map(rate).filter(Number.isFinite));
console.log(`ganvas best / tfjs best: ${(best('ganvas gpu', 'ganvas cpu') / best('tfjs webgpu', 'tfjs webgl', 'tfjs wasm', 'tfjs cpu')).toFixed(2)}`);
console.log(`ganvas cpu / tfjs wasm: ${(rate('ganvas cpu') / rate('tfjs wasm')).toFixed(2)}`);
console.log(`ganvas cpu / tfjs cpu: ${(rate('ganvas cpu') / rate('tfjs cpu')).toFixed(2)}`);
for (const backend of ['gpu', 'cpu']) {
  const cost = 1 - rate(`ganvas ${backend}`) / rate(`ganvas ${backend} (no census)`);
  if (Number.isFinite(cost)) console.log(`the census costs ganvas ${backend} ${(100 * cost).toFixed(1)}% of its steps`);
}
console.log(`ganvas .wasm: ${(wasm.length / 1e6).toFixed(2)} MB raw, ${(gzipSync(wasm).length / 1e6).toFixed(2)} MB gzip`);
console.log(JSON.stringify({ model: dcgan ? 'dcgan' : 'mlp', width, batch, repeats, adapter, results, wasmBytes: wasm.length, wasmGzipBytes: gzipSync(wasm).length }));
