"""Monthly billing run for one community and period: preview, then issue (once).

``preview`` computes every household's lines without writing bills: totals, counts per
building and item, and anomalies (a meter with no reading, a meter running backwards).
``issue`` writes them: one bill per household with at least one non-zero line, numbered
``<community>-<YYYYMM>-<seq>``.

Idempotent: a community and period are billed once. The ``billing_run`` row (unique on
community, period, kind) says whether a period was issued, and the unique constraint on
``bill(household_id, period, kind)`` makes a concurrent second run fail as a whole rather
than bill anyone twice. Anomalies block issuing unless the accountant accepts them; then
the households concerned are billed without the lines that could not be computed and the
run's summary lists them. Nothing is half-written: bills and lines go in the caller's
transaction.

Vectorised: households, meters, readings, permits and charges are read with a handful of
set queries into pandas frames; each fee item is evaluated column-wise (see
``fee_items.evaluate_column``); bills and lines are inserted in bulk. On PostgreSQL the
issue is pipelined: households are computed in chunks while a writer thread streams the
previous chunk's bills and lines over ``COPY`` on the session's own connection (same
transaction, inside a savepoint), bill ids taken from the table's sequence up front.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, insert, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app import clock
from app.models.community import Building, Community, Unit
from app.models.device import Device
from app.models.fee_items import FeeCharge, FeePermit
from app.models.fees import Bill, BillingRun, BillLine
from app.models.modules import ModuleActivation
from app.models.people import Household
from app.services.audit import record
from app.services.fee_items import (
    FeeFormulaError, FeeItem, FeeItemSet, plain_decimal, compute_item, load_items, tier_breakdown,
)
from connectors.models import MeterReading

KIND = "monthly"
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ProgressCallback = Callable[[int, int], None]
MAX_LISTED_ANOMALIES = 500  # a run's stored summary lists at most this many (and counts all)

_MESSAGES = {
    "bad_period": ("账期“{period}”无效，应为 YYYY-MM（如 2026-11）。",
                   "Period “{period}” is not valid: use YYYY-MM (e.g. 2026-11)."),
    "future_period": ("账期 {period} 尚未开始，不能出账。", "Period {period} has not started yet: it cannot be billed."),
    "not_enabled": ("本小区未启用“物业费收缴”模块。", "The fees module is not enabled for this community."),
    "already_billed": ("{community} {period} 的账单已于 {issued_at} 出具，不会重复出账。",
                       "Bills for {community} {period} were already issued on {issued_at}; nothing was billed twice."),
    "anomalies": ("有 {count} 项异常（如缺少抄表读数）；确认后方可出账，相关费用不会计入。",
                  "{count} anomalies (such as missing meter readings): confirm them to issue; "
                  "the affected charges will not be billed."),
    "in_progress": ("{period} 的账单正在由另一次出账生成或已生成；本次未出任何账单。",
                    "Bills for {period} are being (or were) issued by another run; nothing was billed by this one."),
    "formula": ("{zh}", "{en}"),
    "items": ("收费项目配置有误：{details}", "The fee items are invalid: {details}"),
}


class BillingError(Exception):
    """A refused billing run. Nothing was written."""

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        zh, en = _MESSAGES[self.code]
        return (zh if locale == "zh" else en).format(**self.params)


@dataclass
class Preview:
    community_id: int
    community_code: str
    period: str
    households: int = 0
    bills: int = 0
    total_cents: int = 0
    per_item: dict[str, dict[str, int]] = field(default_factory=dict)
    per_building: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[dict[str, str]] = field(default_factory=list)
    already_billed: int = 0
    lines: pd.DataFrame | None = None
    homes: pd.DataFrame | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-safe: stored on the billing run and shown on its page."""
        return {"period": self.period, "households": self.households, "bills": self.bills,
                "total_cents": self.total_cents, "per_item": self.per_item,
                "per_building": self.per_building, "anomalies": self.anomalies[:MAX_LISTED_ANOMALIES],
                "anomaly_count": len(self.anomalies), "already_billed": self.already_billed}


# ---------------------------------------------------------------------------------- helpers


def parse_period(period: str) -> tuple[datetime, datetime]:
    """``'2026-11'`` → (2026-11-01 00:00, 2026-12-01 00:00), naive platform time."""
    match = PERIOD_RE.match(period or "")
    if not match:
        raise BillingError("bad_period", period=period)
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    return start, end


