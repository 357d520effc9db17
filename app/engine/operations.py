"""Named operations that BPMN service tasks call (``camunda:topic="notify.log"``).

An operation is a few lines: validate parameters with its marshmallow schema and
call a service. Services and connectors do the real work; the engine only maps
parameters in and merges the returned dict into task data. Register with::

    @operation("billing.issue", schema=IssueSchema)
    def issue(params: dict, ctx: OperationContext) -> dict: ...
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields
from sqlalchemy.orm import Session

log = logging.getLogger("estateflow.operations")


@dataclass
class OperationContext:
    """What an operation may use besides its parameters."""

    session: Session
    community_id: int
    instance: Any  # app.engine.models.ProcessInstance
    business_key: str | None
    element_id: str
    data: dict  # read-only view of the task data


@dataclass(frozen=True)
class Operation:
    name: str
    func: Callable[[dict, OperationContext], dict | None]
    schema: type[Schema] | None
    description: str
    results: frozenset[str] | None = None
    """Names the operation adds to the process data (None: read from its ``return {...}``)."""

    def call(self, params: dict, ctx: OperationContext) -> dict:
        if self.schema is not None:
            try:
                params = self.schema().load(params)
            except ValidationError as exc:
                raise OperationParameterError(self.name, exc.messages) from exc
        result = self.func(params, ctx)
        return dict(result or {})


class OperationParameterError(ValueError):
    def __init__(self, name: str, messages: Any):
        super().__init__(f"operation {name}: invalid parameters: {messages}")


class UnknownOperation(LookupError):
    pass


_REGISTRY: dict[str, Operation] = {}


def operation(
    name: str, *, schema: type[Schema] | None = None, description: str = "",
    results: Iterable[str] | None = None,
) -> Callable[[Callable], Callable]:
    """Register ``func`` under ``name`` (later registration of a name replaces it).

    ``results``: the names it adds to the process data, for validation's check of what
    expressions read; without it they are read from the function's ``return {...}``."""

    def wrap(func: Callable) -> Callable:
        doc = description or (func.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = Operation(name, func, schema, doc,
                                    frozenset(results) if results is not None else None)
        return func

    return wrap


def get_operation(name: str) -> Operation:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownOperation(f"no operation named {name!r}") from None


def known_operations() -> set[str]:
    return set(_REGISTRY)


def unregister(name: str) -> None:
    """Remove an operation (tests register throwaway ones)."""
    _REGISTRY.pop(name, None)


# --- generic operations shipped with the engine -------------------------------------


class NotifyLogSchema(Schema):
    message = fields.String(required=True, metadata={"description": "the text published"})
    channel = fields.String(load_default="log", metadata={
        "description": "where it is published, e.g. log, notice_board (a label; no person receives it)"})
    level = fields.String(load_default="info", metadata={"description": "debug, info, warning or error"})


@operation("notify.log", schema=NotifyLogSchema)
def notify_log(params: dict, ctx: OperationContext) -> dict:
    """Publish a message to the log and the community's notification list (and the instance page)."""
    from app.domains.notifications.delivery import publish

    level = getattr(logging, params["level"].upper(), logging.INFO)
    publish(ctx.session, message=params["message"], channel=params["channel"],
            level=level if isinstance(level, int) else logging.INFO, community_id=ctx.community_id,
            instance_id=ctx.instance.id, business_key=ctx.business_key, element_id=ctx.element_id,
            logger=log)
    return {"notified": True, "notified_channel": params["channel"]}


@operation("data.set")
def data_set(params: dict, ctx: OperationContext) -> dict:
    """Set task-data variables: every parameter becomes a variable of that name."""
    return dict(params)


class AuditNoteSchema(Schema):
    action = fields.String(required=True, metadata={"description": "the audit log's action, e.g. lift.certified"})
    note = fields.String(load_default="", metadata={"description": "free text shown with it"})


@operation("audit.note", schema=AuditNoteSchema)
def audit_note(params: dict, ctx: OperationContext) -> dict:
    """Write a line to the audit log (and the instance's history) for this instance."""
    from app.platform.audit import record

    record(
        ctx.session, actor="engine", action=params["action"], target_type="process_instance",
        target_id=ctx.instance.id, community_id=ctx.community_id,
        after={"note": params["note"], "business_key": ctx.business_key, "element_id": ctx.element_id},
    )
    return {}


class ModuleSettingsSchema(Schema):
    prefix = fields.String(load_default="", metadata={
        "description": "put before each name, e.g. `setting_` (empty: the settings' own names)"})


@operation("module.settings", schema=ModuleSettingsSchema)
def module_settings_op(params: dict, ctx: OperationContext) -> dict:
    """Load this community's settings of the instance's module into the process data (each
    setting under its own name), so a data-only module's deadlines, amounts and switches follow
    its settings form: e.g. a timer `${"PT" + str(response_hours) + "H"}`."""
    from app.engine.models import ProcessVersion
    from app.forms import jsonable
    from app.platform.module_settings import module_settings

    version = ctx.session.get(ProcessVersion, ctx.instance.version_id)
    if version is None or not version.module_id:
        return {}
    values = module_settings(ctx.session, ctx.community_id, version.module_id)
    return {f"{params['prefix']}{name}": value for name, value in jsonable(values).items()}
