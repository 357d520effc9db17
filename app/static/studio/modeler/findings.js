// The validator's findings (studio `findings` event, the `estateflow validate` words) on the
// diagram: the element is coloured, a badge shows the count, hover or click shows the messages.
import { t } from './i18n.js';

const MARKERS = ['studio-finding-error', 'studio-finding-warning'];

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

export function FindingsOverlays(eventBus, overlays, canvas, elementRegistry) {
  let marked = [];
  let current = [];

  function clear() {
    overlays.remove({ type: 'studio-finding' });
    // an element may be gone since (deleted, replaced, split by a dropped shape)
    marked.filter((id) => elementRegistry.get(id)).forEach((id) => MARKERS.forEach((m) => canvas.removeMarker(id, m)));
    marked = [];
  }

  /** Show `findings` (already filtered to this file); returns the ones placed on an element. */
  this.show = function(findings) {
    current = findings || [];
    clear();
    const byElement = {};
    current.forEach((f) => {
      if (!f.element) return;
      (byElement[f.element] = byElement[f.element] || []).push(f);
    });
    const placed = [];
    Object.keys(byElement).forEach((id) => {
      const element = elementRegistry.get(id);
      if (!element || element.type === 'label') return;
      const list = byElement[id];
      const isError = list.some((f) => f.severity !== 'warning');
      canvas.addMarker(id, isError ? MARKERS[0] : MARKERS[1]);
      marked.push(id);
      const text = list.map((f) => (f.line ? t('line {line}', { line: f.line }) + ': ' : '') + f.message);
      const html = document.createElement('div');
      html.className = 'studio-finding-badge ' + (isError ? 'is-error' : 'is-warning');
      html.setAttribute('data-element', id);
      html.setAttribute('title', text.join('\n'));
      html.setAttribute('tabindex', '0');
      html.innerHTML = '<span class="studio-finding-count">' + list.length + '</span>' +
        '<div class="studio-finding-popup">' + text.map((m) => '<p>' + escapeHtml(m) + '</p>').join('') + '</div>';
      html.addEventListener('click', (event) => {
        event.stopPropagation();
        html.classList.toggle('is-open');
      });
      overlays.add(id, 'studio-finding', { position: { top: -12, left: -12 }, html });
      placed.push(...list);
    });
    return placed;
  };

  // a re-import (another file, a reload) starts clean; the same file's findings come back
  // with the next `findings` event
  eventBus.on('import.done', () => { marked = []; });
}
FindingsOverlays.$inject = ['eventBus', 'overlays', 'canvas', 'elementRegistry'];

export default {
  __init__: ['studioFindings'],
  studioFindings: ['type', FindingsOverlays]
};
