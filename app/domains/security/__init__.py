"""Security (安防): camera alerts grouped into incidents, hydrant pressure alarms, access
control (credentials synced to door controllers, door events), door commands and KPIs.

Registers its device-event handlers in ``events.py``.

Offers to other domains: the door commands dunning needs — ``suspension_doors``,
``household_credentials``, ``send_door_command`` — and ``DoorCommandFailed``.
"""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "suspension_doors": "door_access",
    "household_credentials": "door_access",
    "send_door_command": "door_access",
    "DoorCommandFailed": "door_access",
})
