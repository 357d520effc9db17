"""Repair KPIs (the seed's "24 h → under 1 h" claim): response, resolution, first-time fix,
reopen rate and satisfaction, per community, category, technician and month; Excel export.

* response time: reported → first accepted (minutes);
* resolution time: reported → (last) completed (hours);
* first-time-fix rate: completed orders never reopened / completed orders;
* reopen rate: completed orders reopened at least once / completed orders;
* satisfaction: mean rating (1-5) and the share of ratings of 4 or 5.

Orders are read once into a pandas frame (:func:`order_frame`); :func:`kpis` groups it.
"""
from __future__ import annotations

import io
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community, Staff
from app.domains.repair.models import RepairOrder
from app.localtime import offset as local_offset

DIMENSIONS = {"community": "community", "category": "category", "technician": "technician", "month": "month"}
COLUMNS = ["orders", "completed", "median_response_min", "p90_response_min", "median_resolution_h",
           "p90_resolution_h", "first_time_fix_rate", "reopen_rate", "satisfaction", "satisfied_share", "rated"]


def order_frame(session: Session, community_ids: list[int], start: datetime | None = None,
                end: datetime | None = None) -> pd.DataFrame:
    """One row per order reported in [start, end) in these communities."""
    query = (select(RepairOrder.number, RepairOrder.community_id, Community.name.label("community"),
                    RepairOrder.category, Staff.name.label("technician"), RepairOrder.reported_at,
                    RepairOrder.accepted_at, RepairOrder.completed_at, RepairOrder.reopen_count,
                    RepairOrder.rating, RepairOrder.status)
             .join(Community, Community.id == RepairOrder.community_id)
             .outerjoin(Staff, Staff.id == RepairOrder.technician_id)
             .where(RepairOrder.community_id.in_(list(community_ids))))
    if start is not None:
        query = query.where(RepairOrder.reported_at >= start)
    if end is not None:
        query = query.where(RepairOrder.reported_at < end)
    rows = session.execute(query).all()
    frame = pd.DataFrame([r._asdict() for r in rows],
                         columns=["number", "community_id", "community", "category", "technician", "reported_at",
                                  "accepted_at", "completed_at", "reopen_count", "rating", "status"])
    for col in ("reported_at", "accepted_at", "completed_at"):
        frame[col] = pd.to_datetime(frame[col])
    frame["technician"] = frame["technician"].fillna("—")
    frame["month"] = (frame["reported_at"] + local_offset()).dt.strftime("%Y-%m")
    frame["response_min"] = (frame["accepted_at"] - frame["reported_at"]).dt.total_seconds() / 60
    frame["resolution_h"] = (frame["completed_at"] - frame["reported_at"]).dt.total_seconds() / 3600
    frame["done"] = frame["completed_at"].notna()
    frame["reopened"] = frame["reopen_count"].fillna(0).astype(int) > 0
    frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce")
    return frame


def _summary(group: pd.DataFrame) -> dict:
    done = group[group["done"]]
    rated = group["rating"].dropna()

    def q(series: pd.Series, p: float):
        series = series.dropna()
        return round(float(series.quantile(p)), 1) if len(series) else None

    return {
        "orders": int(len(group)),
        "completed": int(len(done)),
        "median_response_min": q(group["response_min"], 0.5),
        "p90_response_min": q(group["response_min"], 0.9),
        "median_resolution_h": q(done["resolution_h"], 0.5),
        "p90_resolution_h": q(done["resolution_h"], 0.9),
        "first_time_fix_rate": round(float((~done["reopened"]).mean()), 3) if len(done) else None,
        "reopen_rate": round(float(done["reopened"].mean()), 3) if len(done) else None,
        "satisfaction": round(float(rated.mean()), 2) if len(rated) else None,
        "satisfied_share": round(float((rated >= 4).mean()), 3) if len(rated) else None,
        "rated": int(len(rated)),
    }


def kpis(frame: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """KPIs overall (``by=None``: one row 'all') or per community/category/technician/month."""
    if by is None:
        return pd.DataFrame([{"group": "all", **_summary(frame)}], columns=["group", *COLUMNS])
    if by not in DIMENSIONS:
        raise ValueError(f"unknown KPI dimension {by!r}")
    rows = [{"group": key, **_summary(group)} for key, group in frame.groupby(DIMENSIONS[by], sort=True)]
    return pd.DataFrame(rows, columns=["group", *COLUMNS])


def report(session: Session, community_ids: list[int], start: datetime | None = None,
           end: datetime | None = None) -> dict[str, pd.DataFrame]:
    """Every view of the KPIs: overall and per dimension."""
    frame = order_frame(session, community_ids, start, end)
    tables = {"all": kpis(frame)}
    for dim in DIMENSIONS:
        tables[dim] = kpis(frame, dim)
    return tables


def to_excel(tables: dict[str, pd.DataFrame]) -> bytes:
    """One sheet per table (openpyxl)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, table in tables.items():
            table.to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()
