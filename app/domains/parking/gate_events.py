"""Plate reads at the barrier gates: entry, exit, the fee, and when the gate opens.

Entry: a permit holder's plate, or a visitor pass with that plate, opens the gate; any other
car gets a ticket and enters (``temporary_entry``; off: the guard reviews). Exit: permit
holders and visitors leave; a ticket's fee is computed by ``fee_rule.parking_fee`` from the
gate's entry and exit times (local time); nothing due opens the gate, a fee waits for the
driver's payment on the exit's QR page (``tickets.py``), and the payment confirmation opens it.

Never a free pass by silence: an exit with no entry, a plate read with low confidence, a
malformed plate and an exit before the entry by the gate's clock (clock skew) each become
a guard's review (``reviews.py``) and are logged. A plate read twice (the same plate,
direction and gate within ``duplicate_window_seconds``) counts once. Every read is stored
with its outcome (``PlateEvent``).
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.devices.registry import apply_event
from app.domains.devices.tx_cache import per_transaction
from app.domains.parking.fee_rule import FeeRule, NegativeDuration, parking_fee
from app.domains.parking.gate import open_gate
from app.domains.parking.models import ParkingTicket, PlateEvent, PlateReview
from app.domains.parking.module import module_enabled
from app.domains.parking.permits import permit_for_plate
from app.domains.parking.plates import normalise_plate
from app.domains.parking.reviews import open_review
from app.domains.parking.snapshots import keep_snapshot
from app.localtime import to_local
from app.platform.module_settings import module_settings

log = logging.getLogger("estateflow.parking.gate_events")

MODULE_ID = "parking"


def _enabled(session: Session, community_id: int, module_id: str) -> bool:
    """Asked once per transaction: a batch of reads asks once, not once per read."""
    return per_transaction(session, ("module_enabled", community_id, module_id),
                           lambda: module_enabled(session, community_id, module_id))


def _settings(session: Session, community_id: int) -> dict:
    return per_transaction(session, ("module_settings", community_id, MODULE_ID),
                           lambda: module_settings(session, community_id, MODULE_ID))


def _note_gate(*records) -> Callable[[Session, str], None]:
    """``on_status`` for ``open_gate``: the gate's answer noted on these records (by id, in a
    later transaction of the inbox)."""
    def note(session: Session, status: str) -> None:
        for record in records:
            identity = inspect(record).identity
            if identity:
                model = type(record)
                session.execute(update(model).where(model.id == identity[0]).values(gate_status=status))
    return note


def _visitor_pass(session: Session, community_id: int, plate: str) -> dict | None:
    if not _enabled(session, community_id, "visitors"):
        return None
    from app.domains import visitors

    return visitors.pass_for_plate(session, community_id, plate)


def _new_ticket(session: Session, community_id: int, plate: str, device: Device | None, at: datetime,
                kind: str) -> ParkingTicket:
    for old in session.scalars(select(ParkingTicket).where(
            ParkingTicket.community_id == community_id, ParkingTicket.plate == plate,
            ParkingTicket.status == "parked")):
        old.status = "lost"  # entered again without an exit read: the old stay is not charged twice
        log.warning("ticket %s of %s had no exit read; replaced by a new entry", old.number, plate)
    ticket = ParkingTicket(number=f"PT{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}",
                           community_id=community_id, plate=plate, status="parked", kind=kind,
                           entry_device_id=device.id if device else None, entry_at=at,
                           pay_token=secrets.token_urlsafe(18), created_at=clock.now())
    session.add(ticket)
    session.flush()
    return ticket


def _duplicate(session: Session, community_id: int, device: Device | None, plate: str, direction: str,
               at: datetime, window: int) -> bool:
    if window <= 0:
        return False
    span = timedelta(seconds=window)
    return session.scalar(select(PlateEvent.id).where(
        PlateEvent.community_id == community_id, PlateEvent.plate == plate, PlateEvent.direction == direction,
        PlateEvent.device_id == (device.id if device else None), PlateEvent.outcome != "duplicate",
        PlateEvent.at >= at - span, PlateEvent.at <= at + span).limit(1)) is not None


def handle_plate_event(session: Session, event) -> PlateEvent | None:
    """Router handler for a barrier gate's ``plate`` event."""
    if event.profile != "barrier_gate":
        apply_event(session, event)
        return None
    device = apply_event(session, event)  # last seen, last value; None for an unknown gate
    if device is None or not _enabled(session, device.community_id, MODULE_ID):
        return None
    p = event.payload
    now = clock.now()
    at = event.extra.get("at") or now
    return record_read(session, community_id=device.community_id, device=device, raw_plate=p.get("plate"),
                       direction=p.get("direction"), confidence=Decimal(str(p.get("confidence", 0))),
                       at=at, opened=bool(p.get("opened")), snapshot=p.get("snapshot"))


