// Scans a point's QR code with the phone camera and sends it to the run's check-in form.
// Uses the browser's BarcodeDetector where there is one, else jsQR (served from /static/vendor);
// without a camera the manual code field is the way in.
(function () {
  var me = document.currentScript;
  var start = document.getElementById('scan-start');
  var video = document.getElementById('scan-video');
  var status = document.getElementById('scan-status');
  var form = document.getElementById('code-form');
  var input = document.getElementById('code');
  if (!start || !form) { return; }
  function say(text) { status.textContent = text || ''; }
  function found(code) {
    input.value = code;
    if (video.srcObject) { video.srcObject.getTracks().forEach(function (t) { t.stop(); }); }
    form.submit();
  }
  function loop(detect) {
    var canvas = document.createElement('canvas');
    var ctx = canvas.getContext('2d', {willReadFrequently: true});
    (function tick() {
      if (!video.srcObject) { return; }
      if (video.readyState >= 2) {
        detect(canvas, ctx).then(function (code) { if (code) { found(code); } else { requestAnimationFrame(tick); } },
                                 function () { requestAnimationFrame(tick); });
      } else { requestAnimationFrame(tick); }
    })();
  }
  function detector() {
    if ('BarcodeDetector' in window) {
      var bd = new window.BarcodeDetector({formats: ['qr_code']});
      return function () { return bd.detect(video).then(function (r) { return r.length ? r[0].rawValue : null; }); };
    }
    if (window.jsQR) {
      return function (canvas, ctx) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        var r = window.jsQR(img.data, img.width, img.height);
        return Promise.resolve(r ? r.data : null);
      };
    }
    return null;
  }
  // Offline: a typed or scanned code opens the point's page cached by the service worker.
  function pointUrl(code) {
    var parts = code.trim().split(':');
    var bare = parts.length === 3 && parts[0].toUpperCase() === 'EFP' ? parts[2] : code.trim();
    var li = document.querySelector('#run-points [data-point="' + bare.replace(/"/g, '') + '"]');
    return li ? li.dataset.url : null;
  }
  form.addEventListener('submit', function (e) {
    if (navigator.onLine) { return; }
    e.preventDefault();
    var target = pointUrl(input.value);
    if (target) { window.location.href = target; } else { say(me.dataset.offline); }
  });
  var queue = document.getElementById('offline-queue');
  if ('serviceWorker' in navigator && me.dataset.sw) {
    navigator.serviceWorker.addEventListener('message', function (e) {
      if (e.data && e.data.type === 'queued' && queue) {
        queue.hidden = !e.data.count;
        queue.textContent = queue.dataset.text.replace('{n}', e.data.count);
        if (e.data.sent) { window.location.reload(); }  // show what the server made of them
      }
    });
    navigator.serviceWorker.register(me.dataset.sw, {scope: '/inspection/'}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      var urls = [me.dataset.run].concat(Array.prototype.map.call(
        document.querySelectorAll('#run-points [data-state=todo]'), function (li) { return li.dataset.url; }));
      reg.active.postMessage({type: 'precache', urls: urls});
      var since = Math.round(performance.timeOrigin);  // this page shows what the server had then
      reg.active.postMessage({type: 'flush', since: since});
      window.addEventListener('online', function () { reg.active.postMessage({type: 'flush', since: since}); });
    }).catch(function () { /* no offline queue: check-ins need the network */ });
  }
  start.addEventListener('click', function () {
    var detect = detector();
    if (!detect || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(me.dataset.unsupported); input.focus(); return;
    }
    navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}, audio: false}).then(function (stream) {
      video.srcObject = stream; video.style.display = 'block'; video.play(); say(me.dataset.looking); loop(detect);
    }, function () { say(me.dataset.denied); input.focus(); });
  });
})();
