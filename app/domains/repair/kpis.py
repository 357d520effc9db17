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

import math
from datetime import datetime

import pandas as pd
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Building, Community, Staff
from app.domains.repair.models import ACTIVE_STATUSES, RepairOrder
from app.localtime import offset as local_offset
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
    minutes_sql,
    month_sql,
    percentile_sql,
    quantile,
    read_rollups,
    read_snapshots,
    rollup_wanted,
    rounded,
    sql_statistics,
)

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
        "orders": len(group),
        "completed": len(done),
        "median_response_min": q(group["response_min"], 0.5),
        "p90_response_min": q(group["response_min"], 0.9),
        "median_resolution_h": q(done["resolution_h"], 0.5),
        "p90_resolution_h": q(done["resolution_h"], 0.9),
        "first_time_fix_rate": round(float((~done["reopened"]).mean()), 3) if len(done) else None,
        "reopen_rate": round(float(done["reopened"].mean()), 3) if len(done) else None,
        "satisfaction": round(float(rated.mean()), 2) if len(rated) else None,
        "satisfied_share": round(float((rated >= 4).mean()), 3) if len(rated) else None,
        "rated": len(rated),
    }


def kpis(frame: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """KPIs overall (``by=None``: one row 'all') or per community/category/technician/month."""
    if by is None:
        return pd.DataFrame([{"group": "all", **_summary(frame)}], columns=["group", *COLUMNS])
    if by not in DIMENSIONS:
        raise ValueError(f"unknown KPI dimension {by!r}")
    rows = [{"group": key, **_summary(group)} for key, group in frame.groupby(DIMENSIONS[by], sort=True)]
    return pd.DataFrame(rows, columns=["group", *COLUMNS])


#: Why a figure can be missing: the page says this instead of a number (never "nan").
EMPTY_REASONS = {
    "median_response_min": "no accepted orders", "p90_response_min": "no accepted orders",
    "median_resolution_h": "no completed orders", "p90_resolution_h": "no completed orders",
    "first_time_fix_rate": "no completed orders", "reopen_rate": "no completed orders",
    "satisfaction": "no rated orders", "satisfied_share": "no rated orders",
}


def records(table: pd.DataFrame) -> list[dict]:
    """A KPI table as plain dicts; pandas stores a missing figure as NaN, people get None."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in table.to_dict("records")]


def report(session: Session, community_ids: list[int], start: datetime | None = None,
           end: datetime | None = None) -> dict[str, pd.DataFrame]:
    """Every view of the KPIs: overall and per dimension."""
    frame = order_frame(session, community_ids, start, end)
    tables = {"all": kpis(frame)}
    for dim in DIMENSIONS:
        tables[dim] = kpis(frame, dim)
    return tables


_EXCEL = {
    "zh": {"title": "报修指标", "group": "分组", "all": "总体", "community": "按小区", "category": "按类别",
           "technician": "按维修工", "month": "按月份", "orders": "工单数", "completed": "已完成",
           "median_response_min": "响应时间中位数（分钟）", "p90_response_min": "响应时间 P90（分钟）",
           "median_resolution_h": "完成时间中位数（小时）", "p90_resolution_h": "完成时间 P90（小时）",
           "first_time_fix_rate": "一次修复率", "reopen_rate": "返修率", "satisfaction": "满意度（1-5）",
           "satisfied_share": "满意占比（4-5 分）", "rated": "已评价", "overall": "全部工单"},
    "en": {"title": "Repair KPIs", "group": "Group", "all": "Overall", "community": "By community",
           "category": "By category", "technician": "By technician", "month": "By month", "orders": "Orders",
           "completed": "Completed", "median_response_min": "Median response (min)",
           "p90_response_min": "P90 response (min)", "median_resolution_h": "Median resolution (h)",
           "p90_resolution_h": "P90 resolution (h)", "first_time_fix_rate": "First-time fix",
           "reopen_rate": "Reopen rate", "satisfaction": "Satisfaction (1-5)",
           "satisfied_share": "Satisfied share (4-5)", "rated": "Rated", "overall": "All orders"},
}
_KINDS = {"orders": "int", "completed": "int", "rated": "int", "first_time_fix_rate": "percent",
          "reopen_rate": "percent", "satisfied_share": "percent", "satisfaction": "decimal2"}


def to_excel(tables: dict[str, pd.DataFrame], locale: str = "zh", category_label=None, period: str = "") -> bytes:
    """One sheet per table, headers in ``locale``, rates as percent, categories by name."""
    from app.platform.excel import Column, Sheet, workbook

    text = _EXCEL["en" if locale.startswith("en") else "zh"]
    sheets = []
    for name, table in tables.items():
        columns = [Column(text["group"], "text", 18)] + [
            Column(text[c], _KINDS.get(c, "decimal1"), 14 if c in _KINDS else 16) for c in COLUMNS]
        rows = []
        for row in records(table):
            group = row["group"]
            if name == "all":
                group = text["overall"]
            elif name == "category" and category_label is not None:
                group = category_label(group)
            rows.append([group] + [row[c] for c in COLUMNS])
        sheets.append(Sheet(text[name], columns, rows))
    return workbook(sheets, f"{text['title']} · {period}" if period else text["title"])


# --------------------------------------------------------------------------- dashboard (plain data)

RESPONSE_TARGET_MIN = 60  # the programmes' promise: "24 h → under 1 h"


def _in_scope(query, scope):
    query = query.where(RepairOrder.community_id.in_(list(scope.community_ids)))
    if scope.building_id is not None:
        query = query.where(RepairOrder.building_id == scope.building_id)
    return query


def timeliness(session: Session, scope) -> dict:
    """Response (reported → accepted, minutes) and resolution (reported → completed, hours) of
    the orders reported in the scope's window, median and p90, with the counts behind them, and
    per local month the median response. Orders never accepted/completed are counted apart."""
    if rollup_wanted(scope):
        rolled = _timeliness_rolled(session, scope)
        if rolled is not None:
            return rolled
    if sql_statistics(session):
        return _timeliness_sql(session, scope)
    rows = session.execute(_in_scope(
        select(RepairOrder.reported_at, RepairOrder.accepted_at, RepairOrder.completed_at, RepairOrder.status)
        .where(RepairOrder.reported_at >= scope.start, RepairOrder.reported_at < scope.end,
               RepairOrder.status != "cancelled"), scope)).all()
    response = [(r.accepted_at - r.reported_at).total_seconds() / 60 for r in rows if r.accepted_at]
    resolution = [(r.completed_at - r.reported_at).total_seconds() / 3600 for r in rows if r.completed_at]
    by_month: dict[str, list[float]] = {m: [] for m in scope.months}
    for r in rows:
        if r.accepted_at:
            by_month[scope.month_of(r.reported_at)].append((r.accepted_at - r.reported_at).total_seconds() / 60)
    return {
        "orders": len(rows),
        "accepted": len(response),
        "completed": len(resolution),
        "median_response_min": rounded(quantile(response, 0.5)),
        "p90_response_min": rounded(quantile(response, 0.9)),
        "median_resolution_h": rounded(quantile(resolution, 0.5)),
        "p90_resolution_h": rounded(quantile(resolution, 0.9)),
        "within_target": sum(1 for v in response if v <= RESPONSE_TARGET_MIN),
        "months": [{"month": m, "accepted": len(by_month.get(m, [])),
                    "median_response_min": rounded(quantile(by_month.get(m, []), 0.5)),
                    "p90_response_min": rounded(quantile(by_month.get(m, []), 0.9))} for m in scope.months],
    }


def _response_rollups(session: Session, scope) -> tuple[dict[str, Rolled], dict[str, Rolled]]:
    """One community's orders per local month: response (n orders, a accepted, b within the
    target, samples deciseconds) and resolution (n completed, samples deciseconds)."""
    response: dict[str, Rolled] = {}
    resolution: dict[str, Rolled] = {}
    for reported, accepted, completed in session.execute(_in_scope(
            select(RepairOrder.reported_at, RepairOrder.accepted_at, RepairOrder.completed_at)
            .where(RepairOrder.reported_at >= scope.start, RepairOrder.reported_at < scope.end,
                   RepairOrder.status != "cancelled"), scope)):
        month = scope.month_of(reported)
        r = response.setdefault(month, Rolled())
        r.n += 1
        if accepted is not None:
            r.a += 1
            r.samples.append(deciseconds(reported, accepted))
            r.b += (accepted - reported).total_seconds() / 60 <= RESPONSE_TARGET_MIN
        if completed is not None:
            done = resolution.setdefault(month, Rolled())
            done.n += 1
            done.samples.append(deciseconds(reported, completed))
    return response, resolution


def _timeliness_rolled(session: Session, scope) -> dict | None:
    """:func:`timeliness` from the roll-ups (company level); None where they do not cover it."""
    found = read_rollups(session, scope, ("repair.response", "repair.resolution"))
    if found is None:
        return None
    response, resolution = found["repair.response"], found["repair.resolution"]
    r, done = response.total, resolution.total
    months = [{"month": m, "accepted": per.sample_count, "median_response_min": rounded(per.quantile(0.5, 60)),
               "p90_response_min": rounded(per.quantile(0.9, 60))}
              for m, per in response.months.items()]
    return {"orders": r.n, "accepted": r.a, "completed": done.n,
            "median_response_min": rounded(r.quantile(0.5, 60)), "p90_response_min": rounded(r.quantile(0.9, 60)),
            "median_resolution_h": rounded(done.quantile(0.5, 3600)),
            "p90_resolution_h": rounded(done.quantile(0.9, 3600)),
            "within_target": r.b, "months": months, "as_of": min(response.as_of, resolution.as_of)}


def _timeliness_sql(session: Session, scope) -> dict:
    """:func:`timeliness` computed by PostgreSQL (percentile_cont), the same figures."""
    window = (RepairOrder.reported_at >= scope.start, RepairOrder.reported_at < scope.end,
              RepairOrder.status != "cancelled")
    response = minutes_sql(RepairOrder.reported_at, RepairOrder.accepted_at)
    resolution = minutes_sql(RepairOrder.reported_at, RepairOrder.completed_at) / 60
    overall = session.execute(_in_scope(select(
        func.count(RepairOrder.id), func.count(RepairOrder.accepted_at), func.count(RepairOrder.completed_at),
        percentile_sql(0.5, response), percentile_sql(0.9, response), percentile_sql(0.5, resolution),
        percentile_sql(0.9, resolution), func.count(RepairOrder.id).filter(response <= RESPONSE_TARGET_MIN))
        .where(*window), scope)).one()
    month = month_sql(scope, RepairOrder.reported_at)
    per_month = {m: (int(n), p50, p90) for m, n, p50, p90 in session.execute(_in_scope(
        select(month, func.count(RepairOrder.accepted_at), percentile_sql(0.5, response), percentile_sql(0.9, response))
        .where(*window), scope).group_by(month))}
    orders, accepted, completed, p50, p90, r50, r90, within = overall
    return {
        "orders": int(orders), "accepted": int(accepted), "completed": int(completed),
        "median_response_min": rounded(p50), "p90_response_min": rounded(p90),
        "median_resolution_h": rounded(r50), "p90_resolution_h": rounded(r90), "within_target": int(within),
        "months": [{"month": m, "accepted": per_month.get(m, (0, None, None))[0],
                    "median_response_min": rounded(per_month.get(m, (0, None, None))[1]),
                    "p90_response_min": rounded(per_month.get(m, (0, None, None))[2])} for m in scope.months],
    }


def backlog(session: Session, community_ids, now, building_id: int | None = None) -> dict:
    """Orders alive now: open (not yet confirmed/closed/cancelled), unassigned, and overdue —
    past their response limit unaccepted or past their resolution limit uncompleted."""
    q = select(func.count(RepairOrder.id), func.count(RepairOrder.id).filter(RepairOrder.status == "unassigned"),
               func.count(RepairOrder.id).filter(backlog_filter("overdue", now))).where(
        RepairOrder.community_id.in_(list(community_ids)), backlog_filter("open", now))
    if building_id is not None:
        q = q.where(RepairOrder.building_id == building_id)
    total, unassigned, overdue = session.execute(q).one()  # one pass over the live orders
    return {"open": int(total or 0), "unassigned": int(unassigned or 0), "overdue": int(overdue or 0)}


def backlog_filter(state: str, now):
    """``open``: alive (not confirmed, closed or cancelled); ``overdue``: alive and past its
    response limit unaccepted or its resolution limit uncompleted. The order list uses it too."""
    alive = RepairOrder.status.in_(ACTIVE_STATUSES)
    if state == "open":
        return alive
    return and_(alive, or_(and_(RepairOrder.accepted_at.is_(None), RepairOrder.response_due_at < now),
                           and_(RepairOrder.completed_at.is_(None), RepairOrder.resolution_due_at < now)))


def density_by_building(session: Session, scope) -> list[dict]:
    """Orders reported in the window per building that has map coordinates (the heat map)."""
    q = (select(Building.id, Building.name, Building.latitude, Building.longitude, func.count(RepairOrder.id))
         .outerjoin(RepairOrder, (RepairOrder.building_id == Building.id) & (RepairOrder.reported_at >= scope.start)
                    & (RepairOrder.reported_at < scope.end)
                    # the community's orders through its index (repair_order has none on building_id)
                    & RepairOrder.community_id.in_(list(scope.community_ids)))
         .where(Building.community_id.in_(list(scope.community_ids)), Building.latitude.is_not(None),
                Building.longitude.is_not(None))
         .group_by(Building.id, Building.name, Building.latitude, Building.longitude).order_by(Building.id))
    if scope.building_id is not None:
        q = q.where(Building.id == scope.building_id)
    return [{"building_id": i, "name": n, "lat": float(la), "lng": float(lo), "orders": int(c)}
            for i, n, la, lo, c in session.execute(q)]


def _orders_link(scope, window: bool = False, **args):
    """The order list behind a figure; ``window``: only the orders reported in the scope's months."""
    if scope.single_community is not None:
        args["community_id"] = scope.single_community
    if window:
        args["reported_from"], args["reported_to"] = scope.local_dates()
    return "RepairOrderView.index", args


