// The studio's BPMN modeler (issue #20 part 1 and the diagram half of part 3).
// Bundled by scripts/setup.sh with esbuild into app/static/vendor/studio-modeler.js (+ .css).
// Talks to the editor page only through window.studio (app/static/studio/studio.js):
// `open` {path, kind: "bpmn"} loads a file, studio.saveFile(path, xml) saves it (Save button
// and debounced on change), `findings` marks the elements the validator named.
import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import lintModule from 'bpmn-js-bpmnlint';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import 'bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css';
import './modeler.css';

import camundaModdle from './camunda.json';
import lintConfig from './lint-config.js';
import RestrictModule from './restrict.js';
import PropertiesModule from './provider.js';
import FindingsModule from './findings.js';
import { TranslateModule, t } from './i18n.js';

const SAVE_DELAY_MS = 1500;
const EMPTY_REGISTRY = { forms: [], roles: [], operations: [] };

function emptyDiagram(path) {
  const id = (path.split('/').pop() || 'process').replace(/\.bpmn$/, '').replace(/[^A-Za-z0-9_]/g, '_') || 'process';
  const pid = /^[A-Za-z_]/.test(id) ? id : 'p_' + id;
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="${pid}_definitions" targetNamespace="https://estateflow.org/bpmn/${pid}">
  <bpmn:process id="${pid}" isExecutable="true">
    <bpmn:startEvent id="start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="${pid}_diagram">
    <bpmndi:BPMNPlane id="${pid}_plane" bpmnElement="${pid}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="160" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;
}

function url(studio, key, fallback) {
  const urls = (studio.data && studio.data.urls) || {};
  return urls[key] || fallback;
}

class StudioModeler {
  constructor(studio, root) {
    this.studio = studio;
    this.root = root;
    this.path = null;
    this.loading = false;
    this.dirty = false;
    this.timer = null;
    this.registryData = EMPTY_REGISTRY;
    this.findings = [];
    this.status = root.querySelector('#studio-modeler-status');
    const context = {
      registry: () => this.registryData,
      checkExpression: (expression) => this.checkExpression(expression)
    };
    this.modeler = new BpmnModeler({
      container: root.querySelector('#studio-canvas'),
      propertiesPanel: {
        parent: root.querySelector('#studio-properties'),
        layout: { groups: { general: { open: true }, 'studio-task': { open: true },
          'studio-operation': { open: true }, 'studio-condition': { open: true },
          'studio-timer': { open: true } } }
      },
      linting: { bpmnlint: lintConfig, active: true },
      keyboard: { bind: false },
      additionalModules: [
        BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, RestrictModule, PropertiesModule,
        FindingsModule, lintModule, TranslateModule,
        { studioContext: ['value', context] }
      ],
      moddleExtensions: { camunda: camundaModdle }
    });
    this.modeler.on('commandStack.changed', () => this.changed());
    const save = root.querySelector('#studio-modeler-save');
    if (save) save.addEventListener('click', () => this.save());
    studio.on('open', (payload) => this.onOpen(payload || {}));
    studio.on('findings', (payload) => this.showFindings((payload || {}).findings || []));
    // a form added or removed changes what a user task may choose
    studio.on('files', () => this.loadRegistry());
    studio.on('reveal', (payload) => this.reveal(payload || {}));
    this.loadRegistry();
  }