def previous_period(today: date | None = None) -> str:
    today = today or clock.now().date()
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def fees_settings(session: Session, community_id: int) -> dict[str, Any]:
    """The community's fees settings (typed), or ``BillingError('not_enabled')``."""
    from app.modules.catalog import parse_menu_file
    from app.modules.settings_schema import settings_from_json
    from app.settings import get_settings

    row = session.scalar(select(ModuleActivation).where(
        ModuleActivation.community_id == community_id, ModuleActivation.module_id == "fees"))
    if row is None or not row.enabled:
        raise BillingError("not_enabled")
    root = get_settings().assets_dir
    module = parse_menu_file(root / "menus" / "fees.yaml", root)
    return settings_from_json(module, row.settings)


def _obj(values) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def _rows(session: Session, statement) -> list:
    """All rows of a Core ``select`` in the session's transaction, without the ORM's per-row
    result handling (≈ 0.3 s per 100,000 rows). The session is flushed first, as
    ``session.execute`` would autoflush."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement).all()


def _households(session: Session, community_id: int) -> pd.DataFrame:
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


def _usage_inputs(session: Session, item: FeeItem, homes: pd.DataFrame, period: str,
                  start: datetime, end: datetime, anomalies: list[dict]) -> pd.DataFrame:
    community_id = homes.attrs["community_id"]
    meter_filter = (Device.community_id == community_id, Device.profile == item.meter_profile,
                    Device.unit_id.is_not(None))
    meters = _meter_readings(session, meter_filter, start, end)
    frame = homes[["household_id", "code", "unit_id"]].merge(meters, on="unit_id", how="inner")
    if frame.empty:
        return frame.assign(usage=_obj([]), prior_usage=_obj([]), _explain=_obj([]))
    # One pass over plain values (no per-row pandas): anomalies, then usage of the rest.
    missing: list[dict] = []
    backwards: list[dict] = []
    keep: list[int] = []
    usages: list[Decimal] = []
    for i, (code, meter, v0, v1, t1) in enumerate(zip(
            frame["code"].tolist(), frame["meter"].tolist(), frame["v0"].tolist(), frame["v1"].tolist(),
            frame["t1"].tolist())):
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


def _item_inputs(session: Session, item: FeeItem, homes: pd.DataFrame, period: str,
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


# ---------------------------------------------------------------------------------- preview


@dataclass
class _Gathered:
    """What a run reads before computing: the households to bill and each item's inputs."""

    preview: Preview
    homes: pd.DataFrame
    settings: dict
    inputs: list[tuple[FeeItem, pd.DataFrame]]
    anomalies: list[dict]


def _gather(session: Session, community_id: int, period: str, *,
            items: FeeItemSet | None = None, settings: dict | None = None) -> _Gathered:
    """Every query of a run (households, meters, readings, permits, charges); computes nothing."""
    start, end = parse_period(period)
    if start > clock.now():
        raise BillingError("future_period", period=period)
    community = session.get(Community, community_id)
    if community is None:
        raise BillingError("not_enabled")
    if settings is None:
        settings = fees_settings(session, community_id)
    if items is None:
        from app.assets.errors import AssetInvalid

        try:
            items = load_items(community.code)
        except AssetInvalid as exc:
            raise BillingError("items", details="; ".join(str(e) for e in exc.errors)) from exc
    preview = Preview(community_id=community_id, community_code=community.code, period=period)
    homes = _households(session, community_id)
    homes.attrs["community_id"] = community_id
    billed = set(session.scalars(select(Bill.household_id).where(
        Bill.community_id == community_id, Bill.period == period, Bill.kind == KIND)))
    if billed and not homes.empty:
        preview.already_billed = int(homes["household_id"].isin(billed).sum())
        homes = homes[~homes["household_id"].isin(billed)].reset_index(drop=True)
        homes.attrs["community_id"] = community_id
    preview.households = len(homes)
    inputs = []
    anomalies: list[dict] = []
    for item in items.items:
        if homes.empty:
            break
        frame = _item_inputs(session, item, homes, period, start, end, anomalies)
        if not frame.empty:
            inputs.append((item, frame.reset_index(drop=True)))
    return _Gathered(preview=preview, homes=homes, settings=settings, inputs=inputs, anomalies=anomalies)


