"""Orders whose callback never came: ask the gateway, then settle or close them.

Gateways lose, delay and repeat notifications. An online order still ``created`` some minutes
after it was made is looked up at its gateway (``query``, whose answer is signature-checked):
paid there → credited here through the same once-only path as a callback (a callback that
arrives later is a duplicate); unpaid and older than the payment window → closed at the gateway
(so it can no longer be paid) and cancelled here. Gateways without a query (the sandbox) are
left to their callbacks.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.fees.gateways import GatewayError, get_gateway
from app.domains.fees.models import PaymentOrder
from app.domains.fees.payments import accept_notice, cancel_order
from app.platform.audit import record

log = logging.getLogger("estateflow.fees.reconciliation")


@dataclass
class ReconcileReport:
    settled: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def reconcile_pending_orders(session: Session, *, after_minutes: int = 5, close_after_minutes: int = 120,
                             limit: int = 200, community_ids: list[int] | None = None) -> ReconcileReport:
    """Look up every order ``created`` more than ``after_minutes`` ago at a gateway that can be
    queried. Does not commit: the caller commits (each order's outcome is independent, so a
    gateway error on one order is reported and the others go on)."""
    now = clock.now()
    report = ReconcileReport()
    query = select(PaymentOrder).where(
        PaymentOrder.status == "created", PaymentOrder.created_at <= now - timedelta(minutes=after_minutes))
    if community_ids is not None:
        query = query.where(PaymentOrder.community_id.in_(community_ids))
    orders = session.scalars(query.order_by(PaymentOrder.created_at).limit(limit).with_for_update(skip_locked=True))
    for order in orders:
        try:
            gateway = get_gateway(order.gateway)
        except GatewayError as exc:
            report.failed[order.out_trade_no] = str(exc)
            continue
        if not hasattr(gateway, "query"):
            continue
        try:
            with session.begin_nested():
                tx = gateway.query(order.out_trade_no)
                notice = gateway.notice(tx)
                if notice.success:
                    outcome = accept_notice(session, order.gateway, notice, remote_addr="reconciliation")
                    if outcome.outcome == "rejected":
                        report.failed[order.out_trade_no] = outcome.reason
                    else:
                        report.settled.append(order.out_trade_no)
                elif order.created_at <= now - timedelta(minutes=close_after_minutes):
                    gateway.close(order.out_trade_no)
                    cancel_order(session, order, actor=f"reconciliation:{order.gateway}")
                    report.closed.append(order.out_trade_no)
                else:
                    report.still_open.append(order.out_trade_no)
        except GatewayError as exc:
            log.warning("reconciling %s failed: %s", order.out_trade_no, exc)
            report.failed[order.out_trade_no] = str(exc)
            record(session, actor=f"reconciliation:{order.gateway}", action="payment.reconcile_failed",
                   target_type="payment_order", target_id=order.id, community_id=order.community_id,
                   after={"out_trade_no": order.out_trade_no, "reason": str(exc)[:300]})
    return report
