"""Household door credentials at the community's door controllers (``door.suspend`` /
``door.restore``), over the MQTT connector.

Only door access: this module has no way to touch water, power, heat or gas, and nothing in
the platform does (Civil Code art. 944). A command to a door whose retained state says
offline is written to the durable outbox (``device_command``) in the caller's transaction
and delivered when the door comes back; an online door must acknowledge, otherwise the
call raises and the engine turns it into a retryable incident.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.devices.bus import connector_for, use_connector  # noqa: F401  (re-exported)
from app.domains.devices.models import Device
from app.domains.devices.registry import capability_devices, enqueue_command, profile_of
from app.domains.estate.models import Community, Household, Resident


class DoorCommandFailed(RuntimeError):
    """A door refused or did not acknowledge; retry the step once the door answers."""


def household_credentials(session: Session, household_id: int) -> list[str]:
    """Card numbers of the household's residents (the credentials doors know them by)."""
    return sorted({c for c in session.scalars(select(Resident.card_number).where(
        Resident.household_id == household_id, Resident.card_number.is_not(None))) if c})


def suspension_doors(session: Session, community_id: int, household_id: int | None = None) -> list[Device]:
    """Doors that can suspend a card; for a household, those of its building plus the
    community-wide ones (no building)."""
    doors = capability_devices(session, community_id, "door.suspend")
    if household_id is None:
        return doors
    from app.domains.estate.models import Household, Unit

    building = session.scalar(select(Unit.building_id).join(Household, Household.unit_id == Unit.id)
                              .where(Household.id == household_id))
    return [d for d in doors if d.building_id is None or d.building_id == building]


@dataclass
class DoorResult:
    device: str
    credential: str
    command: str
    status: str  # ok, queued, failed, timeout
    error: str | None = None

    def as_dict(self) -> dict:
        return {"device": self.device, "credential": self.credential, "command": self.command,
                "status": self.status, "error": self.error}


def send_door_command(session: Session, community_id: int, capability: str, credentials: list[str],
         reason: str | None = None, timeout: float = 5.0, household_id: int | None = None) -> list[DoorResult]:
    """``door.suspend`` or ``door.restore`` every credential at every capable door.
    Raises ``DoorCommandFailed`` (after trying all) if an online door refused or was silent."""
    community = session.get(Community, community_id)
    if capability == "door.restore" and household_id is not None:
        household = session.get(Household, household_id)
        if household is not None and not household.active:
            return []  # moved out: their credentials stay revoked, a late payment restores nothing
    doors = suspension_doors(session, community_id, household_id)
    results: list[DoorResult] = []
    if not doors or not credentials:
        return results
    connector = connector_for(session)
    for door in doors:
        spec = profile_of(door).command_for(capability)
        if spec is None:
            continue
        for credential in credentials:
            params = {"credential": credential}
            if reason and capability == "door.suspend":
                params["reason"] = reason[:100]
            if connector.is_online(community.code, door.address) is False:
                enqueue_command(session, door, spec.name, params, uuid.uuid4().hex)
                results.append(DoorResult(door.code, credential, spec.name, "queued"))
                continue
            ack = connector.send_command(community.code, door.address, spec.name, params, timeout=timeout)
            results.append(DoorResult(door.code, credential, spec.name, ack.status, ack.error))
    bad = [r for r in results if r.status not in ("ok", "queued")]
    if bad:
        raise DoorCommandFailed("; ".join(f"{r.device} {r.command} {r.credential}: {r.status} {r.error or ''}".strip()
                                          for r in bad))
    return results
