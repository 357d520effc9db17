#!/usr/bin/env bash
# One command: install, create the SQLite database with the demo estate, start
# simulated devices (and an MQTT broker if none runs) and serve the web app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/estateflow demo "$@"
