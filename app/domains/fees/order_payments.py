"""Paying an order that belongs to something other than a household's bills.

A temporary car's parking ticket has no household: its payment order belongs to the ticket.
The caller keeps the order (number, amount, its own status) on its own record; this module
gives it what fees does for every online payment: the gateway's cashier URL, the signed
notification verified and logged (``GatewayNotification``), one credit per gateway
transaction (the same unique key as household payments), a balanced ledger posting
(``gateway_clearing`` against ``revenue``, no household) and the audit.

``find_order(out_trade_no)`` tells us the order; the caller acts on an ``accepted`` outcome
(for parking: mark the ticket paid, open the gate). The amount is always ours, never the
payer's: a notice for another amount is refused.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.domains.fees.gateways import (
    GatewayError,
    GatewayNotice,
    GatewayReply,
    SignatureInvalid,
    get_gateway,
)
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.ledger import Leg, post
from app.domains.fees.models import GatewayNotification
from app.domains.fees.payments import _log, new_out_trade_no
from app.platform.audit import record


@dataclass(frozen=True)
class OrderToPay:
    """What a gateway needs of the caller's order (duck-types ``PaymentOrder`` for ``start``)."""

    community_id: int
    out_trade_no: str
    amount_cents: int
    subject: str  # what the payer and the ledger read, e.g. "临停 京A12345"


@dataclass(frozen=True)
class OrderNotice:
    outcome: str  # accepted, duplicate, rejected
    reason: str
    out_trade_no: str | None = None
    transaction_id: str | None = None
    amount_cents: int | None = None
    paid_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("accepted", "duplicate")


def new_order_number() -> str:
    return new_out_trade_no()


def default_gateway() -> str:
    return get_payment_settings().gateway


def start_order_payment(order: OrderToPay, *, notify_url: str, return_url: str, gateway: str | None = None) -> str:
    """Register the order at the gateway; the URL to send the payer to (``GatewayError`` if down).

    A gateway with QR codes (WeChat Pay Native, Alipay precreate) gives a code to scan: the URL is
    then our QR page (``/pay/qr/…``, signed so nobody can make it show another code), which links
    back to ``return_url``; others give their cashier page."""
    checkout = get_gateway(gateway or default_gateway()).checkout(order, notify_url=notify_url,
                                                                  return_url=return_url, qr=True)
    if checkout.kind == "qr":
        from flask import url_for

        from app.security.http import public_base_url

        token = qr_token({"u": checkout.url, "r": return_url, "a": order.amount_cents, "s": order.subject,
                          "g": gateway or default_gateway()})
        return f"{public_base_url()}{url_for('PaymentQrView.show', token=token)}"
    return checkout.url


def _qr_serializer():
    from itsdangerous import URLSafeTimedSerializer

    from app.domains.fees.gateways.settings import derived_secret

    return URLSafeTimedSerializer(derived_secret("payment-qr-page"), salt="qr")


def qr_token(data: dict) -> str:
    return _qr_serializer().dumps(data)


def read_qr_token(token: str, max_age: int = 2 * 3600) -> dict | None:
    """The QR page's content, or None when the token is forged or older than the order window."""
    from itsdangerous import BadSignature

    try:
        return _qr_serializer().loads(token, max_age=max_age)
    except BadSignature:
        return None


def gateway_reply(gateway_name: str, notice: OrderNotice) -> GatewayReply:
    gateway = get_gateway(gateway_name)
    reply = gateway.reply(notice.ok, notice.reason)
    if not notice.ok and notice.reason.startswith("signature"):
        return GatewayReply(gateway.signature_status, reply.body, reply.content_type)
    return reply


def receive_order_notification(session: Session, gateway_name: str, headers: dict[str, str], body: bytes, *,
                               find_order: Callable[[str], OrderToPay | None],
                               remote_addr: str | None = None) -> OrderNotice:
    """Verify, de-duplicate and book one callback for a caller-owned order. Never raises for
    bad input: every attempt is logged; refusals are audited."""
    actor = f"gateway:{gateway_name}"
    try:
        gateway = get_gateway(gateway_name)
        notice = gateway.parse_notification(headers, body)
    except GatewayError as exc:
        reason = f"signature: {exc}" if isinstance(exc, SignatureInvalid) else str(exc)
        _log(session, gateway_name, "rejected", reason, body, remote_addr)
        record(session, actor=actor, action="payment.callback_rejected", target_type="gateway_notification",
               after={"reason": reason, "remote_addr": remote_addr})
        return OrderNotice("rejected", reason)
    if not isinstance(notice, GatewayNotice):  # a refund result: refunds go to the fees notify URL
        _log(session, gateway_name, "rejected", "not a payment notification", body, remote_addr, signature_ok=True)
        return OrderNotice("rejected", "not a payment notification")
    order = find_order(notice.out_trade_no)
    problem = None
    if order is None:
        problem = f"unknown order {notice.out_trade_no}"
    elif not notice.success:
        problem = f"trade state not SUCCESS ({notice.raw.get('trade_state')})"
    elif notice.amount_cents != order.amount_cents:
        problem = f"amount {notice.amount_cents} != order amount {order.amount_cents}"
    if problem:
        _log(session, gateway_name, "rejected", problem, body, remote_addr, notice, signature_ok=True)
        record(session, actor=actor, action="payment.callback_rejected", target_type="order",
               target_id=notice.out_trade_no, community_id=order.community_id if order else None,
               after={"reason": problem, "transaction_id": notice.transaction_id})
        return OrderNotice("rejected", problem, notice.out_trade_no, notice.transaction_id)
    key = f"{gateway_name}:{notice.transaction_id}"
    if session.scalar(select(GatewayNotification.id).where(GatewayNotification.accepted_key == key)) is not None:
        _log(session, gateway_name, "duplicate", "transaction already credited", body, remote_addr, notice, True)
        return OrderNotice("duplicate", "transaction already credited", notice.out_trade_no, notice.transaction_id,
                           notice.amount_cents)
    try:
        with session.begin_nested():
            _log(session, gateway_name, "accepted", "ok", body, remote_addr, notice, True,
                 community_id=order.community_id)
            session.flush()
    except IntegrityError:  # a concurrent duplicate won the unique key
        _log(session, gateway_name, "duplicate", "transaction already credited", body, remote_addr, notice, True)
        return OrderNotice("duplicate", "transaction already credited", notice.out_trade_no, notice.transaction_id,
                           notice.amount_cents)
    post(session, community_id=order.community_id, household_id=None, kind="payment",
         legs=[Leg("gateway_clearing", notice.amount_cents), Leg("revenue", -notice.amount_cents)],
         memo=f"{order.subject} {notice.transaction_id}"[:200])
    record(session, actor=actor, action="payment.order_paid", target_type="order", target_id=order.out_trade_no,
           community_id=order.community_id,
           after={"amount_cents": notice.amount_cents, "transaction_id": notice.transaction_id,
                  "subject": order.subject})
    return OrderNotice("accepted", "ok", notice.out_trade_no, notice.transaction_id, notice.amount_cents,
                       notice.paid_at or clock.now())
