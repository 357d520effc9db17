"""Online refunds: asked of the gateway, booked only when the gateway confirms.

An accountant refunding a WeChat Pay or Alipay payment (or the automatic refund of a second
payment for an already-paid order) writes a ``pending`` refund and sends it to the gateway;
nothing moves in the books yet. The books move (``payments.refund`` with the pending row) when
the gateway confirms: WeChat Pay's refund notification (``REFUND.SUCCESS``, signed and
encrypted like a payment callback) or Alipay's synchronous refund answer (``fund_change=Y``);
the 5-minute reconciliation asks the gateway about refunds still pending (a lost notification).
A refund the gateway closes or refuses becomes ``failed`` and moves nothing. Money a pending
refund will take from the prepaid balance is not spent on new bills meanwhile.
"""
from __future__ import annotations

import logging
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.domains.fees.gateways import GatewayError, RefundNotice, get_gateway
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.models import GatewayNotification, Payment, Refund
from app.domains.fees.payments import NotificationOutcome, PaymentError, _log, check_refund, refund
from app.platform.audit import record

ONLINE = ("wechatpay", "alipay")
log = logging.getLogger("estateflow.fees.refunds")


def is_online(payment: Payment) -> bool:
    return payment.method in ONLINE


def new_refund_no() -> str:
    return f"RF{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


def notify_url(gateway_name: str) -> str:
    """Where the gateway sends the refund result: our notify URL (from a request, or the
    configured public address when a worker asks)."""
    try:
        from flask import url_for

        from app.security.http import public_base_url

        return f"{public_base_url()}{url_for('GatewayNotifyView.notify', gateway=gateway_name)}"
    except RuntimeError:  # no application context (a Prefect worker)
        return f"{get_payment_settings().public_base_url.rstrip('/')}/pay/notify/{gateway_name}"


def _out_trade_no(session: Session, payment: Payment) -> str:
    number = session.scalar(select(GatewayNotification.out_trade_no).where(
        GatewayNotification.gateway == payment.method, GatewayNotification.outcome == "accepted",
        GatewayNotification.transaction_id == payment.reference))
    if not number:
        raise PaymentError("unknown_payment")
    return number


def request_refund(session: Session, *, payment_id: int, amount_cents: int, reason: str, actor: str) -> Refund:
    """Ask the payment's gateway to refund; the row stays ``pending`` until it confirms. A
    definite refusal makes it ``failed``; an unreachable gateway leaves it pending for the
    reconciliation to ask about (the gateway may have received it)."""
    payment = check_refund(session, payment_id, amount_cents, reason)
    if not is_online(payment):
        raise PaymentError("bad_method", method=payment.method)
    out_trade_no = _out_trade_no(session, payment)
    row = Refund(payment_id=payment.id, community_id=payment.community_id, household_id=payment.household_id,
                 amount_cents=amount_cents, from_prepaid_cents=0, reopened=[], reason=reason.strip()[:300],
                 created_by=actor, created_at=clock.now(), status="pending", out_refund_no=new_refund_no())
    session.add(row)
    session.flush()
    record(session, actor=actor, action="payment.refund_requested", target_type="payment", target_id=payment.id,
           community_id=payment.community_id,
           after={"refund_id": row.id, "out_refund_no": row.out_refund_no, "amount_cents": amount_cents,
                  "gateway": payment.method, "reason": reason})
    gateway = get_gateway(payment.method)
    try:
        answer = gateway.refund(out_trade_no=out_trade_no, out_refund_no=row.out_refund_no, refund_cents=amount_cents,
                                total_cents=payment.amount_cents, reason=reason, notify_url=notify_url(payment.method))
    except GatewayError as exc:
        refused = getattr(exc, "code", None) is not None
        log.warning("refund %s of payment %s: %s", row.out_refund_no, payment.id, exc)
        if refused:  # the gateway answered no: nothing will be refunded
            row.status, row.completed_at = "failed", clock.now()
        record(session, actor=actor, action="payment.refund_failed" if refused else "payment.refund_unsent",
               target_type="payment", target_id=payment.id, community_id=payment.community_id,
               after={"out_refund_no": row.out_refund_no, "reason": str(exc)[:300]})
        return row
    row.gateway_refund_id = str(answer.get("refund_id") or "")[:64] or None
    if answer.get("status") == "SUCCESS":  # Alipay confirms in its answer
        try:
            with session.begin_nested():
                complete(session, row, actor=f"gateway:{payment.method}")
        except PaymentError as exc:  # refunded at the gateway, the money here spent meanwhile: a person looks
            record(session, actor=f"gateway:{payment.method}", action="payment.refund_unbooked",
                   target_type="refund", target_id=row.id, community_id=row.community_id,
                   after={"reason": exc.message("en")})
    return row


def complete(session: Session, row: Refund, *, actor: str) -> Refund:
    """The gateway confirmed: move the books (once)."""
    if row.status != "pending":
        return row
    refund(session, payment_id=row.payment_id, amount_cents=row.amount_cents, reason=row.reason, actor=actor,
           confirmed=row)
    return row


