// The studio's properties groups: exactly what the engine reads, chosen from lists where the
// module knows the answer (forms, roles, operations), checked as the consultant types.
import { h } from '@bpmn-io/properties-panel/preact';
import { useEffect, useState } from '@bpmn-io/properties-panel/preact/hooks';
import {
  SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

import { t } from './i18n.js';
import { getInputParameters, getProperty, setInputParameter, setProperty } from './extensions.js';
import { UNITS, durationOf, isExpression, isoError } from './iso.js';

const LOW = 400;
/** groups of the stock bpmn provider the engine has no use for */
const DROPPED_GROUPS = ['multiInstance', 'adHocCompletion', 'compensation', 'link', 'timer'];
const TIMER_KINDS = ['timeDuration', 'timeDate', 'timeCycle'];

// ---------------------------------------------------------------------------
// small entry helpers

function attrEntry(id, label, attr, extra) {
  return Object.assign({ id, label, attr, component: AttrText, isEdited: isTextFieldEntryEdited }, extra || {});
}

function AttrText(props) {
  const { element, id, label, attr, validate, description } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    element, id, label, debounce, validate, description,
    getValue: () => getBusinessObject(element).get(attr) || '',
    setValue: (value) => modeling.updateProperties(element, { [attr]: value || undefined })
  });
}

function AttrSelect(props) {
  const { element, id, label, attr, options, onChange } = props;
  const modeling = useService('modeling');
  return h(SelectEntry, {
    element, id, label,
    getValue: () => getBusinessObject(element).get(attr) || '',
    setValue: (value) => (onChange ? onChange(value)
      : modeling.updateProperties(element, { [attr]: value || undefined })),
    getOptions: () => withCurrent(options(), getBusinessObject(element).get(attr))
  });
}

/** the list with a leading "—" and the current value kept even when the list lacks it */
function withCurrent(options, current) {
  const out = [{ value: '', label: '—' }, ...options];
  if (current && !options.some((o) => o.value === current)) {
    out.push({ value: current, label: t('{value} (not in this module)', { value: current }) });
  }
  return out;
}

// ---------------------------------------------------------------------------
// name_en

function NameEn(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    element, id, debounce, label: t('Name (English)'),
    getValue: () => getProperty(getBusinessObject(element), 'name_en'),
    setValue: (value) => setProperty(element, 'name_en', (value || '').trim(), injector)
  });
}

// ---------------------------------------------------------------------------
// user task

function userTaskGroup(element, ctx) {
  const forms = () => ctx.registry().forms.map((f) => ({ value: f, label: f }));
  const roles = () => ctx.registry().roles.map((r) => ({ value: r.code, label: r.label || r.code }));
  return {
    id: 'studio-task', label: t('Task'),
    entries: [
      { id: 'studio-form', element, label: t('Form'), attr: 'formKey', options: forms,
        component: AttrSelect, isEdited: isSelectEntryEdited },
      { id: 'studio-role', element, label: t('Candidate role'), attr: 'candidateGroups', options: roles,
        component: AttrSelect, isEdited: isSelectEntryEdited },
      attrEntry('studio-assignee', t('Assignee (username or ${expression})'), 'assignee', { element }),
      attrEntry('studio-due', t('Due (ISO 8601, e.g. P2D)'), 'dueDate', {
        element, validate: (value) => isoError(value, 'due') })
    ]
  };
}

// ---------------------------------------------------------------------------
// service task: operation + its parameters

function OperationSelect(props) {
  const { element, id, ctx } = props;
  const modeling = useService('modeling');
  const bo = getBusinessObject(element);
  return h(SelectEntry, {
    element, id, label: t('Operation'),
    getValue: () => bo.get('topic') || '',
    setValue: (value) => modeling.updateProperties(element, value
      ? { type: 'external', topic: value } : { type: undefined, topic: undefined }),
    getOptions: () => withCurrent(
      ctx.registry().operations.map((op) => ({ value: op.name, label: op.label ? `${op.label} (${op.name})` : op.name })),
      bo.get('topic'))
  });
}