def _evaluate(item: FeeItem, inputs: pd.DataFrame, settings: dict, period: str) -> pd.DataFrame:
    """The non-zero lines of one item for the rows of ``inputs`` (``BillingError`` on a bad formula)."""
    try:
        lines = compute_item(item, inputs, settings, inputs["code"])
    except FeeFormulaError as exc:
        raise BillingError("formula", zh=exc.message("zh"), en=exc.message("en")) from exc
    lines["household_id"] = inputs["household_id"].to_numpy()
    lines["item"] = item.id
    label = f"{item.label['zh']} {period}"
    if "note" in inputs:
        lines["description"] = [f"{label}：{note}" for note in inputs["note"].tolist()]
    else:
        lines["description"] = label
    lines["charge_id"] = inputs["charge_id"].to_numpy() if "charge_id" in inputs else None
    return lines[lines["amount_cents"] != 0]


_LINE_COLUMNS = ["household_id", "item", "description", "quantity", "unit_price", "amount_cents",
                 "explanation", "charge_id"]


def _summarise(gathered: _Gathered, frames: list[pd.DataFrame]) -> Preview:
    """The preview of a run from its lines: totals, per item, per building, anomalies."""
    preview, homes, anomalies = gathered.preview, gathered.homes, gathered.anomalies
    preview.anomalies = anomalies
    frames = [f for f in frames if not f.empty]
    all_lines = (pd.concat(frames, ignore_index=True) if frames else
                 pd.DataFrame(columns=_LINE_COLUMNS))
    preview.lines = all_lines
    preview.homes = homes
    totals = all_lines.groupby("household_id")["amount_cents"].sum() if not all_lines.empty else pd.Series(dtype=int)
    preview.bills = int((totals > 0).sum())
    preview.total_cents = int(totals.sum()) if len(totals) else 0
    if not all_lines.empty:
        per_item = all_lines.groupby("item")["amount_cents"].agg(["count", "sum"])
        preview.per_item = {str(k): {"lines": int(r["count"]), "cents": int(r["sum"])}
                            for k, r in per_item.iterrows()}
    if not homes.empty:
        by_home = homes[["household_id", "building", "building_name"]].merge(
            totals.rename("cents").reset_index(), on="household_id", how="left")
        by_home["cents"] = by_home["cents"].fillna(0).astype(int)
        missing = {a["household"] for a in anomalies}
        by_home["anomaly"] = homes["code"].isin(missing).to_numpy()
        grouped = by_home.groupby(["building", "building_name"], sort=False).agg(
            households=("household_id", "count"), bills=("cents", lambda s: int((s > 0).sum())),
            cents=("cents", "sum"), anomalies=("anomaly", "sum"))
        preview.per_building = [
            {"building": b, "name": n, "households": int(r["households"]), "bills": int(r["bills"]),
             "cents": int(r["cents"]), "anomalies": int(r["anomalies"])}
            for (b, n), r in grouped.iterrows()]
    return preview


def compute(session: Session, community_id: int, period: str, *,
            items: FeeItemSet | None = None, settings: dict | None = None) -> Preview:
    """Every household's lines for the period, as frames; writes nothing."""
    gathered = _gather(session, community_id, period, items=items, settings=settings)
    frames = [_evaluate(item, inputs, gathered.settings, period) for item, inputs in gathered.inputs]
    return _summarise(gathered, frames)


def _run(session: Session, community_id: int, period: str) -> BillingRun | None:
    return session.scalar(select(BillingRun).where(
        BillingRun.community_id == community_id, BillingRun.period == period, BillingRun.kind == KIND))


def preview(session: Session, community_id: int, period: str, actor: str = "system") -> Preview:
    """Compute the run and remember its summary on the billing run row (status ``preview``)."""
    result = compute(session, community_id, period)
    run = _run(session, community_id, period)
    if run is None:
        run = BillingRun(community_id=community_id, period=period, kind=KIND, status="preview",
                         created_by=actor, progress=0)
        session.add(run)
    if run.status in ("preview", "failed"):
        run.status = "preview"
        run.summary = result.summary()
        run.total = result.bills
        run.progress = 0
    session.flush()
    return result


def get_run(session: Session, community_id: int, period: str) -> BillingRun | None:
    return _run(session, community_id, period)


# ------------------------------------------------------------------------------------ issue


