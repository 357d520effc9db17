"""The home page of field staff on a phone: technicians, guards and front desk see their work.

A technician lands on the orders to do (due soonest first, overdue in red), a guard on the open
alerts, the front desk on visitors waiting and call-backs — not on module menus and imports.
Managers and administrators keep the community home (``home.html``).
"""
from __future__ import annotations

from flask_login import current_user

from app.db import db
from app.engine import list_inbox
from app.security.roles import FRONT_DESK, GUARD, TECHNICIAN, role_keys_of
from app.security.scope import visible_community_ids
from app.web.cards import home_panels, task_cards
from app.web.locale import current_locale

FIELD_ROLES = {TECHNICIAN, GUARD, FRONT_DESK}


def is_field_staff(user) -> bool:
    names = {r.name for r in user.roles}
    return bool(names) and names <= FIELD_ROLES


def render(view, communities):
    keys = role_keys_of([r.name for r in current_user.roles])
    ids = visible_community_ids()
    locale = current_locale()
    tasks = list_inbox(db.session, ids, keys, current_user.username, order="due", limit=30)
    mine = [t for t in tasks if t.assignee == current_user.username]
    waiting = [t for t in tasks if t.assignee != current_user.username]
    return view.render_template("staff_home.html", communities=communities, mine=mine, waiting=waiting,
                                cards=task_cards(db.session, tasks, locale),
                                panels=home_panels(db.session, keys, ids, locale), role_keys=keys)
