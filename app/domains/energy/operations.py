"""Energy operations for ``bpmn/energy/`` (thin: validate, call a service)."""
from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import select

from app.domains.energy import findings, handheld
from app.domains.energy.errors import EnergyError
from app.engine.operations import OperationContext, operation


class FindingReviewSchema(Schema):
    finding_id = fields.Integer(required=True)
    outcome = fields.String(required=True)


@operation("energy.finding_reviewed", schema=FindingReviewSchema)
def finding_reviewed(params: dict, ctx: OperationContext) -> dict:
    """The manager inspected the finding: record the outcome; 'resolved' closes it."""
    from app.engine.models import TaskRow

    who = ctx.session.scalar(select(TaskRow.completed_by).where(
        TaskRow.instance_id == ctx.instance.id, TaskRow.element_id == "review",
        TaskRow.status == "completed").order_by(TaskRow.id.desc()).limit(1)) or "process"
    finding = findings.record_review(ctx.session, params["finding_id"], params["outcome"],
                                     str(ctx.data.get("review_note") or ""), who, community_id=ctx.community_id)
    return {"finding_status": finding.status}


class HandheldSchema(Schema):
    meter_id = fields.Integer(required=True)


@operation("energy.record_handheld", schema=HandheldSchema)
def record_handheld(params: dict, ctx: OperationContext) -> dict:
    """Store the technician's reading, or send the task back with the question to confirm
    (lower than the last: meter replaced? far off the history: check the dial)."""
    from app.engine.models import TaskRow
    from app.domains.energy.models import EnergyMeter

    data = ctx.data
    who = ctx.session.scalar(select(TaskRow.completed_by).where(
        TaskRow.instance_id == ctx.instance.id, TaskRow.element_id == "read_meter",
        TaskRow.status == "completed").order_by(TaskRow.id.desc()).limit(1)) or "technician"
    try:
        handheld.submit(ctx.session, params["meter_id"], data.get("reading"), data.get("dial_photo"), who,
                        confirmed=bool(data.get("confirmed")), community_id=ctx.community_id,
                        read_at=data.get("read_at"))
    except EnergyError as exc:
        meter = ctx.session.get(EnergyMeter, params["meter_id"])
        again = handheld.process_data(ctx.session, meter) if meter is not None else {}
        return {**again, "handheld_status": "ask", "handheld_message": exc.message("zh"), "confirmed": False}
    return {"handheld_status": "recorded", "handheld_message": ""}
