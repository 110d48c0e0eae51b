// What every browser test file shares: the browser (as `cargo xtask test` runs it:
// GANVAS_URL is a served build; GANVAS_BROWSER=firefox runs the suite in Debian's
// Firefox ESR, otherwise it runs in Debian's Chromium), a page per test, and waiting
// for the page's state. Tests speak Playwright's API; in Firefox, firefox-driver.mjs
// gives it over Puppeteer.

import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, FLAGS } from './chromium.mjs';
import { firefoxBrowser } from './firefox-driver.mjs';
import { FIREFOX } from './firefox.mjs';

export const BASE = process.env.GANVAS_URL ?? 'http://127.0.0.1:8080/';
// SwiftShader takes seconds per training step, so runs are a few small-batch steps.
export const SLOW = 180_000;

/** 'chromium' or 'firefox': which browser this run of the suite drives. */
const BROWSER = process.env.GANVAS_BROWSER ?? 'chromium';
if (!['chromium', 'firefox'].includes(BROWSER)) throw new Error(`GANVAS_BROWSER=${BROWSER}: chromium or firefox`);
const IN_FIREFOX = BROWSER === 'firefox';
if (IN_FIREFOX && !existsSync(FIREFOX)) throw new Error(`${FIREFOX} is not installed (apt-get install firefox-esr)`);

let browser;

export async function launch() {
  browser = IN_FIREFOX ? await firefoxBrowser() : await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

export async function close() {
  await browser?.close();
}

/** A browser context of its own (a locale, a viewport), for a test that sets up its page itself. */
export function newContext(options = {}) {
  return browser.newContext(options);
}

/**
 * The page at `hash` in a context of its own, and the console errors it logs,
 * WebGPU's validation errors among them (Chromium logs those as warnings: "...
 * While calling [Queue].Submit(...)", and the step they were in does nothing;
 * Firefox as errors).
 * `withoutWebGpu`: as a browser that has none; `viewport`: a phone's, say;
 * `deviceScaleFactor`: device pixels to a CSS pixel (a laptop's high-resolution screen: 2).
 */
export async function open(hash = '', { withoutWebGpu = false, viewport = undefined, deviceScaleFactor = undefined } = {}) {
  const context = await browser.newContext({
    acceptDownloads: true,
    ...(viewport ? { viewport } : {}),
    ...(deviceScaleFactor ? { deviceScaleFactor } : {}),
  });
  const page = await context.newPage();
  const errors = [];
  const gpuError = /- While \w+ \[|Invalid [A-Z]\w+\]/;
  page.on('console', (m) => {
    if (m.type() === 'error' || (m.type() === 'warning' && gpuError.test(m.text()))) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  if (withoutWebGpu) {
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  }
  await page.goto(BASE + hash);
  return { page, errors, close: () => context.close() };
}

/** The whole page as a PNG in the temporary folder, named by this browser, to look at. */
export function screenshot(page, name) {
  return page.screenshot({ path: join(tmpdir(), `ganvas-${BROWSER}-${name}.png`), fullPage: true });
}

export async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: SLOW });
}

export const text = (page, selector) => page.textContent(selector);

export async function waitForStep(page, step) {
  await page.waitForFunction((s) => Number(document.getElementById('readout-step').textContent) >= s, step, {
    timeout: SLOW,
  });
}

/**
 * Waits until `downloads` (filled by the page's download events) holds `count`. A
 * GPU save reads the whole state back: on SwiftShader, behind the steps and previews
 * still queued, it has taken from under a second to over five.
 */
export async function waitForDownloads(page, downloads, count) {
  const deadline = Date.now() + SLOW;
  while (downloads.length < count && Date.now() < deadline) await page.waitForTimeout(100);
}

/**
 * Presses Save and returns the checkpoint's three files as `setInputFiles` takes
 * them (`downloads`, filled by the page's download events, gets them too).
 */
export async function saveCheckpoint(page, downloads) {
  const before = downloads.length;
  await page.click('#save');
  await waitForDownloads(page, downloads, before + 3);
  return Promise.all(downloads.slice(before).map(async (d) => ({
    name: d.suggestedFilename(),
    mimeType: 'application/octet-stream',
    buffer: readFileSync(await d.path()),
  })));
}

// A zip of stored (uncompressed) entries, as a zip tool writes one.
export function storedZip(files) {
  const parts = [];
  const directory = [];
  let offset = 0;
  const u16 = (v) => Buffer.from([v & 255, v >> 8]);
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  for (const { name, buffer } of files) {
    const n = Buffer.from(name);
    const common = [u16(20), u16(0), u16(0), u32(0), u32(0), u32(buffer.length), u32(buffer.length), u16(n.length), u16(0)];
    const local = Buffer.concat([u32(0x04034b50), ...common, n, buffer]);
    directory.push(Buffer.concat([u32(0x02014b50), u16(20), ...common, u16(0), u16(0), u16(0), u32(0), u32(offset), n]));
    parts.push(local);
    offset += local.length;
  }
  const dir = Buffer.concat(directory);
  const end = Buffer.concat([u32(0x06054b50), u16(0), u16(0), u16(files.length), u16(files.length), u32(dir.length), u32(offset), u16(0)]);
  return Buffer.concat([...parts, dir, end]);
}

// Mean and spread of the grid canvas's gray levels, and a checksum of its pixels.
export function gridPixels(page) {
  return page.evaluate(() => {
    const canvas = document.getElementById('grid');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    let sumSq = 0;
    let hash = 0;
    for (let i = 0; i < data.length; i += 4) {
      sum += data[i];
      sumSq += data[i] * data[i];
      hash = (hash * 31 + data[i]) >>> 0;
    }
    const n = data.length / 4;
    return { mean: sum / n, std: Math.sqrt(sumSq / n - (sum / n) ** 2), hash, step: Number(canvas.dataset.drawnStep) };
  });
}

// `count` PNG pictures (coloured squares on black, 40×30 so they are cropped) drawn
// by the page, as { name, buffer }.
export async function drawnPictures(page, count) {
  const encoded = await page.evaluate(async (n) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const canvas = new OffscreenCanvas(40, 30);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, 40, 30);
      ctx.fillStyle = ['#e33', '#3c4', '#35f'][i % 3];
      ctx.fillRect(8 + (i % 9), 4 + (i % 7), 12 + (i % 5), 12);
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
      out.push(btoa(String.fromCharCode(...bytes)));
    }
    return out;
  }, count);
  return encoded.map((b64, i) => ({ name: `square-${i}.png`, buffer: Buffer.from(b64, 'base64') }));
}
