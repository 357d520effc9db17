"""Checking a BPMN upload before it can be deployed: every error, with file and line.

Refuses malformed or unsafe XML, BPMN elements the engine does not run (rather than
silently ignoring them), unknown forms, roles and operations, Camunda extensions
that need Java, and anything SpiffWorkflow's own parser rejects.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from app.assets.errors import AssetError, warning
from app.engine.checks import check_process_file
from app.engine.definitions import (
    BPMN_NS,
    CAMUNDA_NS,
    build_definition,
    extract_service_tasks,
    extract_user_tasks,
    main_process_id,
)
from app.engine.expression_check import expression_errors
from app.engine.xmlsafe import parse_xml

SUPPORTED_BPMN = frozenset({
    "definitions", "process", "collaboration", "participant", "messageFlow",
    "laneSet", "lane", "flowNodeRef", "childLaneSet",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "userTask", "serviceTask", "scriptTask", "script", "task", "manualTask",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "subProcess", "callActivity", "sequenceFlow", "conditionExpression", "incoming", "outgoing",
    "timerEventDefinition", "timeDuration", "timeDate", "timeCycle",
    "messageEventDefinition", "signalEventDefinition", "errorEventDefinition",
    "escalationEventDefinition", "terminateEventDefinition",
    "message", "signal", "error", "escalation",
    "extensionElements", "documentation", "textAnnotation", "text", "association",
    "group", "category", "categoryValue",
})
SUPPORTED_CAMUNDA_ELEMENTS = frozenset({"inputOutput", "inputParameter", "properties", "property"})
SUPPORTED_CAMUNDA_ATTRIBUTES = frozenset({
    "formKey", "candidateGroups", "assignee", "dueDate", "type", "topic", "versionTag",
    "historyTimeToLive", "isStartableInTasklist", "asyncBefore", "asyncAfter", "exclusive",
})
#: written by modelers, mean nothing to execution: accepted silently
_IGNORED_CAMUNDA_ATTRIBUTES = frozenset({"diagramRelationId"})
_DI_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "http://bpmn.io/schema/bpmn",
)


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _element_name(node: etree._Element) -> str:
    return node.get("id") or _local(node.tag)[1]


def _owner(node: etree._Element) -> str:
    """Id of the nearest enclosing element that has one (what the modeller clicks on)."""
    current = node
    while current is not None:
        if current.get("id"):
            return current.get("id")
        current = current.getparent()
    return _local(node.tag)[1]


_HINTS = {
    "sendTask": "use a service task with an operation such as notify.send",
    "receiveTask": "use an intermediate catch event with a message",
    "businessRuleTask": "use a script task or an exclusive gateway with conditions",
    "complexGateway": "use an inclusive or exclusive gateway",
    "standardLoopCharacteristics": "model the repetition with a gateway and a flow back",
    "multiInstanceLoopCharacteristics": "model the repetition with a gateway and a flow back",
    "conditionalEventDefinition": "use a timer or a message event",
    "transaction": "use a subprocess",
    "adHocSubProcess": "use a subprocess with a gateway",
    "globalTask": "use a task inside the process",
    "globalUserTask": "use a user task inside the process",
    "import": "put everything the process needs into this one file",
}
_DATA = frozenset({
    "dataObject", "dataObjectReference", "dataStore", "dataStoreReference",
    "dataInputAssociation", "dataOutputAssociation", "property", "ioSpecification",
    "dataInput", "dataOutput", "inputSet", "outputSet", "itemDefinition", "resource",
    "performer", "humanPerformer", "potentialOwner", "resourceRole", "ioBinding",
})
_ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"


def _unsupported(name: str) -> str:
    if name in _HINTS:
        return f"the engine does not run '{name}' elements; {_HINTS[name]}"
    if name in _DATA:
        return (f"the engine does not use '{name}' elements: process data lives in variables "
                "set by forms, scripts and operations; remove it from the diagram")
    return f"the engine does not run '{name}' elements; remove it"


def _structure_errors(root: etree._Element, filename: str) -> list[AssetError]:
    errors: list[AssetError] = []
    ns, name = _local(root.tag)
    if (ns, name) != (BPMN_NS, "definitions"):
        return [AssetError(filename, root.sourceline or 1, name or "file",
                           "not a BPMN 2.0 file (the outer element must be bpmn:definitions)")]
    stack = list(reversed(root))
    while stack:
        node = stack.pop()
        if not isinstance(node.tag, str):  # comments, processing instructions
            continue
        ns, name = _local(node.tag)
        line = node.sourceline or 1
        descend = True
        if ns == BPMN_NS:
            if name not in SUPPORTED_BPMN:
                errors.append(AssetError(filename, line, _owner(node), _unsupported(name)))
                descend = False  # no follow-on errors for what is inside it
        elif ns == CAMUNDA_NS:
            if name not in SUPPORTED_CAMUNDA_ELEMENTS:
                errors.append(AssetError(filename, line, _owner(node),
                                         f"unsupported Camunda extension 'camunda:{name}'"))
                descend = False
            elif name == "inputParameter" and len(node):
                errors.append(AssetError(filename, line, _owner(node),
                                         f"input parameter '{node.get('name')}': only text input parameters are supported (no list/map/script)"))
                descend = False
        elif ns not in _DI_NAMESPACES:
            parent = node.getparent()
            if parent is not None and _local(parent.tag) == (BPMN_NS, "extensionElements"):
                if ns == _ZEEBE_NS:
                    errors.append(AssetError(
                        filename, line, _owner(parent),
                        f"Camunda 8 (Zeebe) extension 'zeebe:{name}' is not supported: the "
                        "platform reads the Camunda 7 dialect (choose Camunda 7 in the modeler)"))
                else:
                    errors.append(warning(filename, line, _owner(parent),
                                          f"extension '{name}' of another tool ({ns}) is ignored"))
            descend = False
        for attr in node.attrib:
            a_ns, a_name = _local(attr)
            if a_ns == CAMUNDA_NS and a_name not in SUPPORTED_CAMUNDA_ATTRIBUTES:
                if a_name in _IGNORED_CAMUNDA_ATTRIBUTES:
                    continue
                errors.append(AssetError(filename, line, _element_name(node),
                                         f"unsupported Camunda attribute 'camunda:{a_name}'"))
        if descend:
            stack.extend(reversed(node))
    return errors


def _extension_errors(
    root: etree._Element, filename: str, known_forms: set[str], known_operations: set[str],
    known_roles: set[str],
) -> list[AssetError]:
    errors: list[AssetError] = []
    for meta in extract_user_tasks(root).values():
        where = (filename, meta.line, meta.element_id)
        if not meta.form_id:
            errors.append(AssetError(*where, "user task has no form (camunda:formKey)"))
        elif meta.form_id not in known_forms:
            errors.append(AssetError(*where, f"unknown form '{meta.form_id}'"))
        if not meta.role:
            errors.append(AssetError(*where, "user task has no role (camunda:candidateGroups or a lane)"))
        elif "," in meta.role:
            errors.append(AssetError(*where, f"exactly one candidate role expected, got '{meta.role}'"))
        elif meta.role not in known_roles:
            errors.append(AssetError(*where, f"unknown role '{meta.role}'"))
    zeebe_tasks = {_owner(n) for n in root.iter(f"{{{_ZEEBE_NS}}}taskDefinition")}
    for meta in extract_service_tasks(root).values():
        where = (filename, meta.line, meta.element_id)
        if not meta.operation and meta.element_id in zeebe_tasks:
            continue  # already refused as a Camunda 8 task definition
        if not meta.operation:
            errors.append(AssetError(*where, "service task has no operation "
                                     "(camunda:type=\"external\" camunda:topic=\"<operation>\")"))
        elif meta.operation not in known_operations:
            errors.append(AssetError(*where, f"unknown operation '{meta.operation}'"))
    processes = {p.get("id") for p in root.iterfind(f"{{{BPMN_NS}}}process")}
    for call in root.iter(f"{{{BPMN_NS}}}callActivity"):
        called = call.get("calledElement")
        if called and called not in processes:
            errors.append(AssetError(filename, call.sourceline or 1, call.get("id") or "callActivity",
                                     f"called process '{called}' is not in this file"))
    return errors


def _main_process_errors(root: etree._Element, filename: str) -> list[AssetError]:
    """The file must hold one executable process that no call activity calls."""
    if main_process_id(root) is not None:
        return []
    processes = root.findall(f"{{{BPMN_NS}}}process")
    executable = [p for p in processes if p.get("isExecutable", "true") != "false"]
    called = {c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity")}
    mains = [p for p in executable if p.get("id") not in called]
    if not processes:
        return [AssetError(filename, root.sourceline or 1, root.get("id") or "definitions",
                           "the file holds no process (a collaboration alone cannot run)")]
    if not executable:
        first = processes[0]
        return [AssetError(filename, first.sourceline or 1, first.get("id") or "process",
                           "process is not executable (isExecutable=\"false\"): tick "
                           "'Executable' in the modeler's process properties to deploy it")]
    if not mains:
        first = executable[0]
        return [AssetError(filename, first.sourceline or 1, first.get("id") or "process",
                           "every process of the file is called by a call activity, so none "
                           "can be started; keep one main process that nothing calls")]
    second = mains[1]
    return [AssetError(filename, second.sourceline or 1, second.get("id") or "process",
                       f"the file holds {len(mains)} executable processes that nothing calls "
                       f"({', '.join(p.get('id') or '?' for p in mains)}); deploy one main "
                       "process per file, or mark the others not executable")]


#: SpiffWorkflow parser messages in words a consultant understands (first match wins)
_SPIFF_WORDING = (
    ("Multiple outgoing flows", "has several outgoing flows; put a gateway after it"),
    ("we found two items", "a flow leads to an element that does not exist"),
    ("Exactly one start event", "needs exactly one plain start event inside it"),
    ("recursion depth", ("the process is a longer chain of elements than the engine can read "
                         "(a few hundred in a row); move parts into call activities")),
)


def _spiff_reason(message: str) -> str:
    for needle, reason in _SPIFF_WORDING:
        if needle in message:
            return reason
    first = message.split("\n")[0].strip().rstrip(".")
    return f"the engine cannot build this element ({first})"


def check_bpmn(
    data: bytes,
    filename: str,
    known_forms: set[str] | Mapping[str, Iterable[str]],
    known_operations: set[str],
    known_roles: set[str],
    form_fields: Mapping[str, Iterable[str]] | None = None,
) -> list[AssetError]:
    """Every finding in one BPMN file, errors and warnings (``AssetError.severity``).

    ``known_forms`` may map form id -> field names; with the fields known, names that
    expressions read and nothing provides are warned about."""
    if form_fields is None and isinstance(known_forms, Mapping):
        form_fields = known_forms
    tree, errors = parse_xml(data, filename)
    if tree is None:
        return errors
    root = tree.getroot()
    found = _structure_errors(root, filename)
    if _local(root.tag)[1] != "definitions":
        return found
    found += _extension_errors(root, filename, set(known_forms), known_operations, known_roles)
    try:
        found += check_process_file(root, filename, form_fields)
    except Exception as exc:  # noqa: BLE001 - a checker bug must not hide the file's problems
        found.append(AssetError(filename, 1, "file",
                                f"the validator could not check this file ({type(exc).__name__}); "
                                "please report it"))
    reported = {e.element for e in found}
    # constant parts evaluated by the bounded evaluator (10 ** 10 ** 10 and the like), for
    # elements the static checks passed
    found += [e for e in expression_errors(root, filename) if e.element not in reported]
    if not any("leads back to its own process" in e.reason for e in found):
        found += _main_process_errors(root, filename)
    if any(not e.is_warning for e in found):
        return _dedupe(found)
    try:
        build_definition(tree, filename)
    except ValidationException as exc:
        element = getattr(exc, "id", None) or getattr(exc, "name", None)
        if "recursion depth" in str(exc):  # where it strikes depends on the caller's stack
            element = main_process_id(root)
        node = _by_id(root, element)
        line = (node.sourceline if node is not None else None) or \
            getattr(exc, "line_number", None) or 1
        found.append(AssetError(filename, int(line), str(element or "process"),
                                _spiff_reason(str(exc))))
    except RecursionError:
        node = _by_id(root, main_process_id(root))
        found.append(AssetError(filename, (node.sourceline if node is not None else None) or 1,
                                main_process_id(root) or "process",
                                _spiff_reason("recursion depth")))
    except Exception as exc:  # noqa: BLE001 - any other parser failure is still the file's fault
        found.append(AssetError(filename, 1, "process",
                                f"the engine cannot build this process ({type(exc).__name__})"))
    return _dedupe(found)


def _by_id(root: etree._Element, element_id: object) -> etree._Element | None:
    if not element_id:
        return None
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id") == element_id:
            return node
    return None


def _dedupe(found: list[AssetError]) -> list[AssetError]:
    seen: set[str] = set()
    out = []
    for e in found:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out


def validate_bpmn(
    data: bytes,
    filename: str,
    known_forms: set[str] | Mapping[str, Iterable[str]],
    known_operations: set[str],
    known_roles: set[str],
) -> list[AssetError]:
    """The errors in one BPMN file (no warnings); an empty list means it can be deployed."""
    return [e for e in check_bpmn(data, filename, known_forms, known_operations, known_roles)
            if not e.is_warning]
