// The DCGAN on the page (issue 25): chosen in the settings or by a link, trained on
// MNIST padded to 32×32 on both backends, read by the census, carried by the link,
// saved and loaded back into a page that was on the MLP.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, close as closeBrowser, drawnPictures, gridPixels, open, ready, saveCheckpoint, text, waitForStep, SLOW } from './harness.mjs';

before(launch);
after(closeBrowser);

for (const backend of ['cpu', 'gpu']) {
  test(`a DCGAN link trains on the ${backend.toUpperCase()}, draws 32×32 samples and the census reads them`, async () => {
    const { page, errors, close } = await open(`#backend=${backend}&model=1&width=4&batch=8&seed=3&until=2&autostart=1`);
    await ready(page);
    await waitForStep(page, 2);
    await page.waitForFunction(() => window.ganvas.censusStep === 2, null, { timeout: SLOW });
    // 8 × 8 cells of 32 pixels, with 2-pixel borders.
    assert.equal(await page.evaluate(() => document.getElementById('grid').width), 8 * 34 + 2);
    assert.match(await text(page, '#census-count'), /2,048 samples at step 2/);
    // The page says its grid uses the running statistics.
    assert.equal(await page.isVisible('#eval-note'), true);
    const config = await page.evaluate(() => JSON.parse(window.ganvas.backend.configJson));
    assert.deepEqual(config.model, { kind: 'dcgan', image_size: 32, channels: 1, width: 4 });
    assert.equal(await page.inputValue('#settings select[name="model"]'), '1');
    const link = new URLSearchParams(new URL(await page.inputValue('#share-link')).hash.slice(1));
    assert.deepEqual([link.get('model'), link.get('width')], ['1', '4']);
    // A narrow DCGAN needs no warning about the CPU's speed.
    assert.equal(await page.locator('#notices .msg', { hasText: 'DCGAN step is heavy' }).count(), 0);
    assert.deepEqual(errors, []);
    await close();
  });
}

test('a wide DCGAN on the CPU says how slow it is and what helps; a DCGAN checkpoint switches an MLP page to it', async () => {
  const { page, errors, close } = await open('#backend=cpu&model=1&width=4&batch=8&seed=5');
  await ready(page);
  await page.click('#step');
  await waitForStep(page, 1);
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  const saved = await saveCheckpoint(page, downloads);
  // Back to the MLP, then the DCGAN's checkpoint: the page follows the checkpoint.
  await page.selectOption('#settings select[name="model"]', '0');
  await page.click('#reset');
  await page.waitForFunction(() => JSON.parse(window.ganvas.backend.configJson).model.kind === 'mlp', null, { timeout: SLOW });
  assert.equal(await page.isVisible('#eval-note'), false, 'the MLP has no running statistics');
  await page.setInputFiles('#load', saved);
  await page.waitForFunction(() => /Loaded a checkpoint at step 1/.test(document.getElementById('message').textContent), null, {
    timeout: SLOW,
  });
  assert.equal(await page.inputValue('#settings select[name="model"]'), '1');
  assert.equal(await page.evaluate(() => document.getElementById('grid').width), 8 * 34 + 2);
  await page.click('#step');
  await waitForStep(page, 2);
  // Wider, on the CPU: a notice says so and names the width that trains at a watchable speed.
  await page.fill('#settings input[name="width"]', '64');
  await page.click('#reset');
  await page.waitForFunction(() => /DCGAN step is heavy/.test(document.getElementById('notices').textContent), null, { timeout: SLOW });
  assert.match(await text(page, '#notices'), /Width 16 still learns digits/);
  assert.deepEqual(errors, []);
  await close();
});