def record_read(session: Session, *, community_id: int, device: Device | None, raw_plate, direction: str,
                confidence: Decimal, at: datetime, opened: bool = False, snapshot=None) -> PlateEvent:
    settings = _settings(session, community_id)
    plate = normalise_plate(raw_plate)
    shown = plate or (raw_plate if isinstance(raw_plate, str) else "")[:20]
    row = PlateEvent(community_id=community_id, device_id=device.id if device else None, plate=shown,
                     direction=direction, confidence=confidence.quantize(Decimal("0.001")), at=at,
                     received_at=clock.now(), outcome="pending")

    def review(reason: str, ticket: ParkingTicket | None = None) -> PlateEvent:
        kept = keep_snapshot(session, community_id, snapshot, f"gate-{device.code if device else 'x'}-{at:%H%M%S}")
        r = open_review(session, community_id=community_id, device=device, plate=shown, direction=direction,
                        reason=reason, confidence=confidence, at=at, snapshot=kept, ticket=ticket)
        row.outcome, row.review_id = reason, r.id
        session.add(row)
        session.flush()
        return row

    if plate is None:
        log.warning("gate %s: malformed plate %r (%s); guard review", device.code if device else "?", raw_plate,
                    direction)
        return review("malformed_plate")
    if _duplicate(session, community_id, device, plate, direction, at, int(settings["duplicate_window_seconds"])):
        row.outcome = "duplicate"
        session.add(row)
        session.flush()
        log.info("gate %s: %s %s read again; counted once", device.code if device else "?", plate, direction)
        return row
    if confidence < Decimal(str(settings["min_plate_confidence"])):
        log.info("gate %s: %s read with confidence %s; guard review", device.code if device else "?", plate,
                 confidence)
        return review("low_confidence")
    if direction == "in":
        return _entry(session, row, settings, community_id, device, plate, at, opened, review)
    return _exit(session, row, settings, community_id, device, plate, at, opened, review)


def _open(session: Session, row: PlateEvent, device: Device | None, reason: str, plate: str, opened: bool) -> None:
    row.gate_status = "ok" if opened else open_gate(session, device, reason=reason, plate=plate,
                                                    on_status=_note_gate(row))


def _entry(session, row, settings, community_id, device, plate, at, opened, review) -> PlateEvent:
    local_day = to_local(at).date()
    if permit_for_plate(session, community_id, plate, local_day) is not None:
        row.outcome = "permit"
        _open(session, row, device, "permit", plate, opened)
    elif (visit := _visitor_pass(session, community_id, plate)) is not None:
        ticket = _new_ticket(session, community_id, plate, device, at, "visitor")
        row.outcome, row.ticket_id = "visitor", ticket.id
        _open(session, row, device, f"visitor pass {visit['number']}", plate, opened)
    elif settings["temporary_entry"]:
        ticket = _new_ticket(session, community_id, plate, device, at, "temporary")
        row.outcome, row.ticket_id = "ticket", ticket.id
        _open(session, row, device, "ticket", plate, opened)
    else:
        return review("closed_entry")
    session.add(row)
    session.flush()
    return row


def settle_exit(session: Session, ticket: ParkingTicket, device: Device | None, at: datetime,
                rule: FeeRule, read: PlateEvent | None = None) -> str:
    """Compute the fee of ``ticket`` leaving at ``at``; opens when nothing is due. Returns the
    outcome (``exit_free``, ``fee_due``); ``NegativeDuration`` propagates. The gate's answer
    is noted on the ticket and on the exit's ``read``."""
    fee = parking_fee(to_local(ticket.entry_at), to_local(at), rule) if ticket.kind == "temporary" else None
    ticket.exit_at, ticket.exit_device_id = at, device.id if device else None
    if fee is None or fee.cents == 0:
        ticket.status, ticket.fee_cents = "exited", 0
        ticket.fee_explanation = fee.explanation() if fee else {"visitor": True}
        records = (ticket, read) if read is not None else (ticket,)
        ticket.gate_status = open_gate(session, device, reason="exit", plate=ticket.plate,
                                       on_status=_note_gate(*records))
        return "exit_free"
    ticket.status, ticket.fee_cents, ticket.fee_explanation = "awaiting_payment", fee.cents, fee.explanation()
    return "fee_due"


def _exit(session, row, settings, community_id, device, plate, at, opened, review) -> PlateEvent:
    if permit_for_plate(session, community_id, plate, to_local(at).date()) is not None:
        row.outcome = "permit"
        _open(session, row, device, "permit", plate, opened)
        session.add(row)
        session.flush()
        return row
    ticket = session.scalars(select(ParkingTicket).where(
        ParkingTicket.community_id == community_id, ParkingTicket.plate == plate,
        ParkingTicket.status == "parked").order_by(ParkingTicket.entry_at.desc()).limit(1)).first()
    if ticket is None:
        log.warning("gate %s: exit of %s without an entry; guard review", device.code if device else "?", plate)
        return review("orphan_exit")
    try:
        row.outcome = settle_exit(session, ticket, device, at, FeeRule.from_settings(settings), row)
    except NegativeDuration as exc:
        log.warning("gate %s: ticket %s: %s (clock skew); guard review", device.code if device else "?",
                    ticket.number, exc)
        return review("clock_skew", ticket)
    row.ticket_id, row.gate_status = ticket.id, ticket.gate_status
    session.add(row)
    session.flush()
    return row


# the guard's corrections (reviews.resolve) ----------------------------------------------------------
def exit_by_review(session: Session, review: PlateReview, plate: str, device: Device | None) -> ParkingTicket | None:
    """The guard read the plate of an exit: the parked ticket of that plate leaves now (its
    fee due on the QR page, or the gate opens when nothing is due)."""
    ticket = session.scalars(select(ParkingTicket).where(
        ParkingTicket.community_id == review.community_id, ParkingTicket.plate == plate,
        ParkingTicket.status == "parked").order_by(ParkingTicket.entry_at.desc()).limit(1)).first()
    if ticket is None:
        return None
    settings = module_settings(session, review.community_id, MODULE_ID)
    at = max(clock.now(), ticket.entry_at)  # the gate's clock disagreed: the server's time counts
    settle_exit(session, ticket, device, at, FeeRule.from_settings(settings))
    return ticket


def entry_by_review(session: Session, review: PlateReview, plate: str, device: Device | None) -> ParkingTicket | None:
    """The guard let a car in and read its plate: a temporary car gets its ticket."""
    if permit_for_plate(session, review.community_id, plate) is not None:
        return None
    kind = "visitor" if _visitor_pass(session, review.community_id, plate) else "temporary"
    return _new_ticket(session, review.community_id, plate, device, clock.now(), kind)

