"""The renovation audit pack (改造成效报告): one community, two periods (before and after a
renovation or a module's activation), the four outcomes the programmes ask about — fee
collection rate, repair response, public energy, staff efficiency — with the counts and data
source behind each figure, as an Excel workbook and a PDF with charts.

Measured figures come from the dashboard tiles (``Figure.outcome``), so the pack reads the same
query path as the dashboard. A period before the platform has no measured figure: the manager
enters it with its source (:class:`app.platform.models.EnteredFigure`), and the pack marks it
"entered", never "measured". A measured figure wins over an entered one for the same period.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.platform.kpi import Figure, build_dashboard, month_scope
from app.platform.models import EnteredFigure

#: outcome → (zh, en label, unit, higher is better, data source zh/en, the programmes' target zh/en)
OUTCOMES = {
    "fee_collection": ("物业费收缴率", "Fee collection rate", "percent", True,
                       ("账单与收款记录", "bills and payments"), ("90% 以上（改造前约 65%）", "90% or more (about 65% before)")),
    "repair_response": ("报修响应时间中位数（分钟）", "Repair response, median (min)", "minutes", False,
                        ("报修工单的报修与接单时间", "repair orders: reported and accepted times"),
                        ("1 小时以内（改造前约 24 小时）", "under 1 h (about 24 h before)")),
    "public_energy": ("公共区域用电月均（千瓦时）", "Public-area electricity per month (kWh)", "kwh", False,
                      ("能耗模块的公共与照明电表月用量", "the energy module's public and lighting meters, monthly usage"),
                      ("降低 15–30%", "15–30% less")),
    "staff_efficiency": ("人均每日完成任务数", "Tasks closed per staff-day", "per_day", True,
                         ("流程引擎的任务记录", "the workflow engine's task records"), ("提高 30%", "30% more")),
}


def target_text(outcome: str, lang: str) -> str:
    zh, en = OUTCOMES[outcome][5]
    return en if lang == "en" else zh


class AuditPackError(ValueError):
    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en

    def message(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


def parse_month(value: str) -> str:
    try:
        datetime.strptime(value or "", "%Y-%m")
    except ValueError:
        raise AuditPackError(f"“{value}”不是有效的月份（YYYY-MM）。", f"“{value}” is not a month (YYYY-MM).") from None
    return value


def months_between(first: str, last: str) -> int:
    n = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    if n < 1:
        raise AuditPackError("期间的结束月份早于开始月份。", "The period ends before it starts.")
    if n > 36:
        raise AuditPackError("一个期间最多 36 个月。", "A period is at most 36 months.")
    return n


@dataclass
class Cell:
    value: Decimal | float | None
    count: int | None = None
    basis: str | None = None
    entered: bool = False
    source: str | None = None
    empty: str | None = None


@dataclass
class TrendPoint:
    """One month of an outcome's trend: which period it belongs to, the figure, its count."""

    month: str
    period: str  # "before" or "after"
    value: float | None
    count: int | None = None


@dataclass
class OutcomeRow:
    outcome: str
    before: Cell
    after: Cell
    #: the outcome month by month over both periods (measured months only; entered figures
    #: cover a whole period and have no monthly values)
    trend: list[TrendPoint] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        if self.before.value is None or self.after.value is None:
            return None
        return float(self.after.value) - float(self.before.value)

    @property
    def relative_change(self) -> float | None:
        """(after − before) ÷ before in percent (public energy's −15–30% target is relative);
        None without both figures or with a zero "before"."""
        if self.before.value is None or self.after.value is None or not float(self.before.value):
            return None
        return (float(self.after.value) - float(self.before.value)) / float(self.before.value) * 100


def _measured(session: Session, community_id: int, period: tuple[str, str], now: datetime,
              only: list[str] | None = None, tiles_seen: set[str] | None = None) -> dict[str, Figure]:
    first, last = period
    scope = month_scope([community_id], months_between(first, last), now, until=last)
    found: dict[str, Figure] = {}
    for built in build_dashboard(session, scope, only=only):
        for fig in built.data.figures:
            if fig.outcome and fig.outcome not in found:
                found[fig.outcome] = fig
                if tiles_seen is not None:
                    tiles_seen.add(built.tile.id)
    return found


