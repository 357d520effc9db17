// Registers the staff app's service worker (offline shell, /sw.js); nothing personal is cached.
(function () {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) { return; }
  var me = document.currentScript;
  window.addEventListener('load', function () {
    navigator.serviceWorker.register(me.dataset.sw, {scope: '/'}).catch(function () { /* no offline shell */ });
  });
})();
