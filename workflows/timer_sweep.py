"""Prefect flow: fire due engine timers (SLA escalations, reminders, waits).

Runs every minute in production; several workers may run it at once because the
engine takes due rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL. Each batch
commits on its own so one bad instance never holds back the rest.
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.engine.timers import fire_due_timers
from app.platform.uploads import sweep_unreferenced_uploads
from app.settings import get_settings
from workflows._log import run_logger


def sweep(database_url: str | None = None, batch: int = 500, max_batches: int = 100) -> int:
    """Fire due timers in committed batches until none are due; returns how many fired.
    Then remove the stored files of refused submissions whose grace period is over."""
    engine = create_engine(database_url or get_settings().database_url)
    total = 0
    try:
        for _ in range(max_batches):
            with Session(engine) as session:
                fired = fire_due_timers(session, limit=batch)
                session.commit()
            total += fired
            if fired < batch:
                break
        with Session(engine) as session:  # files of refused submissions, after their grace period
            sweep_unreferenced_uploads(session)
            session.commit()
    finally:
        engine.dispose()
    return total


@flow(name="timer_sweep")
def timer_sweep(database_url: str | None = None, batch: int = 500) -> int:
    fired = sweep(database_url, batch)
    run_logger().info("fired %d due timers", fired)
    return fired


if __name__ == "__main__":
    timer_sweep()
