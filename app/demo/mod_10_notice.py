"""Demo: the notice module enabled in 怡翠花园 with one notice waiting for front desk."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.models import ProcessVersion
from app.models import Community, ModuleActivation
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.services.processes import start_process
from app.settings import get_settings


def seed(session: Session) -> None:
    catalog = load_catalog(get_settings().assets_dir)
    yc = session.scalar(select(Community).where(Community.code == "YC"))
    if yc is None or "notice" not in catalog.modules:
        return
    exists = session.scalar(select(ModuleActivation).where(
        ModuleActivation.community_id == yc.id, ModuleActivation.module_id == "notice"))
    if exists is not None:
        return
    enable_module(session, catalog=catalog, community_id=yc.id, module_id="notice", actor="demo")
    process_id = session.scalar(select(ProcessVersion.process_id).where(ProcessVersion.module_id == "notice"))
    start_process(session, community_id=yc.id, process_id=process_id, actor="demo", business_key="NOTICE-DEMO-1")