def timeliness_tile(session: Session, scope):
    t = timeliness(session, scope)
    no_acc = None if t["accepted"] else "no accepted orders"
    no_done = None if t["completed"] else "no completed orders"
    figures = [
        Figure("median_response", _l("Median response (min)"), t["median_response_min"], unit="minutes",
               count=t["accepted"], basis="orders", empty=no_acc, target=RESPONSE_TARGET_MIN,
               link=_orders_link(scope, window=True), outcome="repair_response"),
        Figure("p90_response", _l("P90 response (min)"), t["p90_response_min"], unit="minutes", count=t["accepted"],
               basis="orders", empty=no_acc, target=RESPONSE_TARGET_MIN, link=_orders_link(scope, window=True)),
        Figure("median_resolution", _l("Median resolution (h)"), t["median_resolution_h"], unit="hours",
               count=t["completed"], basis="orders", empty=no_done, link=_orders_link(scope, window=True)),
        Figure("p90_resolution", _l("P90 resolution (h)"), t["p90_resolution_h"], unit="hours",
               count=t["completed"], basis="orders", empty=no_done, link=_orders_link(scope, window=True)),
    ]
    chart = {"kind": "line", "unit": "minutes", "x": [m["month"] for m in t["months"]],
             "series": [{"name": str(_l("Median response (min)")), "data": [m["median_response_min"] for m in t["months"]]},
                        {"name": str(_l("P90 response (min)")), "data": [m["p90_response_min"] for m in t["months"]]}],
             "target": {"value": RESPONSE_TARGET_MIN, "label": str(_l("Target 1 h"))}}
    return TileData(figures=figures, chart=chart, as_of=t.get("as_of"))


