// How the browser tests start Debian's Firefox ESR: headless, driven by Puppeteer
// over WebDriver BiDi (Playwright's Firefox is a patched build that cannot be
// downloaded here). Firefox's own WebGPU (on wgpu) is switched on and allowed past
// its blocklist, so on this machine it finds lavapipe, a software adapter.
import puppeteer from 'puppeteer-core';

export const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';

export function launchFirefox() {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      'dom.webgpu.enabled': true,
      'gfx.webgpu.ignore-blocklist': true,
      // No update checks, telemetry or other traffic a closed network refuses.
      'app.update.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'network.captive-portal-service.enabled': false,
    },
  });
}
