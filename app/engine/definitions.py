"""From BPMN bytes to an executable definition: Spiff specs plus our extensions.

Dialect: what Camunda Modeler 5 writes for a Camunda 7 (Platform) diagram —
``camunda:formKey`` and ``camunda:candidateGroups`` (or the lane name) on user
tasks; ``camunda:type="external" camunda:topic="<operation>"`` plus
``camunda:inputOutput/camunda:inputParameter`` on service tasks. The extension
values are read straight from the XML here (keyed by element id), so the Spiff
specs stay stock and need no custom serializer.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


class OperationTask(ServiceTask):
    """A service task the engine runs itself (manual to Spiff), so a failing
    operation leaves the task READY and becomes an incident instead of an error state."""

    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = True

    def _run_hook(self, task) -> bool:
        # The engine already ran the operation and merged its result; just finish.
        return True


class PlatformMessageEventDefinition(CamundaMessageEventDefinition):
    """A message whose dict payload is merged into task data (``send_message``).

    Camunda's own class stores a payload under ``<task>_Response``; that stays the
    behaviour for messages thrown inside a process (their payload has ``result_var``).
    """

    @staticmethod
    def _is_camunda(payload) -> bool:
        return isinstance(payload, dict) and "payload" in payload and "result_var" in payload

    def update_internal_data(self, my_task, event) -> None:
        if self._is_camunda(event.payload):
            super().update_internal_data(my_task, event)
        else:
            my_task.internal_data[self.name] = {"platform_message": dict(event.payload or {})}

    def update_task_data(self, my_task) -> None:
        stored = my_task.internal_data.get(self.name)
        if isinstance(stored, dict) and "platform_message" in stored:
            my_task.data.update(stored["platform_message"])
        elif stored is not None:
            super().update_task_data(my_task)


#: Spiff spec classes the engine runs as pass-through steps (Camunda 7: a plain task and a
#: manual task complete as soon as they are reached)
PASS_THROUGH = frozenset({"NoneTask", "ManualTask"})


def _use_platform_messages(specs) -> None:
    """Platform message definitions; plain and manual tasks pass through."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if type(task_spec).__name__ in PASS_THROUGH:
                task_spec.manual = False
            definition = getattr(task_spec, "event_definition", None)
            # an event-based gateway holds its branches' definitions (MultipleEventDefinition)
            for item in [definition, *getattr(definition, "event_definitions", [])]:
                if type(item) is CamundaMessageEventDefinition:
                    item.__class__ = PlatformMessageEventDefinition


