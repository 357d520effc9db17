// Registers the staff app's service worker (offline shell, /sw.js; nothing personal is cached)
// when the app runs pinned to the home screen (display-mode standalone): that is where a page
// opened without a network should say so in the app's words. In a browser tab the browser's
// own offline page is as good, and pages load with no worker in between.
(function () {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) { return; }
  var me = document.currentScript;
  var installed = window.matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
  if (!installed) { return; }
  window.addEventListener('load', function () {
    navigator.serviceWorker.register(me.dataset.sw, {scope: '/'}).catch(function () { /* no offline shell */ });
  });
})();