def issue(session: Session, community_id: int, period: str, actor: str, *,
          accept_anomalies: bool = False, on_progress: ProgressCallback | None = None,
          chunk_size: int = 10_000, items: FeeItemSet | None = None,
          issued_at: datetime | None = None) -> BillingRun:
    """Write the period's bills and lines (caller commits). Refused if already issued.

    ``on_progress(done, total)`` is called after each chunk of households is written
    (households done of households to bill; for a progress display written outside this
    transaction, see ``workflows/billing_run.py``).

    PostgreSQL (psycopg): computing and writing are pipelined in chunks of ``chunk_size``
    households: while the server ingests chunk k over COPY (a writer thread on the session's
    own connection, same transaction), chunk k+1 is computed. It all happens inside a
    savepoint, so a failure in any chunk (a bad formula, a concurrent run) leaves nothing
    written even before the caller rolls back. Elsewhere every line is computed first, then
    written.
    """
    community = session.get(Community, community_id)
    run = _run(session, community_id, period)
    if run is not None and run.status == "issued":
        raise BillingError("already_billed", community=community.code if community else community_id,
                           period=period, issued_at=(run.finished_at or run.created_at).strftime("%Y-%m-%d %H:%M"))
    gathered = _gather(session, community_id, period, items=items)
    if gathered.anomalies and not accept_anomalies:
        raise BillingError("anomalies", count=len(gathered.anomalies))
    now = issued_at or clock.now()  # issued_at: the demo backdates a month to its billing day
    settings_items = items or load_items(gathered.preview.community_code)
    due = (now + timedelta(days=settings_items.due_days)).date()
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        savepoint = session.begin_nested()
        try:
            run, result, total = _issue_pipelined(session, gathered, run, actor, now, due,
                                                  max(1, chunk_size), on_progress)
            _finish(session, run, result, total, actor, now)
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        return run
    result = _summarise(gathered, [_evaluate(item, inputs, gathered.settings, period)
                                   for item, inputs in gathered.inputs])
    run = _new_run(session, run, community_id, period, actor, result.bills)
    # An existing run row is only changed at the end: a progress writer on another connection
    # (see billing_cli.execute) updates it meanwhile and must not wait for our row lock.
    lines = result.lines
    totals = lines.groupby("household_id", sort=False)["amount_cents"].sum()
    homes = result.homes
    homes = homes[homes["household_id"].isin(totals[totals > 0].index)].reset_index(drop=True)
    prefix = f"{result.community_code}-{period.replace('-', '')}-"
    amounts = {int(h): int(c) for h, c in totals.items()}
    bill_rows = [
        {"number": f"{prefix}{seq:06d}", "community_id": community_id, "household_id": int(h),
         "billing_run_id": run.id, "period": period, "kind": KIND, "status": "open",
         "amount_cents": amounts[h], "paid_cents": 0, "issued_at": now, "due_date": due}
        for seq, h in enumerate(homes["household_id"].tolist(), start=1)]
    total = len(bill_rows)
    done = 0
    bill_of: dict[int, int] = {}
    for i in range(0, total, max(1, chunk_size)):
        part = bill_rows[i:i + chunk_size]
        try:
            _bulk_insert(session, Bill.__table__, list(part[0]), [tuple(r.values()) for r in part])
        except IntegrityError as exc:  # a concurrent run got there first (unique household+period)
            raise BillingError("in_progress", period=period) from exc
        ids = dict(session.execute(select(Bill.household_id, Bill.id).where(
            Bill.billing_run_id == run.id, Bill.number >= part[0]["number"],
            Bill.number <= part[-1]["number"])).all())
        bill_of.update(ids)
        chunk_lines = lines[lines["household_id"].isin(ids.keys())]
        _bulk_insert(session, BillLine.__table__, _LINE_INSERT_COLUMNS, _line_rows(chunk_lines, ids))
        done += len(part)
        if on_progress:
            on_progress(done, total)
    _link_charges(session, lines, bill_of)
    _finish(session, run, result, total, actor, now)
    return run


_BILL_COPY_COLUMNS = ["id", "number", "community_id", "household_id", "billing_run_id", "period", "kind",
                      "status", "amount_cents", "paid_cents", "issued_at", "due_date"]
_LINE_INSERT_COLUMNS = ["bill_id", "item", "kind", "description", "quantity", "unit_price",
                        "amount_cents", "explanation"]


