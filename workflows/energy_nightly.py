"""Prefect flow: the nightly energy analysis of every community where energy is enabled.

Per community, one transaction: monthly partitions ahead (PostgreSQL), then detection, which
first derives the days since the last complete derived day and stores the months they fall in
as sums of their days (``monthly.catch_up``: the previous month is finished the night after it
ends), then finds leaks, spikes, silent and stuck meters, master-meter losses and lighting in
daylight, and opens, refreshes or closes findings.
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.domains.energy.findings import run_detection
from app.domains.energy.partitions import ensure_partitions
from app.domains.estate.models import Community
from app.localtime import local_today
from app.platform.processes import module_enabled
from app.settings import get_settings
from workflows._log import run_logger


def nightly(database_url: str | None = None, communities: list[str] | None = None) -> dict[str, dict]:
    """``communities``: codes to analyse (the module schedule passes its community); all when None."""
    engine = create_engine(database_url or get_settings().database_url)
    out: dict[str, dict] = {}
    try:
        with Session(engine) as session:
            ensure_partitions(session, local_today(), months=3)
            session.commit()
            query = select(Community.id, Community.code)
            if communities is not None:
                query = query.where(Community.code.in_(communities))
            chosen = list(session.execute(query))
        for community_id, code in chosen:
            with Session(engine) as session:
                if not module_enabled(session, community_id, "energy"):
                    continue
                out[code] = run_detection(session, community_id)
                session.commit()
    finally:
        engine.dispose()
    return out


@flow(name="energy_nightly")
def energy_nightly(database_url: str | None = None, communities: list[str] | None = None) -> dict[str, dict]:
    result = nightly(database_url, communities)
    run_logger().info("energy findings by community: %s", result)
    return result
