#!/usr/bin/env bash
# Developer tool (pre-1.0 only): rebuild the single initial alembic revision from the models.
# The revision id is fixed, so running it again (or from two shells) rewrites one file.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -u /tmp/ef_regen_XXXX.db)"
rm -f app/migrations/versions/*.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from app.migrate import alembic_config
command.revision(alembic_config(f"sqlite:///{sys.argv[1]}"), message="initial schema",
                 autogenerate=True, rev_id="0001")
PY
rm -f "$tmp"
