"""Prefect flow: settle or close online payment orders whose callback never came (every 5 min).

Safe to run twice or on two workers at once: orders are taken with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, and a paid order is credited through the once-only path of callbacks.
"""
from __future__ import annotations

from prefect import flow, get_run_logger
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.domains.fees.reconciliation import reconcile_pending_orders
from app.platform.discovery import import_all_models
from app.settings import get_settings


def reconcile(database_url: str | None = None, after_minutes: int = 5, close_after_minutes: int = 120) -> dict:
    import_all_models()
    engine = create_engine(database_url or get_settings().database_url)
    try:
        with Session(engine) as session:
            report = reconcile_pending_orders(session, after_minutes=after_minutes,
                                              close_after_minutes=close_after_minutes)
            session.commit()
    finally:
        engine.dispose()
    return {"settled": report.settled, "closed": report.closed, "still_open": report.still_open,
            "failed": report.failed}


@flow(name="payment_reconciliation")
def payment_reconciliation(database_url: str | None = None) -> dict:
    outcome = reconcile(database_url)
    try:
        get_run_logger().info("payment reconciliation: %s", outcome)
    except Exception:  # called as .fn() outside a flow run: no run logger
        pass
    return outcome
