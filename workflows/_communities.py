"""Which communities a module's flow works on: those with the module enabled, or only the named
ones among them (a module schedule passes its one community's code)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.modules.models import ModuleActivation


def enabled_community_ids(session: Session, module_id: str, codes: list[str] | None = None) -> list[int]:
    """Ids of the communities where ``module_id`` is on; ``codes``: only these (``[]``: none)."""
    query = select(ModuleActivation.community_id).where(
        ModuleActivation.module_id == module_id, ModuleActivation.enabled.is_(True))
    if codes is not None:
        from app.domains.estate.models import Community

        query = query.where(ModuleActivation.community_id.in_(
            select(Community.id).where(Community.code.in_(codes))))
    return list(session.scalars(query))
