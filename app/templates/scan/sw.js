// The staff app's offline shell (served at /sw.js, scope /). Caches only the shell: the app's
// CSS, icons, manifest and an offline page. Pages are never cached — they show residents' names,
// phones and bills — so a page opened without a network answers with the offline page.
// /inspection/ belongs to the inspection module's own worker (queued check-ins): left alone.
const CACHE = {{ version|tojson }};
const SHELL = {{ shell|tojson }};

self.addEventListener('install', e => e.waitUntil(
  caches.open(CACHE).then(c => c.addAll(SHELL)).then(() => self.skipWaiting())));
self.addEventListener('activate', e => e.waitUntil(
  caches.keys().then(keys => Promise.all(keys.filter(k => k.startsWith('staff-shell-') && k !== CACHE)
    .map(k => caches.delete(k))))
    .then(() => self.clients.claim())));

self.addEventListener('fetch', e => {
  const req = e.request, url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/inspection/')) {
    return;
  }
  if (req.mode === 'navigate') {  // a page: always from the network; offline, the offline page
    e.respondWith(fetch(req).catch(async () => (await caches.match('/offline')) ||
      new Response('offline', {status: 503, headers: {'Content-Type': 'text/plain'}})));
  } else if (!self.navigator.onLine && SHELL.includes(url.pathname)) {  // the offline page's CSS and icon
    e.respondWith(caches.match(url.pathname).then(r => r || Response.error()));
  }
});
