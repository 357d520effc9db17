"""Prefect flow: start the patrol runs that are due (menus/inspection.yaml: every 15 minutes).

For every community with the inspection module enabled, each active route whose schedule has
a run today (daily; weekly on its weekday; monthly on its day) and whose start time has come
gets one ``inspection_run`` process, in the community's own transaction; the first pass of a
month also issues the community's monthly self-inspection plan (``plans.ensure_plan``). Idempotent: a route
and planned time that already have a run are skipped, so two workers start nothing twice.
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.platform.discovery import import_all_models
from app.settings import get_settings
from workflows._communities import enabled_community_ids
from workflows._log import run_logger


def start_due(database_url: str | None = None, now=None,
              communities: list[str] | None = None) -> dict[int, list[str]]:
    """{community_id: numbers of the runs started}; ``communities``: codes (the module schedule
    passes its community), all with the module enabled when None."""
    from app.platform.discovery import load_operations

    load_operations()
    import_all_models()
    from app import clock
    from app.domains.inspection.periods import period_of
    from app.domains.inspection.plans import ensure_plan
    from app.domains.inspection.runs import start_due_runs

    engine = create_engine(database_url or get_settings().database_url)
    started: dict[int, list[str]] = {}
    try:
        with Session(engine) as session:
            chosen = enabled_community_ids(session, "inspection", communities)
        for community_id in chosen:
            with Session(engine) as session:
                # the month's self-inspection plan is issued on the month's first pass
                ensure_plan(session, community_id, period_of(now or clock.now()))
                started[community_id] = [r.number for r in start_due_runs(session, now, [community_id])]
                session.commit()
    finally:
        engine.dispose()
    return started


@flow(name="inspection_runs")
def inspection_runs(database_url: str | None = None, communities: list[str] | None = None) -> dict[int, list[str]]:
    started = start_due(database_url, communities=communities)
    run_logger().info("patrol runs started: %s", started)
    return started
