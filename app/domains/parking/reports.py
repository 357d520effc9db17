"""Parking reports: occupancy by hour (cars on tickets and permit cars inside the lot), temporary income per
day, permit income, charging energy and income; one Excel workbook. Money in cents here, yuan
in the workbook; days and hours are local (Beijing) time."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.parking.models import ChargingSession, ParkingPermit, ParkingTicket, PlateEvent
from app.localtime import from_local, to_local

DAYS = 30


#: how far back a permit car's last read is looked for, to know whether it is inside at midnight
PERMIT_LOOKBACK_DAYS = 31


def permit_stays(session: Session, community_id: int, start: datetime, end: datetime) -> list[tuple]:
    """Permit cars' stays ``(in, out or None)`` overlapping ``[start, end)``, from their gate
    reads (a read again counts once, so duplicates are left out): an exit with no entry read
    since ``PERMIT_LOOKBACK_DAYS`` counts as inside from then; a car never read is not counted."""
    since = start - timedelta(days=PERMIT_LOOKBACK_DAYS)
    reads = session.execute(select(PlateEvent.plate, PlateEvent.direction, PlateEvent.at).where(
        PlateEvent.community_id == community_id, PlateEvent.outcome == "permit", PlateEvent.at >= since,
        PlateEvent.at < end).order_by(PlateEvent.plate, PlateEvent.at, PlateEvent.id)).all()
    stays = []
    for _plate, group in groupby(reads, key=itemgetter(0)):
        inside, first = None, True
        for _p, direction, at in group:
            if direction == "in":
                inside = inside or at
            elif inside is not None or first:
                stays.append((inside or since, at))
                inside = None
            first = False
        if inside is not None:
            stays.append((inside, None))
    return [(e, x) for e, x in stays if x is None or x >= start]


def occupancy_by_hour(session: Session, community_id: int, day: date) -> list[dict]:
    """For each hour of ``day``: cars inside at some time of that hour — on a ticket (temporary
    or visitor), with a permit (from their gate reads), and both together (``cars``)."""
    start = from_local(datetime.combine(day, datetime.min.time()))
    end = start + timedelta(days=1)
    stays = session.execute(select(ParkingTicket.entry_at, ParkingTicket.exit_at).where(
        ParkingTicket.community_id == community_id, ParkingTicket.entry_at < end,
        (ParkingTicket.exit_at.is_(None)) | (ParkingTicket.exit_at >= start),
        ParkingTicket.status != "lost")).all()
    permits = permit_stays(session, community_id, start, end)
    rows = []
    for hour in range(24):
        lo, hi = start + timedelta(hours=hour), start + timedelta(hours=hour + 1)
        temporary = sum(1 for e, x in stays if e < hi and (x is None or x >= lo))
        permit = sum(1 for e, x in permits if e < hi and (x is None or x >= lo))
        rows.append({"hour": hour, "temporary_cars": temporary, "permit_cars": permit, "cars": temporary + permit})
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
    sheets = {"occupancy": ["hour", "temporary_cars", "permit_cars", "cars"], "temporary": ["day", "tickets", "cents"],
              "permits": ["month", "kind", "permits", "cents"], "charging": ["day", "sessions", "kwh", "cents"]}
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, columns in sheets.items():
            _yuan_columns(pd.DataFrame(data[name], columns=columns)).to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()
