"""Which communities the current user may see — the one place isolation is decided.

Every list, detail, export and JSON endpoint filters with ``visible_community_ids``;
lookups by id go through ``require_community`` so a record of another community
answers 404 exactly like a record that does not exist (no existence leak).
"""
from __future__ import annotations

from flask import abort, g
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import db
from app.domains.estate.models import Community, UserCommunity
from app.security.roles import ADMIN


def is_platform_admin(user=None) -> bool:
    user = user or current_user
    return bool(user and user.is_authenticated and any(r.name == ADMIN for r in user.roles))


def community_ids_for_user(session: Session, user) -> list[int]:
    """All communities for a platform admin; otherwise the user's memberships."""
    if user is None or not user.is_authenticated:
        return []
    if is_platform_admin(user):  # every community but the studio's scratch one (test runs only)
        from app.studio.scratch import SCRATCH_COMMUNITY_CODE

        return list(session.scalars(select(Community.id).where(Community.code != SCRATCH_COMMUNITY_CODE)))
    from app.security import user_cache  # memberships move the user's security stamp

    return user_cache.communities(user.id, lambda: list(
        session.scalars(select(UserCommunity.community_id).where(UserCommunity.user_id == user.id))))


def visible_community_ids() -> list[int]:
    """Cached per request; used as FAB ``base_filters`` via FilterInFunction."""
    if "visible_community_ids" not in g:
        g.visible_community_ids = community_ids_for_user(db.session, request_user())
    return g.visible_community_ids


def request_user():
    """The signed-in user of this request: the session's, else the JWT's (FAB's ``protect``
    puts a Bearer token's user in ``g.user``; Flask-Login's ``current_user`` stays anonymous)."""
    if current_user and current_user.is_authenticated:
        return current_user
    user = g.get("user")
    return user if user is not None and getattr(user, "is_authenticated", False) else current_user


def require_community(community_id: int | None) -> int:
    """Abort with 404 unless the current user may see this community."""
    if community_id is None or community_id not in visible_community_ids():
        abort(404)
    return community_id
