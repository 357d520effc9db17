"""Arrears aging per household against hand-computed buckets (0–30/31–90/91–180/>180 days past
due), late fees, bills not yet due left out; 催缴 starts dunning for bills without a process
and sends the reminder now for bills already in it (audited, never a utility); the workbook
opens with Chinese headers, ¥ format, frozen header and title row. SQLite and PostgreSQL."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app import clock
from app.domains.dunning.chase import ChaseError, chase_household, tier_for
from app.domains.fees import aging
from app.domains.fees.models import BillLine
from app.engine.models import ProcessInstance
from app.platform.models import AuditEvent
from tests.support import fees_estate as fe

AS_OF = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(datetime(2026, 11, 20, 2, 0))
    yield
    clock.reset()


def _estate(session, code="AG", **kw):
    community, (a, b, c) = fe.make_estate(session, code=code, **kw)
    fe.make_bill(session, a, 10000, due=date(2026, 11, 10), period="2026-10")   # 10 days → 0–30
    old = fe.make_bill(session, a, 20000, due=date(2026, 8, 1), period="2026-07")  # 111 days → 91–180
    session.add(BillLine(bill_id=old.id, item="late_fee", kind="late_fee", description="滞纳金", quantity=Decimal(1),
                         unit_price=Decimal("3.50"), amount_cents=350, explanation={}))
    old.amount_cents += 350
    part = fe.make_bill(session, b, 8000, due=date(2026, 9, 15), period="2026-08")  # 66 days → 31–90
    part.status, part.paid_cents = "partially_paid", 3000
    fe.make_bill(session, b, 5000, due=date(2026, 3, 1), period="2026-02")   # 264 days → >180
    fe.make_bill(session, c, 9000, due=date(2026, 11, 30), period="2026-11")  # not yet due: not arrears
    session.commit()
    return community, (a, b, c)


def test_buckets_late_fees_and_order_by_hand(session):
    community, (a, b, c) = _estate(session)
    rows = aging.household_aging(session, community.id, AS_OF)
    assert [r.code for r in rows] == [a.code, b.code]  # c's bill is not due yet
    ra, rb = rows
    assert ra.buckets == {"0-30": 10000, "31-90": 0, "91-180": 20350, "180+": 0}
    assert ra.owed_cents == 30350 and ra.late_fee_cents == 350 and ra.days_overdue == 111
    assert (ra.owner, ra.phone, ra.building, ra.unit) == (a.head_name, a.phone, "1号楼", "101")
    assert rb.buckets == {"0-30": 0, "31-90": 5000, "91-180": 0, "180+": 5000} and rb.days_overdue == 264
    assert aging.totals(rows) == {"0-30": 10000, "31-90": 5000, "91-180": 20350, "180+": 5000, "owed": 40350,
                                  "late_fees": 350, "households": 2}
    assert [r.code for r in aging.household_aging(session, community.id, AS_OF, min_cents=20000)] == [a.code]
    assert aging.household_aging(session, community.id, date(2026, 2, 1)) == []  # nothing overdue yet
    assert aging.bucket_of(30) == "0-30" and aging.bucket_of(31) == "31-90" and aging.bucket_of(181) == "180+"


def test_chase_starts_then_advances_dunning(session):
    community, (a, b, c) = _estate(session, code="CH")
    first = chase_household(session, community_id=community.id, household_id=a.id, actor="acc")
    session.commit()
    assert len(first["started"]) == 2 and first["reminded"] == []
    keys = set(session.scalars(select(ProcessInstance.business_key).where(
        ProcessInstance.community_id == community.id, ProcessInstance.process_id == "dunning")))
    assert keys == set(first["started"])
    assert aging.household_aging(session, community.id, AS_OF)[0].dunning_running == 2
    again = chase_household(session, community_id=community.id, household_id=a.id, actor="acc")
    session.commit()
    assert again == {"started": [], "reminded": first["started"]}  # in dunning already: the reminder now
    actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.community_id == community.id)))
    assert actions.count("dunning.chased") == 2 and any(x.startswith("dunning.reminder.") for x in actions)
    assert not any(word in " ".join(actions) for word in ("water", "power", "heat", "gas"))
    with pytest.raises(ChaseError):
        chase_household(session, community_id=community.id, household_id=c.id, actor="acc")  # nothing overdue
    assert tier_for(3, {"second_reminder_days": 15, "final_reminder_days": 30}) == "first"
    assert tier_for(111, {"second_reminder_days": 15, "final_reminder_days": 30}) == "final"


def test_chase_refused_without_the_dunning_module(session):
    community, (a, *_rest) = _estate(session, code="ND", dunning=False)
    with pytest.raises(ChaseError) as err:
        chase_household(session, community_id=community.id, household_id=a.id, actor="acc")
    assert "催缴" in err.value.message("zh")
    assert session.scalar(select(ProcessInstance.id).where(ProcessInstance.community_id == community.id)) is None


@pytest.mark.parametrize("locale,header,title", [("zh", "户主", "欠费账龄（按户）"), ("en", "Owner", "Arrears aging")])
def test_workbook_people_can_read(session, locale, header, title):
    community, _homes = _estate(session, code=f"X{locale.upper()}")
    data = aging.to_excel(aging.household_aging(session, community.id, AS_OF), community.name, AS_OF, locale)
    ws = load_workbook(io.BytesIO(data)).active
    assert title in ws["A1"].value and community.name in ws["A1"].value and "2026-11-20" in ws["A1"].value
    headers = [c.value for c in ws[3]]
    assert header in headers and ws.freeze_panes == "A4"
    money_col = headers.index("0–30 天" if locale == "zh" else "0–30 days") + 1
    cell = ws.cell(row=4, column=money_col)
    assert cell.value == 100.0 and cell.number_format == "¥#,##0.00"
    assert ws.column_dimensions["A"].width >= 12
    last = ws.max_row
    assert ("合计" if locale == "zh" else "Total") in ws.cell(row=last, column=1).value
    assert "not_due" not in str([c.value for row in ws.iter_rows() for c in row])
