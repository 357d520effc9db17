"""Fee operations for BPMN service tasks: bring a community's late fees up to date, pay bills
from prepaid balances, record a household's deposit and release it.

Thin: validates parameters and calls ``app.domains.fees.late_fees``, ``payments``, ``deposits``.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from marshmallow import Schema, fields

from app.domains.fees import deposits
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


class RecordDepositSchema(Schema):
    household_id = fields.Integer(required=True, metadata={"description": "the household that pays it"})
    amount = fields.Decimal(required=True, metadata={"description": "in 元, e.g. 2000.00 (a money field)"})
    method = fields.String(load_default="cash", metadata={"description": "cash or bank_transfer"})
    note = fields.String(load_default="", metadata={"description": "shown in the audit log"})


@operation("fees.record_deposit", schema=RecordDepositSchema,
           results=("deposit_cents", "deposit_held_cents"))
def record_deposit_op(params: dict, ctx: OperationContext) -> dict:
    """Record a deposit received from a household in the fees ledger (once per process instance)."""
    state = deposits.record_deposit(
        ctx.session, community_id=ctx.community_id, household_id=params["household_id"],
        amount=params["amount"], key=f"instance:{ctx.instance.id}", method=params["method"],
        note=params["note"], actor="engine")
    return {"deposit_cents": state.received_cents, "deposit_held_cents": state.held_cents}


class ReleaseDepositSchema(Schema):
    deduction = fields.Decimal(load_default=Decimal(0),
                               metadata={"description": "in 元, kept by the company (needs a reason)"})
    reason = fields.String(load_default="", metadata={"description": "why something is kept"})
    method = fields.String(load_default="cash", metadata={"description": "cash or bank_transfer"})


@operation("fees.release_deposit", schema=ReleaseDepositSchema,
           results=("deposit_refunded_cents", "deposit_deducted_cents", "deposit_held_cents"))
def release_deposit_op(params: dict, ctx: OperationContext) -> dict:
    """Pay back this instance's deposit, minus a deduction with its reason (once per instance)."""
    state = deposits.release_deposit(
        ctx.session, community_id=ctx.community_id, key=f"instance:{ctx.instance.id}",
        deduction=params["deduction"], reason=params["reason"], method=params["method"], actor="engine")
    return {"deposit_refunded_cents": state.refunded_cents, "deposit_deducted_cents": state.deducted_cents,
            "deposit_held_cents": state.held_cents}
