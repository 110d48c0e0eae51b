// The web app in each headless browser (harness.mjs: Chromium with WebGPU on
// SwiftShader, Firefox with its own on lavapipe), feature by feature; GANVAS_CLI is
// the command-line trainer (for checkpoints moving between page and CLI).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASE, SLOW, close as closeBrowser, drawnPictures, gridPixels, launch, newContext, open, ready, saveCheckpoint, screenshot,
  storedZip, text, waitForDownloads, waitForStep,
} from './harness.mjs';

const CLI = process.env.GANVAS_CLI;

before(launch);
after(closeBrowser);

// The video frames (SimpleBlocks and BlockGroups) of a WebM file, walking its EBML
// elements: into the Segment and its Clusters, whose size a recording may leave
// unknown (all ones: they run to the end of what holds them).
function webmFrames(bytes) {
  const vint = (at, keepMarker) => {
    const length = Math.clz32(bytes[at]) - 23;
    if (length < 1 || length > 8) throw new Error(`not EBML at byte ${at}`);
    let value = keepMarker ? bytes[at] : bytes[at] & (0xff >> length);
    let allOnes = value === 0xff >> length;
    for (let i = 1; i < length; i++) {
      value = value * 256 + bytes[at + i];
      allOnes &&= bytes[at + i] === 0xff;
    }
    return { value, length, unknown: !keepMarker && allOnes };
  };
  const SEGMENT = 0x18538067;
  const CLUSTER = 0x1f43b675;
  let frames = 0;
  const walk = (start, end) => {
    let at = start;
    while (at < end) {
      const id = vint(at, true);
      const size = vint(at + id.length, false);
      const body = at + id.length + size.length;
      const next = size.unknown ? end : body + size.value;
      if (id.value === SEGMENT || id.value === CLUSTER) walk(body, Math.min(next, end));
      else if (id.value === 0xa3 || id.value === 0xa0) frames += 1;
      at = size.unknown ? end : next;
    }
  };
  walk(0, bytes.length);
  return frames;
}

// The image frames of a GIF, walking its blocks: extensions and images (each a
// descriptor, an optional colour table and data sub-blocks) up to the trailer.
function gifFrames(bytes) {
  const table = (flags) => (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  let at = 13 + table(bytes[10]);
  const subBlocks = () => {
    while (bytes[at] !== 0) at += bytes[at] + 1;
    at += 1;
  };
  let frames = 0;
  for (;;) {
    const block = bytes[at];
    if (block === 0x3b) return frames;
    if (block === 0x21) {
      at += 2;
      subBlocks();
    } else if (block === 0x2c) {
      frames += 1;
      at += 10 + table(bytes[at + 9]) + 1;
      subBlocks();
    } else {
      throw new Error(`not a GIF block at byte ${at}`);
    }
  }
}

function formValues(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#settings input, #settings select')].map((i) => [i.name, i.value])));
}

test('loads MNIST, trains, redraws the grid and charts, with no console errors', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=gpu');
  await ready(page);
  assert.notEqual(await text(page, '#readout-adapter'), '–');
  await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '0', null, { timeout: SLOW });
  const before = await gridPixels(page);
  assert.ok(before.std > 5, `the untrained grid should show noise, not a flat canvas (std ${before.std})`);

  await page.click('#train');
  await waitForStep(page, 3);
  await page.click('#train');
  assert.equal(await text(page, '#train'), 'Train');
  await page.waitForFunction(() => Number(document.getElementById('grid').dataset.drawnStep) >= 3, null, { timeout: SLOW });
  const afterTraining = await gridPixels(page);
  assert.notEqual(afterTraining.hash, before.hash, 'the grid should change as G trains');
  assert.ok(afterTraining.std > 5);
  const points = Number(await page.getAttribute('#loss-chart', 'data-points'));
  assert.ok(points >= 1, `the loss chart should have points (has ${points})`);
  assert.ok(Number(await page.getAttribute('#prob-chart', 'data-points')) >= 1);
  assert.notEqual(await text(page, '#readout-rate'), '–');
  assert.equal(await text(page, '#message'), '');
  assert.deepEqual(errors, []);
  await screenshot(page, 'trained');
  await close();
});

test('a share link carries every setting and reproduces the run', async () => {
  const hash = '#lr_g=0.0003&lr_d=0.0001&beta1=0.6&beta2=0.99&batch=8&seed=42&conditional=1&backend=gpu';
  const { page, errors, close } = await open(hash);
  await ready(page);
  const want = { lr_g: '0.0003', lr_d: '0.0001', beta1: '0.6', beta2: '0.99', batch: '8', seed: '42', conditional: '1', model: '0', width: '64' };
  assert.deepEqual(await formValues(page), want);
  const config = JSON.parse(await page.evaluate(() => window.ganvas.backend.configJson));
  assert.equal(config.generator_lr, 0.0003);
  assert.equal(config.seed, 42);
  assert.equal(config.conditional, true);
  // The one notice: backend=gpu on SwiftShader, a CPU emulation, warns that the CPU is faster.
  assert.deepEqual(await page.locator('#notices .msg').evaluateAll((ms) => ms.map((m) => m.dataset.topic)), ['backend']);

  const link = await page.inputValue('#share-link');
  const params = Object.fromEntries(new URLSearchParams(new URL(link).hash.slice(1)));
  assert.deepEqual(params, { ...want, backend: 'gpu', autostart: '1' });
  await close();

  // Opening the link starts the same run by itself.
  const second = await open(new URL(link).hash);
  await ready(second.page);
  assert.deepEqual(await formValues(second.page), want);
  assert.equal(await text(second.page, '#train'), 'Pause');
  await waitForStep(second.page, 1);
  assert.deepEqual([...errors, ...second.errors], []);
  await second.close();
});

