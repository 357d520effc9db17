"""Prefect flow: start one dunning instance per overdue unpaid bill (daily, 09:00).

Idempotent: a bill that already has a dunning instance (running or finished) is skipped, so
running the flow twice, or on two workers, starts nothing twice (per community, one commit).
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.domains.dunning.ladder import start_overdue
from app.modules.models import ModuleActivation
from app.platform.discovery import import_all_models
from app.settings import get_settings
from workflows._log import run_logger


def sweep(database_url: str | None = None, communities: list[str] | None = None) -> dict[int, int]:
    """Start missing dunning instances community by community (every community with dunning,
    or the ones whose codes are named); returns {community_id: started}."""
    from app.platform.discovery import load_operations
    load_operations()  # registers every operation before validation

    import_all_models()
    engine = create_engine(database_url or get_settings().database_url)
    started: dict[int, int] = {}
    try:
        with Session(engine) as session:
            query = select(ModuleActivation.community_id).where(
                ModuleActivation.module_id == "dunning", ModuleActivation.enabled.is_(True))
            if communities:
                from app.domains.estate.models import Community

                query = query.join(Community, Community.id == ModuleActivation.community_id).where(
                    Community.code.in_(list(communities)))
            community_ids = list(session.scalars(query))
        for community_id in community_ids:
            with Session(engine) as session:
                started[community_id] = len(start_overdue(session, community_id=community_id))
                session.commit()
    finally:
        engine.dispose()
    return started


@flow(name="dunning_sweep")
def dunning_sweep(database_url: str | None = None, communities: list[str] | None = None) -> dict[int, int]:
    started = sweep(database_url, communities)
    run_logger().info("dunning instances started: %s", started)
    return started
