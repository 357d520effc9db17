"""Monthly partitions of ``energy_reading`` on PostgreSQL, created ahead of time.

The migration creates the partitioned table, a DEFAULT partition and the months around
today; the nightly flow calls :func:`ensure_partitions` so next months exist before their
first reading. Partitions live in their own schema (``energy_partitions``) so the schema
comparison of the models with the database sees only the parent table. On SQLite this is a
no-op: the table is a plain table there.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.domains.energy.models import PARTITION_SCHEMA


def _month_add(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def partition_ddl(year: int, month: int) -> str:
    y2, m2 = _month_add(year, month, 1)
    return (f"CREATE TABLE IF NOT EXISTS {PARTITION_SCHEMA}.energy_reading_{year:04d}_{month:02d} "
            f"PARTITION OF energy_reading FOR VALUES FROM ('{year:04d}-{month:02d}-01') "
            f"TO ('{y2:04d}-{m2:02d}-01')")


def month_span(start: date, months: int) -> list[tuple[int, int]]:
    return [_month_add(start.year, start.month, i) for i in range(months)]


def ensure_partitions(bind: Session | Connection, start: date, months: int = 3) -> list[str]:
    """Create the partitions of ``months`` months from ``start``'s month (PostgreSQL only);
    returns their names. Idempotent. A month whose rows already sit in the DEFAULT partition
    cannot get a partition of its own (PostgreSQL refuses); it stays in DEFAULT."""
    conn = bind.connection() if isinstance(bind, Session) else bind
    if conn.dialect.name != "postgresql":
        return []
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}"))
    made = []
    for year, month in month_span(start, months):
        name = f"energy_reading_{year:04d}_{month:02d}"
        exists = conn.execute(text("SELECT to_regclass(:n)"), {"n": f"{PARTITION_SCHEMA}.{name}"}).scalar()
        if exists:
            made.append(name)
            continue
        clash = conn.execute(text(
            f"SELECT 1 FROM {PARTITION_SCHEMA}.energy_reading_default WHERE at >= :a AND at < :b LIMIT 1"),
            {"a": date(year, month, 1), "b": date(*_month_add(year, month, 1), 1)}).first()
        if clash is None:
            conn.execute(text(partition_ddl(year, month)))
            made.append(name)
    return made