def _new_run(session: Session, run: BillingRun | None, community_id: int, period: str, actor: str,
             total: int) -> BillingRun:
    if run is not None:
        return run
    run = BillingRun(community_id=community_id, period=period, kind=KIND, created_by=actor,
                     status="issued", summary={}, progress=0, total=total)
    session.add(run)
    try:
        session.flush()
    except IntegrityError as exc:  # another run for this period was created meanwhile
        raise BillingError("in_progress", period=period) from exc
    return run


def _issue_pipelined(session: Session, gathered: _Gathered, run: BillingRun | None, actor: str,
                     now: datetime, due: date, chunk_size: int,
                     on_progress: ProgressCallback | None) -> tuple[BillingRun, Preview, int]:
    """PostgreSQL: compute chunk k+1 while the server ingests chunk k (see ``issue``)."""
    preview, homes, settings = gathered.preview, gathered.homes, gathered.settings
    period, community_id = preview.period, preview.community_id
    run = _new_run(session, run, community_id, period, actor, len(homes))
    run_id = run.id
    # Bill ids come from the table's own sequence up front, so lines name their bill without
    # reading bills back (unused ids are gaps, as with any rolled-back insert).
    # The sequence is looked up once: ``nextval(pg_get_serial_sequence(...))`` would resolve it
    # per id (0.35 s for 100,000 ids, against 0.05 s with a constant regclass).
    bill_ids = []
    if len(homes):
        sequence = session.execute(text("SELECT pg_get_serial_sequence('bill', 'id')")).scalar_one()
        bill_ids = session.execute(text(
            "SELECT array_agg(nextval(CAST(:sequence AS regclass))) FROM generate_series(1, :n)"),
            {"sequence": sequence, "n": len(homes)}).scalar()
    position = pd.Index(homes["household_id"])
    item_positions = [position.get_indexer(inputs["household_id"]) for _, inputs in gathered.inputs]
    prefix = f"{preview.community_code}-{period.replace('-', '')}-".translate(_COPY_ESCAPES)
    frames: list[pd.DataFrame] = []
    bill_of: dict[int, int] = {}
    seq = 0
    households = len(homes)
    texts = _CopyText()
    writer = _CopyWriter(session.connection().connection.driver_connection, period)
    try:
        # a small first chunk gets the server writing sooner; then chunks of chunk_size
        bounds = [0, *range(min(chunk_size, 2_000), households, chunk_size), households]
        for lo, hi in zip(bounds, bounds[1:]):
            chunk = [_evaluate(item, part, settings, period)
                     for (item, inputs), pos in zip(gathered.inputs, item_positions)
                     if not (part := inputs[(pos >= lo) & (pos < hi)]).empty]
            chunk = [f for f in chunk if not f.empty]
            frames.extend(chunk)
            lines = pd.concat(chunk, ignore_index=True) if chunk else pd.DataFrame(columns=_LINE_COLUMNS)
            totals = lines.groupby("household_id", sort=False)["amount_cents"].sum()
            amounts = {int(h): int(c) for h, c in totals.items() if c > 0}
            bill_rows = []
            ids: dict[int, int] = {}
            # COPY text: every field is a number, a date or a fixed code here (nothing to escape)
            fixed = f"\t{community_id}\t%s\t{run_id}\t{period}\t{KIND}\topen\t%s\t0\t{now.isoformat(' ')}\t{due}\n"
            for h in homes["household_id"].iloc[lo:hi].tolist():
                cents = amounts.get(h)
                if cents is None:
                    continue
                bill_id = ids[h] = bill_ids[seq]
                seq += 1
                bill_rows.append(f"{bill_id}\t{prefix}{seq:06d}" + fixed % (h, cents))
            bill_of.update(ids)
            lines = lines[lines["household_id"].isin(ids.keys())]
            writer.submit("".join(bill_rows), texts.lines(lines, ids), (hi, households))
            if on_progress:
                for done in writer.completed():
                    on_progress(*done)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    if on_progress:
        for done in writer.completed():
            on_progress(*done)
    result = _summarise(gathered, frames)
    _link_charges(session, result.lines, bill_of)
    return run, result, seq


