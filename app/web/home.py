"""The landing page: the communities a user may see and where to go next."""
from __future__ import annotations

from flask import redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Community
from app.security.scope import visible_community_ids


class HomeView(IndexView):
    index_template = "home.html"

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.__class__.__name__ + ".login"))
        if any(r.name == "Resident" for r in current_user.roles) and len(current_user.roles) == 1:
            return redirect(url_for("ResidentPortalView.index"))
        communities = list(
            db.session.scalars(
                select(Community).where(Community.id.in_(visible_community_ids())).order_by(Community.id)
            )
        )
        from app.web.today import render_today, wants_today

        if wants_today():  # managers and admins: what needs attention now (app/web/today.py)
            return render_today(self, communities)
        from app.web import staff_home

        if staff_home.is_field_staff(current_user):
            return staff_home.render(self, communities)
        return self.render_template(self.index_template, communities=communities)
