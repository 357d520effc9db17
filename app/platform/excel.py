"""Spreadsheets people can read: a title row naming the community and period, translated
headers, number formats (money ``¥#,##0.00``, percent ``0.0%``), column widths and a frozen
header row. Every export (fees, repair KPIs, dashboard) writes through :func:`workbook`, so they
all look the same; callers translate headers and values (no raw codes) before they get here."""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

FORMATS = {"money": "¥#,##0.00", "percent": "0.0%", "int": "#,##0", "decimal1": "0.0", "decimal2": "0.00",
           "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "text": "@"}
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
#: characters a sheet name may not hold
_BAD_SHEET_CHARS = str.maketrans({c: "-" for c in "[]:*?/\\"})


@dataclass
class Column:
    header: str
    kind: str = "text"  # a FORMATS key, or "by_row" (the sheet's row_kinds say)
    width: int = 14


@dataclass
class Sheet:
    name: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    #: for "by_row" columns: one FORMATS key per row
    row_kinds: Sequence[str] = field(default_factory=list)
    #: a line under the title (e.g. the data source)
    note: str | None = None


def _cell_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # openpyxl writes Decimal too, but LibreOffice shows floats more reliably
    return value


def workbook(sheets: Sequence[Sheet], title: str) -> bytes:
    """One workbook; each sheet: row 1 the title, (row 2 the note,) then the header, frozen."""
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        ws = wb.create_sheet(str(sheet.name).translate(_BAD_SHEET_CHARS)[:31] or "Sheet")
        width = max(len(sheet.columns), 1)
        ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        header_row = 2
        if sheet.note:
            ws.cell(row=2, column=1, value=sheet.note).font = Font(italic=True, color="666666")
            ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
            header_row = 3
        for i, col in enumerate(sheet.columns, start=1):
            cell = ws.cell(row=header_row, column=i, value=str(col.header))
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            ws.column_dimensions[get_column_letter(i)].width = col.width
        for r, row in enumerate(sheet.rows):
            for i, (col, value) in enumerate(zip(sheet.columns, row), start=1):
                cell = ws.cell(row=header_row + 1 + r, column=i, value=_cell_value(value))
                kind = sheet.row_kinds[r] if col.kind == "by_row" and r < len(sheet.row_kinds) else col.kind
                if value is not None and kind in FORMATS and kind != "text":
                    cell.number_format = FORMATS[kind]
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
