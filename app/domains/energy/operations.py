"""Energy operations for ``bpmn/energy/`` (thin: validate, call a service)."""
from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import select

from app.domains.energy import findings
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