test('a malformed link value falls back to its default with a visible notice', async () => {
  const { page, close } = await open('#lr_g=abc&batch=-3&seed=<img src=x onerror=alert(1)>&color=red');
  await ready(page);
  const notices = await text(page, '#notices');
  assert.match(notices, /lr_g=abc/);
  assert.match(notices, /batch=-3/);
  assert.match(notices, /seed=<img/);
  assert.match(notices, /"color" is not a setting/);
  assert.match(notices, /lr_g=abc is not valid \(1e-7 to 1\); using 0.0002\./);
  assert.match(notices, /batch=-3 is not valid \(1 to 4096\); using 64/);
  // Settings the link leaves out are defaults, not problems: one notice per bad value.
  assert.doesNotMatch(notices, /lr_d|beta/);
  assert.equal(await page.locator('#notices p', { hasText: "The link's" }).count(), 4);
  assert.equal(await page.locator('#notices img').count(), 0, 'link text must never become HTML');
  const values = await formValues(page);
  assert.equal(values.lr_g, '0.0002');
  assert.equal(values.batch, '64');
  assert.equal(values.seed, '0');
  await close();
});

test('a link with one bad value shows one notice, and the batch limit is the core\'s', async () => {
  const { page, errors, close } = await open('#batch=4097&seed=3');
  await ready(page);
  assert.equal(await page.locator('#notices p', { hasText: "The link's" }).count(), 1);
  assert.match(await text(page, '#notices'), /batch=4097 is not valid \(1 to 4096\)/);
  assert.equal(await page.getAttribute('input[name="batch"]', 'max'), '4096');
  assert.deepEqual(errors, []);
  await close();
});

test('a failed backend switch leaves the choice, the link and the run as they were', async () => {
  const { page, errors, close } = await open('#batch=8&backend=cpu');
  await ready(page);
  // The link's settings and backend (its step moves on with the run).
  const linked = async () => {
    const params = new URLSearchParams(new URL(await page.inputValue('#share-link')).hash.slice(1));
    params.delete('until');
    return params.toString();
  };
  const linkBefore = await linked();
  await page.click('#step');
  await waitForStep(page, 1);
  // WebGPU goes away after the page started: switching to the GPU must fail cleanly.
  await page.evaluate(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
  });
  await page.selectOption('#backend', 'gpu');
  await page.waitForFunction(() => /Could not switch to the GPU/.test(document.getElementById('message').textContent), null, { timeout: SLOW });
  assert.equal(await page.inputValue('#backend'), 'cpu');
  assert.equal(await linked(), linkBefore);
  assert.equal(await page.evaluate(() => window.ganvas.backend.kind), 'cpu');
  assert.equal(await text(page, '#train'), 'Train');
  // The run goes on where it was.
  await page.click('#step');
  await waitForStep(page, 2);
  assert.deepEqual(errors, []);
  await close();
});

test('reset and load on the CPU keep its worker, and the grid downloads under its step', async () => {
  const context = await newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const Original = window.Worker;
    // Workers made, by script: the CPU worker, and the threaded build's thread workers.
    window.workersMade = {};
    window.Worker = class extends Original {
      constructor(url, options) {
        super(url, options);
        const script = String(url).split('/').pop();
        window.workersMade[script] = (window.workersMade[script] ?? 0) + 1;
      }
    };
  });
  await page.goto(BASE + '#batch=8&seed=1&backend=cpu');
  await ready(page);
  await page.click('#step');
  await waitForStep(page, 1);
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  await page.click('#download-grid');
  await waitForDownloads(page, downloads, 1);
  assert.equal(downloads[0]?.suggestedFilename(), 'ganvas-step-1.png');
  // Save at step 1, reset to step 0, load the save back: one worker (and one pool) throughout.
  const saved = await saveCheckpoint(page, downloads);
  assert.equal(saved.length, 3);
  await page.click('#reset');
  await page.waitForFunction(() => document.getElementById('readout-step').textContent === '0', null, { timeout: SLOW });
  await page.setInputFiles('#load', saved);
  await page.waitForFunction(() => /Loaded a checkpoint at step 1/.test(document.getElementById('message').textContent), null, {
    timeout: SLOW,
  });
  await page.click('#step');
  await waitForStep(page, 2);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threadWorkers = cores > 1 ? { 'cpu-thread.js': cores } : {};
  assert.deepEqual(await page.evaluate(() => window.workersMade), { 'cpu-worker.js': 1, ...threadWorkers });
  await context.close();
});

