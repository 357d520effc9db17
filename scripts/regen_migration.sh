#!/usr/bin/env bash
# Developer tool (pre-1.0 only): rebuild the single initial alembic revision from the models.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f app/migrations/versions/*_initial_schema.py /tmp/ef_regen.db
.venv/bin/python -c "from app.migrate import make_revision; make_revision('sqlite:////tmp/ef_regen.db', 'initial schema')"
