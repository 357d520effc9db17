"""Deposits (押金) a household leaves with the property company, and their release.

Generic: a renovation deposit, a key deposit, a move-out deposit — any module records one with
the ``fees.record_deposit`` operation and releases it with ``fees.release_deposit``. Both go
through the double-entry ledger: receiving debits the money account it came in by (``cash`` or
``bank``) and credits the ``deposits`` liability; releasing debits ``deposits`` by the whole amount
held, credits the money account by what is paid back and ``revenue`` by what is kept (a
deduction, e.g. for damage to shared parts, with its reason).

Each deposit has a **key** (the operations use the process instance: ``instance:<id>``), so a
deposit is recorded once and released once however often a step is retried: a second call with
the same key returns what the first one booked. The key is the ledger memo of the entries.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Household
from app.domains.fees.ledger import Leg, post
from app.domains.fees.models import LedgerEntry
from app.domains.fees.money import BadAmount, parse_yuan, yuan
from app.platform.audit import record

#: how the money came in / goes back, and the ledger account it moves through
DEPOSIT_METHODS = {"cash": "cash", "bank_transfer": "bank"}
RECORD, RELEASE = "deposit", "deposit_release"


class DepositError(ValueError):
    """A deposit that cannot be recorded or released (the message says why, in both languages)."""


@dataclass(frozen=True)
class DepositState:
    key: str
    household_id: int | None
    held_cents: int          # received and not yet released
    received_cents: int
    refunded_cents: int
    deducted_cents: int
    released: bool


def _memo(key: str) -> str:
    return f"deposit {key}"[:200]


def _entries(session: Session, community_id: int, key: str, kind: str) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(
        LedgerEntry.community_id == community_id, LedgerEntry.kind == kind,
        LedgerEntry.memo == _memo(key)).order_by(LedgerEntry.id)))


def deposit_state(session: Session, community_id: int, key: str) -> DepositState:
    """What the ledger holds for the deposit ``key`` (all zero when nothing was recorded)."""
    received = _entries(session, community_id, key, RECORD)
    released = _entries(session, community_id, key, RELEASE)
    received_cents = -sum(e.amount_cents for e in received if e.account == "deposits")
    refunded = -sum(e.amount_cents for e in released if e.account in DEPOSIT_METHODS.values())
    deducted = -sum(e.amount_cents for e in released if e.account == "revenue")
    return DepositState(key=key, household_id=received[0].household_id if received else None,
                        held_cents=received_cents - sum(e.amount_cents for e in released if e.account == "deposits"),
                        received_cents=received_cents, refunded_cents=refunded, deducted_cents=deducted,
                        released=bool(released))


def _cents(amount: Decimal | str | int, *, allow_zero: bool, what: str) -> int:
    try:
        return parse_yuan(amount, allow_zero=allow_zero)
    except BadAmount:
        raise DepositError(f"{what} must be an amount in 元 with at most two decimals, not {amount!r} "
                           f"（{'扣除金额' if allow_zero else '押金金额'}须为不超过两位小数的正数金额）") from None


def _method_account(method: str) -> str:
    if method not in DEPOSIT_METHODS:
        raise DepositError(f"unknown method {method!r}: use {', '.join(DEPOSIT_METHODS)} "
                           f"（收退方式须为 {'、'.join(DEPOSIT_METHODS)}）")
    return DEPOSIT_METHODS[method]


def record_deposit(session: Session, *, community_id: int, household_id: int, amount: Decimal | str | int,
                   key: str, method: str = "cash", note: str = "", actor: str = "system") -> DepositState:
    """Book a deposit received from a household (once per ``key``). Amounts in 元 (Decimal/text)."""
    existing = deposit_state(session, community_id, key)
    if existing.received_cents:
        return existing
    cents = _cents(amount, allow_zero=False, what="amount")
    account = _method_account(method)
    household = session.get(Household, household_id)
    if household is None or household.community_id != community_id:
        raise DepositError(f"household {household_id} is not in this community（该住户不在本小区）")
    post(session, community_id=community_id, household_id=household_id, kind=RECORD,
         legs=[Leg(account, cents), Leg("deposits", -cents)], memo=_memo(key))
    record(session, actor=actor, action="deposit.record", target_type="household", target_id=household_id,
           community_id=community_id,
           after={"key": key, "amount_cents": cents, "method": method, "note": (note or "")[:300]})
    return deposit_state(session, community_id, key)


def release_deposit(session: Session, *, community_id: int, key: str, deduction: Decimal | str | int = 0,
                    reason: str = "", method: str = "cash", actor: str = "system") -> DepositState:
    """Pay the deposit ``key`` back, keeping ``deduction`` (with a reason) as revenue. Once per key."""
    state = deposit_state(session, community_id, key)
    if state.released:
        return state
    if not state.received_cents:
        raise DepositError(f"no deposit was recorded for {key}（未登记押金，无法退还）")
    kept = _cents(deduction or 0, allow_zero=True, what="deduction")
    if kept > state.held_cents:
        raise DepositError(f"the deduction {yuan(kept)} is more than the deposit {yuan(state.held_cents)} "
                           f"（扣除金额 {yuan(kept)} 超过押金 {yuan(state.held_cents)}）")
    if kept and not (reason or "").strip():
        raise DepositError("a deduction needs a reason（扣除押金须写明原因）")
    account = _method_account(method)
    post(session, community_id=community_id, household_id=state.household_id, kind=RELEASE,
         legs=[Leg("deposits", state.held_cents), Leg(account, -(state.held_cents - kept)), Leg("revenue", -kept)],
         memo=_memo(key))
    record(session, actor=actor, action="deposit.release", target_type="household",
           target_id=state.household_id, community_id=community_id,
           after={"key": key, "refunded_cents": state.held_cents - kept, "deducted_cents": kept,
                  "reason": (reason or "")[:300], "method": method})
    return deposit_state(session, community_id, key)


def deposits_held_cents(session: Session, community_id: int) -> int:
    """Every deposit the community holds now (the ``deposits`` liability)."""
    return -int(session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.community_id == community_id, LedgerEntry.account == "deposits")))
