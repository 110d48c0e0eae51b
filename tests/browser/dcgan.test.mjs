// The DCGAN on the page (issue 25): chosen in the settings or by a link, trained on
// MNIST padded to 32×32 on both backends, read by the census, carried by the link,
// saved and loaded back into a page that was on the MLP.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, close as closeBrowser, open, ready, saveCheckpoint, text, waitForStep, SLOW } from './harness.mjs';

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
  await page.waitForSelector('#notices .msg:has-text("DCGAN step is heavy")', { timeout: SLOW });
  assert.match(await text(page, '#notices'), /Width 16 still learns digits/);
  assert.deepEqual(errors, []);
  await close();
});
