"""The guard's plate review: what the gate could not settle alone becomes a task.

Reasons: ``orphan_exit`` (an exit with no matching entry), ``low_confidence`` (the camera is
not sure of the plate), ``malformed_plate`` (not a plate at all), ``clock_skew`` (the exit is
before the entry by the gate's clock), ``closed_entry`` (temporary cars may not enter). Never
a free pass by silence, never a stuck car: the ``parking_plate_review`` process gives a guard
the snapshot; the guard opens (a reason is required and audited), charges the corrected
plate's ticket at the exit, or keeps the gate closed (``review_decisions.py``).
"""
from __future__ import annotations

import logging
import secrets

from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.parking.models import ParkingTicket, PlateReview
from app.localtime import local_format

log = logging.getLogger("estateflow.parking.reviews")

PROCESS_ID = "parking_plate_review"
REASONS = {
    "orphan_exit": {"zh": "出场无入场记录", "en": "Exit without an entry"},
    "low_confidence": {"zh": "车牌识别不确定", "en": "Plate read uncertain"},
    "malformed_plate": {"zh": "车牌无法识别", "en": "Plate not readable"},
    "clock_skew": {"zh": "出场时间早于入场（设备时钟偏差）", "en": "Exit before entry (device clock skew)"},
    "closed_entry": {"zh": "临时车禁止入场", "en": "Temporary cars may not enter"},
}
DIRECTIONS = {"in": {"zh": "入场", "en": "Entry"}, "out": {"zh": "出场", "en": "Exit"}}


def both(labels: dict[str, str]) -> str:
    return f"{labels['zh']} {labels['en']}"


def open_review(session: Session, *, community_id: int, device: Device | None, plate: str, direction: str,
                reason: str, confidence, at, snapshot: dict | None = None,
                ticket: ParkingTicket | None = None) -> PlateReview:
    """A review row and its process (a task in the guards' inbox)."""
    from app.engine.errors import ProcessNotFound
    from app.platform.processes import ProcessNotAllowed, start_process

    review = PlateReview(number=f"PR{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(2).upper()}",
                         community_id=community_id, device_id=device.id if device else None, plate=plate[:20],
                         direction=direction, reason=reason, status="open", snapshot=snapshot,
                         ticket_id=ticket.id if ticket else None, created_at=clock.now())
    session.add(review)
    session.flush()
    data = {"review_id": review.id, "review_number": review.number, "review_reason": both(REASONS[reason]),
            "plate": plate or "?", "direction_label": both(DIRECTIONS.get(direction, DIRECTIONS["in"])),
            "gate": device.name if device else "?", "confidence": f"{float(confidence):.2f}",
            "event_time": local_format(at, "%m-%d %H:%M:%S")}
    if snapshot and "sha256" in snapshot:
        data["snapshot"] = [snapshot]
    try:
        instance = start_process(session, community_id=community_id, process_id=PROCESS_ID,
                                 actor=f"gate:{device.code if device else '?'}", business_key=review.number,
                                 data=data)
        review.instance_id = instance.id
    except (ProcessNotAllowed, ProcessNotFound) as exc:
        log.error("plate review %s has no task (%s): the gate stays closed until a guard acts", review.number, exc)
    log.info("plate review %s opened: %s %s at %s (%s)", review.number, plate, direction,
             device.code if device else "?", reason)
    return review
