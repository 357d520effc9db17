"""Payments: allocating money to bills, online orders and their callbacks, cash and bank
transfers, the prepaid balance, refunds.

Rules (each one is a test):

* Money goes to the chosen bills oldest due date first; a bill can be paid in part.
* **More money than the chosen bills owe**: money that *has already arrived* (an online
  order whose bills were meanwhile paid at the counter, a second payment of one order) is
  never refused or lost — the excess goes to the household's prepaid balance, where it pays
  the next bills automatically and can be refunded. Money an accountant is *about to
  record* (cash, bank transfer) is refused with a clear message unless the accountant
  explicitly chooses to credit the excess to the prepaid balance: a typo must not silently
  become a deposit.
* Every movement is one balanced ledger transaction (``app.domains.fees.ledger``).
* A gateway notification counts once: the transaction id is stored on a unique key, so a
  repeated or concurrent duplicate credits nothing; a notification whose signature does not
  verify is refused and logged (``GatewayNotification`` + audit).
* When a bill becomes fully paid the engine gets ``payment.received`` with the bill number
  as business key: the bill's dunning instance ends and door access is restored.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Household
from app.domains.fees.gateways import (
    GatewayError,
    GatewayNotice,
    RefundNotice,
    SignatureInvalid,
    get_gateway,
)
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.ledger import Leg, post, sync_bill
from app.domains.fees.models import (
    Bill,
    GatewayNotification,
    Payment,
    PaymentAllocation,
    PaymentOrder,
    Refund,
)
from app.domains.fees.money import yuan
from app.platform.audit import record

PAYABLE = ("open", "partially_paid")
log = logging.getLogger("estateflow.fees.payments")
MONEY_ACCOUNT = {"cash": "cash", "bank_transfer": "bank", "sandbox": "gateway_clearing",
                 "wechatpay": "gateway_clearing", "alipay": "gateway_clearing", "prepaid": "prepaid"}
OFFLINE_METHODS = ("cash", "bank_transfer")

_MESSAGES = {
    "no_bills": ("请至少选择一张未缴清的账单。", "Choose at least one unpaid bill."),
    "bill_not_payable": ("账单 {number} 不能缴费（状态：{status}）。", "Bill {number} cannot be paid (status: {status})."),
    "wrong_household": ("所选账单不属于该住户。", "The chosen bills do not belong to this household."),
    "amount_invalid": ("金额须为大于 0 的元，最多两位小数。", "The amount must be more than 0 yuan, with at most 2 decimals."),
    "overpayment": ("金额 ¥{amount} 超过所选账单欠费 ¥{outstanding}。请按 ¥{outstanding} 登记，"
                    "或勾选“多余部分转入预存款”。",
                    "¥{amount} is more than the ¥{outstanding} owed on the chosen bills. Record ¥{outstanding}, "
                    "or tick “credit the excess to the prepaid balance”."),
    "nothing_due": ("所选账单已无欠费。", "Nothing is owed on the chosen bills."),
    "bad_method": ("不支持的收款方式：{method}。", "Unsupported payment method: {method}."),
    "reference_required": ("银行转账须填写流水号。", "A bank transfer needs the bank reference number."),
    "refund_too_large": ("退款 ¥{amount} 超过该笔收款可退金额 ¥{refundable}。",
                         "A refund of ¥{amount} is more than the ¥{refundable} refundable on this payment."),
    "refund_reason": ("请填写退款原因。", "Give a reason for the refund."),
    "not_refundable": ("预存款抵扣不是收款，不能退款；请对原收款退款。",
                       "A prepaid-balance application is not money received; refund the original payment."),
    "unknown_payment": ("找不到这笔收款。", "No such payment."),
}


class PaymentError(Exception):
    """A refused payment action; ``message(locale)`` says why in the user's language."""

    def __init__(self, code: str, **params):
        self.code, self.params = code, params
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        zh, en = _MESSAGES[self.code]
        return (en if locale.startswith("en") else zh).format(**self.params)


