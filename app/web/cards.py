"""Inbox cards: what a person needs to act on a task from a phone, without opening it.

The engine knows a task's title, role and due time; the domain behind the task knows more (a
repair order's SLA deadline, address, the resident's phone, the first photo). Each domain may
offer ``task_cards(session, tasks, locale) -> {task id: {...}}`` in its ``cards.py`` (found by
name, ``app/platform/discovery.py``); the keys used are ``due_at`` (naive UTC), ``address``,
``phone``, ``photo`` (an upload sha256), ``summary`` and ``link`` (``{href, label}``: the page
the work is done on, e.g. a patrol run's page). ``overdue`` is computed here.
"""
from __future__ import annotations

import logging
from typing import Any

from app import clock
from app.platform.discovery import domain_parts

log = logging.getLogger(__name__)


def task_cards(session, tasks: list, locale: str) -> dict[int, dict[str, Any]]:
    cards: dict[int, dict[str, Any]] = {t.id: {"due_at": t.due_at} for t in tasks}
    for module in domain_parts("cards"):
        provider = getattr(module, "task_cards", None)
        if provider is None:
            continue
        try:
            for task_id, extra in provider(session, tasks, locale).items():
                card = cards.setdefault(task_id, {})
                card.update({k: v for k, v in extra.items() if v not in (None, "") or k not in card})
        except Exception:  # noqa: BLE001 - a card detail must never break the inbox
            log.exception("task cards of %s failed", module.__name__)
    now = clock.now()
    for card in cards.values():
        due = card.get("due_at")
        card["overdue"] = bool(due and due < now)
    return cards


def home_panels(session, role_keys: set[str], community_ids, locale: str) -> list[dict]:
    """Counters for the staff home (open alerts, visitors waiting …): each domain's
    ``home_panels(session, role_keys, community_ids, locale)`` in its ``cards.py``."""
    panels: list[dict] = []
    for module in domain_parts("cards"):
        provider = getattr(module, "home_panels", None)
        if provider is None:
            continue
        try:
            panels.extend(provider(session, role_keys, community_ids, locale))
        except Exception:  # noqa: BLE001 - a counter must never break the home page
            log.exception("home panels of %s failed", module.__name__)
    return panels


def pending_work() -> int | None:
    """The top bar's badge: open tasks for this user (claimed by them or waiting for their
    roles) in their communities; ``None`` for users without an inbox (residents)."""
    from flask import current_app
    from flask_login import current_user
    from sqlalchemy import and_, func, or_, select

    from app.db import db
    from app.engine.models import TaskRow
    from app.security.roles import role_keys_of
    from app.security.scope import visible_community_ids

    if not current_user.is_authenticated or not current_app.appbuilder.sm.has_access("can_index", "InboxView"):
        return None
    from app.web.views.inbox import PERSONAL_ROLES

    keys = role_keys_of([r.name for r in current_user.roles])
    if not keys - PERSONAL_ROLES:
        return None  # residents: their own steps are counted on their own pages (办事)
    roles = list(keys - PERSONAL_ROLES)
    return db.session.scalar(select(func.count(TaskRow.id)).where(
        TaskRow.community_id.in_(list(visible_community_ids())),
        or_(and_(TaskRow.status == "ready", TaskRow.role.in_(roles)),
            and_(TaskRow.status == "claimed", TaskRow.assignee == current_user.username)))) or 0


def task_detail(session, task, locale: str) -> dict[str, Any]:
    """What the task page shows of the record behind a task (a repair order's photos and
    timeline …): each domain's ``task_detail(session, task, locale)`` in its ``cards.py`` may
    answer ``{"photos": [{sha256, name}], "timeline": [{at, label, note}], "href", "link_label"}``
    or ``None`` when the task is not one of its records. The first answer wins."""
    for module in domain_parts("cards"):
        provider = getattr(module, "task_detail", None)
        if provider is None:
            continue
        try:
            detail = provider(session, task, locale)
        except Exception:  # noqa: BLE001 - a detail must never break the task page
            log.exception("task detail of %s failed", module.__name__)
            continue
        if detail:
            return detail
    return {}


def top_badges() -> list[dict]:
    """Small counters beside the pending-work badge (visitor requests about to expire …): each
    domain's ``top_badges(session, role_keys, community_ids, locale)`` in its ``cards.py``,
    answering ``[{id, count, label, href, icon}]``; only counts above zero are shown."""
    from flask_login import current_user

    from app.db import db
    from app.security.roles import role_keys_of
    from app.security.scope import visible_community_ids
    from app.web.locale import current_locale

    if not current_user.is_authenticated:
        return []
    keys = role_keys_of([r.name for r in current_user.roles])
    badges: list[dict] = []
    for module in domain_parts("cards"):
        provider = getattr(module, "top_badges", None)
        if provider is None:
            continue
        try:
            badges.extend(b for b in provider(db.session, keys, visible_community_ids(), current_locale())
                          if b.get("count"))
        except Exception:  # noqa: BLE001 - a badge must never break a page
            log.exception("top badges of %s failed", module.__name__)
    return badges
