// Offline queue for patrol check-ins (served at /inspection/sw.js, scope /inspection/).
// Pages of a run and its points are cached while online; a check-in posted without a network is
// kept in IndexedDB with everything typed and photographed, including the phone's time of the
// check-in (the form's checked_at field), and sent when the network is back — with a fresh CSRF
// token (GET /inspection/token), so a check-in kept longer than the token's lifetime is not refused.
const CACHE = 'inspection-pages-v1';
const DB = 'inspection-queue', STORE = 'checkins';
const TEXT = {{ text|tojson }};
const CHECKIN = /\/inspection\/runs\/\d+\/point\/\d+$/;

function db() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE, {keyPath: 'id', autoIncrement: true});
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}
async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const out = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(out && out.result !== undefined ? out.result : out);
    t.onerror = () => reject(t.error);
  });
}
const all = () => tx('readonly', s => s.getAll());
const remove = id => tx('readwrite', s => s.delete(id));

async function tell(sent) {
  const queued = (await all()).length;
  for (const c of await self.clients.matchAll()) { c.postMessage({type: 'queued', count: queued, sent: sent || 0}); }
}

let running = null, lastDelivered = 0;

// A fresh CSRF token from the signed-in session; null when offline or signed out (keep the queue).
async function freshToken() {
  try {
    const r = await fetch('/inspection/token', {credentials: 'same-origin', cache: 'no-store', redirect: 'manual'});
    return (r.ok && r.type !== 'opaqueredirect') ? (await r.json()).csrf_token : null;
  } catch (e) { return null; }
}

// One flush at a time (the page's request, the online event and Background Sync may overlap).
function flush() {
  running = running || (async () => {
    const items = await all();
    const token = items.length ? await freshToken() : null;
    if (!token) { return; }  // offline or signed out: everything stays queued
    for (const item of items) {
      const body = new FormData();
      for (const [k, v, name] of item.fields) {
        if (k === 'csrf_token') { continue; }
        name ? body.append(k, v, name) : body.append(k, v);
      }
      body.append('csrf_token', token);
      try {
        await fetch(item.url, {method: 'POST', body, credentials: 'same-origin', redirect: 'manual'});
      } catch (e) { break; }  // still offline: keep the rest
      await remove(item.id);  // delivered: the server's answer (even a refusal) shows on the run page
      lastDelivered = Date.now();
    }
  })().finally(() => { running = null; });
  return running;
}

// ``since``: when the asking page was loaded; a delivery after that means the page is stale.
async function flushAndTell(since) {
  await flush();
  await tell(lastDelivered > (since || 0) ? 1 : 0);
}

function page(message, back) {
  return new Response(`<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<body style="font:18px sans-serif;padding:16px"><p id="offline-saved">${message}</p><p><a href="${back}">${TEXT.back}</a></p>`,
    {headers: {'Content-Type': 'text/html; charset=utf-8'}});
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', e => e.waitUntil(self.clients.claim()));
self.addEventListener('message', e => {
  if (e.data && e.data.type === 'precache') {
    e.waitUntil(caches.open(CACHE).then(c => Promise.all(e.data.urls.map(u =>
      fetch(u, {credentials: 'same-origin'}).then(r => (r.ok && !r.redirected) ? c.put(u, r) : null).catch(() => null)))));
  } else if (e.data && e.data.type === 'flush') {
    e.waitUntil(flushAndTell(e.data.since));
  }
});
self.addEventListener('sync', e => { if (e.tag === 'inspection-checkins') { e.waitUntil(flushAndTell(Date.now())); } });

self.addEventListener('fetch', e => {
  const req = e.request, url = new URL(req.url);
  if (req.method === 'POST' && CHECKIN.test(url.pathname)) {
    const copy = req.clone();
    e.respondWith(fetch(req).catch(async () => {
      const form = await copy.formData();
      const fields = [];
      for (const [k, v] of form.entries()) { fields.push(typeof v === 'string' ? [k, v] : [k, v, v.name]); }
      await tx('readwrite', s => s.add({url: url.pathname, fields, queued_at: new Date().toISOString()}));
      if (self.registration.sync) { self.registration.sync.register('inspection-checkins').catch(() => null); }
      await tell();
      return page(TEXT.saved, url.pathname.replace(/\/point\/\d+$/, ''));
    }));
    return;
  }
  if (req.method === 'GET' && req.mode === 'navigate' && url.pathname.startsWith('/inspection/runs/')) {
    e.respondWith(fetch(req).then(r => {
      if (r.ok && !r.redirected) { const c = r.clone(); caches.open(CACHE).then(cache => cache.put(url.pathname, c)); }
      return r;
    }).catch(async () => (await caches.match(url.pathname)) || page(TEXT.offline, '/inspection/')));
  }
});
