"""What a billing run reads: households with their areas, meter readings of the period,
permits and one-off charges, as pandas frames ready for column-wise evaluation.

A handful of set queries per run (never one per household); on PostgreSQL both readings of
every meter come from one LATERAL query.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session, aliased

from app.domains.devices.models import Device
from app.domains.estate.models import Building, Household, Unit
from app.domains.fees.fee_items import (
    FeeItem,
    plain_decimal,
    tier_breakdown,
)
from app.domains.fees.models import Bill, BillLine, FeeCharge, FeePermit
from app.localtime import to_local
from connectors.models import MeterReading


def _obj(values) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def _rows(session: Session, statement) -> list:
    """All rows of a Core ``select`` in the session's transaction, without the ORM's per-row
    result handling (≈ 0.3 s per 100,000 rows). The session is flushed first, as
    ``session.execute`` would autoflush."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement).all()


def household_frame(session: Session, community_id: int) -> pd.DataFrame:
    rows = _rows(session, select(
        Household.id.label("household_id"), Household.code, Household.unit_id, Unit.area_m2,
        Unit.number.label("unit_number"), Building.code.label("building"), Building.name.label("building_name"))
        .join(Unit, Household.unit_id == Unit.id).join(Building, Unit.building_id == Building.id)
        .where(Household.community_id == community_id, Household.active.is_(True)))
    frame = _frame(rows, ["household_id", "code", "unit_id", "area_m2", "unit_number",
                          "building", "building_name"])
    if frame.empty:
        return frame
    frame["area_m2"] = frame["area_m2"].astype(object)
    frame["_len"] = frame["building"].str.len()
    frame = frame.sort_values(["_len", "building", "unit_number", "code"], kind="stable").drop(columns="_len")
    return frame.reset_index(drop=True)


def _last_readings(session: Session, meters, before: datetime) -> pd.DataFrame:
    """Per meter in ``meters`` (a select of device ids), its last good reading before ``before``."""
    latest = (select(MeterReading.device_id, func.max(MeterReading.at).label("at"))
              .where(MeterReading.device_id.in_(meters), MeterReading.quality == "good",
                     MeterReading.at < before)
              .group_by(MeterReading.device_id).subquery())
    rows = session.execute(
        select(MeterReading.device_id, func.max(MeterReading.value), latest.c.at)
        .join(latest, and_(MeterReading.device_id == latest.c.device_id, MeterReading.at == latest.c.at))
        .where(MeterReading.quality == "good")
        .group_by(MeterReading.device_id, latest.c.at)).all()
    return _frame(rows, ["device_id", "value", "at"], objects=("value", "at"))


_METER_COLUMNS = ["device_id", "meter", "unit_id", "v0", "t0", "v1", "t1"]
_READING_COLUMNS = ("v0", "t0", "v1", "t1")


def _meter_readings(session: Session, meter_filter: tuple, start: datetime, end: datetime) -> pd.DataFrame:
    """One row per meter: device_id, meter (code), unit_id, and its last good reading before
    ``start`` (v0, t0) and before ``end`` (v1, t1), None where there is none.

    "Last" is the latest ``at``, and of several readings at that time the largest value.
    PostgreSQL: one query, two ``LATERAL`` index probes per meter (``ix_meter_reading_device_at``),
    so the cost follows the number of meters, not the length of their reading history.
    Elsewhere: the meters, then one grouped query per bound. Columns stay ``object`` (plain
    ``Decimal``/``datetime`` values, no datetime64 conversion).
    """
    if session.connection().dialect.name == "postgresql":
        def last(before: datetime):
            reading = aliased(MeterReading)
            return (select(reading.value, reading.at)
                    .where(reading.device_id == Device.id, reading.quality == "good", reading.at < before)
                    .order_by(reading.at.desc(), reading.value.desc()).limit(1).lateral())

        first, last_ = last(start), last(end)
        rows = _rows(session, select(
            Device.id, Device.code, Device.unit_id, first.c.value, first.c.at, last_.c.value, last_.c.at)
            .select_from(Device).outerjoin(first, true()).outerjoin(last_, true())
            .where(*meter_filter).order_by(Device.id))
        return _frame(rows, _METER_COLUMNS, objects=_READING_COLUMNS)
    rows = session.execute(select(Device.id, Device.code, Device.unit_id).where(*meter_filter)
                           .order_by(Device.id)).all()
    if not rows:
        return _frame([], _METER_COLUMNS)
    ids = select(Device.id).where(*meter_filter)
    first = {d: (v, t) for d, v, t in _last_readings(session, ids, start).itertuples(index=False)}
    last_ = {d: (v, t) for d, v, t in _last_readings(session, ids, end).itertuples(index=False)}
    none = (None, None)
    return _frame([(d, code, unit, *first.get(d, none), *last_.get(d, none)) for d, code, unit in rows],
                  _METER_COLUMNS, objects=_READING_COLUMNS)


