"""Deposits in the fees ledger (app/domains/fees/deposits.py, fees.record_deposit /
fees.release_deposit): recorded and released once per key, amounts in 元 to cents exactly,
deductions need a reason and cannot exceed the deposit, the books balance, bad input books nothing."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.domains.fees.deposits import (
    DepositError,
    deposit_state,
    record_deposit,
    release_deposit,
)
from app.domains.fees.ledger import ledger_problems
from app.domains.fees.models import LedgerEntry
from tests.support.module_flows import make_estate


def entries(session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEntry))


def test_recorded_and_released_once_per_key_and_the_books_balance(session):
    estate = make_estate(session, [])
    cid, home = estate["community"].id, estate["homes"][0]
    first = record_deposit(session, community_id=cid, household_id=home.id, amount=Decimal("2000.10"),
                           key="instance:7", method="bank_transfer", actor="t")
    again = record_deposit(session, community_id=cid, household_id=home.id, amount="9999", key="instance:7")
    assert first == again and first.held_cents == 200010 and entries(session) == 2
    done = release_deposit(session, community_id=cid, key="instance:7", deduction="0.10", reason="钥匙丢失")
    assert release_deposit(session, community_id=cid, key="instance:7", deduction="5") == done
    assert (done.refunded_cents, done.deducted_cents, done.held_cents, done.released) == (200000, 10, 0, True)
    assert entries(session) == 5 and ledger_problems(session) == []
    # another key is another deposit
    assert deposit_state(session, cid, "instance:8").received_cents == 0


BAD = [
    (lambda s, c, h: record_deposit(s, community_id=c, household_id=h, amount="12.345", key="k"), "two decimals"),
    (lambda s, c, h: record_deposit(s, community_id=c, household_id=h, amount="0", key="k"), "two decimals"),
    (lambda s, c, h: record_deposit(s, community_id=c, household_id=h, amount="10", key="k", method="wechat"),
     "unknown method"),
    (lambda s, c, h: record_deposit(s, community_id=c, household_id=h + 999, amount="10", key="k"),
     "not in this community"),
    (lambda s, c, h: release_deposit(s, community_id=c, key="nothing"), "no deposit was recorded"),
]


def test_bad_input_is_refused_with_a_reason_and_books_nothing(session):
    estate = make_estate(session, [])
    for call, needle in BAD:
        with pytest.raises(DepositError, match=needle):
            call(session, estate["community"].id, estate["homes"][0].id)
    assert entries(session) == 0


def test_a_deduction_needs_a_reason_and_cannot_exceed_the_deposit(session):
    estate = make_estate(session, [])
    cid = estate["community"].id
    record_deposit(session, community_id=cid, household_id=estate["homes"][0].id, amount="100", key="k")
    with pytest.raises(DepositError, match="more than the deposit"):
        release_deposit(session, community_id=cid, key="k", deduction="100.01", reason="x")
    with pytest.raises(DepositError, match="needs a reason"):
        release_deposit(session, community_id=cid, key="k", deduction="1")
    assert not deposit_state(session, cid, "k").released and entries(session) == 2
