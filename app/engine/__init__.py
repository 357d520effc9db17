"""The workflow engine runtime: SpiffWorkflow 3.2 + our tables, in the caller's transaction.

Dialect (see docs/authoring.md): Camunda 7 attributes as Camunda Modeler writes them —
``camunda:formKey`` and ``camunda:candidateGroups`` (or the lane name) on user tasks,
``camunda:dueDate`` (ISO duration/date or ``${expr}``) optionally; service tasks
``camunda:type="external" camunda:topic="<operation>"`` with text
``camunda:inputParameter`` values (``${expr}`` evaluated, otherwise literal).

Public API (every function takes a SQLAlchemy ``Session`` and never commits)::

    validate_bpmn(data, filename, known_forms, known_operations, known_roles) -> list[AssetError]
    check_bpmn(...same, form_fields=None) -> list[AssetError]   # errors and warnings (.is_warning)
    deploy_process(session, filename, data, module_id, actor, known_forms,
                   known_operations=None, known_roles=None) -> ProcessVersion   # AssetInvalid
    deploy_directory(session, path, actor, known_forms, known_operations=None,
                     known_roles=None, module_id=None) -> list[ProcessVersion]
    validate_directory(path, known_forms, known_operations=None, known_roles=None) -> list[AssetError]
    start_instance(session, process_id, community_id, business_key=None, actor="system",
                   data=None) -> ProcessInstance
    list_inbox(session, community_ids, roles, user_id, order="due", limit=50, offset=0) -> list[TaskRow]
    get_task(session, task_row_id) -> TaskRow;  task_data(session, task_row_id) -> dict
    claim_task(session, task_row_id, user_id, roles=None) -> TaskRow;  unclaim_task(...)
    complete_task(session, task_row_id, data, actor, expected_instance_version=None) -> ProcessInstance
    fire_due_timers(session, now=None, limit=500) -> int
    send_message(session, name, business_key, payload=None, community_id=None, actor="message") -> int
    retry_incident(session, incident_id, actor) -> Incident;  list_incidents(session, community_ids=None)
    cancel_instance(session, instance_id, actor, reason="") -> ProcessInstance
    instance_history(session, instance_id) -> dict   # tasks, incidents, completed_elements
    instance_data(session, instance_id) -> dict      # current variables
    operations.operation(name, schema=None)  # decorator registering a service-task operation

Errors: ``ConcurrentUpdate`` (someone saved first: reload), ``TaskNotOpen``, ``TaskNotFound``,
``ProcessNotFound``, ``IncidentNotOpen``, ``StepFailed`` — all ``EngineError``.
Authored content that fails while an instance runs (scripts, conditions, timers,
operations, a loop of more than ``engine_max_automatic_steps`` automatic steps)
becomes an incident on its element; the action that led there still succeeds.
Instance statuses: running, waiting, completed, incident, cancelled.
Task statuses: ready, claimed, completed, cancelled.

Names are resolved lazily so ``import app.engine.models`` (done by
``import_all_models``) does not pull in SpiffWorkflow.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "validate_bpmn": "app.engine.validation",
    "check_bpmn": "app.engine.validation",
    "deploy_process": "app.engine.deploy",
    "deploy_directory": "app.engine.deploy",
    "validate_directory": "app.engine.deploy",
    "start_instance": "app.engine.runtime",
    "cancel_instance": "app.engine.runtime",
    "list_inbox": "app.engine.tasks",
    "get_task": "app.engine.tasks",
    "task_data": "app.engine.tasks",
    "claim_task": "app.engine.tasks",
    "unclaim_task": "app.engine.tasks",
    "complete_task": "app.engine.tasks",
    "fire_due_timers": "app.engine.timers",
    "send_message": "app.engine.messages",
    "retry_incident": "app.engine.incidents",
    "list_incidents": "app.engine.incidents",
    "instance_history": "app.engine.history",
    "instance_data": "app.engine.history",
    "operation": "app.engine.operations",
    "known_operations": "app.engine.operations",
    "EngineError": "app.engine.errors",
    "ConcurrentUpdate": "app.engine.errors",
    "TaskNotOpen": "app.engine.errors",
    "TaskNotFound": "app.engine.errors",
    "ProcessNotFound": "app.engine.errors",
    "IncidentNotOpen": "app.engine.errors",
    "StepFailed": "app.engine.errors",
    "ProcessVersion": "app.engine.models",
    "ProcessInstance": "app.engine.models",
    "TaskRow": "app.engine.models",
    "Incident": "app.engine.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
