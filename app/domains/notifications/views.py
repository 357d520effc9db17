"""A user's in-app notifications (staff and residents alike)."""
from __future__ import annotations

from flask import redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_login import current_user

from app.db import db
from app.domains.notifications.delivery import inbox, mark_read

_ALL = "^(NotificationView)$"
# Everyone reads and marks read their own notifications (``read`` only touches the caller's rows).
GRANTS = {role: [[_ALL, "^can_(index|read)$"]] for role in
          ("Manager", "Accountant", "Technician", "Guard", "FrontDesk", "Resident", "Consultant", "Regulator")}


class NotificationView(BaseView):
    route_base = "/notifications"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        rows = inbox(db.session, current_user.id)
        return self.render_template("notifications.html", rows=rows)

    @expose("/read", methods=["POST"])
    @has_access
    def read(self):
        mark_read(db.session, current_user.id)
        db.session.commit()
        return redirect(url_for("NotificationView.index"))


def register(appbuilder) -> None:
    from flask_babel import lazy_gettext as _l

    appbuilder.add_view(NotificationView, "notifications", label=_l("Notifications"), icon="fa-bell",
                        category="Work", category_label=_l("Work"))