# --- helpers ---------------------------------------------------------------------------------------
def _lock_household(session: Session, household_id: int) -> Household:
    household = session.scalar(select(Household).where(Household.id == household_id).with_for_update())
    if household is None:
        raise PaymentError("wrong_household")
    return household


def _lock_bills(session: Session, household_id: int, bill_ids: list[int]) -> list[Bill]:
    ids = sorted({int(b) for b in bill_ids})
    if not ids:
        return []
    bills = list(session.scalars(select(Bill).where(Bill.id.in_(ids)).order_by(Bill.id).with_for_update()))
    if len(bills) != len(ids) or any(b.household_id != household_id for b in bills):
        raise PaymentError("wrong_household")
    return sorted(bills, key=lambda b: (b.due_date, b.id))


def _apply_to_bill(bill: Bill, cents: int) -> None:
    bill.paid_cents += cents
    if bill.paid_cents >= bill.amount_cents:
        bill.status, bill.paid_at = "paid", clock.now()
    elif bill.paid_cents > 0:
        bill.status, bill.paid_at = "partially_paid", None
    else:
        bill.status, bill.paid_at = "open", None


def notify_paid(session: Session, bills: list[Bill], actor: str) -> None:
    """Tell the engine each fully paid bill is settled (ends dunning, restores access)."""
    from app.engine import send_message

    for bill in bills:
        if bill.status == "paid":
            send_message(session, "payment.received", bill.number,
                         {"paid_bill": bill.number, "paid_cents": bill.paid_cents},
                         community_id=bill.community_id, actor=actor)


@dataclass
class _Allocation:
    payment: Payment
    paid_bills: list[Bill]


