"""Parking reports: occupancy by hour (cars on tickets inside the lot), temporary income per
day, permit income, charging energy and income; one Excel workbook. Money in cents here, yuan
in the workbook; days and hours are local (Beijing) time."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.parking.models import ChargingSession, ParkingPermit, ParkingTicket
from app.localtime import from_local, to_local

DAYS = 30


def occupancy_by_hour(session: Session, community_id: int, day: date) -> list[dict]:
    """For each hour of ``day``: cars on a ticket (temporary or visitor) inside at some time of that hour."""
    start = from_local(datetime.combine(day, datetime.min.time()))
    end = start + timedelta(days=1)
    stays = session.execute(select(ParkingTicket.entry_at, ParkingTicket.exit_at).where(
        ParkingTicket.community_id == community_id, ParkingTicket.entry_at < end,
        (ParkingTicket.exit_at.is_(None)) | (ParkingTicket.exit_at >= start),
        ParkingTicket.status != "lost")).all()
    rows = []
    for hour in range(24):
        lo, hi = start + timedelta(hours=hour), start + timedelta(hours=hour + 1)
        rows.append({"hour": hour, "cars": sum(1 for e, x in stays if e < hi and (x is None or x >= lo))})
    return rows


def temporary_income(session: Session, community_id: int, day: date, days: int = DAYS) -> list[dict]:
    since = from_local(datetime.combine(day - timedelta(days=days - 1), datetime.min.time()))
    totals: dict[date, list[int]] = {}
    for paid_at, cents in session.execute(select(ParkingTicket.paid_at, ParkingTicket.fee_cents).where(
            ParkingTicket.community_id == community_id, ParkingTicket.paid_at >= since)):
        row = totals.setdefault(to_local(paid_at).date(), [0, 0])
        row[0] += 1
        row[1] += cents
    return [{"day": d.isoformat(), "tickets": n, "cents": c} for d, (n, c) in sorted(totals.items())]


def permit_income(session: Session, community_id: int) -> list[dict]:
    totals: dict[tuple[str, str], list[int]] = {}
    for created, kind, cents in session.execute(select(ParkingPermit.created_at, ParkingPermit.kind,
                                                       ParkingPermit.price_cents).where(
            ParkingPermit.community_id == community_id, ParkingPermit.status != "cancelled")):
        row = totals.setdefault((f"{to_local(created):%Y-%m}", kind), [0, 0])
        row[0] += 1
        row[1] += cents
    return [{"month": m, "kind": k, "permits": n, "cents": c} for (m, k), (n, c) in sorted(totals.items())]


def charging_by_day(session: Session, community_id: int, day: date, days: int = DAYS) -> list[dict]:
    since = from_local(datetime.combine(day - timedelta(days=days - 1), datetime.min.time()))
    totals: dict[date, list] = {}
    for stopped, kwh, cents in session.execute(select(ChargingSession.stopped_at, ChargingSession.kwh,
                                                      ChargingSession.fee_cents).where(
            ChargingSession.community_id == community_id, ChargingSession.stopped_at >= since)):
        row = totals.setdefault(to_local(stopped).date(), [0, 0, 0])
        row[0] += 1
        row[1] += kwh
        row[2] += cents
    return [{"day": d.isoformat(), "sessions": n, "kwh": str(k), "cents": c} for d, (n, k, c) in sorted(totals.items())]


def summary(session: Session, community_id: int, day: date) -> dict:
    return {"occupancy": occupancy_by_hour(session, community_id, day),
            "temporary": temporary_income(session, community_id, day),
            "permits": permit_income(session, community_id),
            "charging": charging_by_day(session, community_id, day)}


def _yuan_columns(frame: pd.DataFrame) -> pd.DataFrame:
    if "cents" in frame:
        frame = frame.assign(yuan=[f"{int(c) // 100}.{int(c) % 100:02d}" for c in frame["cents"]])
        frame = frame.drop(columns=["cents"])
    return frame


def export_excel(session: Session, community_id: int, day: date) -> bytes:
    data = summary(session, community_id, day)
    sheets = {"occupancy": ["hour", "cars"], "temporary": ["day", "tickets", "cents"],
              "permits": ["month", "kind", "permits", "cents"], "charging": ["day", "sessions", "kwh", "cents"]}
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, columns in sheets.items():
            _yuan_columns(pd.DataFrame(data[name], columns=columns)).to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()