function ParamText(props) {
  const { element, id, param } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const label = param.name + (param.required ? ' *' : '') + (param.type ? ` (${param.type})` : '');
  return h(TextFieldEntry, {
    element, id, debounce, label,
    description: [param.description, param.required ? t('required; a text or ${expression}')
      : t('a text or ${expression}')].filter(Boolean).join(' — '),
    getValue: () => getInputParameters(getBusinessObject(element))[param.name] || '',
    setValue: (value) => setInputParameter(element, param.name, value || '', injector)
  });
}

function serviceTaskGroup(element, ctx) {
  const bo = getBusinessObject(element);
  const op = ctx.registry().operations.find((o) => o.name === bo.get('topic'));
  const params = op ? [...(op.params || [])] : [];
  // parameters already in the file but not in the operation's schema stay editable
  Object.keys(getInputParameters(bo)).forEach((name) => {
    if (!params.some((p) => p.name === name)) params.push({ name, required: false, type: '' });
  });
  return {
    id: 'studio-operation', label: t('Operation'),
    entries: [
      { id: 'studio-topic', element, ctx, component: OperationSelect, isEdited: isSelectEntryEdited },
      ...params.map((param) => ({ id: 'studio-param-' + param.name, element, param,
        component: ParamText, isEdited: isTextFieldEntryEdited }))
    ]
  };
}

// ---------------------------------------------------------------------------
// sequence flow condition, checked by the server's expression check as you type

function useExpressionCheck(ctx, text) {
  const [message, setMessage] = useState(null);
  useEffect(() => {
    let live = true;
    const value = (text || '').trim();
    if (!value) { setMessage(null); return undefined; }
    ctx.checkExpression(value).then((res) => {
      if (live) setMessage(res && res.ok === false ? (res.message || t('invalid expression')) : null);
    }, () => { if (live) setMessage(null); });
    return () => { live = false; };
  }, [text]);
  return message;
}

function ConditionText(props) {
  const { element, id, ctx } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const bo = getBusinessObject(element);
  const current = bo.conditionExpression ? (bo.conditionExpression.body || '') : '';
  const message = useExpressionCheck(ctx, current);
  const setValue = (value) => {
    const text = (value || '').trim();
    if (!text) return modeling.updateProperties(element, { conditionExpression: undefined });
    if (bo.conditionExpression) {
      return modeling.updateModdleProperties(element, bo.conditionExpression, { body: text });
    }
    return modeling.updateProperties(element, {
      conditionExpression: bpmnFactory.create('bpmn:FormalExpression', { body: text })
    });
  };
  return h('div', { class: 'studio-condition' + (message ? ' has-error' : '') }, [
    h(TextFieldEntry, {
      element, id, debounce, label: t('Condition'), getValue: () => current, setValue,
      description: t("A Python-like expression over the process data, e.g. decision == 'approve'")
    }),
    message ? h('div', { class: 'bio-properties-panel-error studio-expression-error' }, message) : null
  ]);
}

function conditionGroup(element, ctx) {
  const source = element.source && getBusinessObject(element.source);
  if (source && source.default === getBusinessObject(element)) {
    return { id: 'studio-condition', label: t('Condition'),
      entries: [{ id: 'studio-default-flow', component: () => h('p', { class: 'studio-note' },
        t('The default flow: taken when no other condition holds.')) }] };
  }
  return {
    id: 'studio-condition', label: t('Condition'),
    entries: [{ id: 'studio-condition-expression', element, ctx, component: ConditionText,
      isEdited: isTextFieldEntryEdited }]
  };
}

// ---------------------------------------------------------------------------
// timers

function timerDefinition(element) {
  const bo = getBusinessObject(element);
  return (bo.get('eventDefinitions') || []).find((d) => is(d, 'bpmn:TimerEventDefinition'));
}

function timerKind(def) {
  return TIMER_KINDS.find((k) => def.get(k)) || 'timeDuration';
}

