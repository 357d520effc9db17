"""Demo state for modules: every domain's ``demo.py`` with ``seed(session)`` runs in order.

A domain's demo data (enabled modules, orders in every state, bills) lives beside its code;
``ORDER`` (default 100) says where it runs, so a domain that builds on another's demo data
(dunning on the fees demo's bills) runs after it. Nothing here names a domain.

Modules written only as data (no domain, no ``demo.py``) are enabled by ``demo.yaml``: a
community's ``modules:`` list, enabled after every domain's demo (so their dependencies are on).
"""
from __future__ import annotations

from sqlalchemy.orm import Session


def seed_module_demo(session: Session) -> None:
    from app.platform.discovery import domain_parts
    from app.platform.processes import install_hooks

    install_hooks()
    for module in sorted(domain_parts("demo"), key=lambda m: getattr(m, "ORDER", 100)):
        if hasattr(module, "seed"):
            module.seed(session)
            session.flush()
    enable_listed_modules(session)


def enable_listed_modules(session: Session) -> None:
    """Enable the data-only modules each community of ``demo.yaml`` lists under ``modules:``."""
    from app.assets.yaml_lines import load_yaml_file
    from app.demo.seed import DEMO_FILE

    for community in load_yaml_file(DEMO_FILE).get("communities", []):
        for module_id in community.get("modules", []):
            enable_for_demo(session, module_id, community["code"])
            session.flush()


def enable_for_demo(session: Session, module_id: str, community_code: str = "YC"):
    """The demo community with ``module_id`` enabled, and whether this call enabled it.

    ``(None, False)`` when the community or the module is missing (a trimmed catalogue). A
    module someone already has a row for (enabled or switched off on purpose) is left as it is.
    """
    from sqlalchemy import select

    from app.domains.estate.models import Community
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog
    from app.modules.models import ModuleActivation
    from app.settings import get_settings

    catalog = load_catalog(get_settings().assets_dir)
    community = session.scalar(select(Community).where(Community.code == community_code))
    if community is None or module_id not in catalog.modules:
        return None, False
    exists = session.scalar(select(ModuleActivation).where(
        ModuleActivation.community_id == community.id, ModuleActivation.module_id == module_id))
    if exists is not None:
        return community, False
    enable_module(session, catalog=catalog, community_id=community.id, module_id=module_id, actor="demo")
    return community, True
