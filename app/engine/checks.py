"""What the runtime would trip on, found before a BPMN file is deployed.

:func:`check_process_file` walks the parsed XML once and reports, each with the
element's real line and id and a sentence a consultant understands:

* the graph: flows to missing elements, duplicate ids, gateways without outgoing
  flows, tasks that fork without a gateway, subprocesses without exactly one start,
  unreachable elements, call activities that call themselves (directly or through
  other processes of the file);
* events: messages without a name, references to missing messages/signals/errors,
  timers that are not strict ISO 8601 (``PT2HOURS`` and ``P3 days`` are refused) or
  whose ``${expression}`` does not pass the evaluator's static checks;
* every gateway condition, script, input parameter, due date, assignee and task title
  through :mod:`app.engine.evaluator`'s static checks (syntax, whitelist);
* names an expression reads that nothing in the process provides (warning);
* plain and manual tasks, which run as pass-through steps (warning).

SpiffWorkflow's own parser runs only when nothing here found an error, so its
wording never reaches a consultant for the defects above.
"""
from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache

from lxml import etree

from app.assets.errors import AssetError, warning
from app.engine.evaluator import EvaluationError, validate_expression, validate_script

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_B = f"{{{BPMN_NS}}}"
_C = f"{{{CAMUNDA_NS}}}"

GATEWAYS = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway",
                      "eventBasedGateway", "complexGateway"})
ACTIVITIES = frozenset({"task", "userTask", "serviceTask", "scriptTask", "manualTask",
                        "sendTask", "receiveTask", "businessRuleTask", "callActivity",
                        "subProcess", "transaction", "adHocSubProcess"})
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent",
                    "intermediateThrowEvent", "boundaryEvent"})
FLOW_NODES = GATEWAYS | ACTIVITIES | EVENTS
SCOPES = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})

#: names every instance starts with (see runtime.start_instance)
START_NAMES = frozenset({"business_key", "community_id"})
#: extension properties (Camunda Modeler: *Extension properties*, on the process or a message
#: event) that declare data the starter or a message brings: ``value="incident_id, location"``
DECLARE_PROPERTIES = frozenset({"start_data", "message_data"})

_EXPR = re.compile(r"\$\{(.*?)\}", re.DOTALL)
_NUM = r"\d+(?:[.,]\d+)?"
ISO_DURATION = re.compile(
    rf"P(?=[\dT])(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
_LOOKS_ISO = re.compile(r"^(?:P[\dT]|R\d*/|\d{4}-)", re.IGNORECASE)


def local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def line_of(node: etree._Element) -> int:
    return node.sourceline or 1


def owner_id(node: etree._Element) -> str:
    """Id of the nearest enclosing element that has one (what the modeller clicks on)."""
    current = node
    while current is not None:
        if current.get("id"):
            return current.get("id")
        current = current.getparent()
    return local(node.tag)


def label(node: etree._Element) -> str:
    """``'Approve' (userTask)`` style, for sentences."""
    name = " ".join((node.get("name") or "").split())
    kind = _KIND.get(local(node.tag), local(node.tag))
    return f"{kind} '{name}'" if name else kind


_KIND = {
    "task": "task", "userTask": "user task", "serviceTask": "service task",
    "scriptTask": "script task", "manualTask": "manual task", "callActivity": "call activity",
    "subProcess": "subprocess", "exclusiveGateway": "exclusive gateway",
    "parallelGateway": "parallel gateway", "inclusiveGateway": "inclusive gateway",
    "eventBasedGateway": "event-based gateway", "startEvent": "start event",
    "endEvent": "end event", "intermediateCatchEvent": "intermediate event",
    "intermediateThrowEvent": "intermediate event", "boundaryEvent": "boundary event",
    "sequenceFlow": "flow",
}


# --------------------------------------------------------------------------------------------
# Timers and dates


def is_iso_duration(text: str) -> bool:
    return bool(ISO_DURATION.fullmatch(text.upper())) and text.upper() != "PT"


def is_iso_datetime(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                        r"(?:Z|[+-]\d{2}:?\d{2})?)?", text, re.IGNORECASE):
        return False
    try:
        datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return False
    return True


def is_iso_cycle(text: str) -> bool:
    """``R[n]/duration``, ``R[n]/start/duration`` or ``R[n]/duration/end``."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not re.fullmatch(r"R\d*", parts[0], re.IGNORECASE):
        return False
    rest = parts[1:]
    durations = [p for p in rest if is_iso_duration(p)]
    dates = [p for p in rest if is_iso_datetime(p)]
    return len(durations) == 1 and len(durations) + len(dates) == len(rest)


_TIMER_RULES = {
    "timeDuration": (is_iso_duration, "an ISO 8601 duration such as PT2H, P3D or P1DT12H"),
    "timeDate": (is_iso_datetime, "an ISO 8601 date and time such as 2026-05-01T18:00:00+08:00"),
    "timeCycle": (is_iso_cycle, "an ISO 8601 repetition such as R3/PT1H or R/P1D"),
}


# --------------------------------------------------------------------------------------------
# Operation results (what a service task adds to the process data)


@lru_cache(maxsize=256)
def _returned_keys(func) -> frozenset[str] | None:
    """Keys of the dict literals ``func`` returns; None if any return is something else."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None
    keys: set[str] = set()
    returns = [n for n in ast.walk(tree) if isinstance(n, ast.Return)]
    for node in returns:
        value = node.value
        if isinstance(value, ast.Dict) and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys):
            keys.update(k.value for k in value.keys)
        elif value is None or (isinstance(value, ast.Constant) and value.value is None):
            continue
        else:
            return None
    return frozenset(keys)


