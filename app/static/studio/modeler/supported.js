// What the engine runs: mirrors app/engine/validation.py SUPPORTED_BPMN (a test compares
// the two lists), so the palette, the context pad and the replace menu offer nothing the
// validator would refuse.
export const SUPPORTED_BPMN = [
  'definitions', 'process', 'collaboration', 'participant', 'messageFlow',
  'laneSet', 'lane', 'flowNodeRef', 'childLaneSet',
  'startEvent', 'endEvent', 'intermediateCatchEvent', 'intermediateThrowEvent', 'boundaryEvent',
  'userTask', 'serviceTask', 'scriptTask', 'script', 'task', 'manualTask',
  'exclusiveGateway', 'parallelGateway', 'inclusiveGateway', 'eventBasedGateway',
  'subProcess', 'callActivity', 'sequenceFlow', 'conditionExpression', 'incoming', 'outgoing',
  'timerEventDefinition', 'timeDuration', 'timeDate', 'timeCycle',
  'messageEventDefinition', 'signalEventDefinition', 'errorEventDefinition',
  'escalationEventDefinition', 'terminateEventDefinition',
  'message', 'signal', 'error', 'escalation',
  'extensionElements', 'documentation', 'textAnnotation', 'text', 'association',
  'group', 'category', 'categoryValue'
];

const supported = new Set(SUPPORTED_BPMN);

/** 'bpmn:UserTask' -> 'userTask' */
function localName(type) {
  const name = String(type || '').replace(/^bpmn:/, '');
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Whether a popup/replace target ({type, eventDefinitionType, ...}) is something the engine runs. */
export function isSupportedTarget(target) {
  if (!target) return true;
  if (target.type && !supported.has(localName(target.type))) return false;
  if (target.eventDefinitionType && !supported.has(localName(target.eventDefinitionType))) return false;
  return true;
}