def _energy_usage(session: Session, community_id: int, item: FeeItem, period: str) -> pd.DataFrame | None:
    """With the energy module enabled: its derived monthly usage per unit (energy's
    ``billing_usage``, reached by name), in the meter columns plus ``derived_usage``; None
    otherwise (the bill then reads ``meter_reading``)."""
    import importlib

    from app.platform.processes import module_enabled

    if not item.meter_profile or not module_enabled(session, community_id, "energy"):
        return None
    try:
        energy = importlib.import_module("app.domains.energy")
    except ImportError:
        return None
    rows = energy.billing_usage(session, community_id, period, item.meter_profile)
    if rows is None:
        return None
    stamp = lambda t: to_local(t).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    return _frame([(None, "、".join(r["meters"]), r["unit_id"], r["start_value"], stamp(r["period_start"]),
                    r["end_value"], stamp(r["period_end"]), r["usage"]) for r in rows],
                  [*_METER_COLUMNS, "derived_usage"], objects=(*_READING_COLUMNS, "derived_usage"))


def _usage_inputs(session: Session, item: FeeItem, homes: pd.DataFrame, period: str,
                  start: datetime, end: datetime, anomalies: list[dict]) -> pd.DataFrame:
    community_id = homes.attrs["community_id"]
    meter_filter = (Device.community_id == community_id, Device.profile == item.meter_profile,
                    Device.unit_id.is_not(None))
    meters = _meter_readings(session, meter_filter, start, end).assign(derived=False, derived_usage=None)
    derived = _energy_usage(session, community_id, item, period)
    if derived is not None:  # units with energy meters bill energy's month; the others their readings
        meters = pd.concat([derived.assign(derived=True),
                            meters[~meters["unit_id"].isin(set(derived["unit_id"].tolist()))]], ignore_index=True)
    frame = homes[["household_id", "code", "unit_id"]].merge(meters, on="unit_id", how="inner")
    if frame.empty:
        return frame.assign(usage=_obj([]), prior_usage=_obj([]), _explain=_obj([]))
    # One pass over plain values (no per-row pandas): anomalies, then usage of the rest.
    missing: list[dict] = []
    backwards: list[dict] = []
    keep: list[int] = []
    usages: list[Decimal] = []
    for i, (code, meter, v0, v1, t1, from_energy, du) in enumerate(zip(
            frame["code"].tolist(), frame["meter"].tolist(), frame["v0"].tolist(), frame["v1"].tolist(),
            frame["t1"].tolist(), frame["derived"].tolist(), frame["derived_usage"].tolist())):
        if from_energy:  # energy's derived month: flagged readings are already kept apart there
            if du is None:
                missing.append({"kind": "missing_reading", "item": item.id, "household": code, "device": meter,
                                "detail": "no reading in the period"})
                continue
            keep.append(i)
            usages.append(Decimal(du))
            continue
        if v0 is None or v1 is None or t1 < start:
            missing.append({"kind": "missing_reading", "item": item.id, "household": code, "device": meter,
                            "detail": "no reading before the period" if v0 is None
                            else "no reading in the period"})
            continue
        usage = Decimal(v1) - Decimal(v0)
        if usage < 0:
            backwards.append({"kind": "meter_backwards", "item": item.id, "household": code,
                              "device": meter, "detail": f"{v0} → {v1}"})
            continue
        keep.append(i)
        usages.append(usage)
    anomalies.extend(missing)
    anomalies.extend(backwards)
    if len(keep) < len(frame):
        frame = frame.iloc[keep]
    frame = frame.reset_index(drop=True)
    frame["usage"] = _obj(usages)
    prior: dict[int, Decimal] = {}
    zero = Decimal(0)
    if item.tiers is not None and item.tiers.period == "year" and not frame.empty:
        year = period[:4]
        prior_rows = session.execute(
            select(Bill.household_id, func.sum(BillLine.quantity))
            .join(BillLine, BillLine.bill_id == Bill.id)
            .where(Bill.community_id == community_id, Bill.period >= f"{year}-01",
                   Bill.period < period, Bill.status != "cancelled", BillLine.item == item.id,
                   BillLine.kind == "charge")
            .group_by(Bill.household_id)).all()
        prior = {h: Decimal(q) for h, q in prior_rows}
    prior_usages = [prior.get(h, zero) for h in frame["household_id"].tolist()]
    frame["prior_usage"] = _obj(prior_usages)
    unit = item.unit or ""
    tier_period = item.tiers.period if item.tiers else None
    breakdowns: dict[tuple[Decimal, Decimal], list] = {}

    def tiers_of(u: Decimal, p: Decimal) -> list:
        key = (u, p)
        if key not in breakdowns:
            breakdowns[key] = tier_breakdown(item, u, p)
        return breakdowns[key]

    texts: dict[Any, str] = {}  # readings share few distinct values and times: format each once

    def plain(value: Any) -> str:
        out = texts.get(value)
        if out is None:
            out = texts[value] = plain_decimal(value)
        return out

    def at(value: Any) -> str:
        key = ("at", value)
        out = texts.get(key)
        if out is None:
            out = texts[key] = str(value)[:16]
        return out

    frame["_explain"] = [
        {"meter": m, "reading_start": {"value": plain(v0), "at": at(t0)},
         "reading_end": {"value": plain(v1), "at": at(t1)}, "unit": unit,
         "tier_period": tier_period, "tiers": tiers_of(u, p)}
        for m, v0, t0, v1, t1, u, p in zip(frame["meter"].tolist(), frame["v0"].tolist(), frame["t0"].tolist(),
                                          frame["v1"].tolist(), frame["t1"].tolist(), usages, prior_usages)]
    return frame.reset_index(drop=True)


