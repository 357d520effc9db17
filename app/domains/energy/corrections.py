"""A derived month changed after the fact (a late reading re-derived it): what becomes of what
was already issued with the old figure.

Nothing issued is changed silently: a bill stays as issued (the resident has seen it, may have
paid it) and so does a 公摊 apportionment. The change is an audit row
(``energy.usage_corrected``: meter, month, old and new usage, the bills and apportionments
concerned) and, when a bill or an apportionment of that month exists, a message to the
community's accountants naming them, so the accountant issues the correction (a charge or a
refund of the difference) where it can be explained.
"""
from __future__ import annotations

import importlib
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.energy.models import EnergyApportionment, EnergyMeter
from app.domains.estate.models import Household
from app.localtime import local_format
from app.platform.audit import record

TEMPLATE = "energy.usage_corrected"


def _bills(session: Session, meter: EnergyMeter, period: str) -> list[str]:
    """Numbers of the monthly bills of ``period`` issued to the meter's household."""
    if meter.role != "household" or meter.unit_id is None:
        return []
    try:
        fees = importlib.import_module("app.domains.fees")
    except ImportError:
        return []
    bill = fees.Bill
    return list(session.scalars(select(bill.number).join(Household, Household.id == bill.household_id).where(
        Household.unit_id == meter.unit_id, bill.period == period, bill.kind == "monthly",
        bill.status != "cancelled").order_by(bill.number)))


def _apportioned(session: Session, meter: EnergyMeter, period: str) -> list[str]:
    return list(session.scalars(select(EnergyApportionment.scope_key).where(
        EnergyApportionment.community_id == meter.community_id, EnergyApportionment.period == period,
        EnergyApportionment.kind == meter.kind).order_by(EnergyApportionment.scope_key)))


def _text(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.normalize():f}"


def usage_changed(session: Session, changes: list[dict], read_at: dict[int, datetime]) -> list[dict]:
    """Record each changed month; tell the accountants where a bill or a 公摊 was already issued
    with the old usage. Returns the changes with ``bills`` and ``apportionments`` added."""
    from app.domains.notifications.delivery import notify
    from app.platform.module_settings import role_user_ids

    meters = {m.id: m for m in session.scalars(select(EnergyMeter).where(
        EnergyMeter.id.in_({c["meter_id"] for c in changes})))}
    out = []
    for change in changes:
        meter, period = meters[change["meter_id"]], change["period"]
        bills, shares = _bills(session, meter, period), _apportioned(session, meter, period)
        out.append({**change, "bills": bills, "apportionments": shares})
        record(session, actor="energy-monitor", action="energy.usage_corrected", target_type="energy_meter",
               target_id=meter.code, community_id=meter.community_id,
               before={"period": period, "usage": _text(change["before"])},
               after={"period": period, "usage": _text(change["after"]), "bills": bills,
                      "apportionments": shares, "reading_at": local_format(read_at.get(meter.id))})
        if not bills and not shares:
            continue  # nothing issued yet: the next bill or 公摊 reads the new figure
        issued = "、".join(bills + [f"公摊 {s}" for s in shares])
        notify(session, template=TEMPLATE, community_id=meter.community_id,
               user_ids=role_user_ids(session, meter.community_id, "accountant"),
               params={"meter": f"{meter.name}（{meter.code}）", "period": period, "unit": meter.unit,
                       "before": _text(change["before"]), "after": _text(change["after"]),
                       "at": local_format(read_at.get(meter.id)), "issued": issued})
    return out
