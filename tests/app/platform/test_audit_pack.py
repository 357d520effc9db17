"""The renovation audit pack: measured figures from the dashboard tiles, entered "before"
figures marked as entered with their source, bad input refused with nothing written, and the
Excel and PDF documents (openpyxl reads the workbook back, pdftoppm renders the PDF)."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from app.domains.fees.models import Bill
from app.modules.models import ModuleActivation
from app.platform import audit_pack
from app.platform.models import AuditEvent, EnteredFigure
from tests.support.kpi_estate import NOW, build_kpi_estate

BEFORE, AFTER = ("2025-01", "2025-06"), ("2026-09", "2026-11")


def _estate(session):
    estate = build_kpi_estate(session)
    session.add(ModuleActivation(community_id=estate.community.id, module_id="fees", version="1.0.0", enabled=True))
    for i, h in enumerate(estate.households):
        session.add(Bill(number=f"{estate.community.code}-A{i}", community_id=estate.community.id, household_id=h.id,
                         period="2026-10", status="paid" if i else "open", amount_cents=10000,
                         paid_cents=10000 if i else 0, due_date=date(2026, 10, 15)))
    session.flush()
    return estate


def test_entered_before_and_measured_after(session):
    estate = _estate(session)
    cid = estate.community.id
    audit_pack.enter_figure(session, cid, "fee_collection", BEFORE, "65", "2025 年纸质收费台账", "manager_yc")
    rows = {r.outcome: r for r in audit_pack.outcomes(session, cid, BEFORE, AFTER, NOW)}
    fees = rows["fee_collection"]
    assert fees.before.entered and fees.before.value == 65 and fees.before.source == "2025 年纸质收费台账"
    assert not fees.after.entered and str(fees.after.value) == "66.7" and fees.after.count == 3
    assert fees.change == pytest.approx(1.7)
    assert rows["public_energy"].after.value is None  # no energy module here
    assert rows["repair_response"].before.empty == "not measured: module not enabled"
    # entering again replaces the figure (audited both times)
    audit_pack.enter_figure(session, cid, "fee_collection", BEFORE, "64.5", "台账复核", "manager_yc")
    assert session.scalar(select(func.count(EnteredFigure.id))) == 1
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "kpi.figure_entered")) == 2


@pytest.mark.parametrize(("outcome", "period", "value", "source"), [
    ("fee_collection", BEFORE, "abc", "台账"), ("fee_collection", BEFORE, "-1", "台账"),
    ("fee_collection", BEFORE, "65", "  "), ("nonsense", BEFORE, "65", "台账"),
    ("fee_collection", ("2025-06", "2025-01"), "65", "台账"), ("fee_collection", ("2025-13", "2025-14"), "1", "x"),
])
def test_bad_input_is_refused_and_nothing_written(session, outcome, period, value, source):
    estate = build_kpi_estate(session)
    with pytest.raises(audit_pack.AuditPackError) as err:
        audit_pack.enter_figure(session, estate.community.id, outcome, period, value, source, "m")
    assert err.value.message("zh") and err.value.message("en")
    assert session.scalar(select(func.count(EnteredFigure.id))) == 0


def test_workbook_and_pdf(session, tmp_path):
    estate = _estate(session)
    audit_pack.enter_figure(session, estate.community.id, "fee_collection", BEFORE, "65", "纸质台账", "m")
    rows = audit_pack.outcomes(session, estate.community.id, BEFORE, AFTER, NOW)
    book = openpyxl.load_workbook(io.BytesIO(audit_pack.workbook_bytes(rows, "指标小区", BEFORE, AFTER)))
    sheet = book["改造成效"]
    assert "改造成效报告" in sheet["A1"].value and sheet.freeze_panes == "A4"
    first = [c for c in sheet[4]]
    assert first[0].value == "物业费收缴率" and first[1].value == pytest.approx(0.65)
    assert first[1].number_format == "0.0%" and "人工录入" in first[2].value and "纸质台账" in first[2].value
    assert first[3].value == pytest.approx(0.667) and "系统测量" in first[4].value
    pdf = audit_pack.pdf_bytes(rows, "指标小区", BEFORE, AFTER)
    assert pdf.startswith(b"%PDF")
    assert shutil.which("pdftoppm"), "scripts/services.sh installs poppler-utils"
    (tmp_path / "pack.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(tmp_path / "pack.pdf"), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page*.png"))) == 2  # outcomes with bars, then the monthly trends


def test_monthly_trends_over_both_periods(session, tmp_path):
    """The four outcomes month by month (the dashboard's query path over one-month windows),
    in the workbook's trend sheet with a line chart per outcome and on the PDF's second page."""
    estate = _estate(session)
    cid = estate.community.id
    session.add(Bill(number=f"{estate.community.code}-S0", community_id=cid, household_id=estate.households[0].id,
                     period="2026-09", status="partially_paid", amount_cents=10000, paid_cents=2500,
                     due_date=date(2026, 9, 15)))
    session.flush()
    rows = {r.outcome: r for r in audit_pack.outcomes(session, cid, BEFORE, AFTER, NOW)}
    fees = rows["fee_collection"].trend
    assert [(p.month, p.period) for p in fees][:2] == [("2025-01", "before"), ("2025-02", "before")]
    assert [(p.month, p.value, p.count) for p in fees if p.period == "after"] == [
        ("2026-09", 25.0, 1), ("2026-10", pytest.approx(66.7), 3), ("2026-11", None, 0)]
    assert all(p.value is None for p in fees if p.period == "before")  # before the platform: nothing measured
    assert all(p.value is None for p in rows["repair_response"].trend)  # module not enabled
    data = audit_pack.workbook_bytes(list(rows.values()), "指标小区", BEFORE, AFTER)
    book = openpyxl.load_workbook(io.BytesIO(data))
    trend = book["月度趋势"]
    header = [c.value for c in trend[3]]
    assert header[:3] == ["月份", "期间", "物业费收缴率"] and trend.freeze_panes == "A4"
    after = [r for r in trend.iter_rows(min_row=4, values_only=True) if r[1] == "改造后"]
    assert after[0][:4] == ("2026-09", "改造后", 0.25, 1) and trend.cell(row=4 + 6, column=3).number_format == "0.0%"
    assert len(trend._charts) == 4
    pdf = audit_pack.pdf_bytes(list(rows.values()), "指标小区", BEFORE, AFTER)
    (tmp_path / "t.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "2", "-l", "2", str(tmp_path / "t.pdf"),
                    str(tmp_path / "trend")], check=True)
    page = next(tmp_path.glob("trend*.png"))
    from PIL import Image

    pixels = Image.open(page).convert("RGB").getdata()
    # the after-line is drawn in green (#91cc75): the chart rendered, not only its captions
    assert sum(1 for p in pixels if abs(p[0] - 0x91) < 30 and abs(p[1] - 0xCC) < 30 and abs(p[2] - 0x75) < 30) > 20
