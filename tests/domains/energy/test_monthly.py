"""The nightly run derives only the days since the last complete one, and the months it stores
(sums of the days) are exactly what one scan of the month gives — run after run, across a month
end, with a replaced meter, a silent meter and a run in the middle of a day (SQLite and
PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from app import clock
from app.domains.energy.detection import analyse
from app.domains.energy.models import EnergyDailyUsage, EnergyMonthlyUsage
from app.domains.energy.monthly import complete_through, compute_month
from app.domains.energy.readings import Incoming, store
from app.localtime import from_local, to_local
from tests.support.energy_estate import build

START = from_local(datetime(2026, 10, 26, 0, 0))
SUBS = ("w0", "w1", "w2")


def _rate(key: str, t: datetime) -> Decimal:
    hour = to_local(t).hour
    base = {"w0": "0.020", "w1": "0.015", "w2": "0.030", "stair": "0.5"}.get(key, "0")
    return Decimal(base) * (Decimal("0.2") if hour in range(1, 6) else 1)


class Meters:
    """Hourly readings written up to a moment, as the polling flow would store them."""

    def __init__(self, session, estate):
        self.session, self.m = session, estate.meters
        self.values = {k: Decimal("100") for k in (*SUBS, "master", "stair")}
        self.at = START

    def until(self, now: datetime) -> None:
        items = []
        while self.at <= now:
            t = self.at
            silent = from_local(datetime(2026, 10, 29)) <= t < from_local(datetime(2026, 10, 31))
            sub_use = Decimal(0)
            for key in (*SUBS, "stair"):
                use = _rate(key, t)
                if key == "w2" and t == from_local(datetime(2026, 11, 2, 10)):  # meter replaced
                    self.values[key] = Decimal("3")
                    items.append(Incoming(self.m[key].id, t, self.values[key], source="replaced"))
                    continue
                self.values[key] += use
                if key in SUBS:
                    sub_use += use
                if not (key == "w1" and silent):
                    items.append(Incoming(self.m[key].id, t, self.values[key]))
            self.values["master"] += (sub_use / Decimal("0.88")).quantize(Decimal("0.0001"))
            items.append(Incoming(self.m["master"].id, t, self.values["master"]))
            self.at += timedelta(hours=1)
        store(self.session, items)


def _stored(session, cid, period):
    return {r.meter_id: (r.start_value, r.end_value, r.usage, r.readings) for r in session.scalars(
        select(EnergyMonthlyUsage).where(EnergyMonthlyUsage.community_id == cid, EnergyMonthlyUsage.period == period))}


def _scanned(session, cid, period):
    return {r["meter_id"]: (r["start_value"], r["end_value"], r["usage"], r["readings"])
            for r in compute_month(session, cid, period)}


def test_nightly_derives_only_new_days_and_matches_the_month_scan(session):
    estate = build(session)
    cid, master = estate.community.id, estate.meters["master"]
    meters = Meters(session, estate)
    runs = [from_local(datetime(2026, 10, 27, 1, 30)) + timedelta(days=i) for i in range(10)]
    runs.insert(5, from_local(datetime(2026, 10, 31, 13, 0)))  # once in the middle of a day too
    derived_before: dict = {}
    try:
        for now in runs:
            clock.freeze(now)
            meters.until(now)
            found = analyse(session, cid, now)
            period = f"{to_local(now):%Y-%m}"
            for p in {period, "2026-10"}:
                assert _stored(session, cid, p) == _scanned(session, cid, p), (now, p)
            # the loss check reads the stored month, i.e. the same figures as the month scan
            scanned = _scanned(session, cid, period)
            loss = next(d for d in found if d.kind == "loss")
            assert Decimal(loss.detail["master"]) == scanned[master.id][2]
            assert Decimal(loss.detail["sub_meters"]) == sum(scanned[estate.meters[k].id][2] for k in SUBS)
            # only new days were derived: the complete days of earlier runs were not written again
            rows = {(r.meter_id, r.day): r.derived_at for r in session.scalars(
                select(EnergyDailyUsage).where(EnergyDailyUsage.community_id == cid))}
            today = to_local(now).date()
            assert complete_through(session, cid) == today - timedelta(days=1)  # today is not over
            for key, at in derived_before.items():
                if key[1] < today - timedelta(days=1):
                    assert rows[key] == at, key
            derived_before = {k: v for k, v in rows.items() if k[1] < today}
    finally:
        clock.reset()
    assert _stored(session, cid, "2026-11")[estate.meters["w2"].id][2] > 0  # counted on after the replacement