def _allocate(session: Session, household: Household, bills: list[Bill], amount_cents: int, *,
              method: str, actor: str, reference: str | None = None, note: str | None = None,
              excess: str = "refuse", received_at: datetime | None = None) -> _Allocation:
    """Core: post ``amount_cents`` from ``method`` against ``bills`` (locked), excess per policy."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise PaymentError("amount_invalid")
    for bill in bills:
        if bill.status not in PAYABLE:
            raise PaymentError("bill_not_payable", number=bill.number, status=bill.status)
        sync_bill(session, bill)
    outstanding = sum(b.outstanding_cents for b in bills)
    rest = amount_cents - outstanding
    if rest > 0 and excess != "prepaid":
        if outstanding == 0:
            raise PaymentError("nothing_due")
        raise PaymentError("overpayment", amount=yuan(amount_cents), outstanding=yuan(outstanding))
    payment = Payment(community_id=household.community_id, household_id=household.id, method=method,
                      amount_cents=amount_cents, to_prepaid_cents=max(rest, 0), reference=reference,
                      note=note, recorded_by=actor, received_at=received_at or clock.now())
    session.add(payment)
    session.flush()
    remaining = amount_cents
    legs = [Leg(MONEY_ACCOUNT[method], amount_cents)]
    paid_now: list[Bill] = []
    for bill in bills:
        share = min(remaining, bill.outstanding_cents)
        if share <= 0:
            continue
        session.add(PaymentAllocation(payment_id=payment.id, bill_id=bill.id, amount_cents=share,
                                      created_at=clock.now()))
        legs.append(Leg("receivable", -share, bill.id))
        _apply_to_bill(bill, share)
        remaining -= share
        if bill.status == "paid":
            paid_now.append(bill)
    if remaining:
        legs.append(Leg("prepaid", -remaining))
        household.prepaid_balance_cents = (household.prepaid_balance_cents or 0) + remaining
    post(session, community_id=household.community_id, household_id=household.id,
         kind="prepaid" if method == "prepaid" else "payment", legs=legs, payment_id=payment.id,
         memo=f"{method} {reference or ''}".strip())
    session.flush()
    session.refresh(payment)
    record(session, actor=actor, action=f"payment.{method}", target_type="payment", target_id=payment.id,
           community_id=household.community_id,
           after={"household": household.code, "amount_cents": amount_cents, "reference": reference,
                  "bills": {b.number: b.paid_cents for b in bills}, "to_prepaid_cents": payment.to_prepaid_cents})
    return _Allocation(payment, paid_now)


def _finish(session: Session, result: _Allocation, actor: str) -> Payment:
    from app.domains.fees.receipts import issue_receipt

    if result.payment.method != "prepaid":
        receipt = issue_receipt(session, result.payment)
        from app.domains.notifications.delivery import notify

        notify(session, template="payments.received", community_id=result.payment.community_id,
               household_id=result.payment.household_id,
               params={"amount": yuan(receipt.amount_cents), "receipt": receipt.number,
                       "code": receipt.verification_code})
    notify_paid(session, result.paid_bills, actor)
    return result.payment


# --- accountant: cash and bank transfer --------------------------------------------------------------
def record_offline_payment(session: Session, *, household_id: int, bill_ids: list[int], amount_cents: int,
                           method: str, actor: str, reference: str | None = None, note: str | None = None,
                           excess_to_prepaid: bool = False) -> Payment:
    """Cash or bank transfer taken by an accountant (see the module doc for the excess rule).
    With no bills and ``excess_to_prepaid`` it is a plain deposit to the prepaid balance."""
    if method not in OFFLINE_METHODS:
        raise PaymentError("bad_method", method=method)
    if method == "bank_transfer" and not (reference or "").strip():
        raise PaymentError("reference_required")
    household = _lock_household(session, household_id)
    bills = _lock_bills(session, household_id, bill_ids)
    if not bills and not excess_to_prepaid:
        raise PaymentError("no_bills")
    result = _allocate(session, household, bills, amount_cents, method=method, actor=actor,
                       reference=(reference or "").strip() or None, note=note,
                       excess="prepaid" if excess_to_prepaid else "refuse")
    return _finish(session, result, actor)


# --- prepaid balance ---------------------------------------------------------------------------------
def apply_prepaid(session: Session, bill_ids: list[int], actor: str = "system") -> list[Payment]:
    """Pay these bills from their households' prepaid balances, as far as each balance goes.

    The billing run calls this right after issuing bills; it is safe to call again (bills
    already paid or households without credit are skipped)."""
    if not bill_ids:
        return []
    households = sorted(set(session.scalars(select(Bill.household_id).where(
        Bill.id.in_(list(bill_ids)), Bill.status.in_(PAYABLE)))))
    if not households:
        return []
    with_credit = set(session.scalars(select(Household.id).where(
        Household.id.in_(households), Household.prepaid_balance_cents > 0)))
    payments = []
    for household_id in households:
        if household_id not in with_credit:
            continue
        household = _lock_household(session, household_id)
        ids = list(session.scalars(select(Bill.id).where(
            Bill.id.in_(list(bill_ids)), Bill.household_id == household_id, Bill.status.in_(PAYABLE))))
        bills = _lock_bills(session, household_id, ids)
        for bill in bills:
            sync_bill(session, bill)
        spare = household.prepaid_balance_cents - pending_refund_cents(session, household_id=household_id)
        use = min(spare, sum(b.outstanding_cents for b in bills))
        if use <= 0:
            continue
        household.prepaid_balance_cents -= use
        result = _allocate(session, household, bills, use, method="prepaid", actor=actor,
                           note="prepaid balance applied")
        payments.append(_finish(session, result, actor))
    return payments


# --- online orders -------------------------------------------------------------------------------
def new_out_trade_no() -> str:
    return f"EF{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


def create_order(session: Session, *, household_id: int, bill_ids: list[int], gateway: str,
                 actor: str) -> PaymentOrder:
    """An order for what the chosen bills still owe (the amount is ours, never the payer's)."""
    household = _lock_household(session, household_id)
    bills = _lock_bills(session, household_id, bill_ids)
    if not bills:
        raise PaymentError("no_bills")
    for bill in bills:
        if bill.status not in PAYABLE:
            raise PaymentError("bill_not_payable", number=bill.number, status=bill.status)
    amount = sum(b.outstanding_cents for b in bills)
    if amount <= 0:
        raise PaymentError("nothing_due")
    order = PaymentOrder(community_id=household.community_id, household_id=household.id, gateway=gateway,
                         out_trade_no=new_out_trade_no(), amount_cents=amount, status="created",
                         bill_ids=[b.id for b in bills], created_by=actor, created_at=clock.now())
    session.add(order)
    session.flush()
    record(session, actor=actor, action="payment.order", target_type="payment_order", target_id=order.id,
           community_id=household.community_id,
           after={"out_trade_no": order.out_trade_no, "amount_cents": amount, "gateway": gateway,
                  "bills": [b.number for b in bills]})
    return order


def cancel_order(session: Session, order: PaymentOrder, actor: str) -> None:
    if order.status == "created":
        order.status = "cancelled"
        record(session, actor=actor, action="payment.order_cancelled", target_type="payment_order",
               target_id=order.id, community_id=order.community_id, after={"out_trade_no": order.out_trade_no})


def settle_order(session: Session, order: PaymentOrder, notice: GatewayNotice) -> Payment:
    """Credit a verified, first-time notification for ``order``.

    Bills of the order still open get the money; whatever they no longer need (paid at the
    counter meanwhile, or the order paid twice) goes to the prepaid balance — and, with the
    ``duplicate_payment=refund`` setting (the default), is sent back through the gateway at once
    (``refund_duplicate``; booked out of the prepaid balance when the gateway confirms)."""
    actor = f"gateway:{notice.gateway}"
    household = _lock_household(session, order.household_id)
    ids = [b for b in order.bill_ids or []]
    bills = [b for b in _lock_bills(session, order.household_id, ids) if b.status in PAYABLE]
    result = _allocate(session, household, bills, notice.amount_cents, method=order.gateway, actor=actor,
                       reference=notice.transaction_id, excess="prepaid",
                       received_at=notice.paid_at or clock.now())
    if order.status != "paid":
        order.status, order.paid_at = "paid", clock.now()
        order.transaction_id, order.payment_id = notice.transaction_id, result.payment.id
    payment = _finish(session, result, actor)
    if payment.to_prepaid_cents > 0:  # the order's bills were paid meanwhile: a second payment
        refund_duplicate(session, payment)
    return payment


@dataclass(frozen=True)
class NotificationOutcome:
    outcome: str  # accepted, duplicate, rejected
    reason: str
    payment_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("accepted", "duplicate")


def _log(session: Session, gateway: str, outcome: str, reason: str, body: bytes, remote_addr: str | None,
         notice: GatewayNotice | None = None, signature_ok: bool = False,
         community_id: int | None = None) -> GatewayNotification:
    row = GatewayNotification(community_id=community_id,
        gateway=gateway, outcome=outcome, reason=reason[:300], signature_ok=signature_ok,
        transaction_id=notice.transaction_id[:64] if notice else None,
        out_trade_no=notice.out_trade_no[:40] if notice else None,
        amount_cents=notice.amount_cents if notice else None,
        accepted_key=f"{gateway}:{notice.transaction_id}"[:90] if notice and outcome == "accepted" else None,
        body=body[:4000].decode("utf-8", "replace"), remote_addr=remote_addr, received_at=clock.now())
    session.add(row)
    return row


def handle_notification(session: Session, gateway_name: str, headers: dict[str, str], body: bytes,
                        remote_addr: str | None = None) -> NotificationOutcome:
    """Verify, de-duplicate and credit one gateway callback. Never raises for bad input:
    the outcome says what happened and every attempt is logged and audited."""
    gateway = get_gateway(gateway_name)
    try:
        notice = gateway.parse_notification(headers, body)
    except SignatureInvalid as exc:
        _log(session, gateway_name, "rejected", f"signature: {exc}", body, remote_addr)
        record(session, actor=f"gateway:{gateway_name}", action="payment.callback_rejected",
               target_type="gateway_notification", after={"reason": str(exc), "remote_addr": remote_addr})
        return NotificationOutcome("rejected", f"signature: {exc}")
    except GatewayError as exc:
        _log(session, gateway_name, "rejected", str(exc), body, remote_addr)
        record(session, actor=f"gateway:{gateway_name}", action="payment.callback_rejected",
               target_type="gateway_notification", after={"reason": str(exc), "remote_addr": remote_addr})
        return NotificationOutcome("rejected", str(exc))
    if isinstance(notice, RefundNotice):
        return accept_refund_notice(session, gateway_name, notice, body, remote_addr)
    return accept_notice(session, gateway_name, notice, body, remote_addr)


def accept_notice(session: Session, gateway_name: str, notice: GatewayNotice, body: bytes = b"",
                  remote_addr: str | None = None) -> NotificationOutcome:
    """Credit one *verified* payment result — from a callback, or from a query of the gateway
    when the callback never came — once: the same transaction seen again is a duplicate."""
    order = session.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == notice.out_trade_no))
    problem = None
    if order is None:
        problem = f"unknown order {notice.out_trade_no}"
    elif order.gateway != gateway_name:
        problem = f"order {order.out_trade_no} belongs to gateway {order.gateway}"
    elif not notice.success:
        problem = f"trade state not SUCCESS ({notice.raw.get('trade_state')})"
    elif notice.amount_cents != order.amount_cents:
        problem = f"amount {notice.amount_cents} != order amount {order.amount_cents}"
    if problem:
        _log(session, gateway_name, "rejected", problem, body, remote_addr, notice, signature_ok=True)
        record(session, actor=f"gateway:{gateway_name}", action="payment.callback_rejected",
               target_type="payment_order", target_id=order.id if order else None,
               community_id=order.community_id if order else None,
               after={"reason": problem, "transaction_id": notice.transaction_id})
        return NotificationOutcome("rejected", problem)
    duplicate = session.scalar(select(GatewayNotification.id).where(
        GatewayNotification.accepted_key == f"{gateway_name}:{notice.transaction_id}"))
    if duplicate is not None:
        _log(session, gateway_name, "duplicate", "transaction already credited", body, remote_addr, notice, True)
        return NotificationOutcome("duplicate", "transaction already credited", order.payment_id)
    try:
        with session.begin_nested():
            _log(session, gateway_name, "accepted", "ok", body, remote_addr, notice, True,
                 community_id=order.community_id)
            session.flush()
    except IntegrityError:  # a concurrent duplicate won the unique key
        _log(session, gateway_name, "duplicate", "transaction already credited", body, remote_addr, notice, True)
        return NotificationOutcome("duplicate", "transaction already credited", order.payment_id)
    payment = settle_order(session, order, notice)
    return NotificationOutcome("accepted", "ok", payment.id)


