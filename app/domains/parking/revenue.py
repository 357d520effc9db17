"""Parking and charging income as the owners' public revenue (公共收益).

The public revenue ledger belongs to the energy module (its lazy export ``post_public_revenue``).
Every paid parking ticket and charging session calls this hook; where the energy module is
enabled the income is posted there once per reference (the disclosure page residents open shows
it), elsewhere nothing is posted.
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

log = logging.getLogger("estateflow.parking.revenue")


def post_public_revenue(session: Session, *, community_id: int, source: str, amount_cents: int,
                        reference: str) -> bool:
    """Post income to the energy module's public revenue ledger when it is there and enabled;
    False (logged) until then. ``source``: parking_temporary, parking_permit, charging."""
    import importlib

    try:
        energy = importlib.import_module("app.domains.energy")
        post = energy.post_public_revenue
    except (ImportError, AttributeError):
        log.info("public revenue not posted (no energy ledger): %s %s %s cents", source, reference, amount_cents)
        return False
    from app.platform.processes import module_enabled

    if not module_enabled(session, community_id, "energy"):
        return False
    category, words = _CATEGORY.get(source, ("parking", "停车收入"))
    post(session, community_id=community_id, category=category, amount_cents=amount_cents,
         description=f"{words} {reference}", source=f"parking:{source}", source_ref=f"parking:{reference}")
    return True


#: our income sources → the public revenue ledger's categories, and the entry's words
_CATEGORY = {"parking_temporary": ("parking", "临时停车收入"), "parking_permit": ("parking", "月租车位收入"),
             "charging": ("charger", "充电收入")}