def _line_rows(lines: pd.DataFrame, bill_ids: dict[int, int]) -> list[tuple]:
    if lines.empty:
        return []
    return list(zip(
        map(bill_ids.__getitem__, lines["household_id"].tolist()), lines["item"].tolist(),
        ["charge"] * len(lines), [d[:300] for d in lines["description"].tolist()],
        lines["quantity"].tolist(), lines["unit_price"].tolist(),
        [int(c) for c in lines["amount_cents"].tolist()], lines["explanation"].tolist()))


def _link_charges(session: Session, lines: pd.DataFrame, bill_of: dict[int, int]) -> None:
    """One-off charges billed by this run point at their bill (billed once)."""
    charged = lines.dropna(subset=["charge_id"]) if "charge_id" in lines else lines.iloc[0:0]
    for charge_id, household_id in zip(charged["charge_id"], charged["household_id"]):
        session.execute(update(FeeCharge).where(FeeCharge.id == int(charge_id))
                        .values(bill_id=bill_of[int(household_id)]))


def _finish(session: Session, run: BillingRun, result: Preview, total: int, actor: str,
            now: datetime) -> None:
    run.status = "issued"
    run.summary = result.summary()
    run.total = total
    run.progress = total
    run.finished_at = now
    record(session, actor=actor, action="billing.issue", target_type="billing_run", target_id=run.id,
           community_id=result.community_id,
           after={"period": result.period, "bills": total, "total_cents": result.total_cents,
                  "anomalies": len(result.anomalies)})
    session.flush()
    _auto_pay(session, result.community_id, run.id)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _CopyText:
    """Bill lines as the text of ``COPY ... FROM STDIN`` (PostgreSQL's text format).

    Faster than formatting row by row through the driver: explanations shared by many lines
    are serialised and escaped once (cached by object identity; the objects live as long as
    the run's lines), descriptions and item ids once per distinct value.
    """

    def __init__(self):
        self._json: dict[int, str] = {}
        self._text: dict[str, str] = {}

    def _escaped(self, value: str) -> str:
        out = self._text.get(value)
        if out is None:
            out = self._text[value] = value.translate(_COPY_ESCAPES)
        return out

    def lines(self, lines: pd.DataFrame, bill_ids: dict[int, int]) -> str:
        if lines.empty:
            return ""
        json_cache, escaped = self._json, self._escaped
        out = []
        for h, item, description, quantity, unit_price, cents, explanation in zip(
                lines["household_id"].tolist(), lines["item"].tolist(), lines["description"].tolist(),
                lines["quantity"].tolist(), lines["unit_price"].tolist(), lines["amount_cents"].tolist(),
                lines["explanation"].tolist()):
            text_ = json_cache.get(id(explanation))
            if text_ is None:
                # JSON text has no raw tab, newline or CR (escaped inside strings): only the
                # backslash needs COPY's escaping
                text_ = json_cache[id(explanation)] = _dumps(explanation).replace("\\", "\\\\")
            out.append(f"{bill_ids[h]}\t{escaped(item)}\tcharge\t{escaped(description[:300])}\t"
                       f"{quantity}\t{unit_price}\t{int(cents)}\t{text_}\n")
        return "".join(out)


def _copy_text(raw, table, columns: list[str], data: str) -> None:
    """``COPY table (columns) FROM STDIN`` of ready text (no NULLs) on a psycopg connection."""
    if not data:
        return
    from psycopg import errors as psycopg_errors

    quoted = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            encoded = data.encode()
            step = 1 << 20
            for i in range(0, len(encoded), step):
                copy.write(encoded[i:i + step])
    except psycopg_errors.IntegrityError as exc:  # same error type as the INSERT path
        raise IntegrityError(statement, None, exc) from exc


class _CopyWriter:
    """A thread that COPYs chunks of bills and their lines on one psycopg connection.

    The caller computes the next chunk meanwhile and must not use the connection until
    ``close()`` (or ``abort()``) returns. An error in the thread (e.g. a unique violation
    from a concurrent run) is raised by the next ``submit``/``close``.
    """

    def __init__(self, connection, period: str):
        import queue
        import threading

        self._connection, self._period = connection, period
        self._jobs: queue.Queue = queue.Queue(maxsize=2)
        self._done: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="billing-copy", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is not None or self._stop:
                continue
            bills, lines, progress = job
            try:
                _copy_text(self._connection, Bill.__table__, _BILL_COPY_COLUMNS, bills)
                _copy_text(self._connection, BillLine.__table__, _LINE_INSERT_COLUMNS, lines)
                self._done.put(progress)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            error = self._error
            if isinstance(error, IntegrityError):  # a concurrent run got there first
                raise BillingError("in_progress", period=self._period) from error
            raise error

    def submit(self, bills: str, lines: str, progress: tuple[int, int]) -> None:
        self._raise()
        self._jobs.put((bills, lines, progress))

    def completed(self) -> list[tuple[int, int]]:
        out = []
        while not self._done.empty():
            out.append(self._done.get())
        return out

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()
        self._raise()

    def abort(self) -> None:
        self._stop = True
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()


