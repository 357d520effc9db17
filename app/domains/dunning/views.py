"""The printable arrears notice (最后催告) staff print and deliver; door suspensions list."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.db import db
from app.domains.dunning.ladder import local_today
from app.domains.dunning.models import DoorSuspension
from app.domains.estate.models import Community, Household
from app.domains.fees import Bill, yuan
from app.security.scope import require_community, visible_community_ids

_ALL = "^(DunningView)$"
_READ = "^can_(notice|suspensions)$"  # the module has no write route; grant reads by name
GRANTS = {"Manager": [[_ALL, _READ]], "FrontDesk": [[_ALL, _READ]], "Accountant": [[_ALL, _READ]],
          "Regulator": [[_ALL, _READ]]}


class DunningView(BaseView):
    route_base = "/dunning"
    default_view = "suspensions"

    @expose("/notice/<bill_number>")
    @has_access
    def notice(self, bill_number: str):
        bill = db.session.scalar(select(Bill).where(Bill.number == bill_number))
        if bill is None:
            abort(404)
        require_community(bill.community_id)
        return self.render_template("payments/dunning_notice.html", bill=bill,
                                    household=db.session.get(Household, bill.household_id),
                                    community=db.session.get(Community, bill.community_id),
                                    today=local_today(), days=(local_today() - bill.due_date).days, yuan=yuan)

    @expose("/suspensions")
    @has_access
    def suspensions(self):
        rows = list(db.session.scalars(select(DoorSuspension).where(
            DoorSuspension.community_id.in_(visible_community_ids())).order_by(DoorSuspension.id.desc()).limit(200)))
        homes = {h.id: h for h in db.session.scalars(select(Household).where(
            Household.id.in_([r.household_id for r in rows])))} if rows else {}
        return self.render_template("payments/suspensions.html", rows=rows, homes=homes)


def register(appbuilder) -> None:
    appbuilder.add_view(DunningView, "door_suspensions", label=_l("Door suspensions"), icon="fa-lock",
                        category="Fees", category_label=_l("Fees"))
