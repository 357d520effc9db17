"""Door access for arrears: ``access.suspend`` (door.suspend) and ``access.restore`` (door.restore).

Only door credentials; nothing here (or anywhere) cuts water, power, heat or gas.
"""
from __future__ import annotations

from app.engine.operations import OperationContext, operation
from app.services import dunning


@operation("access.suspend")
def suspend(params: dict, ctx: OperationContext) -> dict:
    """Suspend the household's door cards for the bill in the business key (approved, announced)."""
    return dunning.suspend(ctx.session, community_id=ctx.community_id, bill_number=ctx.business_key)


@operation("access.restore")
def restore(params: dict, ctx: OperationContext) -> dict:
    """Restore the household's door cards at once (payment received); cancels an announced suspension."""
    return dunning.restore(ctx.session, community_id=ctx.community_id, bill_number=ctx.business_key)
