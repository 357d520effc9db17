"""``payments.apply_prepaid``: a billing process pays new bills from prepaid balances."""
from __future__ import annotations

from marshmallow import Schema, fields

from app.engine.operations import OperationContext, operation
from app.services.payments import apply_prepaid


class ApplyPrepaidSchema(Schema):
    bill_ids = fields.List(fields.Integer(), required=True)


@operation("payments.apply_prepaid", schema=ApplyPrepaidSchema)
def apply_prepaid_op(params: dict, ctx: OperationContext) -> dict:
    """Pay the given bills from their households' prepaid balances."""
    payments = apply_prepaid(ctx.session, params["bill_ids"], actor="engine")
    return {"prepaid_applied_cents": sum(p.amount_cents for p in payments)}
