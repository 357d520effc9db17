"""What security does with device events: the handlers the devices router calls at discovery.

``devices`` never imports this domain; it finds this module by name (see
``app/domains/devices/inbound.py``).
"""
from __future__ import annotations

from app.domains.security import access_control, alerts, hydrants

INBOUND_HANDLERS = [
    ("camera.alert", alerts.handle_alert_event),
    ("pressure.read", hydrants.handle_pressure_event),
    ("entry", access_control.handle_door_event),
]
# Checks that no event triggers: silent hydrant sensors, low-pressure alarms that became due.
SWEEPS = [hydrants.sweep]
