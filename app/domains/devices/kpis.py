"""Device KPIs for the dashboard: online rate (devices reporting now) and failure rate
(devices with at least one fault logged in the window), per community set or building."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domains.devices.models import Device
from app.platform.kpi import (
    Attention,
    Figure,
    Rolled,
    Rollup,
    Scope,
    Snapshot,
    Tile,
    TileData,
    month_sql,
    percent,
    read_rollup,
    read_snapshots,
    rollup_wanted,
)
from connectors.models import DeviceError


def health(session: Session, scope: Scope) -> dict:
    """Devices by status now, and how many logged a fault in ``[scope.start, scope.end)``."""
    where = [Device.community_id.in_(list(scope.community_ids))]
    if scope.building_id is not None:
        where.append(Device.building_id == scope.building_id)
    rolled = read_rollup(session, scope, "devices.faulted") if rollup_wanted(scope) else None
    snap = read_snapshots(session, scope, ("devices.now", "devices.now_faults")) if rolled is not None else None
    if snap is not None:  # company level: the flow's snapshot of the devices and their states
        import numpy as np

        now, faults = snap["devices.now"], snap["devices.now_faults"]
        by_status = {"online": now.a, "offline": now.b, "error": faults.n, "unknown": faults.a}
        failed = len(np.intersect1d(rolled.total.members, np.unique(now.members), assume_unique=True))
        return _health(by_status, now.n, failed) | {"as_of": min(rolled.as_of, now.as_of, faults.as_of)}
    by_status = _by_status(session, where)
    total = sum(by_status.values())
    if rolled is not None:
        import numpy as np

        ids = np.fromiter(session.scalars(select(Device.id).where(*where)), dtype="<i8")
        failed = len(np.intersect1d(rolled.total.members, ids, assume_unique=True))
        return _health(by_status, total, failed) | {"as_of": rolled.as_of}
    # one probe of the (device_id, at) index per device, however many events were logged
    faulted = select(DeviceError.id).where(DeviceError.device_id == Device.id, DeviceError.at >= scope.start,
                                           DeviceError.at < scope.end).exists()
    failed = session.scalar(select(func.count(Device.id)).where(*where, faulted)) or 0
    return _health(by_status, total, int(failed))


def _by_status(session: Session, where: list) -> dict[str, int]:
    return {s: int(n) for s, n in session.execute(
        select(Device.status, func.count(Device.id)).where(*where).group_by(Device.status))}


def _devices_snapshot(session: Session, community_id: int, now) -> Rolled:
    """A community's devices now: n devices, a online, b offline, members their ids."""
    where = [Device.community_id == community_id]
    by_status = _by_status(session, where)
    return Rolled(n=sum(by_status.values()), a=by_status.get("online", 0), b=by_status.get("offline", 0),
                  members=set(session.scalars(select(Device.id).where(*where))))


def _faults_snapshot(session: Session, community_id: int, now) -> Rolled:
    """A community's devices now: n reporting a fault, a not yet seen."""
    by_status = _by_status(session, [Device.community_id == community_id])
    return Rolled(n=by_status.get("error", 0), a=by_status.get("unknown", 0))


def _health(by_status: dict[str, int], total: int, failed: int) -> dict:
    online = by_status.get("online", 0)
    return {"devices": total, "online": online, "offline": by_status.get("offline", 0),
            "error": by_status.get("error", 0), "unknown": by_status.get("unknown", 0),
            "failed": int(failed), "online_rate": percent(online, total), "failure_rate": percent(int(failed), total)}


def _faulted_rollup(session: Session, scope: Scope) -> dict[str, Rolled]:
    """One community per local month: the devices (ids as keys) that logged a fault."""
    month = month_sql(scope, DeviceError.at)
    out: dict[str, Rolled] = {}
    for m, device_id in session.execute(
            select(month, DeviceError.device_id).join(Device, Device.id == DeviceError.device_id)
            .where(Device.community_id.in_(list(scope.community_ids)), DeviceError.at >= scope.start,
                   DeviceError.at < scope.end).group_by(month, DeviceError.device_id)):
        entry = out.setdefault(m, Rolled())
        entry.members.add(int(device_id))
        entry.n = len(entry.members)
    return out


def health_tile(session: Session, scope: Scope) -> TileData:
    h = health(session, scope)
    none = None if h["devices"] else "no devices registered"
    link = ("DeviceView.list", {})
    figures = [
        Figure("online_rate", _l("Devices online"), h["online_rate"], unit="percent", count=h["devices"],
               basis="devices", empty=none, numerator=h["online"], denominator=h["devices"],
               link=("DeviceView.list", {"_flt_0_status": "online"})),
        Figure("failure_rate", _l("Devices with a fault in the period"), h["failure_rate"], unit="percent",
               count=h["devices"], basis="devices", empty=none, numerator=h["failed"], denominator=h["devices"],
               link=link),
        Figure("offline", _l("Devices offline"), h["offline"], count=h["offline"],
               basis="devices", link=("DeviceView.list", {"_flt_0_status": "offline"})),
        Figure("error", _l("Devices reporting a fault"), h["error"], count=h["error"],
               basis="devices", link=("DeviceView.list", {"_flt_0_status": "error"})),
    ]
    labels = {"online": _l("Online"), "offline": _l("Offline"), "error": _l("Fault"), "unknown": _l("Not yet seen")}
    chart = {"kind": "pie", "unit": "count",
             "series": [{"name": str(labels[k]), "data": h[k]} for k in labels if h[k]]}
    return TileData(figures=figures, chart=chart, as_of=h.get("as_of"))


ROLLUPS = [Rollup("devices.faulted", _faulted_rollup)]
SNAPSHOTS = [Snapshot("devices.now", _devices_snapshot), Snapshot("devices.now_faults", _faults_snapshot)]
TILES = [Tile("devices.health", _l("Devices"), health_tile, module=None, order=30, per_building=True)]


def _today_offline(session: Session, community_id: int, now) -> Figure:
    n = session.scalar(select(func.count(Device.id)).where(
        Device.community_id == community_id, Device.status == "offline")) or 0
    return Figure("devices.offline", _l("Devices offline"), n, count=n, basis="devices",
                  link=("DeviceView.list", {"_flt_0_status": "offline"}))


TODAY = [Attention("devices.offline", _l("Devices offline"), _today_offline, order=30)]
