"""What parking does with device events: barrier gates' plate reads and chargers' session
reports. ``devices`` finds this module by name (see ``app/domains/devices/inbound.py``)."""
from __future__ import annotations

from app.domains.parking import charging, gate, gate_events

INBOUND_HANDLERS = [
    ("plate", gate_events.handle_plate_event),
    ("session", charging.handle_session_event),
]
# Called by the device inbox with each batch of events before their handlers run: one lookup of
# the batch's plates (permits, parked tickets, recent reads) instead of several per read.
BATCH_PREPARE = [gate_events.prepare_reads]
# Checks no event triggers: charging sessions whose charger stopped reporting; gate commands the
# outbox delivered later (after a restart, or when the gate was back), noted on their records.
SWEEPS = [charging.sweep_silent, gate.note_delivered]