# --- refunds ---------------------------------------------------------------------------------------
def refundable_cents(payment: Payment) -> int:
    return payment.amount_cents - payment.refunded_cents


def pending_refund_cents(session: Session, *, payment_id: int | None = None, household_id: int | None = None) -> int:
    """Refunds asked of a gateway and not yet confirmed (their money is spoken for)."""
    query = select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(Refund.status == "pending")
    if payment_id is not None:
        query = query.where(Refund.payment_id == payment_id)
    if household_id is not None:
        query = query.where(Refund.household_id == household_id)
    return int(session.scalar(query) or 0)


def check_refund(session: Session, payment_id: int, amount_cents: int, reason: str) -> Payment:
    """The locked payment, if ``amount_cents`` may be refunded from it (else ``PaymentError``)."""
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment is None:
        raise PaymentError("unknown_payment")
    if payment.method == "prepaid":
        raise PaymentError("not_refundable")
    if not (reason or "").strip():
        raise PaymentError("refund_reason")
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise PaymentError("amount_invalid")
    available = refundable_cents(payment) - pending_refund_cents(session, payment_id=payment.id)
    if amount_cents > available:
        raise PaymentError("refund_too_large", amount=yuan(amount_cents), refundable=yuan(max(available, 0)))
    return payment