test('the digit census and its scores chart G on both backends, on demand too, and label the grid', async () => {
  for (const backend of ['gpu', 'cpu']) {
    const { page, errors, close } = await open(`#batch=8&seed=3&backend=${backend}`);
    await ready(page);
    const points = (id) => page.evaluate((i) => Number(document.getElementById(i).dataset.points ?? 0), id);
    // The untrained G is measured as the run starts, then each step while paused.
    await page.waitForFunction(() => window.ganvas.census?.n === 2048, null, { timeout: SLOW });
    assert.equal(await page.getAttribute('#census-chart', 'data-bars'), '10');
    assert.equal(await page.isVisible('#digit'), false, 'no digit picker for the unconditional GAN');
    await page.click('#step');
    await page.waitForFunction(() => window.ganvas.censusStep === 1, null, { timeout: SLOW });
    const report = await page.evaluate(() => window.ganvas.census);
    const total = report.class_fractions.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `the census's shares add up to 1 (${total})`);
    assert.equal(report.preview_digits.length, 64);
    // An untrained G draws noise: far from MNIST, read as few digits.
    assert.ok(report.frechet_distance > 500, `distance ${report.frechet_distance}`);
    assert.ok(report.classifier_score >= 1 && report.classifier_score < 3, `score ${report.classifier_score}`);
    assert.equal(await text(page, '#readout-frechet'), report.frechet_distance.toFixed(1));
    assert.ok((await points('frechet-chart')) >= 2 && (await points('score-chart')) >= 2);
    // On demand: one more census of the same step.
    const before = await points('frechet-chart');
    await page.click('#measure');
    await page.waitForFunction((n) => Number(document.getElementById('frechet-chart').dataset.points) > n, before, {
      timeout: SLOW,
    });
    await page.check('#label-digits');
    await page.waitForFunction(() => document.getElementById('grid').dataset.labelledStep === '1', null, { timeout: SLOW });
    assert.deepEqual(errors, []);
    await screenshot(page, `census-${backend}`);
    await close();
  }
});

test('the conditional GAN draws a row per digit and its census reads each digit asked for', async () => {
  for (const backend of ['cpu', 'gpu']) {
    const { page, errors, close } = await open(`#batch=8&seed=3&conditional=1&backend=${backend}`);
    await ready(page);
    assert.equal(await page.inputValue('select[name="conditional"]'), '1');
    await page.click('#step');
    await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '1', null, { timeout: SLOW });
    // 8 columns of 28-pixel cells and 2-pixel gutters, 10 rows (one a digit).
    const size = await page.evaluate(() => [document.getElementById('grid').width, document.getElementById('grid').height]);
    assert.deepEqual(size, [8 * 30 + 2, 10 * 30 + 2]);
    await page.waitForFunction(() => window.ganvas.censusStep === 1, null, { timeout: SLOW });
    const report = await page.evaluate(() => window.ganvas.census);
    assert.equal(report.agreement.length, 10);
    assert.ok(report.agreement.every((v) => v >= 0 && v <= 1), JSON.stringify(report.agreement));
    assert.match(await text(page, '#census-what'), /asked of G/);
    // The picker: the whole grid as one digit, then every digit again.
    const byDigit = await gridPixels(page);
    await page.selectOption('#digit', '7');
    await page.waitForFunction(() => document.getElementById('grid').dataset.digit === '7', null, { timeout: SLOW });
    assert.notEqual((await gridPixels(page)).hash, byDigit.hash);
    await page.selectOption('#digit', '');
    await page.waitForFunction(() => document.getElementById('grid').dataset.digit === '', null, { timeout: SLOW });
    assert.equal((await gridPixels(page)).hash, byDigit.hash);
    assert.deepEqual(errors, []);
    await screenshot(page, `conditional-${backend}`);
    await close();
  }
});

test('a link with until=N trains to step N and stops there, on both backends', async () => {
  for (const backend of ['cpu', 'gpu']) {
    const { page, errors, close } = await open(`#batch=8&seed=3&backend=${backend}&until=3&autostart=1`);
    await ready(page);
    await page.waitForFunction(() => /Stopped at step 3/.test(document.getElementById('message').textContent), null, {
      timeout: SLOW,
    });
    assert.equal(await text(page, '#train'), 'Train');
    await page.waitForTimeout(1000);
    assert.equal(await text(page, '#readout-step'), '3', 'no step past the one asked for');
    // Reached: a link copied now lands its visitor on this step too, and Train goes on.
    assert.equal(new URLSearchParams(new URL(await page.inputValue('#share-link')).hash.slice(1)).get('until'), '3');
    await page.click('#train');
    await waitForStep(page, 4);
    assert.deepEqual(errors, []);
    await close();
  }
});

test('the theory panel opens with its formulas, and a run where D wins says so', async () => {
  // D at a large learning rate against a G that barely moves: D(G(z)) falls to ~0.
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu&lr_d=0.01&lr_g=0.0000001&autostart=1');
  await ready(page);
  assert.equal(await page.isVisible('#theory math'), false, 'closed until asked');
  await page.click('#theory summary');
  const formula = await page.locator('#theory math[display="block"]').first().boundingBox();
  assert.ok(formula && formula.width > 100 && formula.height > 10, `the formula is laid out: ${JSON.stringify(formula)}`);
  await page.waitForFunction(() => /D is winning/.test(document.getElementById('symptom').textContent), null, {
    timeout: SLOW,
  });
  assert.equal(await page.isVisible('#symptom'), true);
  await screenshot(page, 'theory');
  assert.deepEqual(errors, []);
  await close();
});

