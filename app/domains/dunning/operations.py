"""Dunning steps for ``bpmn/dunning/dunning.bpmn``: reminders and the suspension check/schedule."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.domains.dunning import ladder as dunning
from app.engine.operations import OperationContext, operation


class RemindSchema(Schema):
    tier = fields.String(required=True, validate=validate.OneOf(["first", "second", "final"]))
    channels = fields.String(load_default="in_app")


@operation("dunning.remind", schema=RemindSchema)
def remind(params: dict, ctx: OperationContext) -> dict:
    """Send a reminder tier (in-app, SMS adapter, printable notice) to the bill's household."""
    channels = tuple(c.strip() for c in params["channels"].split(",") if c.strip())
    return dunning.remind(ctx.session, community_id=ctx.community_id, bill_number=ctx.business_key,
                          tier=params["tier"], channels=channels)


class CheckSchema(Schema):
    household_id = fields.Integer(required=True)


@operation("dunning.check_suspension", schema=CheckSchema)
def check_suspension(params: dict, ctx: OperationContext) -> dict:
    """Is door suspension possible now (setting on, no exemption, capable doors, a card)?"""
    return dunning.check_suspension(ctx.session, community_id=ctx.community_id,
                                    household_id=params["household_id"])


class ScheduleSchema(Schema):
    household_id = fields.Integer(required=True)
    suspend_on = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default="", allow_none=True)


@operation("dunning.schedule_suspension", schema=ScheduleSchema)
def schedule_suspension(params: dict, ctx: OperationContext) -> dict:
    """Record the approved suspension and send the household the advance notice with its date."""
    from sqlalchemy import select

    from app.engine.models import TaskRow

    approver = ctx.session.scalar(select(TaskRow.completed_by).where(
        TaskRow.instance_id == ctx.instance.id, TaskRow.element_id == "approve_suspension",
        TaskRow.completed_by.is_not(None)).order_by(TaskRow.id.desc()).limit(1))
    return dunning.schedule_suspension(ctx.session, community_id=ctx.community_id,
                                       household_id=params["household_id"], bill_number=ctx.business_key,
                                       suspend_on=params["suspend_on"] or None,
                                       approved_by=approver or "manager",
                                       reason=params["reason"] or "")


# Door access for arrears (``access.suspend`` / ``access.restore``): the dunning process asks,
# security's door_access sends the commands.
@operation("access.suspend")
def suspend(params: dict, ctx: OperationContext) -> dict:
    """Suspend the household's door cards for the bill in the business key (approved, announced)."""
    return dunning.suspend(ctx.session, community_id=ctx.community_id, bill_number=ctx.business_key)


@operation("access.restore")
def restore(params: dict, ctx: OperationContext) -> dict:
    """Restore the household's door cards at once (payment received); cancels an announced suspension."""
    return dunning.restore(ctx.session, community_id=ctx.community_id, bill_number=ctx.business_key)
