"""Household roster import from Excel or CSV: preview first, then all-or-nothing.

Onboarding an old community starts from the paper/Excel roster the neighbourhood
committee hands over. Every bad cell is reported with its spreadsheet row and
column so the clerk can fix the file; nothing is written unless every row is good.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Building, Household, Unit
from app.platform import audit
from app.platform.table_import import RowError, read_table

#: column -> (required, zh label, en label)
COLUMNS: dict[str, tuple[bool, str, str]] = {
    "building_code": (True, "楼栋编号", "Building code"),
    "unit_number": (True, "房号", "Unit number"),
    "floor": (True, "楼层", "Floor"),
    "area_m2": (True, "建筑面积(m²)", "Floor area (m²)"),
    "household_code": (True, "户号", "Household code"),
    "head_name": (True, "户主姓名", "Head of household"),
    "phone": (False, "电话", "Phone"),
    "move_in": (False, "入住日期", "Move-in date"),
    "elderly_alone": (False, "独居老人", "Elderly living alone"),
}

MESSAGES = {
    "missing_columns": {"zh": "缺少列：{cols}", "en": "missing columns: {cols}"},
    "unknown_columns": {"zh": "未知列：{cols}", "en": "unknown columns: {cols}"},
    "required": {"zh": "必填", "en": "required"},
    "not_integer": {"zh": "不是整数", "en": "not a whole number"},
    "bad_area": {"zh": "面积须为 0–10000 之间、最多两位小数的数字", "en": "area must be a number between 0 and 10000 with at most 2 decimals"},
    "bad_date": {"zh": "日期格式应为 YYYY-MM-DD", "en": "date must be YYYY-MM-DD"},
    "bad_bool": {"zh": "应为 是/否", "en": "must be yes/no"},
    "duplicate_in_file": {"zh": "户号在文件中重复（第 {other} 行）", "en": "household code repeated in the file (row {other})"},
    "duplicate_existing": {"zh": "户号已存在", "en": "household code already exists"},
    "unit_taken": {"zh": "该房屋已有在住户", "en": "this unit already has an active household"},
    "unreadable": {"zh": "无法读取文件：{error}", "en": "cannot read the file: {error}"},
    "empty": {"zh": "文件没有数据行", "en": "the file has no data rows"},
}

_TRUE = {"1", "true", "yes", "y", "是", "对", "√"}
_FALSE = {"0", "false", "no", "n", "否", "", "×"}


@dataclass
class ImportPreview:
    rows: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_buildings: list[str] = field(default_factory=list)
    new_units: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


def message(key: str, locale: str, **params) -> str:
    return MESSAGES[key]["en" if locale.startswith("en") else "zh"].format(**params)


def template_frame() -> pd.DataFrame:
    """The downloadable template: the header row plus one example."""
    example = {
        "building_code": "1", "unit_number": "101", "floor": 1, "area_m2": "89.50",
        "household_code": "YC-1-101", "head_name": "王建国", "phone": "13800000000",
        "move_in": "1998-06-01", "elderly_alone": "否",
    }
    return pd.DataFrame([example], columns=list(COLUMNS))


def preview_import(
    session: Session, community_id: int, data: bytes, filename: str, locale: str = "zh"
) -> ImportPreview:
    """Check every row against the file and the database; write nothing."""
    preview = ImportPreview()
    try:
        frame = read_table(data, filename)
    except Exception as exc:  # pandas raises many types for a broken file
        preview.errors.append(RowError(0, "file", message("unreadable", locale, error=exc)))
        return preview
    missing = [c for c, (req, *_l) in COLUMNS.items() if req and c not in frame.columns]
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if missing:
        preview.errors.append(RowError(1, ",".join(missing), message("missing_columns", locale, cols=", ".join(missing))))
    if unknown:
        preview.errors.append(RowError(1, ",".join(unknown), message("unknown_columns", locale, cols=", ".join(unknown))))
    if preview.errors:
        return preview
    if frame.empty:
        preview.errors.append(RowError(2, "", message("empty", locale)))
        return preview

    existing_codes = set(session.scalars(select(Household.code).where(Household.code.in_(frame["household_code"].tolist()))))
    buildings = {b.code: b for b in session.scalars(select(Building).where(Building.community_id == community_id))}
    units = {
        (u.building.code, u.number): u
        for u in session.scalars(select(Unit).where(Unit.community_id == community_id))
    }
    occupied = set(
        session.scalars(
            select(Household.unit_id).where(Household.community_id == community_id, Household.active.is_(True))
        )
    )
    seen_codes: dict[str, int] = {}
    new_units: set[tuple[str, str]] = set()
    for index, record in enumerate(frame.to_dict("records")):
        row_no = index + 2
        errors_before = len(preview.errors)
        parsed = _parse_row(record, row_no, locale, preview.errors)
        code = record.get("household_code", "")
        if code:
            if code in seen_codes:
                preview.errors.append(RowError(row_no, "household_code", message("duplicate_in_file", locale, other=seen_codes[code])))
            elif code in existing_codes:
                preview.errors.append(RowError(row_no, "household_code", message("duplicate_existing", locale)))
            seen_codes.setdefault(code, row_no)
        key = (record.get("building_code", ""), record.get("unit_number", ""))
        unit = units.get(key)
        if unit is not None and unit.id in occupied:
            preview.errors.append(RowError(row_no, "unit_number", message("unit_taken", locale)))
        if len(preview.errors) == errors_before:
            if key[0] not in buildings and key[0] not in preview.new_buildings:
                preview.new_buildings.append(key[0])
            if unit is None:
                new_units.add(key)
            preview.rows.append(parsed)
    preview.new_units = len(new_units)
    return preview


def _parse_row(record: dict, row_no: int, locale: str, errors: list[RowError]) -> dict:
    out: dict = {}
    for column, (required, *_labels) in COLUMNS.items():
        value = record.get(column, "")
        if required and value == "":
            errors.append(RowError(row_no, column, message("required", locale)))
            continue
        if column == "floor" and value:
            try:
                out[column] = int(value)
            except ValueError:
                errors.append(RowError(row_no, column, message("not_integer", locale)))
        elif column == "area_m2" and value:
            try:
                area = Decimal(value)
                if not (Decimal(0) < area <= Decimal(10000)) or area.as_tuple().exponent < -2:
                    raise InvalidOperation
                out[column] = area
            except (InvalidOperation, ValueError):
                errors.append(RowError(row_no, column, message("bad_area", locale)))
        elif column == "move_in" and value:
            try:
                out[column] = date.fromisoformat(value[:10])
            except ValueError:
                errors.append(RowError(row_no, column, message("bad_date", locale)))
        elif column == "elderly_alone":
            lowered = value.lower()
            if lowered in _TRUE:
                out[column] = True
            elif lowered in _FALSE:
                out[column] = False
            else:
                errors.append(RowError(row_no, column, message("bad_bool", locale)))
        else:
            out[column] = value or None
    return out


def apply_import(
    session: Session, community_id: int, preview: ImportPreview, actor: str
) -> int:
    """Write a clean preview in the caller's transaction; refuses one with errors."""
    if not preview.ok:
        raise ValueError("import has errors; nothing was written")
    buildings = {b.code: b for b in session.scalars(select(Building).where(Building.community_id == community_id))}
    units = {(u.building_id, u.number): u for u in session.scalars(select(Unit).where(Unit.community_id == community_id))}
    for row in preview.rows:
        building = buildings.get(row["building_code"])
        if building is None:
            building = Building(community_id=community_id, code=row["building_code"],
                                name=f"{row['building_code']}号楼")
            session.add(building)
            session.flush()
            buildings[building.code] = building
        unit = units.get((building.id, row["unit_number"]))
        if unit is None:
            unit = Unit(community_id=community_id, building_id=building.id, number=row["unit_number"],
                        floor=row["floor"], area_m2=row["area_m2"])
            session.add(unit)
            session.flush()
            units[(building.id, unit.number)] = unit
        session.add(Household(
            community_id=community_id, unit_id=unit.id, code=row["household_code"],
            head_name=row["head_name"], phone=row.get("phone"), move_in=row.get("move_in"),
            elderly_alone=bool(row.get("elderly_alone")),
        ))
    audit.record(session, actor=actor, action="households.import", target_type="community",
                 target_id=community_id, community_id=community_id,
                 after={"households": len(preview.rows), "new_buildings": preview.new_buildings,
                        "new_units": preview.new_units})
    session.flush()
    return len(preview.rows)
