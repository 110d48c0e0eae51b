// Scripts a test or benchmark puts into a page before the page's own (Playwright's
// addInitScript, Puppeteer's evaluateOnNewDocument), so that the page runs as in a
// browser without the feature.

/** No service workers: the page cannot isolate itself on a host without headers. */
export function withoutServiceWorkers() {
  Object.defineProperty(Navigator.prototype, 'serviceWorker', { get: () => undefined });
}

/**
 * No WebAssembly relaxed SIMD: a module with its f32x4.relaxed_madd (0xfd 0x85 0x02)
 * does not validate, so the CPU worker loads the simd128 modules.
 */
export function withoutRelaxedSimd() {
  const validate = WebAssembly.validate;
  WebAssembly.validate = (bytes) => {
    const b = new Uint8Array(ArrayBuffer.isView(bytes) ? bytes.buffer : bytes);
    return !b.some((v, i) => v === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02) && validate(bytes);
  };
}