def period_months(period: tuple[str, str]) -> list[str]:
    first, last = period
    y, m = int(first[:4]), int(first[5:])
    out = []
    for _ in range(months_between(first, last)):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _trends(session: Session, community_id: int, periods: list[tuple[str, str]], now: datetime,
            tiles: set[str]) -> dict[str, list[TrendPoint]]:
    """Each outcome month by month: the same tiles (same query path) over one-month windows."""
    out: dict[str, list[TrendPoint]] = {o: [] for o in OUTCOMES}
    for tag, period in zip(("before", "after"), periods):
        for month in period_months(period):
            found = _measured(session, community_id, (month, month), now, only=sorted(tiles)) if tiles else {}
            for o in OUTCOMES:
                fig = found.get(o)
                out[o].append(TrendPoint(month, tag, None if fig is None or fig.value is None else float(fig.value),
                                         fig.count if fig is not None else None))
    return out


def _entered(session: Session, community_id: int, period: tuple[str, str]) -> dict[str, EnteredFigure]:
    return {e.outcome: e for e in session.scalars(select(EnteredFigure).where(
        EnteredFigure.community_id == community_id, EnteredFigure.period_from == period[0],
        EnteredFigure.period_to == period[1]))}


def _cell(measured: Figure | None, entered: EnteredFigure | None) -> Cell:
    if measured is not None and measured.value is not None:
        return Cell(measured.value, measured.count, measured.basis)
    if entered is not None:
        return Cell(entered.value, entered=True, source=entered.source)
    if measured is not None:
        return Cell(None, measured.count, measured.basis, empty=measured.empty)
    return Cell(None, empty="not measured: module not enabled")


def outcomes(session: Session, community_id: int, before: tuple[str, str], after: tuple[str, str],
             now: datetime) -> list[OutcomeRow]:
    """The four outcomes for both periods: measured where the platform has data, else entered."""
    periods = [(parse_month(a), parse_month(b)) for a, b in (before, after)]
    cells = []
    tiles: set[str] = set()
    for period in periods:
        measured = _measured(session, community_id, period, now, tiles_seen=tiles)
        entered = _entered(session, community_id, period)
        cells.append({o: _cell(measured.get(o), entered.get(o)) for o in OUTCOMES})
    trend = _trends(session, community_id, periods, now, tiles)
    return [OutcomeRow(o, cells[0][o], cells[1][o], trend[o]) for o in OUTCOMES]


def enter_figure(session: Session, community_id: int, outcome: str, period: tuple[str, str], value: str,
                 source: str, actor: str) -> EnteredFigure:
    """Store (or replace) an entered figure; every change is audited. Nothing is written on bad input."""
    from app.platform.audit import record

    if outcome not in OUTCOMES:
        raise AuditPackError("未知的成效指标。", "Unknown outcome.")
    first, last = parse_month(period[0]), parse_month(period[1])
    months_between(first, last)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise AuditPackError("数值必须是数字。", "The value must be a number.") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise AuditPackError("数值必须是不小于 0 的数字。", "The value must be a number of at least 0.")
    source = (source or "").strip()
    if not source:
        raise AuditPackError("请注明数据来源（例如去年的纸质台账）。",
                             "Say where the figure comes from (e.g. last year's paper ledger).")
    row = session.scalar(select(EnteredFigure).where(
        EnteredFigure.community_id == community_id, EnteredFigure.outcome == outcome,
        EnteredFigure.period_from == first, EnteredFigure.period_to == last))
    before = {"value": str(row.value), "source": row.source} if row else None
    if row is None:
        row = EnteredFigure(community_id=community_id, outcome=outcome, period_from=first, period_to=last)
        session.add(row)
    row.value, row.source, row.entered_by, row.entered_at = amount.quantize(Decimal("0.01")), source[:300], actor, now_utc()
    session.flush()
    record(session, actor=actor, action="kpi.figure_entered", target_type="kpi_entered_figure", target_id=row.id,
           community_id=community_id, before=before, after={"outcome": outcome, "period": f"{first}..{last}",
                                                            "value": str(row.value), "source": row.source})
    return row


def now_utc() -> datetime:
    from app import clock

    return clock.now()


# --------------------------------------------------------------------------- the two documents


def _label(outcome: str, lang: str) -> str:
    zh, en = OUTCOMES[outcome][:2]
    return en if lang == "en" else zh


