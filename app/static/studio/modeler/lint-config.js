// bpmnlint's recommended rules that apply to what the engine runs (bundled, no loader):
// off are the ones about elements the palette no longer offers (ad-hoc sub-processes, link
// events, complex gateways) and no-inclusive-gateway (the engine runs inclusive gateways);
// label-required is a warning (the engine needs no labels).

import conditionalFlows from 'bpmnlint/rules/conditional-flows';
import endEventRequired from 'bpmnlint/rules/end-event-required';
import eventBasedGateway from 'bpmnlint/rules/event-based-gateway';
import eventSubProcessTypedStartEvent from 'bpmnlint/rules/event-sub-process-typed-start-event';
import fakeJoin from 'bpmnlint/rules/fake-join';
import global from 'bpmnlint/rules/global';
import labelRequired from 'bpmnlint/rules/label-required';
import noBpmndi from 'bpmnlint/rules/no-bpmndi';
import noDisconnected from 'bpmnlint/rules/no-disconnected';
import noDuplicateSequenceFlows from 'bpmnlint/rules/no-duplicate-sequence-flows';
import noGatewayJoinFork from 'bpmnlint/rules/no-gateway-join-fork';
import noImplicitSplit from 'bpmnlint/rules/no-implicit-split';
import noImplicitEnd from 'bpmnlint/rules/no-implicit-end';
import noImplicitStart from 'bpmnlint/rules/no-implicit-start';
import noOverlappingElements from 'bpmnlint/rules/no-overlapping-elements';
import singleBlankStartEvent from 'bpmnlint/rules/single-blank-start-event';
import singleEventDefinition from 'bpmnlint/rules/single-event-definition';
import startEventRequired from 'bpmnlint/rules/start-event-required';
import subProcessBlankStartEvent from 'bpmnlint/rules/sub-process-blank-start-event';
import superfluousGateway from 'bpmnlint/rules/superfluous-gateway';
import superfluousLabel from 'bpmnlint/rules/superfluous-label';
import superfluousTermination from 'bpmnlint/rules/superfluous-termination';

const rules = {
  'conditional-flows': conditionalFlows,
  'end-event-required': endEventRequired,
  'event-based-gateway': eventBasedGateway,
  'event-sub-process-typed-start-event': eventSubProcessTypedStartEvent,
  'fake-join': fakeJoin,
  'global': global,
  'label-required': labelRequired,
  'no-bpmndi': noBpmndi,
  'no-disconnected': noDisconnected,
  'no-duplicate-sequence-flows': noDuplicateSequenceFlows,
  'no-gateway-join-fork': noGatewayJoinFork,
  'no-implicit-split': noImplicitSplit,
  'no-implicit-end': noImplicitEnd,
  'no-implicit-start': noImplicitStart,
  'no-overlapping-elements': noOverlappingElements,
  'single-blank-start-event': singleBlankStartEvent,
  'single-event-definition': singleEventDefinition,
  'start-event-required': startEventRequired,
  'sub-process-blank-start-event': subProcessBlankStartEvent,
  'superfluous-gateway': superfluousGateway,
  'superfluous-label': superfluousLabel,
  'superfluous-termination': superfluousTermination,
};

const severities = {
  'bpmnlint/conditional-flows': 'error',
  'bpmnlint/end-event-required': 'error',
  'bpmnlint/event-based-gateway': 'error',
  'bpmnlint/event-sub-process-typed-start-event': 'error',
  'bpmnlint/fake-join': 'warn',
  'bpmnlint/global': 'warn',
  'bpmnlint/label-required': 'warn',
  'bpmnlint/no-bpmndi': 'error',
  'bpmnlint/no-disconnected': 'error',
  'bpmnlint/no-duplicate-sequence-flows': 'error',
  'bpmnlint/no-gateway-join-fork': 'warn',
  'bpmnlint/no-implicit-split': 'error',
  'bpmnlint/no-implicit-end': 'warn',
  'bpmnlint/no-implicit-start': 'warn',
  'bpmnlint/no-overlapping-elements': 'warn',
  'bpmnlint/single-blank-start-event': 'error',
  'bpmnlint/single-event-definition': 'error',
  'bpmnlint/start-event-required': 'error',
  'bpmnlint/sub-process-blank-start-event': 'error',
  'bpmnlint/superfluous-gateway': 'warn',
  'bpmnlint/superfluous-label': 'warn',
  'bpmnlint/superfluous-termination': 'warn',
};

export default {
  config: { rules: severities },
  resolver: {
    resolveRule(pkg, name) {
      const rule = pkg === 'bpmnlint' ? rules[name] : null;
      if (!rule) throw new Error('rule not bundled: ' + pkg + '/' + name);
      return rule;
    },
    resolveConfig(pkg, name) {
      throw new Error('config not bundled: ' + pkg + '/' + name);
    }
  }
};