test("D's view frames each sample by D's output, fakes and the last batch's reals alike", async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu');
  await ready(page);
  assert.equal(await page.isVisible('#reals'), false, 'no batch before the first step');
  await page.click('#step');
  await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '1', null, { timeout: SLOW });
  const scores = await page.evaluate(() => ({ fake: [...window.ganvas.scores.fake], real: [...window.ganvas.scores.real] }));
  assert.equal(scores.fake.length, 64);
  assert.equal(scores.real.length, 8, 'the whole batch of 8');
  assert.ok([...scores.fake, ...scores.real].every((v) => v > 0 && v < 1));
  assert.equal(await page.isVisible('#real-grid'), true);
  // Pointing at the first sample gives its D(G(z)).
  await page.hover('#grid', { position: { x: 10, y: 10 } });
  assert.equal(await text(page, '#d-score'), `D(G(z)) of this one: ${scores.fake[0].toFixed(3)}`);
  await page.hover('#real-grid', { position: { x: 10, y: 10 } });
  assert.equal(await text(page, '#d-score'), `D(x) of this one: ${scores.real[0].toFixed(3)}`);
  await page.uncheck('#d-view');
  assert.equal(await page.isVisible('#reals'), false);
  assert.deepEqual(errors, []);
  await close();
});

test('D step and G step each change only their own network, and show D before and after, on both backends', async () => {
  for (const backend of ['cpu', 'gpu']) {
    const { page, errors, close } = await open(`#batch=8&seed=3&backend=${backend}`);
    await ready(page);
    assert.equal(await page.isVisible('#half-step'), false);
    // A digest of each of the three checkpoint files, as Save would write them.
    const saved = () => page.evaluate(async () => {
      const files = await window.ganvas.backend.save();
      const digests = await Promise.all(files.map((f) => crypto.subtle.digest('SHA-256', f)));
      return digests.map((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join(''));
    });
    const start = await saved();
    await page.click('#d-step');
    await page.waitForFunction(() => window.ganvas.halfStep?.half === 'discriminator', null, { timeout: SLOW });
    const afterD = await saved();
    assert.equal(afterD[0], start[0], "D's step leaves G's file as it was");
    assert.notEqual(afterD[1], start[1], "and changes D's");
    assert.equal(await text(page, '#readout-step'), '0', 'half of step 0');
    const what = await text(page, '#half-step-what');
    const [, lossBefore, lossAfter] = what.match(/^D step, the first half of step 0: .*D loss (\d\.\d+) → (\d\.\d+); mean D\(x\)/);
    assert.ok(Number(lossAfter) < Number(lossBefore), what);
    assert.equal(await page.isVisible('#half-reals'), true);
    // Pointing at a sample after the step gives D's output on it then.
    const d = await page.evaluate(() => [...window.ganvas.halfStep.view.fakeScoresAfter]);
    assert.equal(d.length, 8, 'the whole batch of 8');
    await page.hover('#half-fake-after', { position: { x: 5, y: 5 } });
    assert.equal(await text(page, '#half-step-score'), `D(G(z)) after of this one: ${d[0].toFixed(3)}`);

    await page.click('#g-step');
    await page.waitForFunction(() => window.ganvas.halfStep?.half === 'generator', null, { timeout: SLOW });
    await waitForStep(page, 1);
    const afterG = await saved();
    assert.notEqual(afterG[0], afterD[0], "G's step changes G's file");
    assert.equal(afterG[1], afterD[1], "and leaves D's");
    assert.equal(await page.isVisible('#half-reals'), false, 'D, so its view of the reals, is unchanged');
    const g = await page.evaluate(() => {
      const v = window.ganvas.halfStep.view;
      const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
      return { before: mean(v.fakeScores), after: mean(v.fakeScoresAfter) };
    });
    assert.ok(g.after > g.before, `G's step raises D(G(z)): ${g.before} -> ${g.after}`);
    assert.deepEqual(errors, []);
    await close();
  }
});

test('lang=ko shows the page in Korean, the switch changes it, and the link carries it', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu&lang=ko');
  await ready(page);
  assert.equal(await page.getAttribute('html', 'lang'), 'ko');
  assert.equal(await text(page, '#train'), '학습');
  assert.equal(await text(page, '#d-step'), 'D 단계');
  assert.equal(await page.inputValue('#language'), 'ko');
  assert.match(await page.inputValue('#share-link'), /lang=ko/);
  assert.match(await page.textContent('#theory'), /최적의 판별자/);
  assert.ok(await page.locator('#theory math').count() >= 8, 'the formulas stay');
  // Text the scripts write follows the language too.
  await page.click('#d-step');
  await page.waitForFunction(() => window.ganvas.halfStep, null, { timeout: SLOW });
  assert.match(await text(page, '#half-step-what'), /^D 단계, 0단계의 앞 절반/);
  await page.click('#train');
  assert.equal(await text(page, '#train'), '일시정지');
  await page.click('#train');
  await page.selectOption('#language', 'en');
  assert.equal(await text(page, '#train'), 'Train');
  assert.match(await text(page, '#half-step-what'), /^D step, the first half of step 0/);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.doesNotMatch(await page.inputValue('#share-link'), /lang=/);
  assert.deepEqual(errors, []);
  await close();
  // A browser that prefers Korean gets it without a link; a bad lang= is a notice.
  const context = await newContext({ locale: 'ko-KR' });
  const korean = await context.newPage();
  await korean.goto(BASE + '#backend=cpu&lang=xx');
  await ready(korean);
  assert.equal(await korean.textContent('#train'), '학습');
  // In Korean, with the key and value as they were.
  assert.match(await korean.textContent('#notices'), /lang=xx: en \/ ko 중 하나여야 합니다/);
  await screenshot(korean, 'korean');
  await context.close();
});

