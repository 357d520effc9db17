"""Dunning service: which bills get an instance (overdue, unpaid, module on), once only;
the Prefect sweep's plain function does the same against a database URL."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.dunning import ladder as dunning
from app.engine.models import ProcessInstance

from tests.support import fees_estate as fe


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(datetime(2026, 11, 20, 2, 0))
    yield
    clock.reset()


def test_start_overdue_only_unpaid_overdue_bills_once(session):
    community, (a, b, c) = fe.make_estate(session)
    overdue = fe.make_bill(session, a, 1000, due=date(2026, 11, 1))
    fe.make_bill(session, b, 1000, due=date(2026, 11, 30))  # not yet due
    paid = fe.make_bill(session, c, 1000, due=date(2026, 11, 1))
    paid.status, paid.paid_cents = "paid", 1000
    cancelled = fe.make_bill(session, c, 500, due=date(2026, 11, 1), period="2026-09")
    cancelled.status = "cancelled"
    session.commit()
    started = dunning.start_overdue(session)
    session.commit()
    assert [i.business_key for i in started] == [overdue.number]
    data = started[0].projection
    assert data is not None
    assert dunning.start_overdue(session) == []
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 1


def test_no_instances_where_dunning_is_off(session):
    community, (a, *_) = fe.make_estate(session, code="OFF", dunning=False)
    fe.make_bill(session, a, 1000, due=date(2026, 11, 1))
    session.commit()
    assert dunning.start_overdue(session) == []


def test_reminder_dates_follow_settings_and_never_go_backwards(session):
    community, (a, *_) = fe.make_estate(session, dunning_settings={
        "first_reminder_days": 10, "second_reminder_days": 5, "final_reminder_days": 30})
    bill = fe.make_bill(session, a, 1000, due=date(2026, 11, 1))
    data = dunning.start_data(bill, a, dunning.dunning_settings(session, community.id))
    assert data["reminder1_at"] == "2026-11-11T01:00:00+00:00"  # 09:00 Beijing
    assert data["reminder2_at"] == "2026-11-11T01:00:00+00:00"  # second before first: clamped
    assert data["final_at"] == "2026-12-01T01:00:00+00:00"
    a.medical_exemption = True
    assert dunning.start_data(bill, a, dunning.dunning_settings(session, community.id))["exempt"] is True


def test_prefect_sweep_function(session, db_engine):
    from workflows.dunning_sweep import dunning_sweep, sweep

    community, (a, *_) = fe.make_estate(session)
    fe.make_bill(session, a, 1000, due=date(2026, 11, 1))
    session.commit()
    url = db_engine.url.render_as_string(hide_password=False)
    assert sweep(url) == {community.id: 1}
    assert dunning_sweep.fn(url) == {community.id: 0}
