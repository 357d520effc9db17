"""The guard's decision on a plate review (the ``parking.resolve_review`` step).

``open``: the gate opens (the reason is required and audited; a corrected plate of an entry
gets its ticket); ``charge`` (an exit): the parked ticket of the corrected plate, or of the
plate read, leaves now by the server's clock, its fee due on the QR page; ``keep_closed``:
nothing opens, the driver goes to the booth.
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.parking import gate_events
from app.domains.parking.gate import open_gate
from app.domains.parking.models import PlateReview
from app.domains.parking.plates import normalise_plate
from app.platform.audit import record

log = logging.getLogger("estateflow.parking.reviews")

DECISIONS = ("open", "charge", "keep_closed")


class ReviewError(ValueError):
    pass


def resolve(session: Session, review_id: int, *, decision: str, reason: str, actor: str,
            corrected_plate: str | None = None, community_id: int | None = None) -> PlateReview:
    """The guard's decision (see module docstring); every outcome audited."""
    review = session.get(PlateReview, review_id)
    if review is None or (community_id is not None and review.community_id != community_id):
        raise ReviewError(f"no plate review {review_id}")
    if review.status != "open":
        return review
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}")
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("a reason is required")
    device = session.get(Device, review.device_id) if review.device_id else None
    plate = normalise_plate(corrected_plate) if corrected_plate else None
    if corrected_plate and plate is None:
        log.warning("review %s: corrected plate %r is not a plate; ignored", review.number, corrected_plate)
    review.decided_by, review.decision_reason, review.decided_at = actor, reason[:300], clock.now()
    after = {"decision": decision, "reason": reason, "plate": review.plate, "corrected_plate": plate}
    if decision == "charge":
        plate = plate or normalise_plate(review.plate)
    if decision == "charge" and review.direction == "out" and plate:
        ticket = gate_events.exit_by_review(session, review, plate, device)
        review.status = "charged" if ticket is not None else "kept_closed"
        review.ticket_id = ticket.id if ticket else review.ticket_id
        review.gate_status = ticket.gate_status if ticket else None
        after["ticket"] = ticket.number if ticket else None
    elif decision == "open" or decision == "charge":
        if review.direction == "in" and plate:
            ticket = gate_events.entry_by_review(session, review, plate, device)
            after["ticket"] = ticket.number if ticket else None
        review.gate_status = open_gate(session, device, reason=f"guard: {reason}", plate=plate or review.plate)
        review.status = "opened"
    else:
        review.status = "kept_closed"
    after["gate_status"] = review.gate_status
    record(session, actor=actor, action=f"parking.review_{review.status}", target_type="parking_review",
           target_id=review.number, community_id=review.community_id, after=after)
    return review
