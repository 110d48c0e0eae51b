import { launchFirefox } from './firefox.mjs';
const b = await launchFirefox();
for (let i = 0; i < 8; i++) {
  const ctx = await b.createBrowserContext();
  const page = await ctx.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()} ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror ${e.message}`));
  const t = Date.now();
  await page.goto('http://127.0.0.1:8124/#batch=8&seed=3&backend=cpu');
  try {
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
    console.log(i, 'ready in', Date.now() - t);
  } catch {
    console.log(i, 'STUCK', await page.evaluate(() => [document.getElementById('load-text')?.textContent, document.getElementById('readout-adapter')?.textContent, crossOriginIsolated]), logs);
  }
  await ctx.close();
}
await b.close();
