"""The printable arrears notice (最后催告) staff print and deliver; door suspensions list."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.db import db
from app.domains.dunning.ladder import local_today
from app.domains.dunning.models import DoorSuspension
from app.domains.estate.models import Community, Household
from app.domains.fees import Bill, yuan
from app.security.scope import require_community, visible_community_ids

_ALL = "^(DunningView)$"
_READ = "^can_(notice|suspensions)$"  # grant reads by name
_CHASE = "^can_(notice|suspensions|chase)$"  # 催缴 from the arrears list (accountant, manager)
GRANTS = {"Manager": [[_ALL, _CHASE]], "FrontDesk": [[_ALL, _READ]], "Accountant": [[_ALL, _CHASE]],
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

    @expose("/chase/<int:community_id>/<int:household_id>", methods=["POST"])
    @has_access
    @permission_name("chase")
    def chase(self, community_id: int, household_id: int):
        """催缴 one household from the arrears list: start or advance its dunning, back to the list."""
        from flask_login import current_user

        from app.domains.dunning.chase import ChaseError, chase_household
        from app.web.locale import current_locale

        require_community(community_id)
        back = url_for("ArrearsView.index", community_id=community_id, as_of=request.form.get("as_of") or None)
        try:
            done = chase_household(db.session, community_id=community_id, household_id=household_id,
                                   actor=current_user.username)
            db.session.commit()
        except ChaseError as err:
            db.session.rollback()
            flash(err.message(current_locale()), "danger")
            return redirect(back)
        flash(_("Dunning started for %(started)s bill(s), reminder sent now for %(reminded)s bill(s).",
                started=len(done["started"]), reminded=len(done["reminded"])), "success")
        return redirect(back)


def register(appbuilder) -> None:
    appbuilder.add_view(DunningView, "door_suspensions", label=_l("Door suspensions"), icon="fa-lock",
                        category="Fees", category_label=_l("Fees"))