test('on a 390-pixel phone nothing scrolls sideways; keyboard alone chooses samples; the charts have text', async () => {
  const context = await newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(BASE + '#batch=8&seed=3&backend=cpu');
  await ready(page);
  await page.click('#step');
  await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '1', null, { timeout: SLOW });
  // Every part open: the theory, a half step's grids, in-betweens and latents.
  await page.evaluate(() => { document.getElementById('theory').open = true; });
  await page.click('#d-step');
  await page.waitForFunction(() => window.ganvas.halfStep, null, { timeout: SLOW });
  // The keyboard: focus the grid, move right and down, choose; move right, choose.
  await page.focus('#grid');
  for (const key of ['ArrowRight', 'ArrowDown', 'Enter', 'ArrowRight', ' ']) await page.keyboard.press(key);
  assert.deepEqual(await page.evaluate(() => window.ganvas.pinned), [9, 10]);
  await page.waitForFunction(() => document.getElementById('between').dataset.cells === '9-10', null, { timeout: SLOW });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, 'no horizontal scrolling');
  await page.waitForFunction(() => /the latest D loss \d/.test(document.getElementById('loss-chart').getAttribute('aria-label')), null, { timeout: SLOW });
  assert.match(await page.getAttribute('#census-chart', 'aria-label'), /^Share of samples read as each digit: 0: \d+%/);
  await screenshot(page, 'phone');
  assert.deepEqual(errors, []);
  await context.close();
});

test('your own pictures: a folder or a zip is prepared, bad and huge files listed, trained on; a link says they were the sender\'s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ganvas-pictures-'));
  const context = await newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(BASE + '#batch=8&seed=3&backend=cpu');
  await ready(page);
  const pictures = await drawnPictures(page, 110);
  mkdirSync(join(dir, 'nested'));
  pictures.forEach(({ name, buffer }, i) => writeFileSync(join(dir, i % 2 ? 'nested' : '', name), buffer));
  writeFileSync(join(dir, 'broken.png'), pictures[0].buffer.subarray(0, 40));
  writeFileSync(join(dir, 'empty.jpg'), Buffer.alloc(0));
  writeFileSync(join(dir, 'notes.txt'), 'not a picture');
  // A PNG whose header says 20,000 × 20,000: refused before the browser decodes it.
  const huge = Buffer.from(pictures[0].buffer);
  huge.writeUInt32BE(20000, 16);
  huge.writeUInt32BE(20000, 20);
  writeFileSync(join(dir, 'huge.png'), huge);

  // A zip: its pictures are read, an entry outside its root is listed.
  await page.setInputFiles('#own-files', [{
    name: 'pictures.zip',
    mimeType: 'application/zip',
    buffer: storedZip([...pictures.slice(0, 100), { name: '../evil.png', buffer: pictures[0].buffer }]),
  }]);
  await page.waitForSelector('#own-use:not([hidden])', { timeout: SLOW });
  assert.match(await text(page, '#own-status'), /^100 pictures ready as 28×28 gray/);
  assert.match(await text(page, '#own-skipped-list'), /pictures\.zip\/\.\.\/evil\.png: is outside the archive's root/);

  // A folder, as 32×32 colour: 110 pictures, four files skipped with why.
  await page.selectOption('#own-shape', 'colour32');
  await page.setInputFiles('#own-folder', dir);
  await page.waitForFunction(() => /^110 pictures ready as 32×32 colour/.test(document.getElementById('own-status').textContent), null, { timeout: SLOW });
  assert.match(await text(page, '#own-status'), /G will learn to copy them/);
  assert.equal(await text(page, '#own-skipped-summary'), '4 files skipped');
  const skipped = await text(page, '#own-skipped-list');
  for (const name of ['broken.png', 'empty.jpg', 'notes.txt']) assert.ok(skipped.includes(name), skipped);
  assert.match(skipped, /huge\.png: is 20000×20000, larger than a picture needs/);
  const preview = await page.evaluate(() => [document.getElementById('own-preview').width, document.getElementById('own-preview').height]);
  assert.deepEqual(preview, [8 * 34 + 2, 8 * 34 + 2], '64 of them, 32×32 each');

  await page.click('#own-use');
  await page.waitForFunction(() => /^Training on your 110 pictures/.test(document.getElementById('own-status').textContent), null, { timeout: SLOW });
  assert.match(await page.inputValue('#share-link'), /data=own/);
  assert.equal(await page.isVisible('#census'), false, 'the digit census reads digits');
  await page.click('#step');
  await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '1', null, { timeout: SLOW });
  // G's samples are colour: 8 rows of 32-pixel cells, and D's real batch too.
  assert.equal(await page.evaluate(() => document.getElementById('grid').width), 8 * 34 + 2);
  const colour = await page.evaluate(() => {
    const c = document.getElementById('real-grid');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 1]) > 60) return true;
    return false;
  });
  assert.ok(colour, 'the real batch shows colour');

  // The link, opened elsewhere: says the pictures were the sender's, trains on MNIST.
  const link = await page.inputValue('#share-link');
  const other = await newContext();
  const visitor = await other.newPage();
  await visitor.goto(link);
  await ready(visitor);
  assert.match(await visitor.textContent('#notices'), /sender's own pictures, which a link cannot carry/);
  assert.equal(await visitor.evaluate(() => window.ganvas.pictures), null);
  await other.close();
  // A reload here keeps them: offered again without asking for the files.
  await page.reload();
  await ready(page);
  assert.match(await text(page, '#own-status'), /^110 pictures kept from your last visit, as 32×32 colour/);
  await page.click('#own-forget');
  await page.waitForFunction(() => /forgotten/.test(document.getElementById('own-status').textContent), null, { timeout: SLOW });
  await page.reload();
  await ready(page);
  assert.equal(await text(page, '#own-status'), '', 'nothing kept');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the timelapse records the grid over a run and downloads as a video and a filmstrip; Present shows the grid alone', async () => {
  const context = await newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(BASE + '#batch=8&seed=3&backend=cpu&autostart=1&until=100');
  await ready(page);
  await page.waitForFunction(() => /Stopped at step 100/.test(document.getElementById('message').textContent), null, {
    timeout: SLOW,
  });
  await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '100', null, { timeout: SLOW });
  const steps = await page.evaluate(() => window.ganvas.timelapse.frames.map((f) => f.step));
  assert.ok(steps.length >= 3 && steps[0] === 0, `frames at ${steps}`);
  assert.ok(steps.every((s, i) => i === 0 || s - steps[i - 1] >= 20), `a frame every 20 steps at most: ${steps}`);
  const last = steps[steps.length - 1];
  const save = async (id) => {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: SLOW }), page.click(id)]);
    return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
  };
  const strip = await save('#download-filmstrip');
  assert.equal(strip.name, `ganvas-filmstrip-steps-0-${last}.png`);
  // A PNG of the frames side by side: 242 pixels a frame, a 16-pixel caption under each.
  assert.equal(strip.bytes.readUInt32BE(16), 242 * Math.min(10, steps.length));
  assert.equal(strip.bytes.readUInt32BE(20), (242 + 16) * Math.ceil(steps.length / 10));
  const video = await save('#download-timelapse');
  assert.equal(video.name, `ganvas-timelapse-steps-0-${last}.webm`);
  assert.equal(video.bytes.readUInt32BE(0), 0x1a45dfa3, 'a WebM (EBML) file');
  const frames = webmFrames(video.bytes);
  assert.ok(frames > 1, `the video has ${frames} frames`);
  // Where a browser records no video, the same frames as an animated GIF.
  const gif = Buffer.from(await page.evaluate(async () => [...new Uint8Array(await window.ganvas.timelapse.gif().arrayBuffer())]));
  assert.equal(gif.subarray(0, 6).toString(), 'GIF89a');
  assert.equal(gifFrames(gif), steps.length, 'a GIF frame for each frame kept');
  await page.click('#present');
  assert.equal(await page.isVisible('#settings'), false);
  assert.equal(await page.isVisible('#grid'), true);
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#settings'), true);
  assert.deepEqual(errors, []);
  await context.close();
});

