// Reading and writing the camunda:* extension elements the engine reads
// (camunda:properties/camunda:property, camunda:inputOutput/camunda:inputParameter), as
// one undoable command each.
import { is } from 'bpmn-js/lib/util/ModelUtil';

function extensionValues(bo, type) {
  const ext = bo.get('extensionElements');
  return ext ? (ext.get('values') || []).filter((v) => is(v, type)) : [];
}

/** The value of `<camunda:property name=...>` on the element, or ''. */
export function getProperty(bo, name) {
  for (const props of extensionValues(bo, 'camunda:Properties')) {
    const found = (props.get('values') || []).find((p) => p.name === name);
    if (found) return found.value || '';
  }
  return '';
}

/** inputParameter name -> text of a service task */
export function getInputParameters(bo) {
  const out = {};
  for (const io of extensionValues(bo, 'camunda:InputOutput')) {
    (io.get('inputParameters') || []).forEach((p) => { out[p.name] = p.value || ''; });
  }
  return out;
}

/**
 * Commands that make sure `bo` has an extension element of `type`; returns [container, commands].
 */
function ensureContainer(element, bo, type, bpmnFactory) {
  const commands = [];
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: bo, properties: { extensionElements: ext } } });
  }
  let container = (ext.get('values') || []).find((v) => is(v, type));
  if (!container) {
    container = bpmnFactory.create(type, {});
    container.$parent = ext;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: ext, properties: { values: [...ext.get('values'), container] } } });
  }
  return [container, commands];
}

/**
 * Set (or with an empty value remove) one named child of a camunda container:
 * `<camunda:property name value>` or `<camunda:inputParameter name>text</...>`.
 */
function setNamed(element, spec, name, value, injector) {
  const bpmnFactory = injector.get('bpmnFactory');
  const commandStack = injector.get('commandStack');
  const bo = element.businessObject;
  const [container, commands] = ensureContainer(element, bo, spec.container, bpmnFactory);
  const list = container.get(spec.list) || [];
  const existing = list.find((item) => item.name === name);
  if (!value) {
    if (!existing) return;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: container,
        properties: { [spec.list]: list.filter((item) => item !== existing) } } });
  } else if (existing) {
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: existing, properties: { value } } });
  } else {
    const item = bpmnFactory.create(spec.item, { name, value });
    item.$parent = container;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: container, properties: { [spec.list]: [...list, item] } } });
  }
  commandStack.execute('properties-panel.multi-command-executor', commands);
}

const PROPERTY = { container: 'camunda:Properties', list: 'values', item: 'camunda:Property' };
const INPUT = { container: 'camunda:InputOutput', list: 'inputParameters', item: 'camunda:InputParameter' };

export function setProperty(element, name, value, injector) {
  setNamed(element, PROPERTY, name, value, injector);
}

export function setInputParameter(element, name, value, injector) {
  setNamed(element, INPUT, name, value, injector);
}
