"""Household import: a clean file imports fully, a bad one reports every cell and writes nothing."""
from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from app.domains.estate.household_import import (
    apply_import,
    preview_import,
    template_frame,
)
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Unit,
)
from app.platform.models import AuditEvent

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def community(session):
    company = PropertyCompany(name="测试物业")
    community = Community(company=company, code="T", name="测试小区")
    session.add_all([company, community])
    session.commit()
    return community


def _counts(session):
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Building, Unit, Household))


def test_clean_csv_imports_every_row_with_exact_areas(session, community):
    data = (FIXTURES / "households_good.csv").read_bytes()
    preview = preview_import(session, community.id, data, "households_good.csv", "en")
    assert preview.errors == []
    assert preview.new_buildings == ["7", "8"] and preview.new_units == 3
    assert apply_import(session, community.id, preview, "tester") == 3
    session.commit()
    assert _counts(session) == (2, 3, 3)
    unit = session.scalar(select(Unit).where(Unit.number == "101"))
    assert unit.area_m2 == Decimal("89.50")
    elderly = session.scalar(select(Household).where(Household.code == "T-7-102"))
    assert elderly.elderly_alone is True
    assert session.scalar(select(AuditEvent.action)) == "households.import"


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_written(session, community):
    data = (FIXTURES / "households_bad.csv").read_bytes()
    preview = preview_import(session, community.id, data, "households_bad.csv", "en")
    found = {(e.row, e.column) for e in preview.errors}
    assert (3, "floor") in found
    assert {(4, "area_m2"), (4, "head_name"), (4, "move_in"), (4, "elderly_alone"), (4, "household_code")} <= found
    with pytest.raises(ValueError):
        apply_import(session, community.id, preview, "tester")
    session.rollback()
    assert _counts(session) == (0, 0, 0)


def test_wrong_columns_are_named(session, community):
    data = (FIXTURES / "households_wrong_columns.csv").read_bytes()
    preview = preview_import(session, community.id, data, "x.csv", "zh")
    assert preview.errors and preview.errors[0].row == 1
    assert "household_code" in preview.errors[0].reason and "缺少列" in preview.errors[0].reason


def test_duplicate_of_an_existing_household_is_refused(session, community):
    data = (FIXTURES / "households_good.csv").read_bytes()
    apply_import(session, community.id, preview_import(session, community.id, data, "a.csv"), "t")
    session.commit()
    again = preview_import(session, community.id, data, "a.csv", "en")
    assert {e.column for e in again.errors} >= {"household_code"}
    assert any("already exists" in e.reason for e in again.errors)


def test_excel_template_round_trips(session, community):
    buffer = io.BytesIO()
    template_frame().to_excel(buffer, index=False)
    preview = preview_import(session, community.id, buffer.getvalue(), "households.xlsx", "en")
    assert preview.errors == [] and len(preview.rows) == 1
    assert preview.rows[0]["household_code"] == "YC-1-101"
    assert isinstance(pd.read_excel(io.BytesIO(buffer.getvalue())), pd.DataFrame)
