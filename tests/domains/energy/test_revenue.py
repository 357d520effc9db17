"""Public revenue ledger: evidence required, owners' share, frozen after publication,
correcting entries, idempotent posting by other modules, Excel (SQLite and PostgreSQL)."""
from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.domains import energy
from app.domains.energy import revenue
from app.domains.energy.errors import EnergyError
from tests.support.energy_estate import build

EVIDENCE = [{"sha256": "0" * 64, "name": "invoice.pdf", "size": 10, "content_type": "application/pdf"}]


def test_ledger_publication_and_corrections(session):
    estate = build(session, settings={"energy": {"owners_share_percent": "70"}})
    cid = estate.community.id
    with pytest.raises(EnergyError) as err:
        revenue.add_entry(session, cid, period="2026-10", direction="income", category="advertising",
                          amount_cents=100000, description="电梯广告", evidence=[], actor="m")
    assert err.value.code == "evidence_required"
    with pytest.raises(EnergyError):
        revenue.parse_yuan("12.345")
    first = revenue.add_entry(session, cid, period="2026-10", direction="income", category="advertising",
                              amount_cents=revenue.parse_yuan("1000.00"), description="电梯广告", evidence=EVIDENCE,
                              actor="m")
    posted = energy.post_public_revenue(session, community_id=cid, category="parking", amount_cents=50001,
                                        description="停车收入", source="parking", source_ref="P-1", period="2026-10")
    assert energy.post_public_revenue(session, community_id=cid, category="parking", amount_cents=50001,
                                      description="停车收入", source="parking", source_ref="P-1").id == posted.id
    revenue.add_entry(session, cid, period="2026-10", direction="expense", category="maintenance",
                      amount_cents=20000, description="维修", evidence=EVIDENCE, actor="m")
    row = revenue.publish(session, cid, "2026-10", actor="m")
    # (100000 + 50001 - 20000) × 70% = 91000.7 → 91001 cents, the rest to the company
    assert (row.income_cents, row.expense_cents, row.owners_cents, row.company_cents) == (150001, 20000, 91001, 39000)
    with pytest.raises(EnergyError) as err:
        revenue.add_entry(session, cid, period="2026-10", direction="income", category="venue", amount_cents=1,
                          description="x", evidence=EVIDENCE, actor="m")
    assert err.value.code == "published" and "2026-10" in err.value.message("zh")
    with pytest.raises(EnergyError):
        revenue.publish(session, cid, "2026-10", actor="m")
    fix = revenue.correct_entry(session, cid, first.id, amount_cents=-5000, reason="多记 50 元", actor="m",
                                period="2026-11")
    assert fix.period == "2026-11" and fix.corrects_id == first.id and fix.amount_cents == -5000
    # a later post for a published month lands in an open month
    late = energy.post_public_revenue(session, community_id=cid, category="parking", amount_cents=100,
                                      description="停车", source="parking", source_ref="P-2", period="2026-10")
    assert late.period != "2026-10"
    book = load_workbook(BytesIO(revenue.export_xlsx(session, cid, "2026-10")))
    values = [c for row in book.active.iter_rows(values_only=True) for c in row]
    assert "电梯广告" in values and 910.01 in values
