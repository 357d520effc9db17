#!/usr/bin/env bash
# One command: install, start PostgreSQL/Mosquitto/chromium if needed, run every test
# (SQLite and PostgreSQL, connectors against the real broker, browser journeys).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_LOGGING_LEVEL=WARNING
exec .venv/bin/python -m pytest "$@"