class EstateflowParser(CamundaParser):
    """CamundaParser with service tasks mapped to :class:`OperationTask`."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (CamundaTaskParser, OperationTask),
    }


@dataclass(frozen=True)
class UserTaskMeta:
    element_id: str
    title: str | None
    form_id: str | None
    role: str | None
    due: str | None  # ISO duration/datetime or ${expression}
    line: int
    assignee: str | None = None  # username or ${expression}: the task starts claimed by them
    title_en: str | None = None  # <camunda:property name="name_en" value="..."/>; ``name`` is Chinese


@dataclass(frozen=True)
class ServiceTaskMeta:
    element_id: str
    operation: str | None
    params: dict[str, str]  # name -> literal or ${expression}
    line: int


@dataclass
class Definition:
    """A parsed, executable process version (cached per version id)."""

    process_id: str
    spec: object
    subprocess_specs: dict
    user_tasks: dict[str, UserTaskMeta] = field(default_factory=dict)
    service_tasks: dict[str, ServiceTaskMeta] = field(default_factory=dict)
    start_messages: list[str] = field(default_factory=list)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cam(node: etree._Element, name: str) -> str | None:
    return node.get(f"{{{CAMUNDA_NS}}}{name}")


def lane_of(root: etree._Element) -> dict[str, str]:
    """element id -> lane name, for every flowNodeRef in every lane."""
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            if ref.text:
                lanes[ref.text.strip()] = (lane.get("name") or "").strip()
    return lanes


def extract_user_tasks(root: etree._Element) -> dict[str, UserTaskMeta]:
    lanes = lane_of(root)
    result = {}
    for node in root.iter(f"{{{BPMN_NS}}}userTask"):
        eid = node.get("id")
        role = (_cam(node, "candidateGroups") or "").strip() or lanes.get(eid) or None
        result[eid] = UserTaskMeta(
            element_id=eid,
            title=node.get("name"),
            form_id=_cam(node, "formKey"),
            role=role,
            due=_cam(node, "dueDate"),
            line=node.sourceline or 1,
            assignee=(_cam(node, "assignee") or "").strip() or None,
            title_en=_property(node, "name_en"),
        )
    return result


def _property(node: etree._Element, name: str) -> str | None:
    """A ``camunda:property`` of an element (what Camunda Modeler writes under Extensions)."""
    for prop in node.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
        if prop.get("name") == name:
            return (prop.get("value") or "").strip() or None
    return None


def extract_service_tasks(root: etree._Element) -> dict[str, ServiceTaskMeta]:
    result = {}
    for node in root.iter(f"{{{BPMN_NS}}}serviceTask"):
        params = {
            p.get("name"): (p.text or "")
            for p in node.iterfind(
                "bpmn:extensionElements/camunda:inputOutput/camunda:inputParameter", NS
            )
        }
        eid = node.get("id")
        result[eid] = ServiceTaskMeta(eid, _cam(node, "topic"), params, node.sourceline or 1)
    return result


def main_process_id(root: etree._Element) -> str | None:
    """The executable process no call activity in the same file calls."""
    called = {c.get("calledElement") for c in root.iter(f"{{{BPMN_NS}}}callActivity")}
    candidates = [
        p.get("id")
        for p in root.iterfind("bpmn:process", NS)
        if p.get("isExecutable", "true") != "false" and p.get("id") not in called
    ]
    return candidates[0] if len(candidates) == 1 else None


_ISO_TIMER = re.compile(
    r"^(R\d*/)?([+-]?\d{4}-\d{2}-\d{2}[T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?/?)?(P[\dYMWDTHS.,]+)?$",
    re.IGNORECASE,
)


def normalize_timers(root: etree._Element) -> None:
    """Camunda Modeler users type ``PT2H``; Spiff evaluates timer text as an
    expression. Quote bare ISO-8601 values and unwrap ``${expr}`` in place (a
    condition written Camunda-style as ``${approved}`` is unwrapped too)."""
    for node in root.iter(f"{{{BPMN_NS}}}conditionExpression"):
        text = (node.text or "").strip()
        if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
            node.text = text[2:-1]
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            text = (node.text or "").strip()
            if text.startswith("${") and text.endswith("}"):
                node.text = text[2:-1]
            elif text and _ISO_TIMER.match(text):
                node.text = repr(text)


def build_definition(tree: etree._ElementTree, filename: str) -> Definition:
    """Parse with Spiff (raises its ValidationException on structural errors)."""
    root = tree.getroot()
    normalize_timers(root)
    process_id = main_process_id(root)
    if process_id is None:
        raise ValueError("the file must hold exactly one executable main process")
    parser = EstateflowParser()
    parser.add_bpmn_xml(tree, filename)
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    _use_platform_messages([spec, *[s for s in subprocess_specs.values() if s is not None]])
    start_messages = []
    for ts in spec.task_specs.values():
        if (
            isinstance(ts, CatchingEvent)
            and type(ts).__name__ == "StartEvent"
            and isinstance(ts.event_definition, MessageEventDefinition)
        ):
            start_messages.append(ts.event_definition.name)
    return Definition(
        process_id=process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=extract_user_tasks(root),
        service_tasks=extract_service_tasks(root),
        start_messages=start_messages,
    )
