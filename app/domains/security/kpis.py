"""Security dashboard inputs: alert counts, response times, false alarms, door traffic,
hydrant health. Plain numbers per community set and period; the BI issue charts them."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from statistics import median

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.security.models import DoorEvent, SecurityIncident
from app.platform.kpi import (
    Attention,
    Figure,
    Rolled,
    Rollup,
    Snapshot,
    Tile,
    TileData,
    deciseconds,
    memo,
    quantile,
    read_rollups,
    read_snapshots,
    rollup_wanted,
    rounded,
)


def _period(q, column, since: datetime | None, until: datetime | None):
    if since is not None:
        q = q.where(column >= since)
    if until is not None:
        q = q.where(column < until)
    return q


def alert_counts(session: Session, community_ids: list[int], since: datetime | None = None,
                 until: datetime | None = None) -> list[dict]:
    """Incidents (and the alerts grouped into them) by type and location, most first."""
    q = select(SecurityIncident.kind, SecurityIncident.location, func.count(), func.sum(SecurityIncident.alert_count))\
        .where(SecurityIncident.community_id.in_(list(community_ids)))
    q = _period(q, SecurityIncident.first_at, since, until).group_by(SecurityIncident.kind, SecurityIncident.location)
    rows = [{"kind": k, "location": loc, "incidents": n, "alerts": int(a or 0)} for k, loc, n, a in session.execute(q)]
    return sorted(rows, key=lambda r: (-r["incidents"], r["kind"], r["location"]))


def _seconds(pairs) -> dict:
    values = [(b - a).total_seconds() for a, b in pairs if a is not None and b is not None]
    if not values:
        return {"count": 0, "average_seconds": None, "median_seconds": None}
    return {"count": len(values), "average_seconds": round(sum(values) / len(values)),
            "median_seconds": round(median(values))}


def response_times(session: Session, community_ids: list[int], since: datetime | None = None,
                   until: datetime | None = None) -> dict:
    """Time from the first alert to acknowledgement and to closing."""
    q = _period(select(SecurityIncident.first_at, SecurityIncident.acknowledged_at, SecurityIncident.closed_at)
                .where(SecurityIncident.community_id.in_(list(community_ids))), SecurityIncident.first_at, since, until)
    rows = session.execute(q).all()
    return {"to_acknowledge": _seconds((r[0], r[1]) for r in rows),
            "to_close": _seconds((r[0], r[2]) for r in rows)}


def false_alarm_rate(session: Session, community_ids: list[int], since: datetime | None = None,
                     until: datetime | None = None) -> dict:
    q = _period(select(SecurityIncident.outcome, func.count()).where(
        SecurityIncident.community_id.in_(list(community_ids)), SecurityIncident.status == "closed"),
        SecurityIncident.first_at, since, until).group_by(SecurityIncident.outcome)
    by_outcome = {o: n for o, n in session.execute(q)}
    closed = sum(by_outcome.values())
    false = by_outcome.get("false_alarm", 0)
    rate = (Decimal(false) / Decimal(closed)).quantize(Decimal("0.0001")) if closed else None
    return {"closed": closed, "false_alarms": false, "rate": rate, "by_outcome": by_outcome}


def door_events_per_day(session: Session, community_ids: list[int], since: datetime | None = None,
                        until: datetime | None = None) -> list[dict]:
    day = func.date(DoorEvent.at)
    q = _period(select(day, DoorEvent.granted, func.count()).where(DoorEvent.community_id.in_(list(community_ids))),
                DoorEvent.at, since, until).group_by(day, DoorEvent.granted)
    out: dict[str, dict] = {}
    for d, granted, n in session.execute(q):
        key = d.isoformat() if isinstance(d, date) else str(d)
        row = out.setdefault(key, {"day": key, "entries": 0, "denied": 0})
        row["entries" if granted else "denied"] += n
    return [out[k] for k in sorted(out)]


def hydrant_health(session: Session, community_ids: list[int]) -> dict:
    from app.domains.security.hydrants import overview

    states = [s.state for s in overview(session, community_ids)]
    return {"total": len(states), **{k: states.count(k) for k in ("ok", "low", "silent", "unknown")}}


def summary(session: Session, community_ids: list[int], since: datetime | None = None,
            until: datetime | None = None) -> dict:
    """Everything above in one dict (the KPI page and the BI issue read this)."""
    return {
        "as_of": clock.now(),
        "alerts": alert_counts(session, community_ids, since, until),
        "response": response_times(session, community_ids, since, until),
        "false_alarms": false_alarm_rate(session, community_ids, since, until),
        "door_events": door_events_per_day(session, community_ids, since, until),
        "hydrants": hydrant_health(session, community_ids),
    }


# --------------------------------------------------------------------------- dashboard tile


def alerts_overview(session: Session, scope) -> dict:
    """Incidents that began in the scope's window (per local month), those still open now, and
    the handling times (first alert → acknowledged, → closed) in minutes."""
    ids = list(scope.community_ids)
    if rollup_wanted(scope):
        found = read_rollups(session, scope, ("security.acknowledged", "security.closed"))
        snap = read_snapshots(session, scope, ("security.open",)) if found is not None else None
        if found is not None:
            ack_r, close_r = found["security.acknowledged"], found["security.closed"]
            as_of = min(ack_r.as_of, close_r.as_of, *([snap["security.open"].as_of] if snap else []))
            return {"incidents": ack_r.total.n, "alerts": ack_r.total.a,
                    "open": snap["security.open"].n if snap else open_incidents(session, ids),
                    "acknowledged": ack_r.total.sample_count, "closed": close_r.total.sample_count,
                    "median_acknowledge_min": rounded(ack_r.total.quantile(0.5, 60)),
                    "median_close_min": rounded(close_r.total.quantile(0.5, 60)),
                    "months": [{"month": m, "incidents": r.n} for m, r in ack_r.months.items()],
                    "as_of": as_of}
    still_open = open_incidents(session, ids)
    rows = session.execute(_period(select(SecurityIncident.first_at, SecurityIncident.acknowledged_at,
                                          SecurityIncident.closed_at, SecurityIncident.alert_count)
                                   .where(SecurityIncident.community_id.in_(ids)),
                                   SecurityIncident.first_at, scope.start, scope.end)).all()
    ack = [(r.acknowledged_at - r.first_at).total_seconds() / 60 for r in rows if r.acknowledged_at]
    close = [(r.closed_at - r.first_at).total_seconds() / 60 for r in rows if r.closed_at]
    per_month = {m: 0 for m in scope.months}
    for r in rows:
        month = scope.month_of(r.first_at)
        if month is not None:
            per_month[month] += 1
    return {"incidents": len(rows), "alerts": sum(int(r.alert_count or 0) for r in rows), "open": int(still_open),
            "acknowledged": len(ack), "closed": len(close),
            "median_acknowledge_min": rounded(quantile(ack, 0.5)), "median_close_min": rounded(quantile(close, 0.5)),
            "months": [{"month": m, "incidents": n} for m, n in per_month.items()]}


def open_incidents(session: Session, community_ids: list[int]) -> int:
    """Incidents not closed now."""
    return session.scalar(select(func.count(SecurityIncident.id)).where(
        SecurityIncident.community_id.in_(community_ids), SecurityIncident.status != "closed")) or 0


def _open_snapshot(session: Session, community_id: int, now) -> Rolled:
    """A community's incidents not closed now (n)."""
    return Rolled(n=open_incidents(session, [community_id]))


