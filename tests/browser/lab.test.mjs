// The page as a lab (issue 24): the first screen, the census's own state, messages
// with a tone, and links that land on the sender's step.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, close as closeBrowser, open, ready, storedZip, text, waitForStep, SLOW } from './harness.mjs';

before(launch);
after(closeBrowser);

/** Whether `selector`'s box lies wholly within the viewport as the page first shows. */
async function inFirstScreen(page, selector) {
  const box = await page.locator(selector).boundingBox();
  const { width, height } = page.viewportSize();
  return box !== null && box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height;
}

// How far the page reaches past its width (Firefox's scrollbars take width from the
// viewport, Chromium's headless ones overlay it, so the page's own width is compared).
const sidewaysOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

test('the first screen holds Train and the grid, and on a laptop both curves', async () => {
  for (const [width, height, curves] of [[390, 844, false], [1280, 800, true]]) {
    const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu', { viewport: { width, height } });
    await ready(page);
    assert.ok(await inFirstScreen(page, '#train'), `Train at ${width}x${height}`);
    assert.ok(await inFirstScreen(page, '#grid'), `the grid at ${width}x${height}`);
    if (curves) {
      assert.ok(await inFirstScreen(page, '#loss-chart'), 'the loss curves beside the grid');
      assert.ok(await inFirstScreen(page, '#prob-chart'), "D's outputs beside the grid");
    }
    // Every part has a link and a heading that says what it shows.
    for (const id of ['inside', 'latent-space', 'census-part', 'own-images', 'theory-part', 'settings-part']) {
      assert.equal(await page.locator(`.parts a[href="#${id}"]`).count(), 1, id);
      assert.ok((await text(page, `#${id} > h2`)).length > 3, id);
    }
    // Scrolled down to a part, the controls that act on the grid stay in reach.
    await page.click('.parts a[href="#settings-part"]');
    await page.waitForFunction(() => window.scrollY > 200);
    assert.ok(await inFirstScreen(page, '#train'), `Train stays in reach at ${width}x${height}`);
    assert.equal(await sidewaysOverflow(page), 0, 'nothing scrolls sideways');
    assert.deepEqual(errors, []);
    await close();
  }
});

test('the curves and the census fill their column, drawn at the screen\'s resolution', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu&until=3&autostart=1', {
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 2,
  });
  await ready(page);
  await page.waitForFunction(() => document.getElementById('census-chart').dataset.bars === '10', null, { timeout: SLOW });
  const charts = await page.evaluate(() =>
    ['loss-chart', 'prob-chart', 'census-chart'].map((id) => {
      const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById(id));
      const column = canvas.closest('.watch-curves').getBoundingClientRect().width;
      return { id, column, box: canvas.clientWidth, boxHigh: canvas.clientHeight, pixels: canvas.width, pixelsHigh: canvas.height };
    }));
  for (const { id, column, box, boxHigh, pixels, pixelsHigh } of charts) {
    assert.ok(box >= column - 1 && box > 484, `${id} ${box} px wide in a column of ${column}`);
    assert.equal(pixels, Math.round(box * 2), `${id}: a device pixel for each on the screen, across`);
    assert.equal(pixelsHigh, Math.round(boxHigh * 2), `${id}: and down`);
  }
  // Drawn, not only sized: the loss curves' pixels are not all the background.
  assert.ok(await page.evaluate(() => {
    const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('loss-chart'));
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return data.some((v, i) => i % 4 === 3 && v > 0);
  }), 'the loss chart is drawn');
  assert.deepEqual(errors, []);
  await close();
});

test("a young run's census says its samples are not digits yet, not that it collapsed", async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu');
  await ready(page);
  await page.waitForFunction(() => document.getElementById('census-count').textContent !== '', null, { timeout: SLOW });
  assert.ok(await page.evaluate(() => document.getElementById('census').classList.contains('young')));
  assert.match(await text(page, '#census-what'), /Not digits yet: .* mean confidence of [\d.]+ at a Fréchet distance of \d+/);
  assert.doesNotMatch(await text(page, '#census-what'), /mode collapse\. Dashed/);
  assert.equal(await page.isVisible('#symptom'), false, 'no collapse note');
  assert.deepEqual(errors, []);
  await close();
});

