"""Demo: energy enabled in 怡翠花园 (YC) with a week of hourly readings from the simulator's
patterns: a household meter leaking at night, a stuck meter, public lighting on all day,
and building 1's master water meter whose sub-meters leave a 12% loss; the nightly analysis
then shows each finding. A published month of public revenue for the residents."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.demo.modules import enable_for_demo
from app.domains.devices.models import Device
from app.domains.estate.models import Building, Household

ORDER = 60
DAYS = 8


def seed(session: Session) -> None:
    yc, _ = enable_for_demo(session, "energy")
    if yc is None:
        return
    from app.domains.energy.meters import register_meter
    from app.domains.energy.models import EnergyMeter

    if session.scalar(select(EnergyMeter.id).where(EnergyMeter.community_id == yc.id).limit(1)) is not None:
        return
    from connectors.simulators.meters import SimMeter

    building = session.scalar(select(Building).where(Building.community_id == yc.id).order_by(Building.id))
    homes = list(session.scalars(select(Household).where(Household.community_id == yc.id)
                                 .order_by(Household.code).limit(4)))
    if building is None or len(homes) < 3:
        return
    devices = {d.code: d for d in session.scalars(select(Device).where(Device.community_id == yc.id))}
    cid = yc.id
    master = register_meter(session, cid, "WM-1-MASTER", name="1号楼总水表", kind="water", role="master",
                            building_id=building.id)
    plan = []  # (meter, simulated pattern, scale)
    for i, hh in enumerate(homes[:3]):
        pattern = ("leak", "household", "stuck")[i]
        dev = devices.get(("WM-1-201", "WM-1-101", "WM-1-102")[i])
        meter = register_meter(session, cid, f"E-WM-{hh.code}", name=f"{hh.code} 水表", kind="water",
                               role="household", unit_id=hh.unit_id, building_id=building.id, master_id=master.id,
                               device_id=dev.id if dev is not None and i != 2 else None,
                               handheld=i == 2)  # an old mechanical meter, read by hand
        plan.append((meter, pattern, 1.0))
    pub = devices.get("EM-PUB-1")
    stair = register_meter(session, cid, "E-EM-PUB-1", name="1号楼楼道公共电表", kind="electricity", role="public",
                           building_id=building.id, device_id=pub.id if pub is not None else None)
    light = register_meter(session, cid, "E-EM-LIGHT", name="小区路灯电表", kind="electricity", role="lighting",
                           building_id=building.id)
    plan += [(stair, "household", 0.4), (light, "lighting_on", 1.0)]
    now = clock.now().replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=DAYS)
    from app.domains.energy.readings import Incoming, store

    sub_totals: dict[int, list[Decimal]] = {}
    from app.localtime import to_local

    for meter, pattern, scale in plan:
        sim = SimMeter(unit_id=1, profile="water_meter_dn20" if meter.kind == "water" else "electricity_meter_dds",
                       pattern=pattern, scale=scale, stuck_since=to_local(now - timedelta(hours=30)))
        # the simulator's day runs on local time (night use is low at local night)
        values = [sim.total_at(to_local(start + timedelta(hours=h))) for h in range(DAYS * 24 + 1)]
        if meter is stair:  # LED retrofit 4 days ago: 30% less from then on
            cut = (DAYS - 4) * 24
            led = SimMeter(unit_id=1, profile="electricity_meter_dds", pattern="household", scale=scale * 0.7)
            t_cut = to_local(start + timedelta(hours=cut))
            values = values[:cut + 1] + [values[cut] + led.total_at(to_local(start + timedelta(hours=h)))
                                         - led.total_at(t_cut) for h in range(cut + 1, DAYS * 24 + 1)]
        store(session, [Incoming(meter.id, start + timedelta(hours=h), v) for h, v in enumerate(values)])
        if meter.master_id == master.id:
            sub_totals[meter.id] = values
    # the master meter: the sub-meters' use plus 12% lost in the pipes
    base = [sum(vals[h] for vals in sub_totals.values()) for h in range(DAYS * 24 + 1)]
    store(session, [Incoming(master.id, start + timedelta(hours=h), Decimal("500") + (b - base[0]) / Decimal("0.88"))
                    for h, b in enumerate(base)])
    from app.domains.energy.findings import run_detection

    from app.domains.energy.measures import add_measure

    led_day = to_local(start + timedelta(days=DAYS - 4))
    add_measure(session, cid, stair.id, "1号楼楼道灯 LED 改造", led_day, "demo", days=3)
    run_detection(session, cid, now)  # derives the days (from the previous month on) and the months first
    _revenue(session, cid, now)
    session.flush()


def _revenue(session: Session, community_id: int, now) -> None:
    from app.domains.energy import revenue
    from app.domains.energy.periods import previous
    from app.localtime import to_local

    period = previous(f"{to_local(now):%Y-%m}")
    for direction, category, cents, text in (
            ("income", "parking", 1260000, "地面停车位月租 84 个"), ("income", "advertising", 300000, "电梯广告 2 部"),
            ("income", "charger", 45600, "充电桩服务费分成"), ("expense", "maintenance", 380000, "道闸与照明维修")):
        revenue.add_entry(session, community_id, period=period, direction=direction, category=category,
                          amount_cents=cents, description=text, evidence=None, actor="demo", source="demo")
    revenue.publish(session, community_id, period, actor="manager_yc")
