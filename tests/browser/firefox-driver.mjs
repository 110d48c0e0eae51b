// The part of Playwright's API the browser suite uses, over Puppeteer driving
// Firefox (firefox.mjs), so every test file runs unchanged in both browsers
// (harness.mjs picks one by GANVAS_BROWSER). Where Playwright waits before acting
// (an element present, visible and enabled), this waits the same way.
//
// Two things WebDriver BiDi cannot do in Firefox 153 are done another way:
// - Downloads: Puppeteer reports none over BiDi, so Firefox saves them into a folder
//   of its own without asking, and a poll hands each finished file to the pages
//   listening for 'download', as a Playwright Download.
// - A folder for a `webkitdirectory` input: input.setFiles refuses directories, so
//   the folder's files go in as one multiple selection, without relative paths.
// A locale is a preference of the whole Firefox, so a context with one of its own
// gets a browser of its own.

import { copyFile } from 'node:fs/promises';
import { mkdtempSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchFirefox } from './firefox.mjs';

// Playwright's default for actions and waits, and its default viewport.
const TIMEOUT = 30_000;
const VIEWPORT = { width: 1280, height: 720 };

/** A Firefox behind Playwright's Browser: `newContext` and `close`. */
export async function firefoxBrowser({ locale = 'en-US' } = {}) {
  const downloads = mkdtempSync(join(tmpdir(), 'ganvas-firefox-downloads-'));
  return new FirefoxBrowser(await launchFirefox({ locale, downloads }), downloads, locale);
}

class FirefoxBrowser {
  #browser;
  #downloads;
  #locale;
  #listeners = new Set();
  #sizes = new Map();
  #poll = undefined;

  constructor(browser, downloads, locale) {
    this.#browser = browser;
    this.#downloads = downloads;
    this.#locale = locale;
  }

