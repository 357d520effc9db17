"""Reading CSV/Excel files for imports: text cells, row numbers as a spreadsheet shows them."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row number (the header is row 1)
    column: str
    reason: str


def read_table(data: bytes, filename: str) -> pd.DataFrame:
    """Read CSV or Excel as text cells (no type guessing that would mangle codes)."""
    suffix = Path(filename).suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        frame = pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl")
    else:
        text = data.decode("utf-8-sig")
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.fillna("").apply(lambda col: col.astype(str).str.strip())
