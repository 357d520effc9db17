"""Parking operations for ``bpmn/parking/plate_review.bpmn`` (thin: validate, call a service)."""
from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import select

from app.domains.parking import review_decisions
from app.engine.operations import OperationContext, operation


class ReviewSchema(Schema):
    review_id = fields.Integer(required=True)


@operation("parking.resolve_review", schema=ReviewSchema)
def resolve_review(params: dict, ctx: OperationContext) -> dict:
    """Carry out the guard's plate review: open the gate (reason audited), charge, or keep closed.

    ``charge`` (an exit): the parked ticket of the corrected plate, or of the plate read, leaves
    now and its fee is due on the QR page."""
    from app.engine.models import TaskRow

    actor = ctx.session.scalar(select(TaskRow.completed_by).where(
        TaskRow.instance_id == ctx.instance.id, TaskRow.element_id == "review",
        TaskRow.status == "completed").order_by(TaskRow.id.desc()).limit(1)) or "process"
    data = ctx.data
    review = review_decisions.resolve(ctx.session, params["review_id"], decision=data.get("decision") or "keep_closed",
                             reason=data.get("reason") or "", corrected_plate=data.get("corrected_plate") or None,
                             actor=actor, community_id=ctx.community_id)
    return {"review_status": review.status, "gate_status": review.gate_status or ""}
