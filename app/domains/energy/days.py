"""The local calendar day of a stored (UTC-naive) timestamp, as SQL for either database."""
from __future__ import annotations

from sqlalchemy import func, literal_column
from sqlalchemy.orm import Session

from app.domains.energy.models import EnergyReading
from app.localtime import offset


def local_day(session: Session):
    """``date(at + the local offset)`` (e.g. +8 h for Beijing): readings grouped by local day."""
    minutes = int(offset().total_seconds() // 60)
    if session.connection().dialect.name == "postgresql":
        return func.date(EnergyReading.at + literal_column(f"interval '{minutes} minutes'"))
    return func.date(EnergyReading.at, f"{minutes:+d} minutes")
