"""The alembic migrations create exactly the schema the models declare (SQLite and PostgreSQL)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.platform.discovery import import_all_models


def test_migrated_schema_matches_the_models(demo_db_url):
    engine = create_engine(demo_db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, import_all_models())
    engine.dispose()
    assert diff == [], f"models changed without a migration: {diff}"
