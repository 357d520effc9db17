"""Temporary parking through the real broker and a simulated gate (SQLite and PostgreSQL):
entry → ticket, a repeated read counts once, exit → fee, the driver's payment (a signed
sandbox notification) opens the gate, a replayed notification credits nothing, money for an
already-paid ticket is kept for a refund; orphan exits, low-confidence and malformed plates
and clock skew go to the guard, who opens with an audited reason; an offline gate gets its
open command when it is back."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.domains.fees.gateways.sandbox import SandboxBank
from app.domains.fees.ledger import ledger_problems
from app.domains.parking import tickets
from app.domains.parking.models import ParkingTicket, PlateEvent, PlateReview
from app.engine import complete_task
from app.engine.models import TaskRow
from app.platform.models import AuditEvent
from connectors.models import DeviceCommand
from connectors.simulators.devices import TINY_PNG, SimulatedGate

from .conftest import wait_for


def _iso(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0).isoformat()


def _read(gate, plate, direction, minutes_ago=0.0, confidence=0.97, **extra):
    gate.publish_event("plate", plate=plate, direction=direction, confidence=confidence, opened=False,
                       at=_iso(minutes_ago), **extra)


def _events(factory, n):
    """``n`` reads stored, and every gate command they sent answered (sent after the read's
    commit, its outcome noted on the read a moment later)."""
    def enough():
        with factory() as s:
            return (s.scalar(select(func.count(PlateEvent.id))) >= n
                    and not s.scalar(select(func.count(PlateEvent.id)).where(PlateEvent.gate_status == "sending")))
    assert wait_for(enough, 15), "plate events not handled"


def _pay(factory, number, transaction_id=None):
    """What the sandbox bank sends after the driver pressed Pay (signed notification)."""
    bank = SandboxBank()
    with factory() as s:
        ticket = s.scalar(select(ParkingTicket).where(ParkingTicket.number == number))
        if ticket.status == "awaiting_payment":
            tickets.start_payment(s, ticket, notify_url="http://x/notify", return_url="http://x/back")
            s.commit()
        order = {"o": ticket.out_trade_no, "a": ticket.fee_cents}
    headers, body = bank.signed_notification(order, transaction_id or f"SBX{number}")
    with factory() as s:
        notice = tickets.receive_notification(s, "sandbox", headers, body)
        s.commit()
    return notice, headers, body


def test_temporary_car_enters_pays_and_the_gate_opens(lot):
    factory = lot["factory"]
    gate = lot["sim"](SimulatedGate, "gate-1")
    _read(gate, "京B·12345", "in", minutes_ago=120)
    _read(gate, "京B12345", "in", minutes_ago=119.5)  # the camera read it again
    _events(factory, 2)
    assert wait_for(lambda: gate.opened == 1)  # the entry opened once
    _read(gate, "京B12345", "out")
    _events(factory, 3)
    with factory() as s:
        reads = list(s.scalars(select(PlateEvent).order_by(PlateEvent.id)))
        assert [e.outcome for e in reads] == ["ticket", "duplicate", "fee_due"]
        assert reads[0].gate_status == "ok"  # the gate's answer, noted after the read's commit
        ticket = s.scalar(select(ParkingTicket))
        # 120 min: 30 free, first hour 5.00, one started hour 3.00
        assert (ticket.status, ticket.fee_cents, ticket.plate) == ("awaiting_payment", 800, "京B12345")
        number = ticket.number
    assert gate.opened == 1  # the exit waits for the payment
    notice, headers, body = _pay(factory, number)
    assert notice.outcome == "accepted"
    assert wait_for(lambda: gate.opened == 2)
    assert gate.commands[-1]["params"]["reason"] == "paid"
    with factory() as s:
        ticket = s.scalar(select(ParkingTicket))
        assert (ticket.status, ticket.gate_status) == ("paid", "ok")
        assert ledger_problems(s) == []
        # the same notification again: nothing more
        assert tickets.receive_notification(s, "sandbox", headers, body).outcome == "duplicate"
        s.commit()
    # a second, different payment for the paid ticket: kept for a refund, audited, gate not reopened
    assert _pay(factory, number, "SBX-SECOND")[0].outcome == "accepted"
    with factory() as s:
        ticket = s.scalar(select(ParkingTicket))
        assert ticket.overpaid_cents == 800 and ticket.status == "paid"
        with __import__("pytest").raises(tickets.TicketError):  # the pay page offers no second order
            tickets.start_payment(s, ticket, notify_url="http://x/n", return_url="http://x/b")
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "parking.ticket_paid_twice"))
    assert gate.opened == 2


def test_the_guard_reviews_what_the_gate_cannot_settle(lot):
    factory = lot["factory"]
    gate = lot["sim"](SimulatedGate, "gate-1")
    _read(gate, "京C54321", "out", snapshot=TINY_PNG)  # no entry: orphan
    _read(gate, "京D11111", "in", confidence=0.41)  # unsure
    _read(gate, "#?!", "in")  # not a plate
    _read(gate, "京E22222", "in", minutes_ago=1)
    _read(gate, "京E22222", "out", minutes_ago=30)  # before its entry: the gate's clock is off
    _events(factory, 5)
    with factory() as s:
        reviews = {r.reason: r for r in s.scalars(select(PlateReview))}
        assert set(reviews) == {"orphan_exit", "low_confidence", "malformed_plate", "clock_skew"}
        assert reviews["orphan_exit"].snapshot and "sha256" in reviews["orphan_exit"].snapshot
        tasks = {t.instance_id: t for t in s.scalars(select(TaskRow).where(TaskRow.status == "ready"))}
        assert all(r.instance_id in tasks for r in reviews.values())
        orphan_task = tasks[reviews["orphan_exit"].instance_id].id
        skew_task = tasks[reviews["clock_skew"].instance_id].id
    opened = gate.opened
    with factory() as s:
        complete_task(s, orphan_task, {"decision": "open", "reason": "住户朋友，已登记"}, "guard_t")
        s.commit()
    assert gate.opened == opened + 1
    with factory() as s:
        # clock skew: the guard charges the ticket by the server's time
        complete_task(s, skew_task, {"decision": "charge", "reason": "时钟偏差，按服务器时间"}, "guard_t")
        s.commit()
        reviews = {r.reason: r for r in s.scalars(select(PlateReview))}
        assert (reviews["orphan_exit"].status, reviews["orphan_exit"].gate_status) == ("opened", "ok")
        assert reviews["orphan_exit"].decided_by == "guard_t"
        assert reviews["clock_skew"].status == "charged"
        ticket = s.scalar(select(ParkingTicket).where(ParkingTicket.plate == "京E22222"))
        assert ticket.status in ("exited", "awaiting_payment")
        audit = s.scalar(select(AuditEvent).where(AuditEvent.action == "parking.review_opened"))
        assert audit.after["reason"] == "住户朋友，已登记"


def test_an_offline_gate_gets_the_open_when_it_is_back(lot):
    factory, code, consumer = lot["factory"], lot["code"], lot["consumer"]
    gate = lot["sim"](SimulatedGate, "gate-1")
    _read(gate, "京F33333", "in", minutes_ago=90)
    _read(gate, "京F33333", "out")
    _events(factory, 2)
    gate.stop()
    assert wait_for(lambda: consumer.connector.is_online(code, "gate-1") is False)
    with factory() as s:
        number = s.scalar(select(ParkingTicket.number))
    _pay(factory, number)
    with factory() as s:
        ticket = s.scalar(select(ParkingTicket))
        assert (ticket.status, ticket.gate_status) == ("paid", "queued")
        queued = s.scalar(select(DeviceCommand).order_by(DeviceCommand.id.desc()))
        assert (queued.status, ticket.gate_request_id) == ("pending", queued.request_id)
    back = lot["sim"](SimulatedGate, "gate-1")
    assert wait_for(lambda: back.opened == 1, 15)

    def delivered():
        with factory() as s:
            return s.get(DeviceCommand, queued.id).status == "delivered"
    assert wait_for(delivered, 10)
    consumer.sweep()  # the guard's page then says the gate opened, not that it is queued
    with factory() as s:
        ticket = s.scalar(select(ParkingTicket))
        assert (ticket.gate_status, ticket.gate_request_id) == ("ok", None)
