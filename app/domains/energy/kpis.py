"""KPIs for the dashboard: public (shared) energy per month of a community."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
