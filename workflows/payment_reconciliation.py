"""Prefect flow: settle or close online payment orders whose callback never came, and ask about
refunds whose confirmation never came (every 5 min).

Safe to run twice or on two workers at once: orders are taken with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, and a paid order is credited through the once-only path of callbacks.
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.domains.fees.reconciliation import reconcile_pending_orders
from app.domains.fees.payments import chase_pending_refunds
from app.platform.discovery import import_all_models
from app.settings import get_settings
from workflows._log import run_logger


def reconcile(database_url: str | None = None, after_minutes: int = 5, close_after_minutes: int = 120,
              communities: list[str] | None = None) -> dict:
    """``communities``: codes to reconcile (the module schedule passes its community); all when None."""
    import_all_models()
    engine = create_engine(database_url or get_settings().database_url)
    try:
        with Session(engine) as session:
            community_ids = None
            if communities is not None:
                from sqlalchemy import select

                from app.domains.estate.models import Community

                community_ids = list(session.scalars(select(Community.id).where(Community.code.in_(communities))))
            report = reconcile_pending_orders(session, after_minutes=after_minutes,
                                              close_after_minutes=close_after_minutes,
                                              community_ids=community_ids)
            session.commit()
            refunds = chase_pending_refunds(session, after_minutes=after_minutes, community_ids=community_ids)
            session.commit()
    finally:
        engine.dispose()
    return {"settled": report.settled, "closed": report.closed, "still_open": report.still_open,
            "failed": report.failed, "refunds": refunds}


@flow(name="payment_reconciliation")
def payment_reconciliation(database_url: str | None = None, communities: list[str] | None = None) -> dict:
    outcome = reconcile(database_url, communities=communities)
    run_logger().info("payment reconciliation: %s", outcome)
    return outcome
