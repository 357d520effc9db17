"""公摊: a period's shared consumption split between households, exactly, in cents.

The shared quantity of a scope (the community, or one building when ``apportion_by_building``
is on) is the usage of its public meters (stairwells, pumps, lighting) plus, for each master
meter, the master's usage minus the sum of its sub-meters. Money = quantity × the module's
price, rounded half-up to the cent. The split follows ``apportionment_method`` (floor area,
per household, or the household's own usage) with the **largest-remainder rule**: every
household gets the floor of its exact share, and the cents left over go one each to the
largest fractional remainders, ties to the lowest household code — so the shares add up to
the total exactly. Sub-meters above their master (a negative shared part) are a finding for
the manager, never a negative share. One apportionment per community, period, kind and scope
(running it again changes nothing); the shares become charges of the fee item
``shared_energy`` that the month's billing run puts on the bill, each explained.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.energy.detection import Detected
from app.domains.energy.errors import EnergyError
from app.domains.energy.models import EnergyApportionment, EnergyMeter, EnergyShare
from app.domains.energy.monthly import month_usage
from app.domains.estate.models import Building, Household, Unit
from app.platform.audit import record
from app.platform.bulk import bulk_insert_dicts

FEE_ITEM = "shared_energy"
METHOD_LABELS = {"area": {"zh": "按建筑面积", "en": "by floor area"},
                 "household": {"zh": "按户均摊", "en": "per household"},
                 "usage": {"zh": "按用量", "en": "by usage"}}
KIND_LABELS = {"electricity": {"zh": "电", "en": "electricity"}, "water": {"zh": "水", "en": "water"}}


@dataclass
class ShareLine:
    household_id: int
    code: str
    basis: Decimal
    floor_cents: int
    extra_cent: int

    @property
    def cents(self) -> int:
        return self.floor_cents + self.extra_cent


@dataclass
class Plan:
    period: str
    kind: str
    scope_key: str
    scope_label: str
    building_id: int | None
    method: str
    quantity: Decimal
    price: Decimal
    total_cents: int
    inputs: dict
    shares: list[ShareLine] = field(default_factory=list)

    @property
    def basis_total(self) -> Decimal:
        """The shares' bases summed (once: every bill line's note quotes it)."""
        key = (id(self.shares), len(self.shares))
        if getattr(self, "_total_key", None) != key:
            self._total_key, self._total = key, sum((s.basis for s in self.shares), Decimal(0))
        return self._total


def largest_remainder(total_cents: int, bases: list[tuple[int, str, Decimal]]) -> list[ShareLine]:
    """Split ``total_cents`` in proportion to each (household id, code, basis): floors first,
    then one cent each to the largest remainders (ties: lowest code). Sums exactly."""
    if total_cents < 0:
        raise ValueError("a negative total is never shared")
    weight = sum((Fraction(b) for _, _, b in bases), Fraction(0))
    if weight <= 0:
        raise ValueError("the bases add up to nothing")
    lines, rests = [], []
    for household_id, code, basis in bases:
        exact = Fraction(total_cents) * Fraction(basis) / weight
        floor = exact.numerator // exact.denominator
        lines.append(ShareLine(household_id, code, Decimal(basis), floor, 0))
        rests.append(exact - floor)
    left = total_cents - sum(s.floor_cents for s in lines)
    order = sorted(range(len(lines)), key=lambda i: (-rests[i], lines[i].code))
    for i in order[:left]:
        lines[i].extra_cent = 1
    return lines


def _settings(session: Session, community_id: int) -> dict:
    from app.platform.module_settings import module_settings

    return module_settings(session, community_id, "energy")


def _households(session: Session, community_id: int, building_id: int | None) -> list[tuple]:
    q = (select(Household.id, Household.code, Unit.area_m2, Unit.id, Unit.building_id)
         .join(Unit, Household.unit_id == Unit.id)
         .where(Household.community_id == community_id, Household.active.is_(True)))
    if building_id is not None:
        q = q.where(Unit.building_id == building_id)
    return [tuple(r) for r in session.execute(q.order_by(Household.code)).all()]


def plan(session: Session, community_id: int, period: str, kind: str = "electricity", *,
         record_findings: bool = False) -> list[Plan]:
    """What would be apportioned. Writes nothing (the month's usage is the stored derived one,
    or computed in memory), unless ``record_findings``: then a month not yet derived is stored
    and sub-meters above their master are recorded as a finding (the issuing run does that)."""
    settings = _settings(session, community_id)
    usage = month_usage(session, community_id, period, store=record_findings)
    meters = [m for m in session.scalars(select(EnergyMeter).where(
        EnergyMeter.community_id == community_id, EnergyMeter.kind == kind, EnergyMeter.active.is_(True)))]
    by_building = bool(settings["apportion_by_building"])
    shared = [m for m in meters if m.role in ("public", "lighting")]
    masters = [m for m in meters if m.role == "master"]
    if by_building:
        for m in shared + masters:
            if m.building_id is None:
                raise EnergyError("no_building", meter=m.code)
        scopes = sorted({m.building_id for m in shared + masters})
    else:
        scopes = [None] if shared or masters else []
    price = Decimal(str(settings["electricity_price" if kind == "electricity" else "water_price"]))
    method = str(settings["apportionment_method"])
    plans = []
    for building_id in scopes:
        building = session.get(Building, building_id) if building_id else None
        scope_label = building.name if building else "全小区"
        in_scope = [m for m in shared if building_id is None or m.building_id == building_id]
        quantity = Decimal(0)
        inputs: dict = {"public": [], "masters": []}
        for m in in_scope:
            quantity += usage.get(m.id, Decimal(0))
            inputs["public"].append({"meter": m.code, "usage": str(usage.get(m.id, Decimal(0)))})
        for master in (m for m in masters if building_id is None or m.building_id == building_id):
            subs = [m for m in meters if m.master_id == master.id]
            sub_sum = sum((usage.get(s.id, Decimal(0)) for s in subs), Decimal(0))
            own = usage.get(master.id, Decimal(0))
            subs_public = sum((usage.get(s.id, Decimal(0)) for s in subs if s.role in ("public", "lighting")), Decimal(0))
            if sub_sum > own:
                if record_findings:
                    _negative_finding(session, community_id, master, period, own, sub_sum)
                raise EnergyError("negative_remainder", scope=scope_label, subs=sub_sum, master=own)
            remainder = own - sub_sum
            quantity += remainder
            inputs["masters"].append({"meter": master.code, "usage": str(own), "sub_meters": str(sub_sum),
                                      "remainder": str(remainder), "public_subs": str(subs_public)})
        homes = _households(session, community_id, building_id)
        if not homes:
            raise EnergyError("no_households")
        if method == "area":
            bases = [(h, c, Decimal(a)) for h, c, a, _, _ in homes]
        elif method == "household":
            bases = [(h, c, Decimal(1)) for h, c, _, _, _ in homes]
        else:
            own_use: dict[int, Decimal] = {}
            for m in meters:
                if m.role == "household" and m.unit_id is not None:
                    own_use[m.unit_id] = own_use.get(m.unit_id, Decimal(0)) + usage.get(m.id, Decimal(0))
            bases = [(h, c, own_use.get(u, Decimal(0))) for h, c, _, u, _ in homes]
            if sum(b for _, _, b in bases) <= 0:
                raise EnergyError("no_basis", period=period)
        total_cents = int((quantity * price * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        p = Plan(period, kind, f"building:{building.code}" if building else "community", scope_label, building_id,
                 method, quantity, price, total_cents, inputs)
        if total_cents > 0:
            p.shares = largest_remainder(total_cents, bases)
        plans.append(p)
    if not any(p.total_cents > 0 for p in plans):
        raise EnergyError("nothing_shared", period=period)
    return [p for p in plans if p.total_cents > 0]


def _negative_finding(session: Session, community_id: int, master: EnergyMeter, period: str,
                      own: Decimal, subs: Decimal) -> None:
    """Recorded in its own savepoint-free way: the caller's refusal must not undo it, so the
    view commits after the error (see ``views``); the service only adds it."""
    from app.domains.energy.findings import open_or_refresh

    open_or_refresh(session, community_id, Detected(
        "sub_above_master", f"sub_above_master:{master.id}:{period}", master.id, master.building_id,
        {"period": period, "master": str(own), "sub_meters": str(subs), "unit": master.unit}), clock.now())


def explain(p: Plan, s: ShareLine, unit: str) -> str:
    """The bill line's note: share, basis, total, rule (Chinese: the bill's language)."""
    basis_unit = {"area": "m²", "household": "户", "usage": unit}[p.method]
    extra = "，最大余数法 +0.01 元" if s.extra_cent else ""
    return (f"{p.period} {p.scope_label}公摊{KIND_LABELS[p.kind]['zh']} {p.quantity.normalize():f} {unit} × "
            f"{p.price.normalize():f} 元 = 总额 {Decimal(p.total_cents) / 100:.2f} 元；"
            f"{METHOD_LABELS[p.method]['zh']}：本户 {s.basis.normalize():f} {basis_unit} / 合计 "
            f"{p.basis_total.normalize():f} {basis_unit}；本户 {Decimal(s.cents) / 100:.2f} 元{extra}")


def existing(session: Session, community_id: int, period: str, kind: str) -> list[EnergyApportionment]:
    return list(session.scalars(select(EnergyApportionment).where(
        EnergyApportionment.community_id == community_id, EnergyApportionment.period == period,
        EnergyApportionment.kind == kind).order_by(EnergyApportionment.scope_key)))


def issue(session: Session, community_id: int, period: str, kind: str, actor: str) -> list[EnergyApportionment]:
    """Apportion the period and put the shares on the next bill (no commit). A period already
    apportioned raises ``already_apportioned`` and writes nothing."""
    done = existing(session, community_id, period, kind)
    if done:
        raise EnergyError("already_apportioned", period=period, kind=KIND_LABELS[kind]["zh"],
                          at=f"{done[0].created_at:%Y-%m-%d %H:%M}",
                          total=f"{Decimal(sum(a.total_cents for a in done)) / 100:.2f}")
    plans = plan(session, community_id, period, kind, record_findings=True)
    fees = importlib.import_module("app.domains.fees")
    unit = "kWh" if kind == "electricity" else "m³"
    rows = []
    for p in plans:
        row = EnergyApportionment(community_id=community_id, period=period, kind=kind, scope_key=p.scope_key,
                                  building_id=p.building_id, method=p.method, quantity=p.quantity, price=p.price,
                                  total_cents=p.total_cents, households=len(p.shares), inputs=p.inputs,
                                  created_by=actor, created_at=clock.now())
        session.add(row)
        session.flush()
        bulk_insert_dicts(session, EnergyShare.__table__, [  # COPY on PostgreSQL: 10,000 households at once
            {"apportionment_id": row.id, "household_id": s.household_id, "household_code": s.code,
             "basis": s.basis, "floor_cents": s.floor_cents, "extra_cent": s.extra_cent, "share_cents": s.cents}
            for s in p.shares])
        fees.add_period_charges(session, community_id=community_id, item=FEE_ITEM, period=period, actor=actor,
                                lines=[(s.household_id, s.cents, explain(p, s, unit)) for s in p.shares])
        record(session, actor=actor, action="energy.apportioned", target_type="energy_apportionment",
               target_id=f"{period}/{kind}/{p.scope_key}", community_id=community_id,
               after={"total_cents": p.total_cents, "households": len(p.shares), "method": p.method})
        rows.append(row)
    session.flush()
    return rows


def shares_of(session: Session, apportionment_id: int) -> list[EnergyShare]:
    return list(session.scalars(select(EnergyShare).where(EnergyShare.apportionment_id == apportionment_id)
                                .order_by(EnergyShare.household_code)))
