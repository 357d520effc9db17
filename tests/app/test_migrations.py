"""The alembic migrations create exactly the schema the models declare, and an installed database
upgrades from the landed 0001 with its data intact (SQLite and PostgreSQL)."""
from __future__ import annotations

import hashlib

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, select

from app.migrate import alembic_config, upgrade
from app.platform.discovery import import_all_models


def test_migrated_schema_matches_the_models(demo_db_url):
    engine = create_engine(demo_db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, import_all_models())
    engine.dispose()
    assert diff == [], f"models changed without a migration: {diff}"



def _digest(conn, table, columns: list[str]) -> tuple[int, str]:
    rows = sorted(repr(tuple(row)) for row in conn.execute(select(*[table.c[c] for c in columns])))
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _tables(url: str) -> tuple[object, MetaData]:
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    return engine, metadata


def test_a_database_at_0001_with_the_demo_data_upgrades_to_head_with_its_data_intact(demo_db_url):
    """Installed databases upgrade: the demo taken back to the landed 0001 (every downgrade runs),
    its rows recorded, then upgraded to head again (every upgrade runs) — each table of 0001 has
    the same rows afterwards over the columns it had at 0001, and the schema matches the models."""
    command.downgrade(alembic_config(demo_db_url), "0001")
    engine, metadata = _tables(demo_db_url)
    with engine.connect() as conn:
        at_0001 = {name: ([c.name for c in table.columns], _digest(conn, table, [c.name for c in table.columns]))
                   for name, table in metadata.tables.items() if name != "alembic_version"}
    engine.dispose()
    assert at_0001["household"][1][0] > 0 and at_0001["ab_user"][1][0] > 0  # the demo is really there

    upgrade(demo_db_url)
    engine, metadata = _tables(demo_db_url)
    with engine.connect() as conn:
        for name, (columns, before) in at_0001.items():
            assert name in metadata.tables, f"the upgrade dropped table {name}"
            assert _digest(conn, metadata.tables[name], columns) == before, f"rows of {name} changed"
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        assert compare_metadata(context, import_all_models()) == []
    engine.dispose()
