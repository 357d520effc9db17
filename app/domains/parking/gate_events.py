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
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.devices.registry import apply_event, find_mqtt_device
from app.domains.devices.tx_cache import per_transaction
from app.domains.parking.fee_rule import FeeRule, NegativeDuration, parking_fee
from app.domains.parking.gate import open_gate
from app.domains.parking.models import ParkingPermit, ParkingTicket, PlateEvent, PlateReview
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


def _visitor_pass(session: Session, community_id: int, plate: str) -> dict | None:
    if not _enabled(session, community_id, "visitors"):
        return None
    from app.domains import visitors

    return visitors.pass_for_plate(session, community_id, plate)


class _BatchIndex:
    """What the reads of one transaction (a batch from the device inbox) need to know, fetched
    for all their plates at once by ``prepare_reads``: the plates' active permits, their parked
    tickets and their recent reads (the duplicate window). The handlers keep it current as they
    add reads and tickets, so a batch of reads costs a few queries, not a few per read. A plate
    it does not cover (a guard's correction, a read outside the inbox) is looked up as before."""

    def __init__(self) -> None:
        self.plates: dict[int, set[str]] = defaultdict(set)
        self.permits: dict[tuple[int, str], list[ParkingPermit]] = defaultdict(list)
        self.parked: dict[tuple[int, str], list[ParkingTicket]] = defaultdict(list)
        self.reads: dict[tuple[int, str, str, int | None], list[datetime]] = defaultdict(list)

    def covers(self, community_id: int, plate: str) -> bool:
        return plate in self.plates.get(community_id, ())


def _index(session: Session) -> _BatchIndex:
    return per_transaction(session, "parking.batch_index", _BatchIndex)


def prepare_reads(session: Session, events: list) -> None:
    """Batch hook of the device inbox: fetch what the batch's plate reads will ask (see
    ``_BatchIndex``), per community, a few queries in all."""
    wanted: dict[int, set[str]] = defaultdict(set)
    times: dict[int, list[datetime]] = defaultdict(list)
    for event in events:
        if event.type != "plate" or event.profile != "barrier_gate":
            continue
        device = find_mqtt_device(session, event.community, event.device)
        plate = normalise_plate(event.payload.get("plate"))
        if device is None or plate is None:
            continue
        wanted[device.community_id].add(plate)
        times[device.community_id].append(event.extra.get("at") or clock.now())
    index = _index(session)
    for community_id, plates in wanted.items():
        plates -= index.plates[community_id]
        if not plates or not _enabled(session, community_id, MODULE_ID):
            continue
        span = timedelta(seconds=max(0, int(_settings(session, community_id)["duplicate_window_seconds"])))
        low, high = min(times[community_id]) - span, max(times[community_id]) + span
        ordered = sorted(plates)
        for i in range(0, len(ordered), 500):
            chunk = ordered[i:i + 500]
            for permit in session.scalars(select(ParkingPermit).where(
                    ParkingPermit.community_id == community_id, ParkingPermit.plate.in_(chunk),
                    ParkingPermit.status == "active")):
                index.permits[(community_id, permit.plate)].append(permit)
            for ticket in session.scalars(select(ParkingTicket).where(
                    ParkingTicket.community_id == community_id, ParkingTicket.plate.in_(chunk),
                    ParkingTicket.status == "parked")):
                index.parked[(community_id, ticket.plate)].append(ticket)
            for plate, direction, device_id, at in session.execute(select(
                    PlateEvent.plate, PlateEvent.direction, PlateEvent.device_id, PlateEvent.at).where(
                    PlateEvent.community_id == community_id, PlateEvent.plate.in_(chunk),
                    PlateEvent.outcome != "duplicate", PlateEvent.at >= low, PlateEvent.at <= high)):
                index.reads[(community_id, plate, direction, device_id)].append(at)
        index.plates[community_id] |= plates


def _permit(session: Session, community_id: int, plate: str, on) -> ParkingPermit | None:
    index = _index(session)
    if not index.covers(community_id, plate):
        return permit_for_plate(session, community_id, plate, on)
    return next((p for p in index.permits[(community_id, plate)]
                 if p.status == "active" and p.starts_on <= on <= p.ends_on), None)


def _parked(session: Session, community_id: int, plate: str) -> list[ParkingTicket]:
    """The plate's parked tickets, newest entry first."""
    index = _index(session)
    if index.covers(community_id, plate):
        found = [t for t in index.parked[(community_id, plate)] if t.status == "parked"]
    else:
        found = list(session.scalars(select(ParkingTicket).where(
            ParkingTicket.community_id == community_id, ParkingTicket.plate == plate,
            ParkingTicket.status == "parked")))
    return sorted(found, key=lambda t: t.entry_at, reverse=True)


