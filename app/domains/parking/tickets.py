"""Paying a ticket at the exit: the driver's phone, the gateway, the gate.

The exit's QR code names the ticket's ``pay_token``; the page shows plate, times, the fee and
how it was computed. **Pay** creates the ticket's payment order (one order number per ticket,
reused if the driver presses Pay again: the gateway never sees two orders for one stay) and
sends the driver to the fee module's gateway (the sandbox bank in the demo). The gateway's
signed notification (``fees.receive_order_notification``: verified, logged, one credit per
transaction, booked in the ledger) marks the ticket paid, and ``gate.open`` goes to the exit
gate (queued if the gate is offline). Money for a ticket already paid is still booked (it
arrived) and noted on the ticket as ``overpaid_cents`` for a refund, logged and audited.
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.parking.gate import open_gate
from app.domains.parking.models import ParkingTicket
from app.platform.audit import record

log = logging.getLogger("estateflow.parking.tickets")


class TicketError(ValueError):
    def __init__(self, code: str):
        self.code = code
        super().__init__(code)


def ticket_by_token(session: Session, token: str) -> ParkingTicket | None:
    if not token or len(token) > 40:
        return None
    return session.scalar(select(ParkingTicket).where(ParkingTicket.pay_token == token))


def _order(ticket: ParkingTicket):
    from app.domains import fees

    return fees.OrderToPay(community_id=ticket.community_id, out_trade_no=ticket.out_trade_no,
                           amount_cents=ticket.fee_cents, subject=f"临停 {ticket.plate} {ticket.number}")


def start_payment(session: Session, ticket: ParkingTicket, *, notify_url: str, return_url: str) -> str:
    """The gateway URL for the driver (``TicketError('not_due')`` when nothing is to pay)."""
    from app.domains import fees

    if ticket.status != "awaiting_payment" or ticket.fee_cents <= 0:
        raise TicketError("not_due")
    if not ticket.out_trade_no:
        ticket.out_trade_no = fees.new_order_number()
        session.flush()
    return fees.start_order_payment(_order(ticket), notify_url=notify_url, return_url=return_url)


def receive_notification(session: Session, gateway: str, headers: dict, body: bytes, remote_addr: str | None = None):
    """A gateway callback for a ticket's order; returns the fees ``OrderNotice``."""
    from app.domains import fees

    def find(out_trade_no: str):
        ticket = session.scalar(select(ParkingTicket).where(ParkingTicket.out_trade_no == out_trade_no))
        return _order(ticket) if ticket is not None else None

    notice = fees.receive_order_notification(session, gateway, headers, body, find_order=find,
                                             remote_addr=remote_addr)
    if notice.outcome == "accepted":
        ticket = session.scalar(select(ParkingTicket).where(ParkingTicket.out_trade_no == notice.out_trade_no)
                                .with_for_update())
        paid(session, ticket, notice.transaction_id, notice.amount_cents)
    return notice


def paid(session: Session, ticket: ParkingTicket, transaction_id: str, amount_cents: int) -> ParkingTicket:
    if ticket.status != "awaiting_payment":
        ticket.overpaid_cents += amount_cents
        log.warning("ticket %s (%s) paid again by %s: %s cents kept for a refund", ticket.number, ticket.status,
                    transaction_id, amount_cents)
        record(session, actor="gateway", action="parking.ticket_paid_twice", target_type="parking_ticket",
               target_id=ticket.number, community_id=ticket.community_id,
               after={"transaction_id": transaction_id, "amount_cents": amount_cents,
                      "overpaid_cents": ticket.overpaid_cents})
        return ticket
    ticket.status, ticket.paid_at, ticket.transaction_id = "paid", clock.now(), transaction_id
    device = session.get(Device, ticket.exit_device_id) if ticket.exit_device_id else None
    ticket.gate_status = open_gate(session, device, reason="paid", plate=ticket.plate, records=(ticket,))
    record(session, actor="gateway", action="parking.ticket_paid", target_type="parking_ticket",
           target_id=ticket.number, community_id=ticket.community_id,
           after={"amount_cents": amount_cents, "transaction_id": transaction_id, "gate": ticket.gate_status})
    from app.domains.parking.revenue import post_public_revenue

    post_public_revenue(session, community_id=ticket.community_id, source="parking_temporary",
                        amount_cents=amount_cents, reference=ticket.number)
    return ticket


def due_at_gate(session: Session, device: Device) -> ParkingTicket | None:
    """The ticket the exit's screen shows: the newest one waiting for payment at this gate."""
    return session.scalars(select(ParkingTicket).where(
        ParkingTicket.exit_device_id == device.id, ParkingTicket.status == "awaiting_payment")
        .order_by(ParkingTicket.exit_at.desc()).limit(1)).first()
