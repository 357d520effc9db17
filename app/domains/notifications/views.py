"""A user's in-app notifications (staff and residents alike)."""
from __future__ import annotations

from flask import redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_login import current_user

from app.db import db
from app.domains.notifications.delivery import community_notifications, inbox, mark_read

_ALL = "^(NotificationView)$"
# Everyone reads and marks read their own notifications (``read`` only touches the caller's rows);
# managers (and the admin, who has every permission) see the list of a community of theirs:
# every channel and recipient, including what ``notify.log`` published.
GRANTS = {role: [[_ALL, "^can_(index|read)$"]] for role in
          ("Manager", "Accountant", "Technician", "Guard", "FrontDesk", "Resident", "Consultant", "Regulator")}
GRANTS["Manager"] = [[_ALL, "^can_(index|read|community)$"]]


class NotificationView(BaseView):
    route_base = "/notifications"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        rows = inbox(db.session, current_user.id)
        return self.render_template("notifications.html", rows=rows)

    @expose("/community/<int:community_id>/")
    @has_access
    def community(self, community_id: int):
        from app.domains.estate.models import Community
        from app.security.scope import require_community

        require_community(community_id)
        rows = community_notifications(db.session, community_id)
        return self.render_template("notifications_community.html", rows=rows,
                                    community=db.session.get(Community, community_id))

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