test('two chosen samples show G\'s in-betweens of their latents, on both backends', async () => {
  for (const backend of ['cpu', 'gpu']) {
    const { page, errors, close } = await open(`#batch=8&seed=3&backend=${backend}`);
    await ready(page);
    await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '0', null, { timeout: SLOW });
    assert.equal(await page.isVisible('#between'), false);
    // Cells 0 and 9 (row 1, column 1) of the 8×8 grid, drawn at 2x (60 CSS pixels a cell).
    await page.click('#grid', { position: { x: 10, y: 10 } });
    await page.click('#grid', { position: { x: 70, y: 70 } });
    await page.waitForFunction(() => document.getElementById('between').dataset.cells === '0-9', null, { timeout: SLOW });
    const size = await page.evaluate(() => [document.getElementById('between').width, document.getElementById('between').height]);
    assert.deepEqual(size, [10 * 30 + 2, 30 + 2], 'ten in-betweens in a row');
    // Its first image is cell 0 of the grid.
    const same = await page.evaluate(() => {
      const pixels = (id, x, y) => document.getElementById(id).getContext('2d').getImageData(x, y, 28, 28).data;
      const [a, b] = [pixels('between', 2, 2), pixels('grid', 2, 2)];
      return a.every((v, i) => Math.abs(v - b[i]) <= 2);
    });
    assert.ok(same, 'the row starts at the first chosen sample');
    // Their latent vectors, a row of 100 values each.
    await page.waitForFunction(() => document.getElementById('latent-strip').dataset.cells === '0-9', null, { timeout: SLOW });
    const strip = await page.evaluate(() => [document.getElementById('latent-strip').width, document.getElementById('latent-strip').height]);
    assert.deepEqual(strip, [400, 16]);
    // Played in turn, there and back: each frame one of the in-betweens, 28 × 28.
    await page.click('#play-between');
    await page.waitForFunction(() => Number(document.getElementById('morph').dataset.frames) >= 3, null, { timeout: SLOW });
    assert.deepEqual(await page.evaluate(() => [document.getElementById('morph').width, document.getElementById('morph').height]), [28, 28]);
    await page.click('#play-between');
    assert.equal(await text(page, '#play-between'), 'Play');
    assert.deepEqual(errors, []);
    await close();
  }
});

test('the walk drifts the grid\'s latents and, stopped, the grid is the preview again, on both backends', async () => {
  for (const backend of ['cpu', 'gpu']) {
    const { page, errors, close } = await open(`#batch=8&seed=3&backend=${backend}`);
    await ready(page);
    await page.click('#step');
    await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '1', null, { timeout: SLOW });
    const preview = await gridPixels(page);
    await page.click('#walk');
    assert.equal(await text(page, '#walk'), 'Stop walking');
    await page.waitForFunction(() => Number(document.getElementById('grid').dataset.walkFrames) >= 3, null, { timeout: SLOW });
    const walked = await gridPixels(page);
    assert.notEqual(walked.hash, preview.hash, 'the walk moves the grid');
    assert.ok(walked.std > 10, `G's images, not a blank grid: spread ${walked.std}`);
    await page.click('#walk');
    assert.equal(await text(page, '#walk'), 'Walk');
    assert.equal((await gridPixels(page)).hash, preview.hash);
    assert.deepEqual(errors, []);
    await close();
  }
});

