// Palette, context pad and replace menu without the elements the engine does not run
// (data objects and stores, complex gateways, transactions, send/receive/business-rule
// tasks, conditional/link/compensation/cancel events, loops and multi-instance markers).
import { PopupEntries } from 'bpmn-js/lib/features/popup-menu/PopupEntries';
import { isSupportedTarget } from './supported.js';

const LOW = 500;

/** replace-menu action names ("replace-with-<id>") whose target the engine does not run */
const UNSUPPORTED_ACTIONS = new Set(
  Object.keys(PopupEntries)
    .filter((id) => !isSupportedTarget(PopupEntries[id].target))
    .map((id) => 'replace-with-' + id)
);

const UNSUPPORTED_PALETTE = ['create.data-object', 'create.data-store'];
const UNSUPPORTED_CONTEXT_PAD = [
  'append.receive-task', 'append.condition-intermediate-event', 'append.compensation-activity'
];
const UNSUPPORTED_HEADER = [
  'toggle-loop', 'toggle-parallel-mi', 'toggle-sequential-mi', 'toggle-is-collection',
  'toggle-participant-multiplicity', 'toggle-adhoc'
];

function dropKeys(entries, keys) {
  keys.forEach((key) => { delete entries[key]; });
  return entries;
}

function StudioPalette(palette, create, elementFactory, translate) {
  palette.registerProvider(LOW, this);

  function createShape(type, options) {
    return function(event) {
      const shape = elementFactory.createShape(Object.assign({ type }, options || {}));
      create.start(event, shape);
    };
  }

  function entry(group, className, title, type, options) {
    const action = createShape(type, options);
    return { group, className, title, action: { dragstart: action, click: action } };
  }

  this.getPaletteEntries = function() {
    return function(entries) {
      dropKeys(entries, UNSUPPORTED_PALETTE);
      // the tasks the engine does something with, one click away (a plain task only passes)
      const extra = {
        'create.user-task': entry('activity', 'bpmn-icon-user-task', translate('Create user task'),
          'bpmn:UserTask'),
        'create.service-task': entry('activity', 'bpmn-icon-service-task',
          translate('Create service task'), 'bpmn:ServiceTask'),
        'create.timer-event': entry('event', 'bpmn-icon-intermediate-event-catch-timer',
          translate('Create timer event'), 'bpmn:IntermediateCatchEvent',
          { eventDefinitionType: 'bpmn:TimerEventDefinition' })
      };
      // keep the palette's group order: insert after the plain task
      const out = {};
      Object.keys(entries).forEach((key) => {
        out[key] = entries[key];
        if (key === 'create.task') {
          out['create.user-task'] = extra['create.user-task'];
          out['create.service-task'] = extra['create.service-task'];
        }
        if (key === 'create.intermediate-event') out['create.timer-event'] = extra['create.timer-event'];
      });
      Object.keys(extra).forEach((key) => { if (!out[key]) out[key] = extra[key]; });
      return out;
    };
  };
}
StudioPalette.$inject = ['palette', 'create', 'elementFactory', 'translate'];

function StudioContextPad(contextPad) {
  contextPad.registerProvider(LOW, this);
  this.getContextPadEntries = function() {
    return function(entries) { return dropKeys(entries, UNSUPPORTED_CONTEXT_PAD); };
  };
}
StudioContextPad.$inject = ['contextPad'];

function StudioReplaceMenu(popupMenu) {
  popupMenu.registerProvider('bpmn-replace', LOW, this);
  this.getPopupMenuEntries = function() {
    return function(entries) {
      Object.keys(entries).forEach((key) => {
        if (UNSUPPORTED_ACTIONS.has(key)) delete entries[key];
      });
      return entries;
    };
  };
  this.getPopupMenuHeaderEntries = function() {
    return function(entries) { return dropKeys(entries, UNSUPPORTED_HEADER); };
  };
}
StudioReplaceMenu.$inject = ['popupMenu'];

export default {
  __init__: ['studioPalette', 'studioContextPad', 'studioReplaceMenu'],
  studioPalette: ['type', StudioPalette],
  studioContextPad: ['type', StudioContextPad],
  studioReplaceMenu: ['type', StudioReplaceMenu]
};

export { UNSUPPORTED_ACTIONS };