def _bulk_insert(session: Session, table, columns: list[str], rows: list[tuple]) -> None:
    """Insert many rows (tuples in ``columns`` order, no NULLs) in the session's transaction.

    PostgreSQL: ``COPY ... FROM STDIN`` on the session's own connection (see ``_copy``).
    Elsewhere: one Core ``insert`` executemany.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        connection.execute(insert(table), [dict(zip(columns, row)) for row in rows])
        return
    _copy(connection.connection.driver_connection, table, columns, rows)


def _copy(raw, table, columns: list[str], rows: list[tuple]) -> None:
    """``COPY table (columns) FROM STDIN`` on a psycopg connection (its current transaction).

    Rows are formatted by psycopg's C adapters; JSON values are serialised once per distinct
    object (rows sharing one explanation object). Several times faster than INSERTs at
    100,000+ rows. A constraint violation raises SQLAlchemy's ``IntegrityError``, as an
    INSERT would.
    """
    if not rows:
        return
    from psycopg import errors as psycopg_errors

    json_at = [i for i, c in enumerate(columns) if table.c[c].type.__class__.__name__ == "JSON"]
    if json_at:
        texts: dict[int, str] = {}  # rows sharing one explanation object serialise it once
        converted = []
        for row in rows:
            row = list(row)
            for i in json_at:
                value = row[i]
                text_ = texts.get(id(value))
                if text_ is None:
                    text_ = texts[id(value)] = _dumps(value)
                row[i] = text_
            converted.append(row)
        rows = converted
    quoted = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg_errors.IntegrityError as exc:  # same error type as the INSERT path
        raise IntegrityError(statement, None, exc) from exc


try:  # orjson is installed with prefect; plain json is the fallback (same output)
    import orjson

    def _dumps(value: Any) -> str:
        return orjson.dumps(value).decode()
except ImportError:  # pragma: no cover
    def _dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _frame(rows, columns: list[str], objects: tuple[str, ...] = ()) -> pd.DataFrame:
    """Result rows → DataFrame, column-wise (much faster than from Row objects).

    Columns named in ``objects`` keep their values as they came (``object`` dtype: no
    datetime64 or float conversion).
    """
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame({c: pd.Series(list(v), dtype=object) if c in objects else list(v)
                         for c, v in zip(columns, zip(*rows))})


def _auto_pay(session: Session, community_id: int, run_id: int) -> None:
    """Prepaid balances pay new bills: the payments service's hook, when installed.

    Only bills of households that have a prepaid balance are passed (usually a few), so a
    run of 100,000 bills does not hand the hook 100,000 ids.
    """
    try:
        from app.services.payments import apply_prepaid  # noqa: PLC0415 - optional module
    except ImportError:
        return
    ids = list(session.scalars(select(Bill.id).join(Household, Bill.household_id == Household.id).where(
        Bill.billing_run_id == run_id, Household.community_id == community_id,
        Household.prepaid_balance_cents > 0).order_by(Bill.id)))
    for i in range(0, len(ids), 1000):
        apply_prepaid(session, ids[i:i + 1000])


def run_billing(session: Session, community_code: str, period: str, actor: str, *, preview_only: bool = False,
                accept_anomalies: bool = False, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """By community code (CLI, flow): preview or issue; returns the summary."""
    community = session.scalar(select(Community).where(Community.code == community_code))
    if community is None:
        raise BillingError("not_enabled")
    if preview_only:
        return preview(session, community.id, period, actor).summary()
    run = issue(session, community.id, period, actor, accept_anomalies=accept_anomalies,
                on_progress=on_progress)
    return {**run.summary, "run_id": run.id, "status": run.status}
