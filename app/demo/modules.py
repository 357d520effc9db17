"""Demo state for modules: what a newcomer should see moving in the first minute."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Community, ModuleActivation


def seed_module_demo(session: Session) -> None:
    """Enable the notice module in 怡翠花园 and leave one notice waiting for front desk."""
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog
    from app.services.processes import install_hooks, start_process
    from app.settings import get_settings

    install_hooks()
    catalog = load_catalog(get_settings().assets_dir)
    yc = session.scalar(select(Community).where(Community.code == "YC"))
    if yc is None or "notice" not in catalog.modules:
        return
    exists = session.scalar(select(ModuleActivation).where(
        ModuleActivation.community_id == yc.id, ModuleActivation.module_id == "notice"))
    if exists is not None:
        return
    enable_module(session, catalog=catalog, community_id=yc.id, module_id="notice", actor="demo")
    start_process(session, community_id=yc.id, process_id=_notice_process_id(session), actor="demo",
                  business_key="NOTICE-DEMO-1")
    session.flush()


def _notice_process_id(session: Session) -> str:
    from app.engine.models import ProcessVersion

    return session.scalar(select(ProcessVersion.process_id).where(ProcessVersion.module_id == "notice"))
