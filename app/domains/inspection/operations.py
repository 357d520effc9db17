"""Inspection operations for the run and rectification processes (thin: validate, call a service)."""
from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import select

from app.domains.inspection import findings, runs
from app.engine.operations import OperationContext, operation


class RunSchema(Schema):
    run_id = fields.Integer(required=True)


class FindingSchema(Schema):
    finding_id = fields.Integer(required=True)


def _completed_by(ctx: OperationContext, *element_ids: str) -> str:
    from app.engine.models import TaskRow

    who = ctx.session.scalar(select(TaskRow.completed_by).where(
        TaskRow.instance_id == ctx.instance.id, TaskRow.element_id.in_(element_ids),
        TaskRow.status == "completed").order_by(TaskRow.id.desc()).limit(1))
    return who or "process"


@operation("inspection.finish_run", schema=RunSchema)
def finish_run(params: dict, ctx: OperationContext) -> dict:
    """The run task is done: the run is completed, or closed with its unchecked points missed."""
    run = runs.finish(ctx.session, params["run_id"], actor=_completed_by(ctx, "walk_guard", "walk_technician"),
                      note=ctx.data.get("close_note") or "", community_id=ctx.community_id)
    return {"run_status": run.status, "missed": len(run.missed_point_ids or [])}


@operation("inspection.run_late", schema=RunSchema)
def run_late(params: dict, ctx: OperationContext) -> dict:
    """The run's deadline passed while it was open: flag it late and tell the managers."""
    run = runs.mark_late(ctx.session, params["run_id"], community_id=ctx.community_id)
    return {"late": run.late}


@operation("inspection.escalate", schema=FindingSchema)
def escalate(params: dict, ctx: OperationContext) -> dict:
    """A rectification passed its deadline: tell the managers."""
    finding = findings.escalate(ctx.session, params["finding_id"], community_id=ctx.community_id)
    return {"escalated": finding.escalated_at is not None}


@operation("inspection.rectified", schema=FindingSchema)
def rectified(params: dict, ctx: OperationContext) -> dict:
    """Record the rectification: the note and the after photos of the rectify task."""
    findings.rectified(ctx.session, params["finding_id"], ctx.data.get("rectify_note") or "",
                       ctx.data.get("after_photos") or [],
                       actor=_completed_by(ctx, "rectify_technician", "rectify_guard"), community_id=ctx.community_id)
    return {}


@operation("inspection.accepted", schema=FindingSchema)
def accepted(params: dict, ctx: OperationContext) -> dict:
    """The manager accepted the rectification."""
    findings.accepted(ctx.session, params["finding_id"], actor=_completed_by(ctx, "accept"),
                      community_id=ctx.community_id)
    return {}


@operation("inspection.reopened", schema=FindingSchema)
def reopened(params: dict, ctx: OperationContext) -> dict:
    """The manager sent the rectification back: the responsible role gets the task again."""
    findings.reopened(ctx.session, params["finding_id"], actor=_completed_by(ctx, "accept"),
                      note=ctx.data.get("accept_note") or "", community_id=ctx.community_id)
    return {}
