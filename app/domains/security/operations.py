"""Security operations for the alert and hydrant processes (thin: validate, call a service)."""
from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import select

from app.domains.security import alerts, hydrants
from app.engine.operations import OperationContext, operation


class IncidentSchema(Schema):
    incident_id = fields.Integer(required=True)


def _completed_by(ctx: OperationContext, element_id: str) -> str:
    from app.engine.models import TaskRow

    who = ctx.session.scalar(select(TaskRow.completed_by).where(
        TaskRow.instance_id == ctx.instance.id, TaskRow.element_id == element_id,
        TaskRow.status == "completed").order_by(TaskRow.id.desc()).limit(1))
    return who or "process"


@operation("security.acknowledge", schema=IncidentSchema)
def acknowledge(params: dict, ctx: OperationContext) -> dict:
    """A guard acknowledged the alert: note who and when (time to acknowledge)."""
    incident = alerts.acknowledge(ctx.session, params["incident_id"], _completed_by(ctx, "acknowledge"),
                                  community_id=ctx.community_id)
    return {"acknowledged_by": incident.acknowledged_by}


@operation("security.escalate", schema=IncidentSchema)
def escalate(params: dict, ctx: OperationContext) -> dict:
    """Nobody acknowledged in time: tell the managers."""
    incident = alerts.escalate(ctx.session, params["incident_id"], community_id=ctx.community_id)
    return {"escalated": incident.escalated_at is not None}


@operation("security.close", schema=IncidentSchema)
def close(params: dict, ctx: OperationContext) -> dict:
    """Close the incident with the guard's outcome, note and photos."""
    data = ctx.data
    note = data.get("outcome_note") or ""
    if data.get("manager_note"):
        note = f"{note}\n[经理] {data['manager_note']}".strip()
    actor = _completed_by(ctx, "manager_review" if data.get("outcome") == "manager" else "handle")
    incident = alerts.close(ctx.session, params["incident_id"], outcome=data.get("outcome") or "handled",
                            note=note, photos=data.get("photos"), actor=actor, community_id=ctx.community_id)
    return {"closed_outcome": incident.outcome}


class HydrantRepairSchema(Schema):
    alarm_id = fields.Integer(required=True)
    cause = fields.String(required=True)


@operation("security.hydrant_repaired", schema=HydrantRepairSchema)
def hydrant_repaired(params: dict, ctx: OperationContext) -> dict:
    """The technician finished the maintenance task."""
    hydrants.record_repair(ctx.session, params["alarm_id"], params["cause"], community_id=ctx.community_id)
    return {}
