// How the browser tests start Debian's Firefox ESR: headless, driven by Puppeteer
// over WebDriver BiDi (Playwright's Firefox is a patched build that cannot be
// downloaded here). Firefox's own WebGPU (on wgpu) is switched on and allowed past
// its blocklist, so on this machine it finds lavapipe, a software adapter.
import puppeteer from 'puppeteer-core';

export const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';

/**
 * A Puppeteer browser. `locale`: the language pages see (navigator.language and
 * Accept-Language), a preference of the whole browser in Firefox; `downloads`: the
 * folder downloads are saved into without asking.
 */
export function launchFirefox({ locale = 'en-US', downloads = undefined } = {}) {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: {
      'dom.webgpu.enabled': true,
      'gfx.webgpu.ignore-blocklist': true,
      'intl.accept_languages': `${locale}, ${locale.split('-')[0]}`,
      ...(downloads ? {
        'browser.download.folderList': 2,
        'browser.download.dir': downloads,
        'browser.download.useDownloadDir': true,
        'browser.download.always_ask_before_handling_new_types': false,
        'browser.download.start_downloads_in_tmp_dir': false,
      } : {}),
      // No update checks, telemetry or other traffic a closed network refuses.
      'app.update.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'network.captive-portal-service.enabled': false,
    },
  });
}