  loadRegistry() {
    const module = this.studio.data && this.studio.data.module;
    const registryUrl = url(this.studio, 'registry', '/studio/api/registry') ;
    const full = registryUrl + (registryUrl.includes('?') ? '' : '?module=' + encodeURIComponent(module || ''));
    return fetch(full, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : EMPTY_REGISTRY))
      .then((data) => {
        this.registryData = Object.assign({}, EMPTY_REGISTRY, data || {});
        this.refreshPanel();
      }, () => {});
  }

  checkExpression(expression) {
    const target = url(this.studio, 'check_expression', '/studio/api/check-expression');
    return this.studio.post(target, { expression });
  }

  refreshPanel() {
    const selection = this.modeler.get('selection').get();
    const canvas = this.modeler.get('canvas');
    const elements = selection.length ? selection : [canvas.getRootElement()];
    this.modeler.get('eventBus').fire('elements.changed', { elements });
  }

  setStatus(text, kind) {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.dataset.state = kind || '';
  }

  onOpen(payload) {
    if (payload.kind !== 'bpmn') {
      this.flush();
      this.root.hidden = true;
      return;
    }
    this.root.hidden = false;
    if (payload.path === this.path) return;
    this.flush();
    this.load(payload.path);
  }

  load(path) {
    this.path = path;
    const files = this.studio.files || (this.studio.data && this.studio.data.files) || {};
    const xml = files[path] && files[path].trim() ? files[path] : emptyDiagram(path);
    this.loading = true;
    return this.modeler.importXML(xml).then((result) => {
      this.loading = false;
      this.dirty = false;
      this.modeler.get('canvas').zoom('fit-viewport', 'auto');
      const warnings = (result && result.warnings) || [];
      this.setStatus(warnings.length ? t('Opened with {n} import warnings', { n: warnings.length }) : '', warnings.length ? 'warning' : '');
      this.showFindings(this.findings);
      this.root.dataset.loaded = path;
      if (this.pendingReveal) { const reveal = this.pendingReveal; this.pendingReveal = null; this.reveal(reveal); }
    }).catch((err) => {
      this.loading = false;
      this.setStatus(t('The diagram cannot be opened: {message}', { message: err.message }), 'error');
      this.root.dataset.loaded = '';
    });
  }

  changed() {
    if (this.loading || !this.path) return;
    this.dirty = true;
    this.setStatus(t('Unsaved changes'), 'dirty');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), SAVE_DELAY_MS);
  }

  flush() {
    if (this.dirty) this.save();
  }

  /**
   * Save the open file. Saves run one after the other (an auto-save still in flight must not
   * land after a newer one); the diagram is serialised at once (bpmn-js writes the XML in
   * the calling tick), so a file opened meanwhile cannot end up under this path.
   */
  save() {
    clearTimeout(this.timer);
    if (!this.path) return Promise.resolve(null);
    const path = this.path;
    this.dirty = false;
    this.pending = (this.pending || 0) + 1;
    this.setStatus(t('Saving…'), 'saving');
    const written = this.modeler.saveXML({ format: true });
    this.chain = (this.chain || Promise.resolve()).then(() => this.send(path, written));
    return this.chain;
  }

  send(path, written) {
    return written.then(({ xml }) => this.studio.saveFile(path, xml))
      .then((result) => {
        if (result && result.error) throw new Error(result.error);
        this.pending -= 1;
        if (!this.pending) this.setStatus(this.dirty ? t('Unsaved changes') : t('Saved'), this.dirty ? 'dirty' : 'saved');
        return result;
      }).catch((err) => {
        this.pending = Math.max(0, this.pending - 1);
        this.dirty = true;
        this.setStatus(t('Not saved: {message}', { message: (err && err.message) || err }), 'error');
        return null;
      });
  }

  /** a click on a finding in the page's list: select and show its element */
  reveal(payload) {
    if (payload.path !== this.path || !payload.element) return;
    if (this.loading) { this.pendingReveal = payload; return; }
    const element = this.modeler.get('elementRegistry').get(payload.element);
    if (!element) return;
    this.modeler.get('selection').select(element);
    this.modeler.get('canvas').scrollToElement(element);
  }

  showFindings(findings) {
    this.findings = findings || [];
    const mine = this.findings.filter((f) => f.path === this.path);
    const placed = this.modeler.get('studioFindings').show(mine);
    const list = this.root.querySelector('#studio-modeler-findings');
    if (list) {
      // findings the diagram cannot show on an element (the file, the process)
      const rest = mine.filter((f) => !placed.includes(f));
      list.innerHTML = '';
      rest.forEach((f) => {
        const li = document.createElement('li');
        li.className = f.severity === 'warning' ? 'is-warning' : 'is-error';
        li.textContent = (f.element ? f.element + ': ' : '') + f.message;
        list.appendChild(li);
      });
    }
  }
}

function start() {
  const root = document.getElementById('studio-process');
  if (!root || !root.querySelector('#studio-canvas') || root.dataset.modeler) return;
  if (!window.studio) {
    setTimeout(start, 50);
    return;
  }
  root.dataset.modeler = 'ready';
  const instance = new StudioModeler(window.studio, root);
  window.studioModeler = instance;
  // the page may have opened a file before this script ran
  if (window.studio.currentPath && /\.bpmn$/.test(window.studio.currentPath)) {
    instance.onOpen({ path: window.studio.currentPath, kind: 'bpmn' });
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
