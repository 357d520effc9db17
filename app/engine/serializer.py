"""Workflow state to JSON and back, without the process spec.

Spiff's stock converter embeds the whole spec (and every subprocess spec) in each
instance's JSON. We store specs once per version and pass them back in on load, so
an instance's state holds only its tasks and data.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)

from app.engine.definitions import PlatformMessageEventDefinition


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Like Spiff's converter, minus ``spec`` and ``subprocess_specs``."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
        self, dct: dict, spec: Any = None, subprocess_specs: dict | None = None,
        script_engine: Any = None,
    ) -> BpmnWorkflow:
        workflow = self.target_class(
            spec, subprocess_specs or {}, script_engine=script_engine, deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(value: str):
    from uuid import UUID

    return UUID(value)


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(CAMUNDA_CONFIG)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    config[PlatformMessageEventDefinition] = config[CamundaMessageEventDefinition]
    registry = BpmnWorkflowSerializer.configure(config)
    # Money and dates in task data (Spiff only knows datetime/timedelta/UUID).
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()},
                      lambda v: date.fromisoformat(v["value"]))
    return BpmnWorkflowSerializer(registry)


_SERIALIZER = _make_serializer()


def dumps(workflow: BpmnWorkflow) -> str:
    """Instance state as JSON (no spec)."""
    return _SERIALIZER.serialize_json(workflow)


def loads(text: str, spec: Any, subprocess_specs: dict, script_engine: Any) -> BpmnWorkflow:
    """Rebuild a workflow from :func:`dumps` output and its version's specs."""
    dct = json.loads(text)
    dct.pop(BpmnWorkflowSerializer.VERSION_KEY, None)
    return _SERIALIZER.registry.restore(
        dct, spec=spec, subprocess_specs=subprocess_specs, script_engine=script_engine
    )
