"""Demo: security and visitors enabled in 怡翠花园 (YC) with a registered plate, a day of
hydrant readings (the chart), a handled alert, door events and a visitor pass for resident_yc."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.models import Community, Device, Household, ModuleActivation
from app.models.security import HydrantReading
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.settings import get_settings


def seed(session: Session) -> None:
    catalog = load_catalog(get_settings().assets_dir)
    yc = session.scalar(select(Community).where(Community.code == "YC"))
    if yc is None or not {"security", "visitors"} <= set(catalog.modules):
        return
    for module_id in ("security", "visitors"):
        exists = session.scalar(select(ModuleActivation).where(
            ModuleActivation.community_id == yc.id, ModuleActivation.module_id == module_id))
        if exists is None:
            enable_module(session, catalog=catalog, community_id=yc.id, module_id=module_id, actor="demo")
    from app.services import access_control, alerts, visitor_passes

    household = session.scalar(select(Household).where(Household.code == "YC-1-101"))
    if household is not None:
        alerts.register_plate(session, yc.id, household.id, "京A12345")
    hydrant = session.scalar(select(Device).where(Device.community_id == yc.id,
                                                  Device.profile == "hydrant_pressure_sensor"))
    now = clock.now().replace(microsecond=0)
    if hydrant is not None and session.scalar(select(HydrantReading.id).where(
            HydrantReading.device_id == hydrant.id).limit(1)) is None:
        for i in range(48):  # every 30 minutes for a day, with a dip in the night
            at = now - timedelta(minutes=30 * (48 - i))
            mpa = Decimal("0.31") + Decimal((i * 7) % 5) / 100 - (Decimal("0.12") if 10 <= i <= 12 else 0)
            session.add(HydrantReading(community_id=yc.id, device_id=hydrant.id, mpa=mpa, battery=88, at=at))
    door = session.scalar(select(Device).where(Device.community_id == yc.id, Device.profile == "door_controller"))
    if door is not None and household is not None and household.residents:
        card = household.residents[0].card_number or "C0001"
        for i, (cred, granted) in enumerate([(card, True), ("UNKNOWN-42", False), (card, True)]):
            access_control.record_door_event(session, community_id=yc.id, device=door, device_code=door.address,
                                             event_key=f"demo-{i}", credential=cred, method="card",
                                             granted=granted, at=now - timedelta(hours=3 - i))
        if not visitor_passes.passes_of_household(session, household.id):
            visitor_passes.invite(session, household=household, visitor_name="张阿姨（演示）",
                                  visitor_phone="13900000000", hours=24, entries=2, actor="demo")
    session.flush()
