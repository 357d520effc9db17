"""Prefect flow: refresh the dashboard's roll-ups (per community × month KPI inputs).

The company- and community-level dashboard reads these instead of scanning every bill, order,
task and device event (bench/dashboard.py, bench/RESULTS.md); each refresh also takes the
community's snapshot of "now" figures (open orders, devices by state, open incidents) that the
company level sums; a building's own figures are read live. Scheduled by the repair module (``menus/repair.yaml``) per community, every
15 minutes; the page shows when each rolled-up figure was refreshed. A community refreshed
less than ``fresh_minutes`` ago is skipped, so two schedules naming it do the work once.
"""
from __future__ import annotations

from datetime import timedelta

from prefect import flow
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community
from app.platform.kpi import last_refresh, refresh_rollups
from app.settings import get_settings
from workflows._log import run_logger


def refresh(database_url: str | None = None, communities: list[str] | None = None,
            fresh_minutes: int = 5) -> dict[str, dict[str, int]]:
    """``communities``: codes to refresh (all when None). Returns rows per metric per code."""
    engine = create_engine(database_url or get_settings().database_url)
    out: dict[str, dict[str, int]] = {}
    try:
        with Session(engine) as session:
            query = select(Community.id, Community.code).order_by(Community.id)
            if communities is not None:
                query = query.where(Community.code.in_(communities))
            chosen = list(session.execute(query))
        for community_id, code in chosen:
            with Session(engine) as session:
                now = clock.now()
                last = last_refresh(session, community_id)
                if fresh_minutes and last is not None and now - last < timedelta(minutes=fresh_minutes):
                    continue
                out[code] = refresh_rollups(session, community_id, now)
                session.commit()
    finally:
        engine.dispose()
    return out


@flow(name="kpi_rollup")
def kpi_rollup(database_url: str | None = None, communities: list[str] | None = None,
               fresh_minutes: int = 5) -> dict[str, dict[str, int]]:
    result = refresh(database_url, communities, fresh_minutes)
    run_logger().info("dashboard roll-ups refreshed: %s", sorted(result))
    return result