def item_inputs(session: Session, item: FeeItem, homes: pd.DataFrame, period: str,
                 start: datetime, end: datetime, anomalies: list[dict]) -> pd.DataFrame:
    """One row per line to compute: household_id, code and the item's input columns."""
    base = homes[["household_id", "code"]]
    if item.basis == "fixed":
        return base.copy()
    if item.basis == "area":
        return base.assign(area_m2=homes["area_m2"].map(Decimal).astype(object))
    if item.basis == "usage":
        return _usage_inputs(session, item, homes, period, start, end, anomalies)
    community_id = homes.attrs["community_id"]
    if item.basis == "permit":
        rows = session.execute(
            select(FeePermit.household_id, func.sum(FeePermit.quantity))
            .where(FeePermit.community_id == community_id, FeePermit.item == item.id,
                   FeePermit.start_period <= period,
                   (FeePermit.end_period.is_(None)) | (FeePermit.end_period >= period))
            .group_by(FeePermit.household_id)).all()
        permits = pd.DataFrame(rows, columns=["household_id", "permits"])
        frame = base.merge(permits, on="household_id", how="inner")
        frame["permits"] = frame["permits"].map(lambda q: Decimal(int(q))).astype(object)
        return frame
    # charge
    rows = session.execute(
        select(FeeCharge.id, FeeCharge.household_id, FeeCharge.quantity, FeeCharge.unit_price,
               FeeCharge.description)
        .where(FeeCharge.community_id == community_id, FeeCharge.item == item.id,
               FeeCharge.bill_id.is_(None), FeeCharge.period <= period)
        .order_by(FeeCharge.id)).all()
    charges = pd.DataFrame(rows, columns=["charge_id", "household_id", "quantity", "unit_price", "note"])
    frame = base.merge(charges, on="household_id", how="inner")
    for col in ("quantity", "unit_price"):
        frame[col] = frame[col].map(Decimal).astype(object)
    frame["_explain"] = [{"charge_id": int(c), "note": n} for c, n in zip(frame["charge_id"], frame["note"])]
    return frame


def _frame(rows, columns: list[str], objects: tuple[str, ...] = ()) -> pd.DataFrame:
    """Result rows → DataFrame, column-wise (much faster than from Row objects).

    Columns named in ``objects`` keep their values as they came (``object`` dtype: no
    datetime64 or float conversion).
    """
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame({c: pd.Series(list(v), dtype=object) if c in objects else list(v)
                         for c, v in zip(columns, zip(*rows))})