def operation_results(name: str | None, params: Mapping[str, str]) -> frozenset[str] | None:
    """Names an operation puts into the process data; None = cannot tell (anything)."""
    from app.engine.operations import _REGISTRY

    if name == "data.set":
        return frozenset(params)
    op = _REGISTRY.get(name or "")
    if op is None:
        return frozenset()
    declared = getattr(op, "results", None)
    if declared is not None:
        return frozenset(declared)
    return _returned_keys(op.func)


# --------------------------------------------------------------------------------------------
# The checker


class _Check:
    def __init__(self, root: etree._Element, filename: str,
                 form_fields: Mapping[str, Iterable[str]] | None):
        self.root = root
        self.filename = filename
        self.form_fields = form_fields
        self.found: list[AssetError] = []
        self.ids: dict[str, etree._Element] = {}
        self.reads: list[tuple[etree._Element, str, str, str]] = []  # node, element, what, name
        self.provided: set[str] | None = set(START_NAMES)

    # -- reporting --------------------------------------------------------------------------

    def error(self, node: etree._Element, reason: str, element: str | None = None) -> None:
        self.found.append(AssetError(self.filename, line_of(node), element or owner_id(node),
                                     reason))

    def warn(self, node: etree._Element, reason: str, element: str | None = None) -> None:
        self.found.append(warning(self.filename, line_of(node), element or owner_id(node),
                                  reason))

    # -- expressions ------------------------------------------------------------------------

    def expression(self, node: etree._Element, text: str, what: str,
                   owner: etree._Element | None = None) -> ast.AST | None:
        """Statically check one expression; remember the names it reads."""
        try:
            tree = validate_expression(text)
        except EvaluationError as err:
            self.error(node, f"{what} `{_short(text)}` cannot run: {_plain(err)}",
                       owner_id(owner if owner is not None else node))
            return None
        self._remember_reads(node, what, tree, owner)
        return tree

    def embedded(self, node: etree._Element, raw: str, what: str,
                 owner: etree._Element | None = None, as_warning: bool = False) -> None:
        """Every ``${...}`` in a text value (input parameters, due dates, assignees, titles)."""
        for match in _EXPR.finditer(raw):
            inner = match.group(1)
            if as_warning:
                try:
                    tree = validate_expression(inner)
                except EvaluationError as err:
                    self.warn(node, f"{what} `{_short(inner)}` cannot be filled in "
                              f"({_plain(err)}); it will be shown as written",
                              owner_id(owner if owner is not None else node))
                    continue
                self._remember_reads(node, what, tree, owner)
            else:
                self.expression(node, inner, what, owner)
        rest = _EXPR.sub("", raw)
        if "${" in rest:
            self.error(node, f"{what} `{_short(raw)}` has a `${{` without its closing `}}`",
                       owner_id(owner if owner is not None else node))

    def _remember_reads(self, node: etree._Element, what: str, tree: ast.AST,
                        owner: etree._Element | None = None) -> None:
        element = owner_id(owner if owner is not None else node)
        bound = {n.id for c in ast.walk(tree) if isinstance(c, ast.comprehension)
                 for n in ast.walk(c.target) if isinstance(n, ast.Name)}
        called = {id(c.func) for c in ast.walk(tree) if isinstance(c, ast.Call)}
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) \
                    and id(n) not in called and n.id not in bound \
                    and n.id not in ("True", "False", "None"):
                self.reads.append((node, element, what, n.id))

    def provide(self, names: Iterable[str] | None) -> None:
        if names is None:
            self.provided = None
        elif self.provided is not None:
            self.provided.update(names)

    # -- the passes -------------------------------------------------------------------------

    def run(self) -> list[AssetError]:
        self.collect_ids()
        for prop in self.root.iter(f"{_C}property"):
            if (prop.get("name") or "").strip() in DECLARE_PROPERTIES:
                self.provide(n.strip() for n in (prop.get("value") or "").split(",") if n.strip())
        self.check_messages()
        for scope in self.root.iter(*(f"{_B}{s}" for s in SCOPES)):
            self.check_scope(scope)
        self.check_calls()
        self.check_elements()
        self.check_unknown_names()
        return self.found

    def collect_ids(self) -> None:
        for node in self.root.iter():
            if not isinstance(node.tag, str) or not node.tag.startswith(_B):
                continue
            node_id = node.get("id")
            if not node_id:
                continue
            first = self.ids.get(node_id)
            if first is not None:
                self.error(node, f"the id '{node_id}' is used twice (first on line "
                                 f"{line_of(first)}); every element needs its own id")
            else:
                self.ids[node_id] = node

    def check_messages(self) -> None:
        kinds = {"messageEventDefinition": ("messageRef", "message"),
                 "signalEventDefinition": ("signalRef", "signal"),
                 "errorEventDefinition": ("errorRef", "error"),
                 "escalationEventDefinition": ("escalationRef", "escalation")}
        for node in self.root.iter(f"{_B}message"):
            if not (node.get("name") or "").strip():
                self.error(node, "message has no name: give it the name senders use, such "
                                 "as payment.received (instances are reached by that name)")
        for node in self.root.iter(f"{_B}signal"):
            if not (node.get("name") or "").strip():
                self.error(node, "signal has no name: give it the name it is sent under")
        for definition, (attr, kind) in kinds.items():
            for node in self.root.iter(f"{_B}{definition}"):
                ref = node.get(attr)
                event = node.getparent()
                if not ref:
                    if kind in ("message", "signal"):
                        self.error(event, f"{label(event)} names no {kind}: choose a global "
                                          f"{kind} in the modeler (its name is what arrives)")
                    continue
                target = self.ids.get(ref)
                if target is None or local(target.tag) != kind:
                    self.error(event, f"{label(event)} refers to {kind} '{ref}', which is "
                                      f"not defined in this file")
        for node in self.root.iter(f"{_B}timerEventDefinition"):
            self.check_timer(node)

    def check_timer(self, node: etree._Element) -> None:
        event = node.getparent()
        parts = [c for c in node if local(c.tag) in _TIMER_RULES]
        if not parts:
            self.error(event, f"{label(event)}: the timer has no time; set a duration "
                              "(PT2H), a date (2026-05-01T18:00:00+08:00) or a cycle (R3/PT1H)")
            return
        for part in parts:
            kind = local(part.tag)
            accepts, example = _TIMER_RULES[kind]
            text = (part.text or "").strip()
            what = f"timer {_TIMER_WORD[kind]}"
            if not text:
                self.error(part, f"{what} is empty; write {example}", owner_id(event))
            elif text.startswith("${") and text.endswith("}") and text.count("${") == 1:
                self.expression(part, text[2:-1], what, event)
            elif _LOOKS_ISO.match(text) or " " in text:
                if not accepts(text):
                    self.error(part, f"{what} `{_short(text)}` is not {example} "
                                     "(ISO 8601, no spaces or words)", owner_id(event))
            else:  # Spiff evaluates timer text as an expression
                tree = self.expression(part, text, what, event)
                if tree is not None and isinstance(tree.body, ast.Constant) \
                        and isinstance(tree.body.value, str) \
                        and not accepts(tree.body.value.strip()):
                    self.error(part, f"{what} `{_short(text)}` is not {example}",
                               owner_id(event))

    def check_scope(self, scope: etree._Element) -> None:
        nodes = {c.get("id"): c for c in scope if local(c.tag) in FLOW_NODES and c.get("id")}
        flows = [c for c in scope if local(c.tag) == "sequenceFlow"]
        outgoing: dict[str, list[etree._Element]] = {k: [] for k in nodes}
        incoming: dict[str, list[etree._Element]] = {k: [] for k in nodes}
        broken = False
        for flow in flows:
            for end, attr in (("from", "sourceRef"), ("to", "targetRef")):
                ref = flow.get(attr)
                if not ref:
                    self.error(flow, f"flow has no {'source' if end == 'from' else 'target'}"
                                     " element; connect both of its ends in the modeler")
                    broken = True
                elif ref not in nodes:
                    where = self.ids.get(ref)
                    if where is None:
                        self.error(flow, f"flow leads {end} '{ref}', which does not exist "
                                         "in this process; reconnect or delete the flow")
                    else:
                        self.error(flow, f"flow leads {end} '{ref}' (line {line_of(where)}), "
                                         "which is not in the same (sub)process; a flow "
                                         "cannot cross a subprocess border")
                    broken = True
            if flow.get("sourceRef") in outgoing:
                outgoing[flow.get("sourceRef")].append(flow)
            if flow.get("targetRef") in incoming:
                incoming[flow.get("targetRef")].append(flow)
        for node_id, node in nodes.items():
            kind = local(node.tag)
            outs = outgoing[node_id]
            if kind in GATEWAYS:
                if not outs:
                    self.error(node, f"{label(node)} has no outgoing flow: an instance "
                                     "reaching it could not go on; add a flow out of it")
                default = node.get("default")
                if default and default not in {f.get("id") for f in outs}:
                    self.error(node, f"{label(node)}: its default flow '{default}' is not "
                                     "one of its outgoing flows")
                if kind in ("exclusiveGateway", "inclusiveGateway") and len(outs) > 1:
                    for flow in outs:
                        if flow.get("id") != default and \
                                flow.find(f"{_B}conditionExpression") is None:
                            self.error(flow, f"this flow out of {label(node)} has no condition "
                                             "and is not the gateway's default flow: give it "
                                             "a condition or make it the default")
                if kind == "eventBasedGateway":
                    for flow in outs:
                        target = nodes.get(flow.get("targetRef"))
                        if target is not None and local(target.tag) not in (
                                "intermediateCatchEvent", "receiveTask"):
                            self.error(flow, "a flow out of an event-based gateway must lead "
                                             "to an intermediate catch event (message or timer)")
            elif len(outs) > 1 and kind != "boundaryEvent":
                self.error(node, f"{label(node)} has {len(outs)} outgoing flows; the engine "
                                 "does not split without a gateway: put a parallel gateway "
                                 "(all paths) or an exclusive gateway (one path) after it")
            if kind == "endEvent" and outs:
                self.error(node, f"{label(node)} has an outgoing flow; nothing runs after an "
                                 "end event")
            if kind in ("startEvent", "boundaryEvent") and incoming[node_id]:
                self.error(node, f"{label(node)} has an incoming flow; nothing can lead into "
                                 "a start or boundary event")
        for flow in flows:
            source = nodes.get(flow.get("sourceRef"))
            cond = flow.find(f"{_B}conditionExpression")
            if cond is None:
                continue
            text = (cond.text or "").strip()
            if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
                text = text[2:-1].strip()
            if source is not None and local(source.tag) not in (
                    "exclusiveGateway", "inclusiveGateway"):
                self.warn(flow, "the condition on this flow is ignored: only flows out of "
                                "an exclusive or inclusive gateway are chosen by condition")
            if not text:
                self.error(cond, "condition is empty; write one such as decision == 'approve' "
                                 "or remove the condition element", flow.get("id"))
            elif flow.get("id") == (source.get("default") if source is not None else None):
                self.warn(flow, "the default flow's condition is ignored (the default flow is "
                                "taken when no other condition is true)")
            else:
                self.expression(cond, text, "condition", flow)
        starts = [n for n in nodes.values() if local(n.tag) == "startEvent"]
        is_event_sub = scope.get("triggeredByEvent") == "true"
        if local(scope.tag) == "process":
            if not starts and scope.get("isExecutable", "true") != "false":
                self.error(scope, "process has no start event; add one where instances begin")
        elif local(scope.tag) == "subProcess" and not is_event_sub:
            plain = [s for s in starts if not any(local(c.tag).endswith("EventDefinition")
                                                   for c in s)]
            if len(starts) != 1 or len(plain) != 1:
                self.error(scope, f"{label(scope)} needs exactly one plain start event "
                                  f"inside it (found {len(starts)})")
        if not broken:
            self.check_reachable(scope, nodes, outgoing, starts)

    def check_reachable(self, scope, nodes, outgoing, starts) -> None:
        attached: dict[str, list[str]] = {}
        for node_id, node in nodes.items():
            if local(node.tag) == "boundaryEvent" and node.get("attachedToRef"):
                attached.setdefault(node.get("attachedToRef"), []).append(node_id)
        seen: set[str] = set()
        stack = [s.get("id") for s in starts]
        stack += [k for k, n in nodes.items()
                  if local(n.tag) == "subProcess" and n.get("triggeredByEvent") == "true"]
        while stack:
            current = stack.pop()
            if current in seen or current not in nodes:
                continue
            seen.add(current)
            stack.extend(f.get("targetRef") for f in outgoing.get(current, []))
            stack.extend(attached.get(current, []))
        if not starts:
            return
        for node_id, node in nodes.items():
            if node_id not in seen:
                self.warn(node, f"{label(node)} cannot be reached from a start event, so it "
                                "never runs; connect it or delete it")

    def check_calls(self) -> None:
        processes = {p.get("id"): p for p in self.root.iter(f"{_B}process") if p.get("id")}
        calls: dict[str, list[etree._Element]] = {}
        for pid, process in processes.items():
            calls[pid] = list(process.iter(f"{_B}callActivity"))
        for call in self.root.iter(f"{_B}callActivity"):
            if not (call.get("calledElement") or "").strip():
                self.error(call, f"{label(call)} names no process to call (Called element)")
        for pid in processes:
            # shortest path from a call in pid back to pid
            for call in calls[pid]:
                path = _path_back(call.get("calledElement"), pid, calls)
                if path is not None:
                    chain = " → ".join([pid, *path])
                    self.error(call, f"{label(call)} calls '{call.get('calledElement')}', "
                                     f"which leads back to its own process ({chain}): "
                                     "an instance would start copies of itself without end")

    def check_elements(self) -> None:
        lanes = {}
        for lane in self.root.iter(f"{_B}lane"):
            for ref in lane.iter(f"{_B}flowNodeRef"):
                lanes[(ref.text or "").strip()] = (lane.get("name") or "").strip()
        for node in self.root.iter():
            if not isinstance(node.tag, str) or not node.tag.startswith(_B):
                continue
            kind = local(node.tag)
            if kind in ("task", "manualTask"):
                self.warn(node, f"{label(node)} runs as a pass-through step: the process "
                                "moves straight on (use a user task for work a person "
                                "confirms)")
            elif kind == "scriptTask":
                self.check_script(node)
            elif kind == "userTask":
                self.check_user_task(node)
            elif kind == "serviceTask":
                self.check_service_task(node)

    def check_script(self, node: etree._Element) -> None:
        fmt = (node.get("scriptFormat") or "").strip().lower()
        if fmt and fmt not in ("python", "py", "text/x-python"):
            self.error(node, f"{label(node)}: script format '{node.get('scriptFormat')}' is "
                             "not supported; scripts are written in the platform's expression "
                             "language (Python-style assignments), leave the format empty")
            return
        script_node = node.find(f"{_B}script")
        text = script_node.text if script_node is not None else None
        if not (text or "").strip():
            if node.get(f"{_C}resource"):
                self.error(node, f"{label(node)}: external script resources are not supported;"
                                 " write the script inline")
            else:
                self.error(node, f"{label(node)} has no script; write one such as "
                                 "total = amount * 2, or use a plain task")
            return
        try:
            tree = validate_script(text)
        except EvaluationError as err:
            line = line_of(script_node) + max((err.lineno or 1) - 1, 0)
            self.found.append(AssetError(self.filename, line, node.get("id") or "scriptTask",
                                         f"script cannot run: {_plain(err)}"))
            return
        stores = [n for n in ast.walk(tree) if isinstance(n, ast.Name)
                  and isinstance(n.ctx, ast.Store)]
        self.provide(n.id for n in stores)
        self._remember_reads(node, "script", tree)

    def check_user_task(self, node: etree._Element) -> None:
        form = node.get(f"{_C}formKey")
        if self.form_fields is None:
            self.provide(None)
        elif form in self.form_fields:
            self.provide(self.form_fields[form])
        due = (node.get(f"{_C}dueDate") or "").strip()
        if due:
            if "${" in due:
                self.embedded(node, due, "due date")
            elif not (is_iso_duration(due) or is_iso_datetime(due)):
                self.error(node, f"due date `{_short(due)}` is not an ISO 8601 duration (PT24H, "
                                 "P2D) or date (2026-05-01T18:00:00+08:00) or ${expression}")
        assignee = node.get(f"{_C}assignee") or ""
        if "${" in assignee:
            self.embedded(node, assignee, "assignee")
        title = node.get("name") or ""
        if "${" in title:
            self.embedded(node, title, "task title", as_warning=True)

    def check_service_task(self, node: etree._Element) -> None:
        params = {}
        for param in node.iter(f"{_C}inputParameter"):
            raw = param.text or ""
            params[param.get("name") or ""] = raw
            if "${" in raw:
                self.embedded(param, raw, f"input parameter '{param.get('name')}'", node)
        self.provide(operation_results(node.get(f"{_C}topic"), params))

    def check_unknown_names(self) -> None:
        if self.provided is None:
            return
        reported: set[tuple[str, str]] = set()
        for node, element, what, name in self.reads:
            key = (element, name)
            if name in self.provided or key in reported:
                continue
            reported.add(key)
            self.warn(node, f"{what} reads '{name}', which no form, script or operation of "
                            "this process sets and instances do not start with; it fails at "
                            "run time unless the starter or a message passes it", element)


_TIMER_WORD = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}


def _path_back(start: str | None, target: str, calls: dict[str, list]) -> list[str] | None:
    """Processes from ``start`` to ``target`` following call activities (BFS), or None."""
    if start is None or start not in calls:
        return None
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        current = queue.pop(0)
        if current == target:
            path = []
            while current is not None:
                path.append(current)
                current = previous[current]
            return list(reversed(path))
        for call in calls.get(current, []):
            nxt = call.get("calledElement")
            if nxt in calls and nxt not in previous:
                previous[nxt] = current
                queue.append(nxt)
    return None


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(err: EvaluationError) -> str:
    message = err.message
    if message.startswith("syntax error"):
        return f"it is not a valid expression ({message})"
    return message


def check_process_file(root: etree._Element, filename: str,
                       form_fields: Mapping[str, Iterable[str]] | None = None) -> list[AssetError]:
    """Every finding of the checks above, in document order, errors and warnings."""
    found = _Check(root, filename, form_fields).run()
    return sorted(found, key=lambda e: (e.line, e.is_warning))
