"""Arrears aging per household (欠费账龄): owner, phone (tap to call), owed by age, late fees and
the 催缴 action; Excel in the user's language. Accountant and manager; the regulator reads."""
from __future__ import annotations

from datetime import date

from flask import Response, abort, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l

from app import clock
from app.db import db
from app.domains.estate.models import Community
from app.domains.fees import aging
from app.domains.fees.money import yuan
from app.localtime import local_today
from app.security.scope import require_community
from app.web.locale import current_locale

_VIEW = "^(ArrearsView)$"
GRANTS = {"Accountant": [[_VIEW, ".*"]], "Manager": [[_VIEW, ".*"]], "Regulator": [[_VIEW, "^can_(index|export)$"]]}


def _args(community_id: int) -> tuple[Community, date, int, str | None]:
    require_community(community_id)
    community = db.session.get(Community, community_id) or abort(404)
    error = None
    try:
        as_of = date.fromisoformat(request.args.get("as_of") or local_today().isoformat())
    except ValueError:
        as_of, error = local_today(), "date"
    try:
        min_cents = max(0, round(float(request.args.get("min") or 0) * 100))
    except ValueError:
        min_cents, error = 0, "min"
    return community, as_of, min_cents, error


class ArrearsView(BaseView):
    route_base = "/fees/arrears"
    default_view = "index"

    @expose("/<int:community_id>/")
    @has_access
    def index(self, community_id: int):
        from flask_babel import gettext as _

        from app.platform.processes import module_enabled

        community, as_of, min_cents, error = _args(community_id)
        rows = aging.household_aging(db.session, community_id, as_of, min_cents)
        lang = current_locale()
        may_chase = (module_enabled(db.session, community_id, "dunning")
                     and self.appbuilder.sm.has_access("can_chase", "DunningView"))
        messages = {"date": _("Not a date; showing today."), "min": _("Not an amount; showing every household.")}
        return self.render_template(
            "fees/arrears.html", community=community, rows=rows, totals=aging.totals(rows), as_of=as_of,
            min_yuan=f"{min_cents / 100:.2f}" if min_cents else "", buckets=aging.BUCKETS, text=aging.text(lang),
            yuan=yuan, dunning_label=lambda r: aging.dunning_label(r, lang), may_chase=may_chase,
            dunning_on=module_enabled(db.session, community_id, "dunning"), error=messages.get(error),
            now=clock.now())

    @expose("/<int:community_id>/export.xlsx")
    @has_access
    def export(self, community_id: int):
        community, as_of, min_cents, _error = _args(community_id)
        lang = current_locale()
        name = (community.name_en or community.name) if lang == "en" else community.name
        data = aging.to_excel(aging.household_aging(db.session, community_id, as_of, min_cents), name, as_of, lang)
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition":
                                 f'attachment; filename="arrears-{community.code}-{as_of.isoformat()}.xlsx"'})


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ArrearsView())
