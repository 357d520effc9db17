"""Visitor operations for the walk-in process (thin: validate, call a service)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.domains.visitors import passes as visitor_passes
from app.engine.operations import OperationContext, operation


class PassSchema(Schema):
    pass_id = fields.Integer(required=True)


class DecisionSchema(PassSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))


@operation("visitors.ask_host", schema=PassSchema)
def ask_host(params: dict, ctx: OperationContext) -> dict:
    """Tell the host household a visitor waits for their approval."""
    visitor_passes.ask_host(ctx.session, params["pass_id"], community_id=ctx.community_id)
    return {}


@operation("visitors.decide", schema=DecisionSchema)
def decide(params: dict, ctx: OperationContext) -> dict:
    """Activate the pass (approved) or refuse it."""
    actor = ctx.data.get("decided_by") or "front_desk"
    vp = visitor_passes.apply_decision(ctx.session, params["pass_id"], params["decision"], actor,
                                       community_id=ctx.community_id)
    return {"pass_status": vp.status}