  async newContext({ viewport = VIEWPORT, locale = this.#locale, deviceScaleFactor = 1 } = {}) {
    if (locale !== this.#locale) {
      const own = await firefoxBrowser({ locale });
      const context = await own.newContext({ viewport, deviceScaleFactor });
      return { newPage: () => context.newPage(), close: async () => { await context.close(); await own.close(); } };
    }
    const context = await this.#browser.createBrowserContext();
    return {
      newPage: async () => {
        const page = await context.newPage();
        await page.setViewport({ ...viewport, deviceScaleFactor });
        return new FirefoxPage(page, viewport, this);
      },
      close: () => context.close(),
    };
  }

  async close() {
    clearInterval(this.#poll);
    await this.#browser.close();
  }

  /** `listener` gets every download that finishes from now on; returns its removal. */
  listen(listener) {
    this.#listeners.add(listener);
    this.#poll ??= setInterval(() => this.#collect(), 100);
    return () => this.#listeners.delete(listener);
  }

  // Firefox writes `name.part` beside an empty `name` and renames it over at the
  // end, sometimes by way of a temporary name of eight random letters: a file is
  // finished when no `.part` is left and its size held for two polls, and a file
  // gone between the listing and the look at it was one of those temporaries.
  // It is moved out of the folder (so a second download of the name keeps it) and
  // handed on.
  #collect() {
    const names = readdirSync(this.#downloads);
    for (const name of names) {
      if (name.endsWith('.part') || names.includes(`${name}.part`)) continue;
      const path = join(this.#downloads, name);
      const size = sizeOf(path);
      if (!size) {
        this.#sizes.delete(name);
        continue;
      }
      const seen = this.#sizes.get(name);
      const polls = seen !== undefined && seen.size === size ? seen.polls + 1 : 1;
      if (polls < 3) {
        this.#sizes.set(name, { size, polls });
        continue;
      }
      this.#sizes.delete(name);
      const kept = join(mkdtempSync(join(tmpdir(), 'ganvas-download-')), name);
      if (!moved(path, kept)) continue;
      const download = {
        suggestedFilename: () => name,
        path: async () => kept,
        saveAs: (to) => copyFile(kept, to),
      };
      for (const listener of this.#listeners) listener(download);
    }
  }
}

// In the page: the elements a chain of `{ selector, hasText }` steps finds, as
// Playwright's locators find them (text matched ignoring case and runs of spaces).
const ELEMENTS = `(steps, nth) => {
  const squash = (s) => s.replace(/\\s+/g, ' ').trim().toLowerCase();
  let found = [document];
  for (const { selector, hasText } of steps) {
    found = [...new Set(found.flatMap((root) => [...root.querySelectorAll(selector)]))]
      .filter((e) => hasText === undefined || squash(e.textContent).includes(squash(hasText)));
  }
  return nth === undefined ? found : found.slice(nth, nth + 1);
}`;

// In the page: whether Playwright counts `e` visible (laid out with a size, not
// hidden, not inside something not rendered such as a closed <details>), and
// whether it would act on it (visible and enabled).
const VISIBLE = `(e) => {
  if (!e) return false;
  const box = e.getBoundingClientRect();
  return box.width > 0 && box.height > 0 && e.checkVisibility({ visibilityProperty: true });
}`;
const ACTIONABLE = `(e) => (${VISIBLE})(e) && !e.disabled`;

// The size of the file at `path`, or undefined where it is gone.
function sizeOf(path) {
  try {
    return statSync(path).size;
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
}

// Moves `from` to `to`; false where `from` is gone.
function moved(from, to) {
  try {
    renameSync(from, to);
    return true;
  } catch (error) {
    if (error.code === 'ENOENT') return false;
    throw error;
  }
}

const call = (fn, ...args) => `(${fn})(${args.map((a) => JSON.stringify(a) ?? 'undefined').join(', ')})`;

class FirefoxPage {
  #page;
  #viewport;
  #browser;

  constructor(page, viewport, browser) {
    this.#page = page;
    this.#viewport = viewport;
    this.#browser = browser;
    this.keyboard = page.keyboard;
  }

  on(event, listener) {
    if (event === 'download') this.#browser.listen(listener);
    else if (event === 'console') {
      this.#page.on('console', (m) => listener({ type: () => (m.type() === 'warn' ? 'warning' : m.type()), text: () => m.text() }));
    } else this.#page.on(event, listener);
  }

  waitForEvent(event, { timeout = TIMEOUT } = {}) {
    if (event !== 'download') throw new Error(`waitForEvent('${event}') is not part of the Firefox driver`);
    return new Promise((resolve, reject) => {
      const stop = this.#browser.listen((d) => {
        clearTimeout(timer);
        stop();
        resolve(d);
      });
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no download in ${timeout} ms`));
      }, timeout);
    });
  }

  goto(url) { return this.#page.goto(url); }
  reload() { return this.#page.reload(); }
  addInitScript(script) { return this.#page.evaluateOnNewDocument(script); }
  evaluate(fn, arg) { return this.#page.evaluate(fn, arg); }
  screenshot(options) { return this.#page.screenshot(options); }
  viewportSize() { return this.#viewport; }
  waitForTimeout(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  waitForFunction(fn, arg, { timeout = TIMEOUT } = {}) {
    return this.#page.waitForFunction(fn, { timeout }, arg);
  }

  /** Playwright's default: until the element is visible. */
  waitForSelector(selector, { timeout = TIMEOUT, state = 'visible' } = {}) {
    return this.#page.waitForSelector(selector, { timeout, visible: state === 'visible' });
  }

  locator(selector, { hasText } = {}) {
    return new FirefoxLocator(this.#page, [{ selector, hasText }]);
  }

  isVisible(selector) { return this.#page.evaluate(`(${VISIBLE})(document.querySelector(${JSON.stringify(selector)}))`); }
  textContent(selector) { return this.locator(selector).textContent(); }
  inputValue(selector) { return this.locator(selector).evaluate((e) => e.value); }
  getAttribute(selector, name) { return this.locator(selector).getAttribute(name); }
  click(selector, { position } = {}) { return this.locator(selector).pointAt(position, 'click'); }
  focus(selector) { return this.locator(selector).evaluate((e) => e.focus(), { actionable: true }); }
  fill(selector, value) { return this.locator(selector).fill(value); }
  check(selector) { return this.#setChecked(selector, true); }
  uncheck(selector) { return this.#setChecked(selector, false); }

  async #setChecked(selector, checked) {
    if (await this.locator(selector).evaluate((e) => e.checked, { actionable: true }) !== checked) await this.click(selector);
  }

  hover(selector, { position } = {}) { return this.locator(selector).pointAt(position, 'move'); }

  async selectOption(selector, value) {
    await this.locator(selector).evaluate(() => {}, { actionable: true });
    return this.#page.select(selector, value);
  }

  dispatchEvent(selector, type) {
    return this.locator(selector).evaluate((e, t) => e.dispatchEvent(new Event(t, { bubbles: true, cancelable: true, composed: true })), {}, type);
  }

  /** Paths, `{ name, buffer }` objects (written to files first) or a folder (its files). */
  async setInputFiles(selector, files) {
    const paths = [files].flat().flatMap((file) => {
      if (typeof file !== 'string') {
        const path = join(mkdtempSync(join(tmpdir(), 'ganvas-upload-')), file.name);
        writeFileSync(path, file.buffer);
        return [path];
      }
      return statSync(file).isDirectory()
        ? readdirSync(file, { recursive: true }).map((name) => join(file, name)).filter((p) => statSync(p).isFile())
        : [file];
    });
    await this.locator(selector).evaluate(() => {});
    await (await this.#page.$(selector)).uploadFile(...paths);
  }
}

class FirefoxLocator {
  #page;
  #steps;
  #nth;

  constructor(page, steps, nth = undefined) {
    this.#page = page;
    this.#steps = steps;
    this.#nth = nth;
  }

  locator(selector, { hasText } = {}) {
    return new FirefoxLocator(this.#page, [...this.#steps, { selector, hasText }], this.#nth);
  }

  first() { return new FirefoxLocator(this.#page, this.#steps, 0); }
  count() { return this.#page.evaluate(`${call(ELEMENTS, this.#steps, this.#nth)}.length`); }

  async evaluateAll(fn) {
    const all = await this.#page.evaluateHandle(call(ELEMENTS, this.#steps, this.#nth));
    try {
      return await all.evaluate(fn);
    } finally {
      await all.dispose();
    }
  }

  /**
   * `fn(element, arg)` on the first element found, once there is one (and, with
   * `actionable`, once Playwright would act on it).
   */
  async evaluate(fn, { actionable = false, timeout = TIMEOUT } = {}, arg = undefined) {
    const element = `${call(ELEMENTS, this.#steps, this.#nth)}[0]`;
    await this.#page.waitForFunction(actionable ? `(${ACTIONABLE})(${element})` : `${element} !== undefined`, { timeout });
    const handle = await this.#page.evaluateHandle(element);
    try {
      return await handle.evaluate(fn, arg);
    } finally {
      await handle.dispose();
    }
  }

  textContent() { return this.evaluate((e) => e.textContent); }
  getAttribute(name) { return this.evaluate((e, n) => e.getAttribute(n), {}, name); }

  boundingBox() {
    return this.evaluate((e) => {
      const { x, y, width, height } = e.getBoundingClientRect();
      return { x, y, width, height };
    });
  }

  fill(value) {
    return this.evaluate((e, v) => {
      e.focus();
      e.value = v;
      e.dispatchEvent(new Event('input', { bubbles: true }));
    }, { actionable: true }, value);
  }

  click() { return this.pointAt(undefined, 'click'); }

  /**
   * The mouse moved to (`action` 'move') or clicked at `position` in the element,
   * its centre by default. As Playwright, where something else (the sticky bar of
   * controls) covers that point, the element is scrolled to the middle first.
   */
  async pointAt(position, action) {
    const point = await this.evaluate((e, p) => {
      const at = (box) => ({ x: box.x + (p?.x ?? box.width / 2), y: box.y + (p?.y ?? box.height / 2) });
      let q = at(e.getBoundingClientRect());
      if (!e.contains(document.elementFromPoint(q.x, q.y))) {
        e.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
        q = at(e.getBoundingClientRect());
      }
      return q;
    }, { actionable: true }, position ?? null);
    await this.#page.mouse[action](point.x, point.y);
  }
}