test('messages have a tone, replace older ones about the same thing, and can be dismissed', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu&lr_g=abc&until=2&autostart=1');
  await ready(page);
  const notice = page.locator('#notices .msg', { hasText: 'lr_g=abc' });
  assert.equal(await notice.getAttribute('data-tone'), 'warning');
  await notice.locator('.dismiss').click();
  assert.equal(await page.locator('#notices .msg').count(), 0, 'dismissed');

  await page.waitForFunction(() => /Stopped at step 2/.test(document.getElementById('message').textContent), null, {
    timeout: SLOW,
  });
  assert.equal(await page.locator('#message .msg').getAttribute('data-tone'), 'info');
  // In the other language the message is written again.
  await page.selectOption('#language', 'ko');
  assert.match(await text(page, '#message'), /2단계에서 멈췄습니다/);
  await page.selectOption('#language', 'en');
  // A failed load is an error beside it; a newer message about the same topic
  // replaces the older (the backend's, in the last test).
  await page.setInputFiles('#load', { name: 'generator.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a file') });
  await page.waitForFunction(() => /not a checkpoint/.test(document.getElementById('message').textContent), null, { timeout: SLOW });
  const shown = await page.locator('#message .msg').evaluateAll((ms) => ms.map((m) => m.dataset.tone));
  assert.ok(shown.includes('error'), `${shown}`);
  // The core's error has a kind the page words in Korean; its detail (the file's
  // name and what it lacks) stays as it is.
  await page.selectOption('#language', 'ko');
  assert.match(await text(page, '#message'), /체크포인트가 아니거나.*자세히: the generator file is not a valid safetensors/);
  await page.selectOption('#language', 'en');
  assert.deepEqual(errors, []);
  await close();
});

test("a copied link carries the run's applied settings and lands on its step", async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu&until=4&autostart=1');
  await ready(page);
  await waitForStep(page, 4);
  await page.waitForFunction(() => document.getElementById('train').textContent === 'Train', null, { timeout: SLOW });
  // An edit not yet applied (no Reset) stays out of the link, and the page says so.
  await page.fill('#settings input[name="seed"]', '77');
  await page.dispatchEvent('#settings', 'input');
  assert.equal(await page.isVisible('#share-note'), true);
  const params = new URLSearchParams(new URL(await page.inputValue('#share-link')).hash.slice(1));
  assert.equal(params.get('seed'), '3');
  assert.equal(params.get('until'), '4', 'the sender\'s step');
  assert.equal(params.get('autostart'), '1');
  // Asked not to, the link just starts the run.
  await page.uncheck('#share-until');
  const plain = new URLSearchParams(new URL(await page.inputValue('#share-link')).hash.slice(1));
  assert.equal(plain.get('until'), null);
  assert.deepEqual(errors, []);
  await close();

  // Opened, the link trains to the sender's step and stops there.
  const visitor = await open(`#${params.toString()}`);
  await ready(visitor.page);
  await visitor.page.waitForFunction(() => /Stopped at step 4/.test(document.getElementById('message').textContent), null, {
    timeout: SLOW,
  });
  assert.equal(await text(visitor.page, '#readout-step'), '4');
  assert.deepEqual(visitor.errors, []);
  await visitor.close();
});

test('backend=gpu on a software adapter warns that the CPU is faster here', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=gpu');
  await ready(page);
  const warning = page.locator('#notices .msg[data-topic="backend"]');
  assert.equal(await warning.getAttribute('data-tone'), 'warning');
  assert.match(await warning.textContent(), /CPU emulation.*choose CPU/s);
  // Choosing the CPU says why it is the better choice here, in place of the warning.
  await page.selectOption('#backend', 'cpu');
  await page.waitForFunction(() => /runs on the CPU, so ganvas trains with its CPU backend/.test(
    document.querySelector('#notices .msg[data-topic="backend"]')?.textContent ?? ''), null, { timeout: SLOW });
  assert.equal(await page.locator('#notices .msg[data-topic="backend"]').count(), 1);
  assert.deepEqual(errors, []);
  await close();
});

test('Present on a phone shows the grid alone, whole and centred', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu', { viewport: { width: 390, height: 844 } });
  await ready(page);
  await page.click('#present');
  const box = await page.locator('#grid').boundingBox();
  assert.ok(await inFirstScreen(page, '#grid'), 'the whole grid');
  assert.ok(Math.abs(box.x - (390 - box.x - box.width)) < 2, `centred across: ${JSON.stringify(box)}`);
  assert.ok(Math.abs(box.y - (844 - box.y - box.height)) < 2, `centred down: ${JSON.stringify(box)}`);
  for (const selector of ['header', '.bar', '.run-info', '.watch-curves', '.parts']) {
    assert.equal(await page.isVisible(selector), false, selector);
  }
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('.bar'), true);
  assert.deepEqual(errors, []);
  await close();
});

