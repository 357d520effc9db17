"""The manager's "today" home: what needs attention now in each of their communities —
overdue and unassigned orders, open incidents, devices offline, arrears over the attention
amount, tasks waiting for the manager, today's visitors — each a count linking to the list.

The counts come from the domains' ``kpis.TODAY`` (``app/platform/kpi.py``), only for the
modules enabled in that community. Managers and platform admins get this page; everyone
else keeps the plain home page.
"""
from __future__ import annotations

from app import clock
from app.db import db
from app.platform.kpi import today
from app.security.scope import is_platform_admin


def wants_today() -> bool:
    from app.web.views.inbox import user_role_keys

    return is_platform_admin() or "manager" in user_role_keys()


def render_today(view, communities):
    from app.web.views.dashboard import present

    now = clock.now()
    attention = {c.id: [present(f) for f in today(db.session, c.id, now)] for c in communities}
    counts = {c.id: sum(1 for f in attention[c.id] if f["text"] not in ("0", "—")) for c in communities}
    return view.render_template("today.html", communities=communities, attention=attention, counts=counts)
