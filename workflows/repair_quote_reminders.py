"""Prefect flow: remind unanswered repair quotes (menus/repair.yaml: every 30 minutes).

For every community with the repair module enabled (or the ones the module schedule passes),
``app.domains.repair.quote_reminders.remind_unanswered`` reminds the household of a quote left
unanswered ``quote_reminder_hours`` and tells the managers after ``quote_escalation_hours``, in
the community's own transaction. Idempotent: each reminder is a timeline event.
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.platform.discovery import import_all_models
from app.settings import get_settings
from workflows._communities import enabled_community_ids
from workflows._log import run_logger


def remind(database_url: str | None = None, now=None,
           communities: list[str] | None = None) -> dict[int, dict[str, list[str]]]:
    """{community_id: {"reminded": [...], "escalated": [...]}}; ``communities``: codes."""
    import_all_models()
    from app.domains.repair.quote_reminders import remind_unanswered

    engine = create_engine(database_url or get_settings().database_url)
    done: dict[int, dict[str, list[str]]] = {}
    try:
        with Session(engine) as session:
            chosen = enabled_community_ids(session, "repair", communities)
        for community_id in chosen:
            with Session(engine) as session:
                done[community_id] = remind_unanswered(session, community_id, now)
                session.commit()
    finally:
        engine.dispose()
    return done


@flow(name="repair_quote_reminders")
def repair_quote_reminders(database_url: str | None = None,
                           communities: list[str] | None = None) -> dict[int, dict[str, list[str]]]:
    done = remind(database_url, communities=communities)
    run_logger().info("repair quotes reminded: %s", done)
    return done