test('a field the core refuses is marked where it is, with why, in the page\'s language', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu');
  await ready(page);
  const batch = page.locator('#settings input[name="batch"]');
  await batch.fill('0');
  await page.dispatchEvent('#settings', 'input');
  assert.equal(await batch.getAttribute('aria-invalid'), 'true');
  const why = page.locator('#problem-batch');
  assert.equal(await why.textContent(), 'batch=0 is not valid (1 to 4096)');
  assert.equal(await batch.getAttribute('aria-describedby'), 'problem-batch');
  assert.equal(await page.locator('#settings [aria-invalid]').count(), 1, 'only the bad field');
  // Reset refuses it, says so, and the run stays.
  await page.click('#reset');
  await page.waitForFunction(() => /^Settings: batch=0/.test(document.getElementById('message').textContent), null, { timeout: SLOW });
  assert.equal(await page.locator('#message .msg').getAttribute('data-tone'), 'error');
  // In Korean the mark and the message are Korean, the key and value as typed.
  await page.selectOption('#language', 'ko');
  assert.equal(await why.textContent(), 'batch=0: 올바른 값이 아닙니다 (1부터 4096까지)');
  assert.match(await text(page, '#message'), /^설정: batch=0: 올바른 값이 아닙니다/);
  await page.selectOption('#language', 'en');
  await batch.fill('16');
  await page.dispatchEvent('#settings', 'input');
  assert.equal(await page.locator('#settings [aria-invalid]').count(), 0, 'fixed, unmarked');
  assert.equal(await why.count(), 0);
  assert.deepEqual(errors, []);
  await close();
});

test('skipped pictures say why in the page\'s language', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu&lang=ko');
  await ready(page);
  const png = Buffer.from('89504e470d0a1a0a', 'hex');
  await page.setInputFiles('#own-files', [
    { name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture') },
    { name: 'pictures.zip', mimeType: 'application/zip', buffer: storedZip([{ name: '../evil.png', buffer: png }]) },
    { name: 'broken.zip', mimeType: 'application/zip', buffer: Buffer.from('not a zip') },
  ]);
  await page.waitForSelector('#own-skipped:not([hidden])', { timeout: SLOW });
  const skipped = await text(page, '#own-skipped-list');
  assert.match(skipped, /empty\.png: 빈 파일입니다/);
  assert.match(skipped, /notes\.txt: 그림으로 읽을 수 없습니다/);
  assert.match(skipped, /pictures\.zip\/\.\.\/evil\.png: 압축 파일의 최상위 폴더 밖을 가리킵니다/);
  // A whole archive the core cannot read: its kind in Korean, its sentence as detail.
  assert.match(skipped, /broken\.zip: 학습 데이터를 읽을 수 없습니다\. 자세히: the file is not a zip archive/);
  assert.doesNotMatch(skipped, /is empty|cannot be decoded/);
  // Switched, the list is said again in English.
  await page.selectOption('#language', 'en');
  assert.match(await text(page, '#own-skipped-list'), /empty\.png: is empty/);
  assert.match(await text(page, '#own-status'), /^Only 0 of the files are usable pictures/);
  assert.deepEqual(errors, []);
  await close();
});

test('the curves and the census name the same step', async () => {
  const { page, errors, close } = await open('#batch=8&seed=3&backend=cpu');
  await ready(page);
  for (const step of [1, 2]) {
    await page.click('#step');
    await waitForStep(page, step);
    await page.waitForFunction((s) => window.ganvas.censusStep === s, step, { timeout: SLOW });
    for (const chart of ['#loss-chart', '#prob-chart']) {
      await page.waitForFunction(([c, s]) => document.querySelector(c).dataset.lastStep === String(s), [chart, step], { timeout: SLOW });
    }
    assert.match(await text(page, '#census-count'), new RegExp(`at step ${step}\\b`));
  }
  assert.deepEqual(errors, []);
  await close();
});

test('the formulas fit their card or visibly scroll, on a phone and in Korean on a laptop', async () => {
  for (const [hash, width, height] of [['#backend=cpu', 390, 844], ['#backend=cpu&lang=ko', 1280, 800]]) {
    const { page, errors, close } = await open(hash, { viewport: { width, height } });
    await ready(page);
    await page.click('.parts a[href="#theory-part"]');
    await page.evaluate(() => document.querySelectorAll('#theory-part details').forEach((d) => { d.open = true; }));
    const formulas = await page.locator('#theory-part math[display="block"]').evaluateAll((ms) => ms.map((m) => ({
      overflows: m.scrollWidth > m.clientWidth + 1,
      scrolls: getComputedStyle(m).overflowX === 'scroll',
      inside: m.getBoundingClientRect().right <= document.documentElement.clientWidth,
    })));
    assert.ok(formulas.length >= 3, 'the theory has its formulas');
    for (const [i, f] of formulas.entries()) {
      assert.ok(f.inside, `formula ${i} stays within the page at ${width}px`);
      assert.ok(!f.overflows || f.scrolls, `formula ${i} is cut off without a scrollbar at ${width}px`);
    }
    if (width > 1000) assert.ok(formulas.every((f) => !f.overflows), 'on a laptop every formula fits whole');
    assert.equal(await sidewaysOverflow(page), 0, 'nothing scrolls sideways');
    assert.deepEqual(errors, []);
    await close();
  }
});
