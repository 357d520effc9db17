"""The ledger refuses unbalanced sets and reconciles bills and prepaid balances."""
from __future__ import annotations


import pytest

from app.domains.fees.ledger import (
    Leg,
    UnbalancedEntries,
    account_balance,
    household_balance,
    ledger_problems,
    post,
    sync_bill,
)

from tests.support import fees_estate as fe


def test_unbalanced_or_unknown_or_float_refused(session):
    community, (home, *_) = fe.make_estate(session, dunning=False)
    with pytest.raises(UnbalancedEntries):
        post(session, community_id=community.id, household_id=home.id, kind="payment",
             legs=[Leg("cash", 100), Leg("receivable", -99)])
    with pytest.raises(ValueError):
        post(session, community_id=community.id, household_id=home.id, kind="payment",
             legs=[Leg("water_cut", 100), Leg("cash", -100)])
    with pytest.raises(TypeError):
        post(session, community_id=community.id, household_id=home.id, kind="payment",
             legs=[Leg("cash", 1.5), Leg("receivable", -1.5)])
    assert ledger_problems(session) == []


def test_sync_bill_posts_charge_and_late_fee_delta_once(session):
    community, (home, *_) = fe.make_estate(session, dunning=False)
    bill = fe.make_bill(session, home, [6800, 1500])
    sync_bill(session, bill)
    sync_bill(session, bill)
    assert account_balance(session, "receivable", household_id=home.id) == 8300
    bill.amount_cents += 25  # a late-fee line added by the late-fee job
    sync_bill(session, bill)
    assert account_balance(session, "revenue", community_id=community.id) == -8325
    assert household_balance(session, home.id).outstanding_cents == 8325
    assert ledger_problems(session) == []


def test_reconciliation_catches_tampering(session):
    community, (home, *_) = fe.make_estate(session, dunning=False)
    bill = fe.make_bill(session, home, 1000)
    sync_bill(session, bill)
    bill.paid_cents = 400  # money "appears" without a ledger movement
    home.prepaid_balance_cents = 50
    problems = ledger_problems(session)
    assert any("receivable" in p for p in problems) and any("prepaid" in p for p in problems)