test('a bad checkpoint file gets a clear error and the run stays', async () => {
  const { page, errors, close } = await open('#batch=8');
  await ready(page);
  await page.setInputFiles('#load', { name: 'generator.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a checkpoint') });
  await page.waitForFunction(() => document.getElementById('message').textContent !== '', null, { timeout: SLOW });
  // The core's kind in the page's words, its English sentence as the detail.
  assert.match(await text(page, '#message'), /not a checkpoint that ganvas or PyTorch wrote.*Detail: the generator file is not a valid safetensors file/);
  assert.equal(await page.evaluate(() => window.ganvas.backend !== null), true);
  assert.deepEqual(errors, []);
  await close();
});

test('checkpoints move between the page and the command line', { skip: !CLI && 'GANVAS_CLI is not set' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ganvas-'));
  const { page, errors, close } = await open('#batch=8&seed=5&backend=gpu');
  await ready(page);
  await page.click('#step');
  await waitForStep(page, 1);

  // Save from the page: three files the CLI samples from and resumes.
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  await page.click('#save');
  await page.waitForFunction(() => true);
  await waitForDownloads(page, downloads, 3);
  assert.equal(downloads.length, 3);
  const saved = {};
  for (const d of downloads) {
    saved[d.suggestedFilename()] = join(dir, d.suggestedFilename());
    await d.saveAs(saved[d.suggestedFilename()]);
  }
  assert.deepEqual(Object.keys(saved).sort(), ['discriminator.safetensors', 'generator.safetensors', 'optimizer.safetensors']);
  execFileSync(CLI, ['sample', '--checkpoint', saved['generator.safetensors'], '--n', '4', '--out', join(dir, 'x.npy')]);
  execFileSync(CLI, ['train', '--steps', '1', '--backend', 'cpu', '--resume', dir, '--out', dir, '--log-every', '1']);

  // Load the CLI's checkpoint (now at step 2) back into the page.
  const files = ['generator', 'discriminator', 'optimizer'].map((n) => ({
    name: `${n}.safetensors`,
    mimeType: 'application/octet-stream',
    buffer: readFileSync(join(dir, `${n}.safetensors`)),
  }));
  await page.setInputFiles('#load', files);
  await page.waitForFunction(() => /Loaded a checkpoint/.test(document.getElementById('message').textContent), null, { timeout: SLOW });
  assert.match(await text(page, '#message'), /at step 2/);
  assert.equal(await text(page, '#readout-step'), '2');
  assert.deepEqual(await formValues(page), { lr_g: '0.0002', lr_d: '0.0002', beta1: '0.5', beta2: '0.999', batch: '8', seed: '5', conditional: '0', model: '0', width: '64' });
  assert.deepEqual(errors, []);
  await close();
});

test('a lost GPU device is recreated and training continues', async () => {
  const { page, close } = await open('#batch=8&backend=gpu');
  await ready(page);
  await page.evaluate(() => window.ganvas.backend.loseDevice());
  await page.waitForFunction(() => /training continues from step/.test(document.getElementById('message').textContent), null, {
    timeout: SLOW,
  });
  assert.match(await text(page, '#message'), /device was lost/);
  await page.click('#step');
  await waitForStep(page, 1);
  await close();
});

test('without WebGPU the page says so and trains on the CPU instead', async () => {
  const { page, errors, close } = await open('#batch=8', { withoutWebGpu: true });
  await ready(page);
  assert.match(await text(page, '#notices'), /no WebGPU.*CPU/s);
  assert.equal(await page.inputValue('#backend'), 'cpu');
  assert.equal(await page.evaluate(() => document.querySelector('#backend option[value="gpu"]').disabled), true);
  assert.match(await text(page, '#readout-adapter'), /CPU/);
  await page.click('#train');
  await waitForStep(page, 5);
  await page.click('#train');
  assert.ok(Number(await page.getAttribute('#loss-chart', 'data-points')) >= 1);
  assert.deepEqual(errors, []);
  await close();
});

test('on a software WebGPU adapter the page trains on the CPU and says why', async () => {
  // Here each browser's only adapter is a software one (Chromium's SwiftShader,
  // Firefox's lavapipe), which the page recognises.
  const { page, errors, close } = await open('#batch=8');
  await ready(page);
  assert.match(await text(page, '#notices'), /runs on the CPU, so ganvas trains with its CPU backend/);
  assert.equal(await page.inputValue('#backend'), 'cpu');
  assert.equal(await page.evaluate(() => document.querySelector('#backend option[value="gpu"]').disabled), false);
  // The page chose, not the visitor: a link from here still trains on its visitor's GPU.
  assert.doesNotMatch(new URL(await page.inputValue('#share-link')).hash, /backend/);
  await page.click('#step');
  await waitForStep(page, 1);
  assert.deepEqual(errors, []);
  await close();
});

