"""Repair operations for ``bpmn/repair/*.bpmn``: each finds the order by business key and calls a service.

* ``repair.sla`` — deadlines for the category (module settings) as timer values;
* ``repair.dispatch`` — offer to the nearest suitable technician (``dispatched`` true/false);
* ``repair.assign`` — the manager's pick from the 'assign' task;
* ``repair.record`` (``event``, optional ``task``) — a step happened: timeline, timestamps, notifications;
* ``repair.escalate`` (``level``: reminded, manager, company, resolution) — an SLA timer fired;
* ``repair.sample_revisit`` (optional ``percent``) — pick completed orders for a front-desk call-back.
"""
from __future__ import annotations

import hashlib

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app import clock
from app.domains.repair import dispatch as dispatch_service
from app.domains.repair import orders as repair_orders
from app.domains.repair import settings as repair_settings
from app.domains.repair.models import RepairOrder
from app.engine.operations import OperationContext, operation


class OrderNotFound(LookupError):
    pass


def _order(ctx: OperationContext) -> RepairOrder:
    order = ctx.session.scalar(select(RepairOrder).where(
        RepairOrder.number == ctx.business_key, RepairOrder.community_id == ctx.community_id))
    if order is None:
        raise OrderNotFound(f"no repair order {ctx.business_key!r} in community {ctx.community_id}")
    if order.instance_id is None:
        order.instance_id = ctx.instance.id
    dispatch_service.mark_for_assignment(ctx.session, order.instance_id)
    return order


@operation("repair.sla")
def sla(params: dict, ctx: OperationContext) -> dict:
    """Compute the SLA deadlines of this round (report or reopen) from the module settings."""
    order = _order(ctx)
    settings = repair_settings.community_settings(ctx.session, ctx.community_id)
    plan = repair_settings.sla_plan(settings, order.category, clock.now())
    order.response_due_at = plan["at"]["response_due"]
    order.resolution_due_at = plan["at"]["resolution_due"]
    return plan["timers"]


@operation("repair.dispatch")
def dispatch(params: dict, ctx: OperationContext) -> dict:
    """Offer the order to the nearest available technician with the skill."""
    order = _order(ctx)
    best = dispatch_service.dispatch(ctx.session, order)
    if best is None:
        return {"dispatched": False, "technician_name": "",
                "dispatch_note": "没有合适的在岗技工 / no suitable technician on duty"}
    distance = f"{best.distance_m} m" if best.distance_m is not None else "?"
    return {"dispatched": True, "technician_name": best.name,
            "dispatch_note": f"{best.name} · {distance} · {best.open_load}"}


@operation("repair.assign")
def assign(params: dict, ctx: OperationContext) -> dict:
    """Assign the technician a manager chose in the 'assign' task."""
    order = _order(ctx)
    actor = repair_orders.task_actor(ctx.session, order, ctx.data.get("assign_task", "assign_manual")) or "manager"
    dispatch_service.assign_by_hand(ctx.session, order, int(ctx.data["technician"]),
                                    str(ctx.data.get("assign_reason") or ""), actor)
    return {"dispatched": True, "technician_name": order.technician_username or ""}


class RecordSchema(Schema):
    event = fields.String(required=True)
    task = fields.String(load_default="")


@operation("repair.record", schema=RecordSchema)
def record(params: dict, ctx: OperationContext) -> dict:
    """A step of the order happened (accepted, declined, arrived, completed, confirmed, ...)."""
    order = _order(ctx)
    actor = (repair_orders.task_actor(ctx.session, order, params["task"]) if params["task"] else None) or "engine"
    return repair_orders.record(ctx.session, order, params["event"], ctx.data, actor=actor)


class EscalateSchema(Schema):
    level = fields.String(required=True, validate=validate.OneOf(repair_orders.ESCALATIONS))


@operation("repair.escalate", schema=EscalateSchema)
def escalate(params: dict, ctx: OperationContext) -> dict:
    """An SLA timer fired: remind the technician, or escalate to the manager or the company."""
    return repair_orders.escalate(ctx.session, _order(ctx), params["level"])


class SampleSchema(Schema):
    percent = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 100))


@operation("repair.sample_revisit", schema=SampleSchema)
def sample_revisit(params: dict, ctx: OperationContext) -> dict:
    """Pick this order for a call-back with the configured probability (stable per order)."""
    order = _order(ctx)
    percent = params["percent"]
    if percent is None:
        percent = int(repair_settings.community_settings(ctx.session, ctx.community_id)
                      .get("revisit_sample_percent") or 0)
    bucket = int(hashlib.sha256(order.number.encode()).hexdigest(), 16) % 100
    order.revisit = bucket < percent
    return {"revisit": order.revisit}
