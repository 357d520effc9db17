"""Prefect flow: read every Modbus meter of every community and store the readings.

Readings carry a quality flag (out-of-range and backwards counters are kept out of
billing); a silent meter is retried, then reported on its device page. Where a device is an
energy meter, every reading is also stored with its flag in the energy readings
(``energy_reading`` for good ones, ``energy_flagged_reading`` for the rest).
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.domains.devices.registry import read_meters
from app.domains.energy.readings import store_polled
from app.domains.estate.models import Community
from app.settings import get_settings
from workflows._log import run_logger


def poll(database_url: str | None = None, timeout: float = 1.0, retries: int = 2,
         communities: list[str] | None = None) -> dict[str, int]:
    """One polling round (every community, or the ones whose codes are named); returns
    reading counts by quality. Commits per community."""
    engine = create_engine(database_url or get_settings().database_url)
    counts: dict[str, int] = {}
    try:
        with Session(engine) as session:
            query = select(Community.id).order_by(Community.code)
            if communities:
                query = query.where(Community.code.in_(list(communities)))
            community_ids = list(session.scalars(query))
        for community_id in community_ids:
            with Session(engine) as session:
                readings = read_meters(session, community_id, timeout=timeout, retries=retries)
                for reading in readings:
                    counts[reading.quality] = counts.get(reading.quality, 0) + 1
                store_polled(session, community_id, readings)
                session.commit()
    finally:
        engine.dispose()
    return counts


@flow(name="meter_polling")
def meter_polling(database_url: str | None = None, communities: list[str] | None = None) -> dict[str, int]:
    counts = poll(database_url, communities=communities)
    run_logger().info("meter readings by quality: %s", counts)
    return counts