// The mean generated image's RMS distance to MNIST's mean image, per pixel in [-1, 1]:
// the statistic of the core's learning test (tests/learning.rs), here on the 64
// preview samples read off the canvas (8×8 tiles of 28×28, 2-pixel gutters).
function meanImageDistance(page, mnistMean) {
  return page.evaluate((target) => {
    const canvas = document.getElementById('grid');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const mean = new Float64Array(784);
    for (let tile = 0; tile < 64; tile++) {
      const x0 = 2 + (tile % 8) * 30;
      const y0 = 2 + Math.floor(tile / 8) * 30;
      for (let p = 0; p < 784; p++) {
        const v = data[((y0 + Math.floor(p / 28)) * canvas.width + x0 + (p % 28)) * 4];
        mean[p] += (v / 127.5 - 1) / 64;
      }
    }
    let sum = 0;
    for (let p = 0; p < 784; p++) sum += (mean[p] - target[p]) ** 2;
    return Math.sqrt(sum / 784);
  }, mnistMean);
}

function mnistMeanImage() {
  const raw = gunzipSync(readFileSync(new URL('../../data/mnist/train-images-idx3-ubyte.gz', import.meta.url)));
  const count = raw.readUInt32BE(4);
  const mean = new Array(784).fill(0);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < 784; p++) mean[p] += (raw[16 + i * 784 + p] / 255 - 0.5) / 0.5 / count;
  }
  return mean;
}

test('the CPU backend (backend=cpu) learns: 700 full-size steps move the samples toward digits', async () => {
  const { page, errors, close } = await open('#seed=2&backend=cpu');
  await ready(page);
  assert.equal(await page.inputValue('#backend'), 'cpu');
  assert.match(new URL(await page.inputValue('#share-link')).hash, /backend=cpu/);
  const target = mnistMeanImage();
  await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '0', null, { timeout: SLOW });
  const before = await meanImageDistance(page, target);
  await page.click('#train');
  // One reading can land on a swing of the GAN's back and forth (see tests/learning.rs):
  // the median of five previews, 50 or more steps apart, from step 500 on.
  const readings = [];
  for (let step = 500; readings.length < 5; ) {
    await page.waitForFunction((s) => Number(document.getElementById('grid').dataset.drawnStep) >= s, step, { timeout: SLOW });
    readings.push(await meanImageDistance(page, target));
    step = Number(await page.getAttribute('#grid', 'data-drawn-step')) + 50;
  }
  await page.click('#train');
  const afterTraining = [...readings].sort((a, b) => a - b)[2];
  console.log(`mean-image distance to MNIST: ${before.toFixed(3)} at step 0, median ${afterTraining.toFixed(3)} from step 500 on (${readings.map((r) => r.toFixed(3)).join(', ')})`);
  assert.ok(before > 0.5, `untrained samples should be far from the data (${before})`);
  assert.ok(afterTraining < 0.6 * before, `training should close the gap: ${before} -> ${afterTraining}`);
  assert.deepEqual(errors, []);
  await close();
});

// Float32 tensors of a safetensors file, by name.
function readSafetensors(path) {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString());
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    const body = bytes.subarray(8 + headerLength + start, 8 + headerLength + end);
    tensors[name] = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  }
  return tensors;
}

test('the browser and native CPU backends reach the same parameters from one seed', { skip: !CLI && 'GANVAS_CLI is not set' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ganvas-'));
  const { page, close } = await open('#batch=8&seed=9&backend=cpu');
  await ready(page);
  for (let i = 1; i <= 5; i++) {
    await page.click('#step');
    await waitForStep(page, i);
  }
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  await page.click('#save');
  await waitForDownloads(page, downloads, 3);
  const browserFile = join(dir, 'browser-generator.safetensors');
  await downloads.find((d) => d.suggestedFilename() === 'generator.safetensors').saveAs(browserFile);
  await close();

  execFileSync(CLI, ['train', '--steps', '5', '--batch', '8', '--seed', '9', '--backend', 'cpu', '--out', dir]);
  const browser = readSafetensors(browserFile);
  const native = readSafetensors(join(dir, 'generator.safetensors'));
  // Same f32 operations; the matrix products sum in a different order (wasm's
  // 4-lane kernel against AVX-512's), so differences are rounding amplified by Adam:
  // the bound of the GPU-against-CPU test, 0.5·lr·steps.
  const bound = 0.5 * 2e-4 * 5;
  let moved = 0;
  for (const [name, values] of Object.entries(native)) {
    let max = 0;
    values.forEach((v, i) => { max = Math.max(max, Math.abs(v - browser[name][i])); });
    assert.ok(max <= bound, `${name}: browser and native differ by ${max}`);
    moved += values.length;
  }
  assert.equal(moved, 1_486_352);
});

test('switching between GPU and CPU carries the run over', async () => {
  const { page, errors, close } = await open('#batch=8&seed=4&backend=gpu');
  await ready(page);
  await page.click('#step');
  await waitForStep(page, 1);
  await page.selectOption('#backend', 'cpu');
  await page.waitForFunction(() => window.ganvas.backend.kind === 'cpu', null, { timeout: SLOW });
  assert.equal(await text(page, '#readout-step'), '1');
  assert.match(await text(page, '#readout-adapter'), /CPU/);
  await page.click('#step');
  await waitForStep(page, 2);
  await page.selectOption('#backend', 'gpu');
  await page.waitForFunction(() => window.ganvas.backend.kind === 'gpu', null, { timeout: SLOW });
  assert.equal(await text(page, '#readout-step'), '2');
  assert.deepEqual(errors, []);
  await close();
});
