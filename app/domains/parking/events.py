"""What parking does with device events: barrier gates' plate reads and chargers' session
reports. ``devices`` finds this module by name (see ``app/domains/devices/inbound.py``)."""
from __future__ import annotations

from app.domains.parking import charging, gate_events

INBOUND_HANDLERS = [
    ("plate", gate_events.handle_plate_event),
    ("session", charging.handle_session_event),
]
# Checks no event triggers: charging sessions whose charger stopped reporting.
SWEEPS = [charging.sweep_silent]