test('64×64 pictures on the CPU bring their own speeds, even at a narrow width, and name 32×32 as what helps', async () => {
  const { page, errors, close } = await open('#backend=cpu&model=1&width=4&batch=8&seed=3');
  await ready(page);
  await page.selectOption('#own-shape', 'colour64');
  await page.setInputFiles('#own-files', (await drawnPictures(page, 100)).map((p) => ({ ...p, mimeType: 'image/png' })));
  await page.waitForSelector('#own-use:not([hidden])', { timeout: SLOW });
  await page.click('#own-use');
  await page.waitForFunction(() => /DCGAN step on 64×64 pictures/.test(document.getElementById('notices').textContent), null, {
    timeout: SLOW,
  });
  const config = await page.evaluate(() => JSON.parse(window.ganvas.backend.configJson));
  assert.deepEqual(config.model, { kind: 'dcgan', image_size: 64, channels: 3, width: 4 });
  assert.match(await text(page, '#notices'), /prepared at 32×32 trained at 23 steps a second/);
  assert.doesNotMatch(await text(page, '#notices'), /Width 16 still learns digits/, 'one notice, the one for its size');
  assert.deepEqual(errors, []);
  await close();
});

for (const backend of ['cpu', 'gpu']) {
  test(`the DCGAN's half steps, D's view, in-betweens and walk work on the ${backend.toUpperCase()}`, async () => {
    const { page, errors, close } = await open(`#backend=${backend}&model=1&width=4&batch=8&seed=3`);
    await ready(page);
    // D's step lowers D's loss (D sees the reals and the fakes in a pass each).
    await page.click('#d-step');
    await page.waitForFunction(() => window.ganvas.halfStep?.half === 'discriminator', null, { timeout: SLOW });
    const what = await text(page, '#half-step-what');
    const [, lossBefore, lossAfter] = what.match(/D loss (\d\.\d+) → (\d\.\d+)/);
    assert.ok(Number(lossAfter) < Number(lossBefore), what);
    assert.equal(await page.isVisible('#half-reals'), true);
    // G's step raises D(G(z)).
    await page.click('#g-step');
    await page.waitForFunction(() => window.ganvas.halfStep?.half === 'generator', null, { timeout: SLOW });
    await waitForStep(page, 1);
    const g = await page.evaluate(() => {
      const v = window.ganvas.halfStep.view;
      const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
      return { before: mean(v.fakeScores), after: mean(v.fakeScoresAfter) };
    });
    assert.ok(g.after > g.before, `G's step raises D(G(z)): ${g.before} -> ${g.after}`);
    // D's view of the grid's 64 samples and the last batch's 8 reals.
    await page.waitForFunction(() => document.getElementById('grid').dataset.drawnStep === '1', null, { timeout: SLOW });
    const scores = await page.evaluate(() => ({ fake: [...window.ganvas.scores.fake], real: [...window.ganvas.scores.real] }));
    assert.deepEqual([scores.fake.length, scores.real.length], [64, 8]);
    assert.ok([...scores.fake, ...scores.real].every((v) => v > 0 && v < 1));
    // Two chosen samples: ten in-betweens of 32-pixel images, and their latent vectors.
    const box = await page.locator('#grid').boundingBox();
    const cell = box.width / 8;
    await page.click('#grid', { position: { x: cell / 2, y: cell / 2 } });
    await page.click('#grid', { position: { x: 1.5 * cell, y: 1.5 * cell } });
    await page.waitForFunction(() => document.getElementById('between').dataset.cells === '0-9', null, { timeout: SLOW });
    const size = await page.evaluate(() => [document.getElementById('between').width, document.getElementById('between').height]);
    assert.deepEqual(size, [10 * 34 + 2, 34 + 2]);
    // The walk moves the grid; stopped, the grid is the preview again.
    const before = await gridPixels(page);
    await page.click('#walk');
    await page.waitForFunction(() => Number(document.getElementById('grid').dataset.walkFrames) >= 3, null, { timeout: SLOW });
    assert.notEqual((await gridPixels(page)).hash, before.hash, 'the walk moves the grid');
    await page.click('#walk');
    assert.equal((await gridPixels(page)).hash, before.hash);
    assert.deepEqual(errors, []);
    await close();
  });
}
