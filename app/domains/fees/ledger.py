"""The double-entry ledger: every money movement is a balanced set of entries.

Signed integer cents, debit positive and credit negative; ``post`` refuses a set that
does not add up to zero, so no code path can create or lose money in the books.
``ledger_balanced`` re-checks everything from the rows (tests call it after each
scenario): every transaction sums to zero, each bill's receivable equals what it still
owes, and each household's prepaid account equals its ``prepaid_balance_cents``.

Bills are charged to the ledger lazily (``sync_bill``): before money touches a bill its
amount (including late-fee lines added since) is posted as receivable/revenue, so the
billing run stays a fast bulk insert and the ledger still reconciles.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Household
from app.domains.fees.models import Bill, LedgerEntry

ACCOUNTS = ("receivable", "revenue", "cash", "bank", "gateway_clearing", "prepaid", "refunds", "deposits")


class UnbalancedEntries(ValueError):
    """A set of ledger legs that does not sum to zero (a programming error, never posted)."""


@dataclass(frozen=True)
class Leg:
    account: str
    amount_cents: int  # debit positive, credit negative
    bill_id: int | None = None


def post(session: Session, *, community_id: int, household_id: int | None, kind: str,
         legs: Iterable[Leg], payment_id: int | None = None, memo: str | None = None) -> str:
    """Post one balanced transaction; returns its id. Zero legs are dropped."""
    legs = [leg for leg in legs if leg.amount_cents]
    for leg in legs:
        if leg.account not in ACCOUNTS:
            raise ValueError(f"unknown ledger account {leg.account!r}")
        if not isinstance(leg.amount_cents, int):
            raise TypeError("ledger amounts are integer cents")
    if sum(leg.amount_cents for leg in legs) != 0:
        raise UnbalancedEntries(f"{kind}: legs sum to {sum(leg.amount_cents for leg in legs)} cents, not 0")
    txn = uuid.uuid4().hex
    now = clock.now()
    for leg in legs:
        session.add(LedgerEntry(txn=txn, community_id=community_id, household_id=household_id,
                                account=leg.account, amount_cents=leg.amount_cents, bill_id=leg.bill_id,
                                payment_id=payment_id, kind=kind, memo=memo, created_at=now))
    session.flush()
    return txn


def _posted_charge(session: Session, bill_id: int) -> int:
    return session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.bill_id == bill_id, LedgerEntry.account == "revenue")) * -1


def sync_bill(session: Session, bill: Bill) -> None:
    """Make the ledger carry the bill's current amount as receivable (idempotent)."""
    delta = bill.amount_cents - _posted_charge(session, bill.id)
    if delta:
        post(session, community_id=bill.community_id, household_id=bill.household_id, kind="charge",
             legs=[Leg("receivable", delta, bill.id), Leg("revenue", -delta, bill.id)],
             memo=f"bill {bill.number}")


def account_balance(session: Session, account: str, *, household_id: int | None = None,
                    community_id: int | None = None) -> int:
    q = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(LedgerEntry.account == account)
    if household_id is not None:
        q = q.where(LedgerEntry.household_id == household_id)
    if community_id is not None:
        q = q.where(LedgerEntry.community_id == community_id)
    return int(session.scalar(q))


@dataclass(frozen=True)
class HouseholdBalance:
    outstanding_cents: int  # what the household still owes on its open bills
    prepaid_cents: int  # credit waiting to pay the next bills

    @property
    def net_cents(self) -> int:
        """Positive: the household owes; negative: it is in credit."""
        return self.outstanding_cents - self.prepaid_cents


def household_balance(session: Session, household_id: int) -> HouseholdBalance:
    outstanding = session.scalar(select(func.coalesce(func.sum(Bill.amount_cents - Bill.paid_cents), 0)).where(
        Bill.household_id == household_id, Bill.status.in_(("open", "partially_paid"))))
    household = session.get(Household, household_id)
    return HouseholdBalance(int(outstanding), int(household.prepaid_balance_cents or 0))


def ledger_problems(session: Session) -> list[str]:
    """Every way the books fail to balance (empty list: they balance)."""
    problems: list[str] = []
    total = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)))
    if total:
        problems.append(f"ledger total is {total}, not 0")
    for txn, s in session.execute(select(LedgerEntry.txn, func.sum(LedgerEntry.amount_cents))
                                  .group_by(LedgerEntry.txn)
                                  .having(func.sum(LedgerEntry.amount_cents) != 0)):
        problems.append(f"transaction {txn} sums to {s}")
    receivable = dict(session.execute(
        select(LedgerEntry.bill_id, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.account == "receivable", LedgerEntry.bill_id.is_not(None))
        .group_by(LedgerEntry.bill_id)).all())
    if receivable:
        for bill in session.scalars(select(Bill).where(Bill.id.in_(list(receivable)))):
            if receivable[bill.id] != bill.outstanding_cents:
                problems.append(f"bill {bill.number}: receivable {receivable[bill.id]} != outstanding "
                                f"{bill.outstanding_cents}")
            if bill.paid_cents < 0 or bill.paid_cents > bill.amount_cents:
                problems.append(f"bill {bill.number}: paid {bill.paid_cents} outside 0..{bill.amount_cents}")
    prepaid = dict(session.execute(
        select(LedgerEntry.household_id, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.account == "prepaid").group_by(LedgerEntry.household_id)).all())
    for household in session.scalars(select(Household).where(
            (Household.prepaid_balance_cents != 0) | Household.id.in_([h for h in prepaid if h is not None]))):
        booked = -int(prepaid.get(household.id, 0))
        if booked != household.prepaid_balance_cents:
            problems.append(f"household {household.code}: prepaid ledger {booked} != balance "
                            f"{household.prepaid_balance_cents}")
        if household.prepaid_balance_cents < 0:
            problems.append(f"household {household.code}: negative prepaid balance")
    return problems


def ledger_balanced(session: Session) -> bool:
    """True when every transaction, bill and prepaid balance reconciles (see module doc)."""
    return not ledger_problems(session)
