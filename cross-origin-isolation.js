// @ts-check
// The page's service worker: it adds the two headers that make the page
// cross-origin isolated (which the CPU path's threads need: shared memory) to every
// response of this site, for static hosts that cannot send them (GitHub Pages).
// www/isolation.js registers it and reloads the page once, so that the page itself
// arrives through it. Here beside index.html, because a service worker only controls
// pages at or below its own folder. `cargo xtask serve` sends the headers itself.

const scope = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

scope.addEventListener('install', () => scope.skipWaiting());
scope.addEventListener('activate', (event) => event.waitUntil(scope.clients.claim()));

scope.addEventListener('fetch', (event) => {
  const request = event.request;
  // Requests the browser only answers from its cache may not be fetched again here.
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(fetch(request).then(isolated));
});

/** The response with the isolating headers (opaque ones cannot be changed). @param {Response} response */
function isolated(response) {
  if (response.status === 0) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
