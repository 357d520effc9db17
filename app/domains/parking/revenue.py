"""Parking and charging income as the owners' public revenue (公共收益).

The public revenue ledger belongs to the energy module (another engineer's ``s3-energy``
branch; its export does not exist on this branch yet). Every paid parking ticket, permit and
charging session calls ``post_public_revenue`` — the one hook to connect when that export
lands — which today only logs what it would post.
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
    post(session, community_id=community_id, source=source, amount_cents=amount_cents, reference=reference)
    return True