def refund(session: Session, *, payment_id: int, amount_cents: int, reason: str, actor: str,
           confirmed: Refund | None = None) -> Refund:
    """Pay money back out of one payment: first from the prepaid credit it left (if the
    household still has it), then by reopening the bills it paid, newest first. The money
    leaves through the account it came in by. ``confirmed``: an online refund the gateway has
    just confirmed (its row is completed instead of a new one written)."""
    if confirmed is None:
        payment = check_refund(session, payment_id, amount_cents, reason)
    else:
        payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    household = _lock_household(session, payment.household_id)
    legs: list[Leg] = [Leg(MONEY_ACCOUNT[payment.method], -amount_cents)]
    left = amount_cents
    from_prepaid = min(left, household.prepaid_balance_cents, payment.to_prepaid_cents)
    if from_prepaid > 0:
        household.prepaid_balance_cents -= from_prepaid
        legs.append(Leg("prepaid", from_prepaid))
        left -= from_prepaid
    reopened = []
    if left:
        net: dict[int, int] = {}
        for alloc in payment.allocations:
            net[alloc.bill_id] = net.get(alloc.bill_id, 0) + alloc.amount_cents
        bills = _lock_bills(session, payment.household_id, [b for b, c in net.items() if c > 0])
        for bill in sorted(bills, key=lambda b: (b.due_date, b.id), reverse=True):
            take = min(left, net[bill.id], bill.paid_cents)
            if take <= 0:
                continue
            session.add(PaymentAllocation(payment_id=payment.id, bill_id=bill.id, amount_cents=-take,
                                          created_at=clock.now()))
            _apply_to_bill(bill, -take)
            legs.append(Leg("receivable", take, bill.id))
            reopened.append({"bill": bill.number, "amount_cents": take})
            left -= take
            if not left:
                break
    if left:  # the prepaid credit was already spent on later bills: not refundable from here
        raise PaymentError("refund_too_large", amount=yuan(amount_cents), refundable=yuan(amount_cents - left))
    payment.refunded_cents += amount_cents
    if confirmed is None:
        row = Refund(payment_id=payment.id, community_id=payment.community_id, household_id=payment.household_id,
                     amount_cents=amount_cents, reason=reason.strip()[:300], created_by=actor, created_at=clock.now())
        session.add(row)
    else:
        row = confirmed
    row.from_prepaid_cents, row.reopened = max(from_prepaid, 0), reopened
    row.status, row.completed_at = "done", clock.now()
    session.flush()
    post(session, community_id=payment.community_id, household_id=payment.household_id, kind="refund",
         legs=legs, payment_id=payment.id, memo=f"refund {row.id}: {reason.strip()[:100]}")
    record(session, actor=actor, action="payment.refund", target_type="payment", target_id=payment.id,
           community_id=payment.community_id,
           after={"refund_id": row.id, "amount_cents": amount_cents, "reopened": reopened, "reason": reason})
    return row


# --- online refunds: asked of the gateway, booked only when it confirms ----------------------------
# An accountant refunding a WeChat Pay or Alipay payment (or the automatic refund of a second
# payment for an already-paid order) writes a ``pending`` refund and sends it to the gateway;
# nothing moves in the books yet. The books move (``refund`` with the pending row) when
# the gateway confirms: WeChat Pay's refund notification (``REFUND.SUCCESS``, signed and
# encrypted like a payment callback) or Alipay's synchronous refund answer (``fund_change=Y``);
# the 5-minute reconciliation asks the gateway about refunds still pending (a lost notification).
# A refund the gateway closes or refuses becomes ``failed`` and moves nothing. Money a pending
# refund will take from the prepaid balance is not spent on new bills meanwhile.
ONLINE = ("wechatpay", "alipay")


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
