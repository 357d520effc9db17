"""KPI figures and the dashboard's tile registry, which the domains fill.

A domain that has figures for the dashboard puts a ``TILES`` list of :class:`Tile` in its
``kpis.py`` (``app/domains/<d>/kpis.py``); discovery finds it by name (:func:`tiles`), so the
platform's dashboard never imports a domain, and a new domain (energy, say) adds a tile by
adding that file — nothing else to edit. The engine's own figures (staff efficiency, from its
task records) come from ``app/engine/kpis.py`` the same way.

A tile's ``build(session, scope)`` returns a :class:`TileData`: plain data — figures with the
counts behind each one and where its records are — and an optional chart description that the
page draws with ECharts. The page, the JSON API and the Excel export all read the same
``build``: one query path.

A figure with no value carries the reason (``empty``: "no rated orders"), never NaN.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from app.localtime import from_local, to_local


@dataclass(frozen=True)
class Scope:
    """What a dashboard shows: these communities (one building of one, if set), reported in
    ``[start, end)`` (UTC), and the local months ``YYYY-MM`` of that window, oldest first."""

    community_ids: tuple[int, ...]
    start: datetime
    end: datetime
    months: tuple[str, ...]
    building_id: int | None = None
    now: datetime | None = None

    @property
    def single_community(self) -> int | None:
        return self.community_ids[0] if len(self.community_ids) == 1 else None

    def local_dates(self) -> tuple[str, str]:
        """The window as local ISO dates: its first day and the day after its last (for the
        record lists' ``from``/``to`` filters, the second exclusive)."""
        last_y, last_m = int(self.months[-1][:4]), int(self.months[-1][5:])
        after = f"{last_y + (last_m == 12):04d}-{1 if last_m == 12 else last_m + 1:02d}-01"
        return f"{self.months[0]}-01", after

    def month_of(self, at: datetime) -> str | None:
        """The local month (one of ``months``) holding the UTC time ``at``; None outside the
        window. A bisect over the months' UTC starts: no time-zone arithmetic per row."""
        starts = _month_starts(self.months)
        if at < starts[0] or at >= self.end:
            return None
        return self.months[bisect_right(starts, at) - 1]


def month_scope(community_ids: Sequence[int], months: int, now: datetime, building_id: int | None = None,
                until: str | None = None) -> Scope:
    """The last ``months`` local calendar months up to the one holding ``now`` (or ``until``,
    ``YYYY-MM``), as a :class:`Scope`."""
    local_now = to_local(now)
    year, month = (int(until[:4]), int(until[5:7])) if until else (local_now.year, local_now.month)
    labels = []
    for _ in range(max(1, months)):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    labels.reverse()
    first = datetime(int(labels[0][:4]), int(labels[0][5:7]), 1)
    last_y, last_m = int(labels[-1][:4]), int(labels[-1][5:7])
    after = datetime(last_y + (last_m == 12), 1 if last_m == 12 else last_m + 1, 1)
    return Scope(tuple(community_ids), from_local(first), from_local(after), tuple(labels), building_id, now)


@lru_cache(maxsize=64)
def _month_starts(months: tuple[str, ...]) -> list[datetime]:
    return [from_local(datetime(int(m[:4]), int(m[5:7]), 1)) for m in months]


def local_month(at: datetime) -> str:
    return to_local(at).strftime("%Y-%m")


def local_days(values: Sequence[datetime]) -> list[date]:
    """Local dates of many UTC times, converting with one zone lookup."""

    from app.localtime import zone

    z = zone()
    return [v.replace(tzinfo=UTC).astimezone(z).date() for v in values]


@dataclass
class Figure:
    """One number on the dashboard.

    ``value`` is None when it cannot be computed; ``empty`` then says why (an English msgid the
    page translates). ``count`` is how many records stand behind it (``basis`` says what they
    are: "orders", "bills" …); ``link`` is ``(endpoint, args)`` of the list of those records.
    """

    key: str
    label: str
    value: Any
    unit: str = "count"  # count, percent, minutes, hours, yuan_cents, per_day
    count: int | None = None
    basis: str | None = None
    empty: str | None = None
    target: Any = None
    link: tuple[str, dict] | None = None
    numerator: Any = None
    denominator: Any = None
    #: one of the renovation outcomes the audit pack reports (``fee_collection``,
    #: ``repair_response``, ``public_energy``, ``staff_efficiency``), if this figure is one
    outcome: str | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["value"] = _plain(self.value)
        data["target"] = _plain(self.target)
        data["numerator"] = _plain(self.numerator)
        data["denominator"] = _plain(self.denominator)
        data["link"] = list(self.link) if self.link else None
        return data


@dataclass
class TileData:
    figures: list[Figure] = field(default_factory=list)
    #: ``{"kind": "line"|"bar"|"map", "x": [...], "series": [{"name", "data"}], "target": {...}}``
    chart: dict | None = None
    note: str | None = None
    #: the figures come from roll-ups refreshed at this time (naive UTC); None: read live
    as_of: datetime | None = None

    def as_dict(self) -> dict:
        return {"figures": [f.as_dict() for f in self.figures], "chart": self.chart, "note": self.note,
                "as_of": self.as_of.isoformat() + "Z" if self.as_of else None}


@dataclass(frozen=True)
class Tile:
    """A dashboard tile. ``module``: shown only where that module is enabled (None: always)."""

    id: str
    title: Any  # a lazy_gettext string
    build: Callable[[Session, Scope], TileData]
    module: str | None = None
    order: int = 100
    #: whether ``build`` honours ``scope.building_id`` (else the tile says "whole community")
    per_building: bool = False


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# --------------------------------------------------------------------------- small statistics


def quantile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolation quantile (as numpy/pandas default); None for no values."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    pos = (len(data) - 1) * p
    low = math.floor(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def rounded(value: float | None, places: int = 1) -> float | None:
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator ÷ denominator in percent, one decimal (ROUND_HALF_UP); None when nothing to divide."""
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def minutes_between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds() / 60


def days_in(scope: Scope) -> int:
    return max(1, (scope.end - scope.start) // timedelta(days=1))


# --------------------------------------------------------------------------- the registry


def tiles() -> list[Tile]:
    """Every tile: the engine's and each domain's ``kpis.TILES``, by ``order`` then id."""
    found: list[Tile] = [t for module in kpi_modules() for t in getattr(module, "TILES", [])]
    return sorted(found, key=lambda t: (t.order, t.id))


def kpi_modules() -> tuple:
    """The engine's ``kpis`` and every domain's (discovery). Found once per process — the
    domain folders do not change while it runs; a page asked for them once per tile, each a
    walk of ``app/domains`` — and again if discovery's finder is replaced (tests)."""
    from app.platform import discovery

    return _kpi_modules(discovery.domain_parts)


@lru_cache(maxsize=4)
def _kpi_modules(finder: Callable) -> tuple:
    import app.engine.kpis as engine_kpis

    return (engine_kpis, *finder("kpis"))


def enabled_modules(session: Session, community_ids: Sequence[int]) -> dict[int, set[str]]:
    """community id → the ids of the modules enabled there."""
    from sqlalchemy import select

    from app.modules.models import ModuleActivation

    out: dict[int, set[str]] = {cid: set() for cid in community_ids}
    for cid, module_id in session.execute(select(ModuleActivation.community_id, ModuleActivation.module_id).where(
            ModuleActivation.community_id.in_(list(community_ids)), ModuleActivation.enabled.is_(True))):
        out.setdefault(cid, set()).add(module_id)
    return out


@dataclass
class BuiltTile:
    tile: Tile
    data: TileData
    #: the communities the figures cover (those with the tile's module enabled)
    community_ids: tuple[int, ...]
    #: the tile ignores the building filter: its figures are the whole community's
    whole_community: bool = False

    def as_dict(self) -> dict:
        return {"id": self.tile.id, "title": str(self.tile.title), "module": self.tile.module,
                "community_ids": list(self.community_ids), "whole_community": self.whole_community,
                **self.data.as_dict()}


def build_dashboard(session: Session, scope: Scope, only: Sequence[str] | None = None) -> list[BuiltTile]:
    """Every tile whose module is enabled in at least one of the scope's communities, each
    computed over exactly those communities. The page, the API and the export call this.
    Within one call the roll-up rows are read once for all tiles (:func:`computing`)."""
    with computing():
        enabled = enabled_modules(session, scope.community_ids)
        built = []
        for tile in tiles():
            if only is not None and tile.id not in only:
                continue
            ids = tuple(c for c in scope.community_ids if tile.module is None or tile.module in enabled.get(c, set()))
            if not ids:
                continue
            per = Scope(ids, scope.start, scope.end, scope.months,
                        scope.building_id if tile.per_building else None, scope.now)
            built.append(BuiltTile(tile, tile.build(session, per), ids,
                                   whole_community=scope.building_id is not None and not tile.per_building))
        return built


# --------------------------------------------------------------------------- one build's cache
# A dashboard build asks the same things several times (each rolled-up tile its own metrics of
# the same communities and months); within one :func:`build_dashboard` call they are read once.
# The cache lives only for that call (a context variable), never across requests: a figure is
# never older than the call unless it says so (``as_of``).

_BUILD: ContextVar[dict | None] = ContextVar("estateflow_kpi_build", default=None)


@contextmanager
def computing():
    """The extent of one dashboard build (nested calls share the outer one's cache)."""
    if _BUILD.get() is not None:
        yield
        return
    token = _BUILD.set({})
    try:
        yield
    finally:
        _BUILD.reset(token)


def memo(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per build for ``key`` (outside a build: every time)."""
    cache = _BUILD.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


# --------------------------------------------------------------------------- "today" (manager home)


@dataclass(frozen=True)
class Attention:
    """One "needs attention now" count on the manager's home page, from a domain's ``kpis.TODAY``.

    ``count(session, community_id, now)`` returns a :class:`Figure` (value = how many, link =
    the list of them)."""

    id: str
    label: Any
    count: Callable[[Session, int, datetime], Figure]
    module: str | None = None
    order: int = 100


def attention_items() -> list[Attention]:
    found: list[Attention] = [a for module in kpi_modules() for a in getattr(module, "TODAY", [])]
    return sorted(found, key=lambda a: (a.order, a.id))


def today(session: Session, community_id: int, now: datetime) -> list[Figure]:
    """What needs attention now in one community: each enabled module's counts."""
    enabled = enabled_modules(session, [community_id]).get(community_id, set())
    return [item.count(session, community_id, now) for item in attention_items()
            if item.module is None or item.module in enabled]


# --------------------------------------------------------------------------- SQL-side statistics
# On PostgreSQL the big figures (medians and p90 of many rows, distinct staff-days) are computed
# by the database instead of fetching every row (bench/dashboard.py); SQLite, the embedded demo
# database, has no percentile_cont, so the same figures are computed in Python there. The unit
# tests run both paths against the same hand-computed values.


def sql_statistics(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def percentile_sql(p: float, expr):
    """``percentile_cont(p) WITHIN GROUP (ORDER BY expr)``: linear interpolation, NULLs ignored
    (the same figure as :func:`quantile`)."""
    from sqlalchemy import func

    return func.percentile_cont(p).within_group(expr)


def minutes_sql(start, end):
    from sqlalchemy import extract

    return extract("epoch", end - start) / 60


def local_sql(column):
    """The naive UTC timestamp ``column`` as naive local wall time (PostgreSQL)."""
    from sqlalchemy import func

    from app.localtime import zone

    return func.timezone(zone().key, func.timezone("UTC", column))


def month_sql(scope: Scope, column):
    """The scope's local month holding the UTC timestamp ``column``, as a CASE over the months'
    UTC starts (plain comparisons: no time-zone lookup per row, exact across DST)."""
    from sqlalchemy import case, literal

    starts = _month_starts(scope.months)[1:] + [scope.end]
    return case(*[(column < start, literal(month)) for month, start in zip(scope.months, starts)], else_=None)


# --------------------------------------------------------------------------- roll-ups
# At company and community level (no building filter) the big tiles read per community × month
# roll-ups instead of scanning every bill, order, task and device event (bench/dashboard.py:
# the raw queries grow with the rows in the window; one community's page made a dozen queries).
# The ``kpi_rollup`` flow (workflows/kpi_rollup.py) refreshes them; a tile built from them
# carries ``as_of`` and the page says how fresh it is. The building level, and any scope a
# roll-up does not cover (a community never refreshed, a month begun since), read the raw
# tables: same figures. "Now" figures come from the flow's snapshot at company level only
# (:func:`read_snapshots`); one community's are read live (a few indexed counts).

ROLLUP_MONTHS = 12  # the longest period filter of the dashboard


@dataclass
class Rolled:
    """What a roll-up computes for one community and month: sums, samples for a median or
    p90 (integers: deciseconds), members of a distinct count (integers: ids or
    :func:`member` hashes)."""

    n: int = 0
    a: int = 0
    b: int = 0
    samples: list[int] = field(default_factory=list)
    members: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Rollup:
    """A domain's roll-up: ``compute(session, scope)`` for one community over the scope's
    months returns ``{month: Rolled}`` (months without records may be left out)."""

    metric: str
    compute: Callable[[Session, Scope], dict[str, Rolled]]


def rollups() -> list[Rollup]:
    """Every roll-up: the engine's and each domain's ``kpis.ROLLUPS``."""
    return [r for module in kpi_modules() for r in getattr(module, "ROLLUPS", [])]


def rollup_wanted(scope: Scope) -> bool:
    """Roll-ups serve the company and community level: no building filter."""
    return scope.building_id is None


def member(text: str) -> int:
    """A stable signed 64-bit hash of ``text`` (a staff-day ``who|date``) for a distinct count
    across communities; collisions are negligible (~1e-9 for a million members)."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)


class Merged:
    """One metric merged over communities (one month, or the whole window): the sums, and the
    samples (sorted int32) and distinct members (int64) — sorted only when a tile asks for
    them (a tile that needs only the sums or a count pays for no sort)."""

    def __init__(self, n: int, a: int, b: int, samples: bytes, members: bytes, parts: list | None = None):
        self.n, self.a, self.b = n, a, b
        self._samples, self._members = samples, members
        #: the months this total is made of: their sorted arrays are merged, not re-sorted
        self._parts = parts

    @property
    def sample_count(self) -> int:
        """How many samples (no sort needed)."""
        if self._parts is not None:
            return sum(p.sample_count for p in self._parts)
        return len(self._samples) if not isinstance(self._samples, bytes) else len(self._samples) // 4

    @property
    def samples(self) -> Any:  # numpy int32 array, sorted
        import numpy as np

        if not isinstance(self._samples, np.ndarray):
            if self._parts is not None:  # sorted runs: a stable (merging) sort is near linear
                self._samples = np.sort(np.concatenate([p.samples for p in self._parts] or [np.empty(0, "<i4")]),
                                        kind="stable")
            else:
                self._samples = np.sort(np.frombuffer(self._samples, dtype="<i4"))
        return self._samples

    @property
    def members(self) -> Any:  # numpy int64 array, distinct and sorted
        import numpy as np

        if not isinstance(self._members, np.ndarray):
            if self._parts is not None:
                self._members = _distinct(np.concatenate([p.members for p in self._parts]
                                                         or [np.empty(0, "<i8")]), kind="stable")
            else:
                self._members = _distinct(np.frombuffer(self._members, dtype="<i8"))
        return self._members

    def quantile(self, p: float, per: float) -> float | None:
        """The ``p`` quantile of the samples (deciseconds) in units of ``per`` seconds
        (the same linear interpolation as :func:`quantile`)."""
        data = self.samples
        if not len(data):
            return None
        pos = (len(data) - 1) * p
        low = math.floor(pos)
        high = min(low + 1, len(data) - 1)
        value = float(data[low]) + (float(data[high]) - float(data[low])) * (pos - low)
        return value / 10 / per


@dataclass
class RolledUp:
    months: dict[str, Merged]
    total: Merged
    #: the oldest refresh among the communities read: the figure is at least this fresh
    as_of: datetime


def _distinct(values, kind: str | None = None):
    """Sorted distinct values of an int64 array (a sort and a neighbour compare: faster here
    than ``numpy.unique``'s hash path on a few hundred thousand members)."""
    import numpy as np

    if len(values) < 2:
        return values
    ordered = np.sort(values, kind=kind)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _merge(rows: list[tuple[int, int, int, bytes, bytes]]) -> Merged:
    """One month's rows (one per community, or one already concatenated by the database)."""
    return Merged(sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows),
                  b"".join(r[3] for r in rows), b"".join(r[4] for r in rows))


def _total(months: dict[str, Merged]) -> Merged:
    parts = list(months.values())
    return Merged(sum(p.n for p in parts), sum(p.a for p in parts), sum(p.b for p in parts), b"", b"", parts)


def read_rollup(session: Session, scope: Scope, metric: str) -> RolledUp | None:
    """``metric`` over the scope from the roll-ups, merged per month and in total; None when
    some community of the scope has no refresh covering every month of the scope."""
    found = read_rollups(session, scope, (metric,))
    return found[metric] if found else None


def _rollup_rows(session: Session, ids: tuple[int, ...], months: tuple[str, ...], metrics: tuple[str, ...]) -> dict:
    """The roll-up rows of these communities, months and metrics: refresh markers (``metric →
    {community: refreshed_at}`` where the refresh covered every month), month rows (``metric →
    {month: [(n, a, b, samples, members)]}``) and snapshots (``metric → {community: (n, a, b,
    samples, members, refreshed_at)}``). On PostgreSQL the database sums and concatenates the
    month rows of all communities (one row per metric and month instead of one per community:
    decoding 11,000 rows was most of the company page's time at full size); core queries, no
    ORM rows."""
    import numpy as np
    from sqlalchemy import LargeBinary, func, literal, select

    from app.platform.models import KpiRollup

    t = KpiRollup.__table__
    conn = session.connection()
    where = (t.c.metric.in_(list(metrics)), t.c.community_id.in_(list(ids)))
    wanted = {int(m.replace("-", "")) for m in months}
    markers: dict[str, dict[int, datetime]] = {m: {} for m in metrics}
    rows: dict[str, dict[str, list]] = {m: {month: [] for month in months} for m in metrics}
    now_rows: dict[str, dict[int, tuple]] = {m: {} for m in metrics}
    covers: dict[bytes, bool] = {}  # the markers of one refresh round name the same months: decode once
    for cid, metric, month, n, a, b, samples, members, at in conn.execute(
            select(t.c.community_id, t.c.metric, t.c.month, t.c.n, t.c.a, t.c.b, t.c.samples, t.c.members,
                   t.c.refreshed_at).where(*where, t.c.month.in_(["*", NOW_MONTH]))):
        if month == "*":
            members = bytes(members or b"")
            if members not in covers:
                covers[members] = wanted <= set(np.frombuffer(members, dtype="<i8").tolist())
            if covers[members]:
                markers[metric][cid] = at
        else:
            now_rows[metric][cid] = (int(n), int(a), int(b), bytes(samples or b""), bytes(members or b""), at)
    if session.get_bind().dialect.name == "postgresql":
        empty = literal(b"", LargeBinary)
        found = conn.execute(
            select(t.c.metric, t.c.month, func.sum(t.c.n), func.sum(t.c.a), func.sum(t.c.b),
                   func.coalesce(func.string_agg(t.c.samples, empty), empty),
                   func.coalesce(func.string_agg(t.c.members, empty), empty))
            .where(*where, t.c.month.in_(list(months))).group_by(t.c.metric, t.c.month))
    else:
        found = conn.execute(select(t.c.metric, t.c.month, t.c.n, t.c.a, t.c.b, t.c.samples, t.c.members)
                             .where(*where, t.c.month.in_(list(months))))
    for metric, month, n, a, b, samples, members in found:
        rows[metric][month].append((int(n), int(a), int(b), bytes(samples or b""), bytes(members or b"")))
    return {"markers": markers, "rows": rows, "now": now_rows}


def _read_rows(session: Session, scope: Scope, metrics: Sequence[str]) -> dict:
    """:func:`_rollup_rows` for the scope; within a build every metric of every roll-up and
    snapshot is read by the first tile that asks, and the other tiles share that answer."""
    ids = tuple(sorted(set(scope.community_ids)))
    if _BUILD.get() is None:
        return _rollup_rows(session, ids, scope.months, tuple(metrics))
    every = tuple(sorted({r.metric for r in rollups()} | {s.metric for s in snapshots()} | set(metrics)))
    return memo(("kpi_rollup", ids, scope.months, every), lambda: _rollup_rows(session, ids, scope.months, every))


def read_rollups(session: Session, scope: Scope, metrics: Sequence[str]) -> dict[str, RolledUp] | None:
    """Several metrics in one query (markers and month rows together); None unless every
    community of the scope has a refresh of each covering every month of the scope."""
    found = _read_rows(session, scope, metrics)
    markers, rows = found["markers"], found["rows"]
    ids = set(scope.community_ids)
    if any(len(markers[m]) < len(ids) for m in metrics):
        return None
    out = {}
    for m in metrics:
        months = {month: _merge(r) for month, r in rows[m].items()}
        out[m] = RolledUp(months, _total(months), min(markers[m].values()))
    return out


# --------------------------------------------------------------------------- snapshots of "now"
# Figures about the present (orders open now, devices online now, incidents still open) cannot
# be rolled up by month. At company level they come from a per-community snapshot the same
# ``kpi_rollup`` flow takes (row month ``now``), shown with its time like the roll-ups. A
# snapshot is used only when every community of the scope has one taken at most
# :data:`SNAPSHOT_MAX_AGE` before the scope's ``now`` (and not after it: a dashboard "as of"
# an earlier moment reads the tables); otherwise the tile reads the tables live.

NOW_MONTH = "now"
SNAPSHOT_MAX_AGE = timedelta(minutes=30)  # the flow runs every 15 minutes


@dataclass(frozen=True)
class Snapshot:
    """A domain's "now" figures: ``compute(session, community_id, now)`` returns a
    :class:`Rolled` (its ``n``/``a``/``b`` counts and ``members`` ids, as the domain documents)."""

    metric: str
    compute: Callable[[Session, int, datetime], Rolled]


@dataclass
class Snapped:
    """A snapshot summed over the scope's communities; ``as_of`` the oldest of them."""

    n: int
    a: int
    b: int
    members: Any  # numpy int64 array (concatenated, not made distinct)
    as_of: datetime


def snapshots() -> list[Snapshot]:
    """Every snapshot: the engine's and each domain's ``kpis.SNAPSHOTS``."""
    return [s for module in kpi_modules() for s in getattr(module, "SNAPSHOTS", [])]


def read_snapshots(session: Session, scope: Scope, metrics: Sequence[str]) -> dict[str, Snapped] | None:
    """The scope's snapshots of ``metrics`` summed over its communities (company level only);
    None unless every community has each, fresh enough for the scope's ``now``."""
    import numpy as np

    from app import clock

    if len(scope.community_ids) < 2 or scope.building_id is not None:
        return None
    now = scope.now or clock.now()
    found = _read_rows(session, scope, metrics)["now"]
    out = {}
    for metric in metrics:
        rows = [found[metric].get(cid) for cid in set(scope.community_ids)]
        if any(r is None or r[5] > now or now - r[5] > SNAPSHOT_MAX_AGE for r in rows):
            return None
        out[metric] = Snapped(sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows),
                              np.frombuffer(b"".join(r[4] for r in rows), dtype="<i8"), min(r[5] for r in rows))
    return out


def refresh_rollups(session: Session, community_id: int, now: datetime) -> dict[str, int]:
    """Recompute every roll-up of one community for the last :data:`ROLLUP_MONTHS` local
    months (rows replaced, a marker with the months and the time) and take every snapshot of
    "now". Returns rows per metric."""
    with computing():  # a domain computing two roll-ups in one pass (``memo``) does it once
        return _refresh(session, community_id, now)


def _refresh(session: Session, community_id: int, now: datetime) -> dict[str, int]:
    import numpy as np
    from sqlalchemy import delete

    from app.platform.models import KpiRollup

    scope = month_scope([community_id], ROLLUP_MONTHS, now)
    covered = np.array([int(m.replace("-", "")) for m in scope.months], dtype="<i8").tobytes()
    out = {}
    for rollup in rollups():
        values = {m: v for m, v in rollup.compute(session, scope).items() if m in scope.months}
        session.execute(delete(KpiRollup).where(KpiRollup.community_id == community_id,
                                                KpiRollup.metric == rollup.metric))
        session.add_all([KpiRollup(community_id=community_id, metric=rollup.metric, month=month, n=v.n, a=v.a, b=v.b,
                                   samples=np.sort(np.array(v.samples, dtype="<i4")).tobytes(),
                                   members=np.unique(np.array(sorted(v.members), dtype="<i8")).tobytes(),
                                   refreshed_at=now)
                         for month, v in values.items()])
        session.add(KpiRollup(community_id=community_id, metric=rollup.metric, month="*", n=0, a=0, b=0,
                              samples=b"", members=covered, refreshed_at=now))
        out[rollup.metric] = len(values)
    for snap in snapshots():
        v = snap.compute(session, community_id, now)
        session.execute(delete(KpiRollup).where(KpiRollup.community_id == community_id,
                                                KpiRollup.metric == snap.metric))
        session.add(KpiRollup(community_id=community_id, metric=snap.metric, month=NOW_MONTH, n=v.n, a=v.a, b=v.b,
                              samples=np.array(v.samples, dtype="<i4").tobytes(),
                              members=np.unique(np.array(sorted(v.members), dtype="<i8")).tobytes(),
                              refreshed_at=now))
        out[snap.metric] = 1
    session.flush()
    return out


def last_refresh(session: Session, community_id: int) -> datetime | None:
    from sqlalchemy import func, select

    from app.platform.models import KpiRollup

    return session.scalar(select(func.min(KpiRollup.refreshed_at)).where(
        KpiRollup.community_id == community_id, KpiRollup.month == "*"))


def deciseconds(a: datetime | None, b: datetime | None) -> int | None:
    """b − a in tenths of a second (a roll-up's integer sample)."""
    if a is None or b is None:
        return None
    return round((b - a).total_seconds() * 10)
