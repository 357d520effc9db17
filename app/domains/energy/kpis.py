"""KPIs for the dashboard: public (shared) energy per month of a community."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.platform.kpi import Figure, Scope, Tile, TileData

from app.domains.energy.models import EnergyFinding, EnergyMeter, EnergyMonthlyUsage


def public_energy_by_month(session: Session, community_id: int, months: int = 12) -> list[dict]:
    """[{period, kind, unit, usage}] of public, lighting and master meters' derived usage,
    newest month last (only months already derived)."""
    rows = session.execute(
        select(EnergyMonthlyUsage.period, EnergyMeter.kind, EnergyMeter.unit, func.sum(EnergyMonthlyUsage.usage))
        .join(EnergyMeter, EnergyMeter.id == EnergyMonthlyUsage.meter_id)
        .where(EnergyMonthlyUsage.community_id == community_id, EnergyMeter.role.in_(("public", "lighting")))
        .group_by(EnergyMonthlyUsage.period, EnergyMeter.kind, EnergyMeter.unit)
        .order_by(EnergyMonthlyUsage.period.desc())).all()
    periods = sorted({r[0] for r in rows})[-months:]
    return [{"period": p, "kind": k, "unit": u, "usage": Decimal(v)} for p, k, u, v in rows if p in periods][::-1]


def open_findings_count(session: Session, community_id: int) -> int:
    return session.scalar(select(func.count(EnergyFinding.id)).where(
        EnergyFinding.community_id == community_id, EnergyFinding.status == "open")) or 0


# --- the dashboard tile -----------------------------------------------------------------------
def public_energy_tile(session: Session, scope: Scope) -> TileData:
    """Public (shared) energy per month over the dashboard's window, by kind (electricity,
    water: never added together), and the findings still open."""
    rows = session.execute(
        select(EnergyMonthlyUsage.period, EnergyMeter.kind, EnergyMeter.unit, func.sum(EnergyMonthlyUsage.usage))
        .join(EnergyMeter, EnergyMeter.id == EnergyMonthlyUsage.meter_id)
        .where(EnergyMonthlyUsage.community_id.in_(list(scope.community_ids)),
               EnergyMonthlyUsage.period.in_(list(scope.months)),
               EnergyMeter.role.in_(("public", "lighting")))
        .group_by(EnergyMonthlyUsage.period, EnergyMeter.kind, EnergyMeter.unit)).all()
    by_kind: dict[tuple[str, str], dict[str, Decimal]] = {}
    for period, kind, unit, usage in rows:
        by_kind.setdefault((kind, unit), {})[period] = Decimal(usage)
    open_findings = session.scalar(select(func.count(EnergyFinding.id)).where(
        EnergyFinding.community_id.in_(list(scope.community_ids)), EnergyFinding.status == "open")) or 0
    single = scope.single_community
    kinds = {"electricity": _l("Public electricity"), "water": _l("Public water")}
    figures = [Figure("energy.open_findings", _l("Energy findings open"), open_findings, count=open_findings,
                      basis=_l("findings"), link=("EnergyView.index", {}) if single else None)]
    figures.append(_outcome(session, scope, by_kind, single))
    last = scope.months[-1] if scope.months else None
    for (kind, unit), usage in sorted(by_kind.items()):
        value = usage.get(last)
        name = f"{kinds.get(kind, kind)} ({unit})"
        figures.append(Figure(f"energy.public.{kind}", name, value, unit="count", count=len(usage),
                              basis=_l("months with readings"),
                              empty=None if value is not None else _l("no readings derived for this month"),
                              link=("EnergyView.trends", {}) if single else None))
    chart = {"kind": "line", "x": list(scope.months),
             "series": [{"name": f"{kinds.get(kind, kind)} ({unit})",
                         "data": [float(usage[m]) if m in usage else None for m in scope.months]}
                        for (kind, unit), usage in sorted(by_kind.items())]} if by_kind else None
    note = None if by_kind else _l("no public meters with derived usage in this period")
    return TileData(figures=figures, chart=chart, note=note)


#: the renovation programmes' promise for public energy: 15–30% less after the renovation
SAVING_TARGET_PERCENT = (Decimal(15), Decimal(30))


def _outcome(session: Session, scope: Scope, by_kind: dict, single: int | None) -> Figure:
    """The audit pack's "public energy" outcome: public and lighting electricity per month
    (kWh) over the window's months with derived usage — a mean, so periods of different
    lengths compare — with the meter-months behind it."""
    usage = by_kind.get(("electricity", "kWh"), {})
    meter_months = 0
    if usage:
        meter_months = session.scalar(
            select(func.count(EnergyMonthlyUsage.id)).join(EnergyMeter, EnergyMeter.id == EnergyMonthlyUsage.meter_id)
            .where(EnergyMonthlyUsage.community_id.in_(list(scope.community_ids)),
                   EnergyMonthlyUsage.period.in_(list(scope.months)), EnergyMeter.kind == "electricity",
                   EnergyMeter.unit == "kWh", EnergyMeter.role.in_(("public", "lighting")))) or 0
    value = (sum(usage.values()) / len(usage)).quantize(Decimal("0.1")) if usage else None
    return Figure("energy.public_per_month", _l("Public electricity per month (kWh)"), value, unit="count",
                  count=meter_months, basis=_l("meter months"),
                  empty=None if usage else _l("no public electricity derived in this period"),
                  link=("EnergyView.trends", {}) if single else None, outcome="public_energy")


TILES = [Tile("energy.public", _l("Public energy"), public_energy_tile, module="energy", order=40)]
