// The modeler's words come from the page (app/templates/studio/_modeler.html renders every
// string through Flask-Babel into <script id="studio-modeler-i18n">), so the zh catalogue
// stays the one place for translations. bpmn-js's own labels go through the same table.

let table = null;

function load() {
  if (table) return table;
  table = {};
  const node = document.getElementById('studio-modeler-i18n');
  if (node) {
    try { table = JSON.parse(node.textContent) || {}; } catch (e) { table = {}; }
  }
  return table;
}

/** Translate an English text; `{name}` placeholders are filled from `values`. */
export function t(text, values) {
  const out = load()[text] || text;
  if (!values) return out;
  return out.replace(/{([^}]+)}/g, (all, key) => (key in values ? String(values[key]) : all));
}

/** A diagram-js `translate` service over the same table. */
export const TranslateModule = {
  translate: ['value', t]
};