def _value_text(cell: Cell, unit: str, lang: str) -> str:
    if cell.value is None:
        return "—"
    v = float(cell.value)
    text = f"{v:.1f}%" if unit == "percent" else (f"{v:.2f}" if unit == "per_day" else f"{v:,.1f}")
    return text + (" *" if cell.entered else "")


def _basis_text(cell: Cell, unit: str, lang: str) -> str:
    if cell.entered:
        return (f"entered, not measured — source: {cell.source}" if lang == "en"
                else f"人工录入，非系统测量——来源：{cell.source}")
    if cell.value is None:
        return {"zh": "无数据", "en": "no data"}[lang] + (f" ({cell.empty})" if cell.empty and lang == "en" else "")
    return (f"measured from {cell.count} {cell.basis}" if lang == "en" else f"系统测量，依据 {cell.count} 条记录")


def workbook_bytes(rows: list[OutcomeRow], community_name: str, before: tuple[str, str], after: tuple[str, str],
                   locale: str = "zh") -> bytes:
    from app.platform.excel import Column, Sheet, workbook

    lang = "en" if locale.startswith("en") else "zh"
    b, a = f"{before[0]}–{before[1]}", f"{after[0]}–{after[1]}"
    zh = lang == "zh"
    head = [Column("成效指标" if zh else "Outcome", "text", 28),
            Column(("改造前 " if zh else "Before ") + b, "by_row", 16), Column("依据" if zh else "Basis", "text", 40),
            Column(("改造后 " if zh else "After ") + a, "by_row", 16), Column("依据" if zh else "Basis", "text", 40),
            Column("变化" if zh else "Change", "by_row", 12), Column("数据来源" if zh else "Data source", "text", 34),
            Column("相对变化" if zh else "Relative change", "percent", 12), Column("目标" if zh else "Target", "text", 26)]
    kinds = {"percent": "percent", "minutes": "decimal1", "kwh": "decimal1", "per_day": "decimal2"}
    body, row_kinds = [], []
    for r in rows:
        unit = OUTCOMES[r.outcome][2]

        def cell_value(cell: Cell, unit: str = unit):
            if cell.value is None:
                return None
            return float(cell.value) / 100 if unit == "percent" else float(cell.value)

        change = r.change
        body.append([_label(r.outcome, lang), cell_value(r.before), _basis_text(r.before, unit, lang),
                     cell_value(r.after), _basis_text(r.after, unit, lang),
                     None if change is None else (change / 100 if unit == "percent" else change),
                     OUTCOMES[r.outcome][4][0 if zh else 1],
                     None if r.relative_change is None else r.relative_change / 100, target_text(r.outcome, lang)])
        row_kinds.append(kinds[unit])
    note = ("* 标记的数值为项目经理人工录入（注明来源），非系统测量。" if zh
            else "* marks a figure entered by the manager with its source, not measured by the platform.")
    title = (f"{community_name} 改造成效报告（{b} 对比 {a}）" if zh
             else f"{community_name}: renovation outcomes ({b} vs {a})")
    trend_sheet = _trend_sheet(rows, lang)
    data = workbook([Sheet("改造成效" if zh else "Outcomes", head, body, row_kinds=row_kinds, note=note), trend_sheet],
                    title)
    return _with_trend_charts(data, trend_sheet.name, rows, lang)


_TREND_KINDS = {"percent": "percent", "minutes": "decimal1", "kwh": "decimal1", "per_day": "decimal2"}


def _trend_sheet(rows: list[OutcomeRow], lang: str):
    """Month by month over both periods: each outcome's figure and the records behind it."""
    from app.platform.excel import Column, Sheet

    zh = lang == "zh"
    columns = [Column("月份" if zh else "Month", "text", 10), Column("期间" if zh else "Period", "text", 10)]
    for r in rows:
        columns += [Column(_label(r.outcome, lang), _TREND_KINDS[OUTCOMES[r.outcome][2]], 18),
                    Column("依据记录数" if zh else "Records", "int", 10)]
    body = []
    for i, point in enumerate(rows[0].trend if rows else []):
        line = [point.month, ("改造前" if zh else "Before") if point.period == "before" else ("改造后" if zh else "After")]
        for r in rows:
            p = r.trend[i]
            unit = OUTCOMES[r.outcome][2]
            line += [None if p.value is None else (p.value / 100 if unit == "percent" else p.value), p.count]
        body.append(line)
    note = ("每月数值由系统测量（与看板同一查询）；空白表示该月无数据或为人工录入的整段数值。" if zh
            else "Monthly figures measured by the platform (the dashboard's queries); blank: no data that month, or "
                 "the period's figure was entered.")
    return Sheet("月度趋势" if zh else "Monthly trends", columns, body, note=note)


