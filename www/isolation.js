// @ts-check
// Cross-origin isolation, which the CPU path's threads need (shared memory between
// workers): a server that sends its two headers gives it (`cargo xtask serve` does);
// on a static host that cannot, the site's service worker (cross-origin-isolation.js,
// beside index.html) adds them, from the load after it first takes control. Without
// either, the CPU path runs single-threaded and the Device readout says why.

// Set before the one reload, so that a browser where the worker cannot isolate the
// page does not reload it forever.
const RELOADED = 'ganvas-isolation-reload';
const REGISTER_MS = 5000;

/** Registers the service worker where it is needed; resolves true when the page is reloading into isolation. */
export async function isolate() {
  if (crossOriginIsolated || !isSecureContext || !('serviceWorker' in navigator)) return false;
  try {
    const registering = navigator.serviceWorker.register(new URL('../cross-origin-isolation.js', import.meta.url));
    // A registration that never settles (a browser blocking workers that way) must not stall the page.
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error('no service worker')), REGISTER_MS));
    await Promise.race([registering, late]);
    if (navigator.serviceWorker.controller || sessionStorage.getItem(RELOADED)) return false;
    await navigator.serviceWorker.ready;
    sessionStorage.setItem(RELOADED, '1');
    location.reload();
    return true;
  } catch {
    // No worker (a host without the file, storage blocked): single-threaded.
    return false;
  }
}