def backlog_tile(session: Session, scope):
    snap = read_snapshots(session, scope, ("repair.backlog",))
    if snap is not None:  # company level: the flow's snapshot, said how fresh
        s = snap["repair.backlog"]
        b = {"open": s.n, "unassigned": s.a, "overdue": s.b}
    else:
        b = backlog(session, scope.community_ids, scope.now or clock.now(), scope.building_id)
    figures = [
        Figure("open", _l("Open orders"), b["open"], count=b["open"], basis="orders", link=_orders_link(scope, state="open")),
        Figure("overdue", _l("Overdue orders"), b["overdue"], count=b["overdue"], basis="orders",
               link=_orders_link(scope, state="overdue")),
        Figure("unassigned", _l("Waiting for dispatch"), b["unassigned"], count=b["unassigned"], basis="orders",
               link=_orders_link(scope, status="unassigned")),
    ]
    chart = {"kind": "bar", "unit": "count", "x": [str(f.label) for f in figures],
             "series": [{"name": str(_l("Orders")), "data": [f.value for f in figures]}],
             "links": [list(f.link) for f in figures]}
    return TileData(figures=figures, chart=chart, as_of=snap["repair.backlog"].as_of if snap else None)


def density_tile(session: Session, scope):
    if len(scope.community_ids) > 1:
        return TileData(note="choose one community to see its buildings")
    points = density_by_building(session, scope)
    if not points:
        return TileData(note="no buildings with map coordinates")
    total = sum(p["orders"] for p in points)
    figures = [Figure("orders", _l("Orders reported"), total, count=total, basis="orders",
                      link=_orders_link(scope, window=True))]
    chart = {"kind": "map", "unit": "count",
             "points": [{"name": p["name"], "value": [p["lng"], p["lat"], p["orders"]]} for p in points],
             "max": max([p["orders"] for p in points] + [1])}
    return TileData(figures=figures, chart=chart)