def _with_trend_charts(data: bytes, sheet_name: str, rows: list[OutcomeRow], lang: str) -> bytes:
    """One line chart per outcome on the trend sheet, over both periods' months."""
    from openpyxl import load_workbook
    from openpyxl.chart import LineChart, Reference

    book = load_workbook(io.BytesIO(data))
    ws = book[sheet_name]
    header = next(r for r in range(1, 5) if ws.cell(row=r, column=1).value in ("月份", "Month"))
    last = header + len(rows[0].trend) if rows else header
    if last > header:
        months = Reference(ws, min_col=1, min_row=header + 1, max_row=last)
        for i, r in enumerate(rows):
            col = 3 + 2 * i
            chart = LineChart()
            chart.title = _label(r.outcome, lang)
            chart.height, chart.width = 6.5, 14
            chart.legend = None
            chart.add_data(Reference(ws, min_col=col, min_row=header, max_row=last), titles_from_data=True)
            chart.set_categories(months)
            if OUTCOMES[r.outcome][2] == "percent":
                chart.y_axis.number_format = "0%"
            ws.add_chart(chart, f"{chr(ord('A') + 2 + 2 * len(rows) + 1)}{header + 15 * i}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pdf_bytes(rows: list[OutcomeRow], community_name: str, before: tuple[str, str], after: tuple[str, str]) -> bytes:
    """An A4 PDF (Chinese with English captions): the outcome table and one before/after bar
    chart per outcome; entered figures carry a * and their source."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    width, height = A4
    c = canvas.Canvas(buf, pagesize=A4)
    b, a = f"{before[0]}–{before[1]}", f"{after[0]}–{after[1]}"
    c.setTitle(f"{community_name} 改造成效报告")
    y = _heading(c, font, f"{community_name} 改造成效报告", 16,
                 f"Renovation outcomes | 改造前 before {b} | 改造后 after {a}", 9) - 12 * mm
    for r in rows:
        unit = OUTCOMES[r.outcome][2]
        c.setFont(font, 11)
        c.drawString(15 * mm, y, f"{_label(r.outcome, 'zh')}  {_label(r.outcome, 'en')}")
        y -= 5 * mm
        c.setFont(font, 8)
        for tag, cell in (("改造前 before", r.before), ("改造后 after", r.after)):
            c.drawString(20 * mm, y, f"{tag}: {_value_text(cell, unit, 'zh')}   {_basis_text(cell, unit, 'zh')}"[:95])
            y -= 4.2 * mm
        c.drawString(20 * mm, y, f"数据来源 source: {OUTCOMES[r.outcome][4][0]} / {OUTCOMES[r.outcome][4][1]}"[:95])
        y -= 4.2 * mm
        relative = "—" if r.relative_change is None else f"{r.relative_change:+.1f}%"
        c.drawString(20 * mm, y, f"变化 change: {relative}   目标 target: {target_text(r.outcome, 'zh')} / "
                                 f"{target_text(r.outcome, 'en')}"[:95])
        values = [float(cell.value) if cell.value is not None else 0 for cell in (r.before, r.after)]
        drawing = Drawing(60 * mm, 32 * mm)
        chart = VerticalBarChart()
        chart.x, chart.y, chart.width, chart.height = 10 * mm, 5 * mm, 45 * mm, 24 * mm
        chart.data = [values]
        chart.categoryAxis.categoryNames = ["before", "after"]
        chart.categoryAxis.labels.fontName = font
        chart.valueAxis.valueMin = 0
        chart.valueAxis.valueMax = max(values + [1]) * 1.2
        chart.valueAxis.labels.fontSize = 6
        chart.bars[0].fillColor = colors.HexColor("#5470c6")
        for i, cell in enumerate((r.before, r.after)):
            if cell.entered:  # an entered figure is drawn in another colour and captioned
                chart.bars[(0, i)].fillColor = colors.HexColor("#fac858")
                drawing.add(String(12 * mm + i * 22 * mm, 29.5 * mm, "* 人工录入 entered", fontName=font, fontSize=6))
        drawing.add(chart)
        if r.before.value is None or r.after.value is None:
            drawing.add(String(12 * mm, 28 * mm, "— = 无数据 no data", fontName=font, fontSize=6))
        renderPDF.draw(drawing, c, width - 75 * mm, y - 4 * mm)
        y -= 34 * mm
    c.setFont(font, 8)
    c.drawString(15 * mm, max(y, 15 * mm), "* 人工录入（注明来源），非系统测量 / entered by the manager with its source, not measured")
    c.showPage()
    _trend_page(c, rows, community_name, b, a, font)
    c.save()
    return buf.getvalue()


def _heading(c, font: str, title: str, size: int, subtitle: str, subsize: int) -> float:
    """A page's centred title and subtitle; returns the height below them."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm

    width, height = A4
    y = height - 20 * mm
    c.setFont(font, size)
    c.drawCentredString(width / 2, y, title)
    y -= 6 * mm
    c.setFont(font, subsize)
    c.drawCentredString(width / 2, y, subtitle)
    return y


def _trend_page(c, rows: list[OutcomeRow], community_name: str, b: str, a: str, font: str) -> None:
    """Page 2: each outcome month by month over both periods (blue before, green after), with
    the records behind each month as the x labels' second line."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.graphics.widgets.markers import makeMarker
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm

    width, _height = A4
    y = _heading(c, font, f"{community_name} 月度趋势 Monthly trends", 14,
                 f"蓝色 改造前 before {b} | 绿色 改造后 after {a} | 缺口 = 该月无数据 gap = no data", 8) - 8 * mm
    for r in rows:
        unit = OUTCOMES[r.outcome][2]
        points = r.trend
        c.setFont(font, 10)
        c.drawString(15 * mm, y, f"{_label(r.outcome, 'zh')}  {_label(r.outcome, 'en')}")
        drawing = Drawing(width - 30 * mm, 50 * mm)
        if not points or all(p.value is None for p in points):
            drawing.add(String(10 * mm, 25 * mm, "两个期间均无按月测量的数据 no monthly figures measured in either period",
                               fontName=font, fontSize=8))
        else:
            chart = HorizontalLineChart()
            chart.x, chart.y, chart.width, chart.height = 12 * mm, 10 * mm, width - 50 * mm, 34 * mm
            series = [([p.value if p.period == tag else None for p in points], colour)
                      for tag, colour in (("before", "#5470c6"), ("after", "#91cc75"))]
            series = [(data, colour) for data, colour in series if any(v is not None for v in data)]
            chart.data = [data for data, _colour in series]
            chart.categoryAxis.categoryNames = [f"{p.month[2:]}\n{p.count if p.count is not None else '—'}"
                                                for p in points]
            chart.categoryAxis.labels.fontName = font
            chart.categoryAxis.labels.fontSize = 5.5
            chart.valueAxis.labels.fontSize = 6
            values = [p.value for p in points if p.value is not None]
            chart.valueAxis.valueMin = 0
            chart.valueAxis.valueMax = max(values + [1]) * 1.15
            chart.joinedLines = 1
            for i, (data, colour) in enumerate(series):
                line = chart.lines[i]
                line.symbol = makeMarker("FilledCircle", size=3, fillColor=colors.HexColor(colour),
                                         strokeColor=colors.HexColor(colour))
                # a line needs two months; a single measured month is its dot
                line.strokeColor = colors.HexColor(colour) if sum(v is not None for v in data) > 1 else None
                line.strokeWidth = 1.5
            drawing.add(chart)
            drawing.add(String(12 * mm, 46 * mm, {"percent": "%", "minutes": "分钟 min", "kwh": "kWh",
                                                  "per_day": "件/人日 per staff-day"}[unit], fontName=font, fontSize=6))
            drawing.add(String(width - 80 * mm, 3 * mm, "x: 月份 / 依据记录数 month / records", fontName=font,
                               fontSize=5.5))
        renderPDF.draw(drawing, c, 15 * mm, y - 52 * mm)
        y -= 60 * mm
    c.showPage()
