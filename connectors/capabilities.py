"""The fixed list of things the engine may ask of a device.

Profiles declare which of these a device model offers; the engine asks for a capability
(``door.grant``), never for a protocol, so swapping a vendor means swapping a profile.
"""
from __future__ import annotations

CAPABILITIES: dict[str, str] = {
    "meter.read": "Read a cumulative meter (water m³, electricity kWh).",
    "door.grant": "Grant a card/QR/face credential at a door controller.",
    "door.suspend": "Suspend a credential (opt-in, approved, audited, reversible).",
    "door.restore": "Restore a suspended credential.",
    "gate.open": "Open a barrier gate once.",
    "pressure.read": "Report water pressure (hydrant, pump room).",
    "camera.alert": "Emit AI video alerts (thrown object, loitering, illegal parking).",
    "charger.start": "Start an EV charging session.",
    "charger.stop": "Stop an EV charging session.",
}


def is_capability(name: str) -> bool:
    return name in CAPABILITIES