def _response_pass(session: Session, scope):
    """Both repair roll-ups from one pass over the orders (once per refresh: ``memo``)."""
    return memo(("repair.response_rollups", scope), lambda: _response_rollups(session, scope))


def _backlog_snapshot(session: Session, community_id: int, now) -> Rolled:
    """Orders alive now in one community: n open, a unassigned, b overdue."""
    b = backlog(session, [community_id], now)
    return Rolled(n=b["open"], a=b["unassigned"], b=b["overdue"])


ROLLUPS = [Rollup("repair.response", lambda session, scope: _response_pass(session, scope)[0]),
           Rollup("repair.resolution", lambda session, scope: _response_pass(session, scope)[1])]
SNAPSHOTS = [Snapshot("repair.backlog", _backlog_snapshot)]
TILES = [Tile("repair.response", _l("Repair response and resolution"), timeliness_tile, module="repair",
                 order=20, per_building=True),
         Tile("repair.backlog", _l("Open and overdue orders"), backlog_tile, module="repair", order=21,
                 per_building=True),
         Tile("repair.density", _l("Work-order density by building"), density_tile, module="repair", order=22,
                 per_building=True)]


def _today_overdue(session: Session, community_id: int, now) -> Figure:
    n = backlog(session, [community_id], now)["overdue"]
    return Figure("repair.overdue", _l("Overdue repair orders"), n, count=n, basis="orders",
                  link=("RepairOrderView.index", {"community_id": community_id, "state": "overdue"}))


def _today_unassigned(session: Session, community_id: int, now) -> Figure:
    n = backlog(session, [community_id], now)["unassigned"]
    return Figure("repair.unassigned", _l("Orders waiting for dispatch"), n, count=n, basis="orders",
                  link=("RepairOrderView.index", {"community_id": community_id, "status": "unassigned"}))


TODAY = [Attention("repair.overdue", _l("Overdue repair orders"), _today_overdue, module="repair", order=10),
         Attention("repair.unassigned", _l("Orders waiting for dispatch"), _today_unassigned, module="repair",
                   order=11)]