function TimerEditor(props) {
  const { element, id, ctx } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  const def = timerDefinition(element);
  const kind = timerKind(def);
  const text = def.get(kind) ? (def.get(kind).body || '') : '';
  const [amount, setAmount] = useState('');
  const [unit, setUnit] = useState('H');
  const exprMessage = useExpressionCheck(ctx, isExpression(text.trim()) ? text.trim().slice(2, -1) : '');

  const write = (newKind, value) => {
    const props = {};
    TIMER_KINDS.forEach((k) => { props[k] = undefined; });
    props[newKind] = bpmnFactory.create('bpmn:FormalExpression', { body: value || '' });
    modeling.updateModdleProperties(element, def, props);
  };
  const apply = () => {
    const iso = durationOf(amount, unit);
    if (iso) write('timeDuration', iso);
  };
  const kindLabels = { timeDuration: t('After a duration'), timeDate: t('At a date and time'),
    timeCycle: t('Repeatedly (cycle)') };
  return h('div', { class: 'studio-timer' }, [
    h(SelectEntry, {
      element, id: id + '-kind', label: t('Timer type'),
      getValue: () => kind, setValue: (value) => write(value, text),
      getOptions: () => TIMER_KINDS.map((k) => ({ value: k, label: kindLabels[k] }))
    }),
    h(TextFieldEntry, {
      element, id: id + '-value', debounce, label: t('Value (ISO 8601)'),
      getValue: () => text, setValue: (value) => write(kind, (value || '').trim()),
      validate: (value) => isoError(value, kind),
      description: t('PT15M = 15 minutes, PT2H = 2 hours, P3D = 3 days; or ${expression}')
    }),
    exprMessage ? h('div', { class: 'bio-properties-panel-error studio-expression-error' }, exprMessage) : null,
    h('div', { class: 'studio-iso-helper bio-properties-panel-entry' }, [
      h('label', { class: 'bio-properties-panel-label', for: id + '-amount' }, t('Duration helper')),
      h('div', { class: 'studio-iso-row' }, [
        h('input', { id: id + '-amount', class: 'bio-properties-panel-input studio-iso-amount', type: 'number',
          min: '1', value: amount, onInput: (e) => setAmount(e.target.value) }),
        h('select', { class: 'bio-properties-panel-input studio-iso-unit', value: unit,
          onChange: (e) => setUnit(e.target.value) },
        UNITS.map((u) => h('option', { value: u.value }, t(u.label)))),
        h('button', { type: 'button', class: 'studio-iso-apply', disabled: !durationOf(amount, unit),
          onClick: apply }, durationOf(amount, unit) ? t('Fill in {iso}', { iso: durationOf(amount, unit) }) : t('Fill in'))
      ])
    ])
  ]);
}

function timerGroup(element, ctx) {
  return {
    id: 'studio-timer', label: t('Timer'),
    entries: [{ id: 'studio-timer', element, ctx, component: TimerEditor, isEdited: () => true }]
  };
}

// ---------------------------------------------------------------------------

function isConditionalFlow(element) {
  if (!is(element, 'bpmn:SequenceFlow') || !element.source) return false;
  return is(element.source, 'bpmn:ExclusiveGateway') || is(element.source, 'bpmn:InclusiveGateway');
}

export function StudioPropertiesProvider(propertiesPanel, studioContext) {
  this.getGroups = function(element) {
    return function(groups) {
      const out = groups.filter((g) => !DROPPED_GROUPS.includes(g.id));
      const general = out.find((g) => g.id === 'general');
      if (general && is(element, 'bpmn:FlowElement')) {
        const at = general.entries.findIndex((e) => e.id === 'name');
        general.entries.splice(at + 1, 0, { id: 'studio-name-en', element, component: NameEn,
          isEdited: isTextFieldEntryEdited });
      }
      const index = general ? out.indexOf(general) + 1 : 0;
      const extra = [];
      if (is(element, 'bpmn:UserTask')) extra.push(userTaskGroup(element, studioContext));
      if (is(element, 'bpmn:ServiceTask')) extra.push(serviceTaskGroup(element, studioContext));
      if (isConditionalFlow(element)) extra.push(conditionGroup(element, studioContext));
      if (timerDefinition(element)) extra.push(timerGroup(element, studioContext));
      out.splice(index, 0, ...extra);
      return out;
    };
  };
  propertiesPanel.registerProvider(LOW, this);
}
StudioPropertiesProvider.$inject = ['propertiesPanel', 'studioContext'];

export default {
  __init__: ['studioPropertiesProvider'],
  studioPropertiesProvider: ['type', StudioPropertiesProvider]
};