def _new_ticket(session: Session, community_id: int, plate: str, device: Device | None, at: datetime,
                kind: str) -> ParkingTicket:
    for old in _parked(session, community_id, plate):
        old.status = "lost"  # entered again without an exit read: the old stay is not charged twice
        log.warning("ticket %s of %s had no exit read; replaced by a new entry", old.number, plate)
    ticket = ParkingTicket(number=f"PT{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}",
                           community_id=community_id, plate=plate, status="parked", kind=kind,
                           entry_device_id=device.id if device else None, entry_at=at,
                           pay_token=secrets.token_urlsafe(18), created_at=clock.now())
    session.add(ticket)
    index = _index(session)
    if index.covers(community_id, plate):
        index.parked[(community_id, plate)].append(ticket)
    else:
        session.flush()
    return ticket


def _duplicate(session: Session, community_id: int, device: Device | None, plate: str, direction: str,
               at: datetime, window: int) -> bool:
    """Seen within the window (same plate, direction and gate); a read that is not a
    duplicate is noted in the batch index for the reads after it."""
    device_id = device.id if device else None
    span = timedelta(seconds=max(0, window))
    index = _index(session)
    if index.covers(community_id, plate):
        seen = index.reads[(community_id, plate, direction, device_id)]
        if window > 0 and any(at - span <= other <= at + span for other in seen):
            return True
        seen.append(at)
        return False
    if window <= 0:
        return False
    return session.scalar(select(PlateEvent.id).where(
        PlateEvent.community_id == community_id, PlateEvent.plate == plate, PlateEvent.direction == direction,
        PlateEvent.device_id == device_id, PlateEvent.outcome != "duplicate",
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
        _keep(session, row)
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
    row.gate_status = "ok" if opened else open_gate(session, device, reason=reason, plate=plate, records=(row,))


def _keep(session: Session, row: PlateEvent) -> PlateEvent:
    """Add the read; flushed at once only outside a prepared batch (the batch's commit writes
    all its reads together)."""
    session.add(row)
    if not _index(session).covers(row.community_id, row.plate):
        session.flush()
    return row


def _entry(session, row, settings, community_id, device, plate, at, opened, review) -> PlateEvent:
    local_day = to_local(at).date()
    if _permit(session, community_id, plate, local_day) is not None:
        row.outcome = "permit"
        _open(session, row, device, "permit", plate, opened)
    elif (visit := _visitor_pass(session, community_id, plate)) is not None:
        row.outcome, row.ticket = "visitor", _new_ticket(session, community_id, plate, device, at, "visitor")
        _open(session, row, device, f"visitor pass {visit['number']}", plate, opened)
    elif settings["temporary_entry"]:
        row.outcome, row.ticket = "ticket", _new_ticket(session, community_id, plate, device, at, "temporary")
        _open(session, row, device, "ticket", plate, opened)
    else:
        return review("closed_entry")
    return _keep(session, row)


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
        ticket.gate_status = open_gate(session, device, reason="exit", plate=ticket.plate, records=records)
        return "exit_free"
    ticket.status, ticket.fee_cents, ticket.fee_explanation = "awaiting_payment", fee.cents, fee.explanation()
    return "fee_due"


def _exit(session, row, settings, community_id, device, plate, at, opened, review) -> PlateEvent:
    if _permit(session, community_id, plate, to_local(at).date()) is not None:
        row.outcome = "permit"
        _open(session, row, device, "permit", plate, opened)
        return _keep(session, row)
    ticket = next(iter(_parked(session, community_id, plate)), None)
    if ticket is None:
        log.warning("gate %s: exit of %s without an entry; guard review", device.code if device else "?", plate)
        return review("orphan_exit")
    try:
        row.outcome = settle_exit(session, ticket, device, at, FeeRule.from_settings(settings), row)
    except NegativeDuration as exc:
        log.warning("gate %s: ticket %s: %s (clock skew); guard review", device.code if device else "?",
                    ticket.number, exc)
        return review("clock_skew", ticket)
    row.ticket, row.gate_status, row.gate_request_id = ticket, ticket.gate_status, ticket.gate_request_id
    return _keep(session, row)


# the guard's corrections (reviews.resolve) ----------------------------------------------------------
def exit_by_review(session: Session, review: PlateReview, plate: str, device: Device | None) -> ParkingTicket | None:
    """The guard read the plate of an exit: the parked ticket of that plate leaves now (its
    fee due on the QR page, or the gate opens when nothing is due)."""
    ticket = next(iter(_parked(session, review.community_id, plate)), None)
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