def _alert_pass(session: Session, scope):
    """Both alert roll-ups from one pass over the incidents (once per refresh: ``memo``)."""
    return memo(("security.alert_rollups", scope), lambda: _alert_rollups(session, scope))


def _alert_rollups(session: Session, scope) -> tuple[dict[str, Rolled], dict[str, Rolled]]:
    """One community per local month of the first alert: incidents (n), alerts (a) and the
    minutes to acknowledge (samples, deciseconds); and the closed ones' times to close."""
    ack: dict[str, Rolled] = {}
    close: dict[str, Rolled] = {}
    for first, acknowledged, closed, alerts in session.execute(_period(
            select(SecurityIncident.first_at, SecurityIncident.acknowledged_at, SecurityIncident.closed_at,
                   SecurityIncident.alert_count).where(SecurityIncident.community_id.in_(list(scope.community_ids))),
            SecurityIncident.first_at, scope.start, scope.end)):
        month = scope.month_of(first)
        entry = ack.setdefault(month, Rolled())
        entry.n += 1
        entry.a += int(alerts or 0)
        if acknowledged is not None:
            entry.samples.append(deciseconds(first, acknowledged))
        if closed is not None:
            done = close.setdefault(month, Rolled())
            done.n += 1
            done.samples.append(deciseconds(first, closed))
    return ack, close


def _window(scope, status: str) -> dict:
    """The incident list behind a figure: those whose first alert fell in the scope's months."""
    since, until = scope.local_dates()
    return {"status": status, "since": since, "until": until}


def alerts_tile(session: Session, scope):
    a = alerts_overview(session, scope)
    figures = [
        Figure("incidents", _l("Incidents in the period"), a["incidents"], count=a["alerts"], basis="alerts",
               link=("SecurityView.index", _window(scope, "all"))),
        Figure("open", _l("Incidents open now"), a["open"], count=a["open"], basis="incidents",
               link=("SecurityView.index", {"status": "open"})),
        Figure("median_acknowledge", _l("Median time to acknowledge (min)"), a["median_acknowledge_min"],
               unit="minutes", count=a["acknowledged"], basis="incidents",
               empty=None if a["acknowledged"] else "no acknowledged incidents",
               link=("SecurityView.index", _window(scope, "all"))),
        Figure("median_close", _l("Median time to close (min)"), a["median_close_min"], unit="minutes",
               count=a["closed"], basis="incidents", empty=None if a["closed"] else "no closed incidents",
               link=("SecurityView.index", _window(scope, "closed"))),
    ]
    chart = {"kind": "bar", "unit": "count", "x": [m["month"] for m in a["months"]],
             "series": [{"name": str(_l("Incidents")), "data": [m["incidents"] for m in a["months"]]}]}
    return TileData(figures=figures, chart=chart, as_of=a.get("as_of"))


ROLLUPS = [Rollup("security.acknowledged", lambda session, scope: _alert_pass(session, scope)[0]),
           Rollup("security.closed", lambda session, scope: _alert_pass(session, scope)[1])]
SNAPSHOTS = [Snapshot("security.open", _open_snapshot)]
TILES = [Tile("security.alerts", _l("Security alerts"), alerts_tile, module="security", order=40)]


def _today_open(session: Session, community_id: int, now) -> Figure:
    n = open_incidents(session, [community_id])
    return Figure("security.open", _l("Open security incidents"), n, count=n, basis="incidents",
                  link=("SecurityView.index", {"status": "open"}))


TODAY = [Attention("security.open", _l("Open security incidents"), _today_open, module="security", order=20)]
