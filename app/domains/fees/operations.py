"""Fee operations for BPMN service tasks: bring a community's late fees up to date.

Thin: validates parameters and calls ``app.domains.fees.late_fees``.
"""
from __future__ import annotations

from datetime import date

from marshmallow import Schema, fields

from app.domains.fees.late_fees import accrue_late_fees
from app.domains.fees.payments import apply_prepaid
from app.engine.operations import OperationContext, operation


class AccrueLateFeesSchema(Schema):
    as_of = fields.Date(load_default=None, allow_none=True,
                        metadata={"description": "accrue through this date (default: today)"})


@operation("fees.accrue_late_fees", schema=AccrueLateFeesSchema)
def fees_accrue_late_fees(params: dict, ctx: OperationContext) -> dict:
    as_of: date | None = params["as_of"]
    result = accrue_late_fees(ctx.session, ctx.community_id, as_of, actor="engine")
    return {"late_fee_bills": result.bills, "late_fee_added_cents": result.added_cents}


class ApplyPrepaidSchema(Schema):
    bill_ids = fields.List(fields.Integer(), required=True)


@operation("payments.apply_prepaid", schema=ApplyPrepaidSchema)
def apply_prepaid_op(params: dict, ctx: OperationContext) -> dict:
    """Pay the given bills from their households' prepaid balances."""
    payments = apply_prepaid(ctx.session, params["bill_ids"], actor="engine")
    return {"prepaid_applied_cents": sum(p.amount_cents for p in payments)}