def fail(session: Session, row: Refund, *, actor: str, why: str) -> None:
    if row.status == "pending":
        row.status, row.completed_at = "failed", clock.now()
        record(session, actor=actor, action="payment.refund_failed", target_type="payment", target_id=row.payment_id,
               community_id=row.community_id, after={"out_refund_no": row.out_refund_no, "reason": why[:300]})


def accept_refund_notice(session: Session, gateway_name: str, notice: RefundNotice, body: bytes = b"",
                         remote_addr: str | None = None) -> NotificationOutcome:
    """A verified refund result: complete or fail the pending refund, once."""
    actor = f"gateway:{gateway_name}"
    row = session.scalar(select(Refund).where(Refund.out_refund_no == notice.out_refund_no).with_for_update())
    problem = None
    if row is None:
        problem = f"unknown refund {notice.out_refund_no}"
    elif notice.refund_cents != row.amount_cents:
        problem = f"refund amount {notice.refund_cents} != asked {row.amount_cents}"
    if problem:
        _log(session, gateway_name, "rejected", problem, body, remote_addr, signature_ok=True)
        record(session, actor=actor, action="payment.callback_rejected", target_type="refund",
               target_id=row.id if row else None, community_id=row.community_id if row else None,
               after={"reason": problem, "out_refund_no": notice.out_refund_no})
        return NotificationOutcome("rejected", problem)
    if row.status != "pending" or notice.status == "PROCESSING":
        _log(session, gateway_name, "duplicate", f"refund already {row.status}", body, remote_addr, signature_ok=True)
        return NotificationOutcome("duplicate", f"refund already {row.status}")
    try:
        with session.begin_nested():
            entry = _log(session, gateway_name, "accepted", f"refund {notice.status}", body, remote_addr,
                         signature_ok=True, community_id=row.community_id)
            entry.accepted_key = f"{gateway_name}:refund:{notice.out_refund_no}"[:90]
            session.flush()
    except IntegrityError:
        _log(session, gateway_name, "duplicate", "refund already handled", body, remote_addr, signature_ok=True)
        return NotificationOutcome("duplicate", "refund already handled")
    if notice.success:
        row.gateway_refund_id = row.gateway_refund_id or notice.refund_id[:64] or None
        try:
            with session.begin_nested():
                complete(session, row, actor=actor)
        except PaymentError as exc:  # the money it would come from was spent meanwhile: a person looks
            record(session, actor=actor, action="payment.refund_unbooked", target_type="refund", target_id=row.id,
                   community_id=row.community_id, after={"reason": exc.message("en")})
            return NotificationOutcome("rejected", f"refund confirmed but not bookable: {exc.message('en')}")
    else:
        fail(session, row, actor=actor, why=f"gateway says {notice.status}")
    return NotificationOutcome("accepted", "ok")


def chase_pending_refunds(session: Session, *, after_minutes: int = 5, community_ids: list[int] | None = None,
                          limit: int = 100) -> dict[str, list[str]]:
    """Ask the gateway about refunds pending for a while (their notification may be lost)."""
    from datetime import timedelta

    query = select(Refund).where(Refund.status == "pending",
                                 Refund.created_at <= clock.now() - timedelta(minutes=after_minutes))
    if community_ids is not None:
        query = query.where(Refund.community_id.in_(community_ids))
    done: dict[str, list[str]] = {"completed": [], "failed": [], "pending": []}
    for row in session.scalars(query.order_by(Refund.id).limit(limit)):
        payment = session.get(Payment, row.payment_id)
        try:
            gateway = get_gateway(payment.method)
            with session.begin_nested():
                if payment.method == "alipay":
                    answer = gateway.refund_query(_out_trade_no(session, payment), row.out_refund_no)
                    status = answer["status"]
                else:
                    status = gateway.refund_notice(gateway.refund_query(row.out_refund_no)).status
                if status == "SUCCESS":
                    complete(session, row, actor=f"reconciliation:{payment.method}")
                    done["completed"].append(row.out_refund_no)
                elif status in ("CLOSED", "ABNORMAL"):
                    fail(session, row, actor=f"reconciliation:{payment.method}", why=f"gateway says {status}")
                    done["failed"].append(row.out_refund_no)
                else:
                    done["pending"].append(row.out_refund_no)
        except (GatewayError, PaymentError) as exc:
            log.warning("refund %s: %s", row.out_refund_no, exc)
            done["pending"].append(row.out_refund_no)
    return done


def refund_duplicate(session: Session, payment: Payment) -> Refund | None:
    """A second payment for an already-paid order: what its bills did not need went to the
    prepaid balance; with ``duplicate_payment=refund`` it is sent back through the gateway
    (booked when the gateway confirms). A refusal leaves it in the prepaid balance (audited)."""
    if get_payment_settings().duplicate_payment != "refund" or payment.to_prepaid_cents <= 0 or not is_online(payment):
        return None
    try:
        with session.begin_nested():
            return request_refund(session, payment_id=payment.id, amount_cents=payment.to_prepaid_cents,
                                  reason="重复支付，自动退款 / paid twice: refunded automatically", actor="system")
    except (GatewayError, PaymentError) as exc:
        record(session, actor="system", action="payment.auto_refund_failed", target_type="payment",
               target_id=payment.id, community_id=payment.community_id, after={"reason": str(exc)[:300]})
        return None
