"""Device list import (CSV/Excel): every row checked against the profiles, all or nothing.

A renovation contractor hands over the installed meters, doors and sensors as a
spreadsheet; registering them one by one would take days.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.devices.models import Device
from app.domains.estate.models import Building
from app.platform import audit
from app.platform.table_import import RowError, read_table
from connectors.modbus.address import parse_address

_MODBUS_ADDRESS = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}/\d{1,3}$")

COLUMNS: dict[str, tuple[bool, str, str]] = {
    "code": (True, "设备编号", "Device code"),
    "name": (True, "名称", "Name"),
    "profile": (True, "型号配置", "Model profile"),
    "address": (True, "通信地址", "Protocol address"),
    "location": (False, "位置", "Location"),
    "building_code": (False, "楼栋编号", "Building code"),
}

MESSAGES = {
    "missing_columns": {"zh": "缺少列：{cols}", "en": "missing columns: {cols}"},
    "required": {"zh": "必填", "en": "required"},
    "unknown_profile": {"zh": "未知型号配置 {value}（可用：{known}）", "en": "unknown profile {value} (known: {known})"},
    "bad_modbus": {"zh": "Modbus 地址应为 主机:端口/从站号", "en": "Modbus address must be host:port/unit"},
    "bad_mqtt": {"zh": "MQTT 设备号只能含字母、数字、-、_", "en": "MQTT device id may hold letters, digits, - and _ only"},
    "duplicate_in_file": {"zh": "编号在文件中重复（第 {other} 行）", "en": "code repeated in the file (row {other})"},
    "duplicate_existing": {"zh": "编号已存在", "en": "code already exists"},
    "unknown_building": {"zh": "本小区没有该楼栋", "en": "no such building in this community"},
    "unreadable": {"zh": "无法读取文件：{error}", "en": "cannot read the file: {error}"},
}


@dataclass
class DevicePreview:
    rows: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


def _msg(key: str, locale: str, **params) -> str:
    return MESSAGES[key]["en" if locale.startswith("en") else "zh"].format(**params)


def preview_devices(session: Session, community_id: int, data: bytes, filename: str,
                    locale: str = "zh") -> DevicePreview:
    preview = DevicePreview()
    try:
        frame = read_table(data, filename)
    except Exception as exc:  # pandas raises many types for a broken file
        preview.errors.append(RowError(0, "file", _msg("unreadable", locale, error=exc)))
        return preview
    missing = [c for c, (req, *_l) in COLUMNS.items() if req and c not in frame.columns]
    if missing:
        preview.errors.append(RowError(1, ",".join(missing), _msg("missing_columns", locale, cols=", ".join(missing))))
        return preview
    from app.domains.devices.registry import _profiles

    profiles = _profiles(session)
    existing = set(session.scalars(select(Device.code).where(Device.community_id == community_id)))
    buildings = dict(session.execute(select(Building.code, Building.id).where(Building.community_id == community_id)).all())
    seen: dict[str, int] = {}
    for index, record in enumerate(frame.to_dict("records")):
        row_no, before = index + 2, len(preview.errors)
        for column, (required, *_l) in COLUMNS.items():
            if required and not record.get(column):
                preview.errors.append(RowError(row_no, column, _msg("required", locale)))
        code, profile_name, address = record.get("code", ""), record.get("profile", ""), record.get("address", "")
        profile = profiles.get(profile_name)
        if profile_name and profile is None:
            preview.errors.append(RowError(row_no, "profile", _msg("unknown_profile", locale, value=profile_name,
                                                                   known=", ".join(sorted(profiles)))))
        elif profile is not None and address:
            if profile.protocol == "modbus":
                try:
                    if not _MODBUS_ADDRESS.match(address):
                        raise ValueError(address)
                    parse_address(address)
                except ValueError:
                    preview.errors.append(RowError(row_no, "address", _msg("bad_modbus", locale)))
            elif not address.replace("-", "").replace("_", "").isalnum():
                preview.errors.append(RowError(row_no, "address", _msg("bad_mqtt", locale)))
        if code in seen:
            preview.errors.append(RowError(row_no, "code", _msg("duplicate_in_file", locale, other=seen[code])))
        elif code in existing:
            preview.errors.append(RowError(row_no, "code", _msg("duplicate_existing", locale)))
        if code:
            seen.setdefault(code, row_no)
        building = record.get("building_code") or ""
        if building and building not in buildings:
            preview.errors.append(RowError(row_no, "building_code", _msg("unknown_building", locale)))
        if len(preview.errors) == before:
            preview.rows.append({"code": code, "name": record["name"], "profile": profile_name, "address": address,
                                 "location": record.get("location") or None,
                                 "building_id": buildings.get(building) if building else None})
    return preview


def apply_devices(session: Session, community_id: int, preview: DevicePreview, actor: str) -> int:
    """Register every previewed device in the caller's transaction; refuses a preview with errors."""
    if not preview.ok:
        raise ValueError("import has errors; nothing was written")
    session.add_all(Device(community_id=community_id, **row) for row in preview.rows)
    audit.record(session, actor=actor, action="devices.import", target_type="community", target_id=community_id,
                 community_id=community_id, after={"devices": [r["code"] for r in preview.rows]})
    session.flush()
    return len(preview.rows)
