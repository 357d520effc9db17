"""Checking a BPMN upload before it can be deployed: every error, with file and line.

Refuses malformed or unsafe XML, BPMN elements the engine does not run (rather than
silently ignoring them), unknown forms, roles and operations, Camunda extensions
that need Java, and anything SpiffWorkflow's own parser rejects.
"""
from __future__ import annotations

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from app.assets.errors import AssetError
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


def _structure_errors(root: etree._Element, filename: str) -> list[AssetError]:
    errors: list[AssetError] = []
    ns, name = _local(root.tag)
    if (ns, name) != (BPMN_NS, "definitions"):
        return [AssetError(filename, root.sourceline or 1, name, "not a BPMN 2.0 definitions file")]
    for node in root.iter():
        if not isinstance(node.tag, str):  # comments, processing instructions
            continue
        ns, name = _local(node.tag)
        line = node.sourceline or 1
        if ns == BPMN_NS:
            if name not in SUPPORTED_BPMN:
                errors.append(AssetError(filename, line, _element_name(node),
                                         f"unsupported BPMN element '{name}'"))
        elif ns == CAMUNDA_NS:
            if name not in SUPPORTED_CAMUNDA_ELEMENTS:
                errors.append(AssetError(filename, line, _owner(node),
                                         f"unsupported Camunda extension 'camunda:{name}'"))
            if name == "inputParameter" and len(node):
                errors.append(AssetError(filename, line, _owner(node),
                                         f"input parameter '{node.get('name')}': only text input parameters are supported (no list/map/script)"))
        elif ns not in _DI_NAMESPACES:
            parent = node.getparent()
            if parent is not None and _local(parent.tag) == (BPMN_NS, "extensionElements"):
                errors.append(AssetError(filename, line, _owner(parent),
                                         f"unsupported extension element '{name}' ({ns})"))
        for attr in node.attrib:
            a_ns, a_name = _local(attr)
            if a_ns == CAMUNDA_NS and a_name not in SUPPORTED_CAMUNDA_ATTRIBUTES:
                errors.append(AssetError(filename, line, _element_name(node),
                                         f"unsupported Camunda attribute 'camunda:{a_name}'"))
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
    for meta in extract_service_tasks(root).values():
        where = (filename, meta.line, meta.element_id)
        if not meta.operation:
            errors.append(AssetError(*where, "service task has no operation "
                                     "(camunda:type=\"external\" camunda:topic=\"<operation>\")"))
        elif meta.operation not in known_operations:
            errors.append(AssetError(*where, f"unknown operation '{meta.operation}'"))
    processes = {p.get("id") for p in root.iterfind(f"{{{BPMN_NS}}}process")}
    for call in root.iter(f"{{{BPMN_NS}}}callActivity"):
        if call.get("calledElement") not in processes:
            errors.append(AssetError(filename, call.sourceline or 1, call.get("id") or "callActivity",
                                     f"called process '{call.get('calledElement')}' is not in this file"))
    if main_process_id(root) is None:
        errors.append(AssetError(filename, root.sourceline or 1, "definitions",
                                 "the file must hold exactly one executable main process "
                                 "(processes only reached by a call activity do not count)"))
    return errors


def validate_bpmn(
    data: bytes,
    filename: str,
    known_forms: set[str],
    known_operations: set[str],
    known_roles: set[str],
) -> list[AssetError]:
    """Every problem in one BPMN file; an empty list means it can be deployed."""
    tree, errors = parse_xml(data, filename)
    if tree is None:
        return errors
    root = tree.getroot()
    errors = _structure_errors(root, filename)
    if errors and _local(root.tag)[1] != "definitions":
        return errors
    errors += _extension_errors(root, filename, known_forms, known_operations, known_roles)
    errors += expression_errors(root, filename)
    if errors:
        return errors
    try:
        build_definition(tree, filename)
    except ValidationException as exc:
        line = getattr(exc, "line_number", None) or 1
        element = getattr(exc, "id", None) or getattr(exc, "name", None) or "process"
        errors.append(AssetError(filename, int(line), str(element), str(exc).split("\n")[0]))
    except Exception as exc:  # any other parser failure is still the file's fault
        errors.append(AssetError(filename, 1, "process", f"{type(exc).__name__}: {exc}"))
    return errors
