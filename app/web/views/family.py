"""Family members' logins acting for a household (a son paying and reporting for his elderly
mother), linked from a page instead of the ``estateflow resident link`` command.

The household's owner links a login by its username or mobile number at ``/me/family/`` and
removes it again; a manager (or the front desk) does the same for any household of their
communities at ``/family/``. Only resident logins can be linked; every change is audited.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Household
from app.domains.estate.residents import (
    FamilyLinkError,
    family_logins,
    find_login,
    link_login,
    require_household,
    unlink_login,
)
from app.platform.audit import record as audit
from app.security.roles import RESIDENT
from app.security.scope import visible_community_ids
from app.web.locale import current_locale

GRANTS = {
    "Resident": [["^(FamilyView)$", ".*"]],
    "Manager": [["^(FamilyDeskView)$", ".*"], ["^(family_desk)$", "^menu_access$"]],
    "FrontDesk": [["^(FamilyDeskView)$", ".*"], ["^(family_desk)$", "^menu_access$"]],
}
RELATIONS = {"family": {"zh": "家属", "en": "Family member"}, "child": {"zh": "子女", "en": "Son or daughter"},
             "carer": {"zh": "护工", "en": "Carer"}, "owner": {"zh": "户主", "en": "Owner"},
             "tenant": {"zh": "租户", "en": "Tenant"}}
LINKABLE = ("child", "family", "carer")


def relation_label(code: str) -> str:
    label = RELATIONS.get(code)
    return (label["en"] if current_locale() == "en" else label["zh"]) if label else code


def _link(household: Household, typed: str, relation: str) -> None:
    """Link the typed login to ``household`` (audited); ``FamilyLinkError`` says why not."""
    user = find_login(db.session, typed)
    if user is None:
        raise FamilyLinkError("not_found")
    if user.id == current_user.id:
        raise FamilyLinkError("self")
    if not any(r.name == RESIDENT for r in user.roles):
        raise FamilyLinkError("not_resident")
    if any(r.user_id == user.id for r in household.residents):
        raise FamilyLinkError("already")
    relation = relation if relation in LINKABLE else "family"
    resident = link_login(db.session, household=household, user_id=user.id,
                          name=(user.get_full_name() or user.username).strip(), relation=relation)
    audit(db.session, actor=current_user.username, action="household.family_link", target_type="household",
          target_id=household.id, community_id=household.community_id,
          after={"login": user.username, "relation": relation, "resident_id": resident.id})


def _unlink(household: Household, resident_id: int) -> None:
    resident = unlink_login(db.session, household=household, resident_id=resident_id)
    audit(db.session, actor=current_user.username, action="household.family_unlink", target_type="household",
          target_id=household.id, community_id=household.community_id,
          before={"resident_id": resident_id, "name": resident.name, "relation": resident.relation})


def _apply(household: Household, back: str):
    """The POST of either page: link (``login`` typed) or unlink (``resident_id``)."""
    try:
        if request.form.get("resident_id"):
            _unlink(household, request.form.get("resident_id", type=int) or 0)
            message = _("The login no longer acts for %(code)s.", code=household.code)
        else:
            _link(household, request.form.get("login", ""), request.form.get("relation", "family"))
            message = _("Linked: that login can now pay and report for %(code)s.", code=household.code)
        db.session.commit()
        flash(message, "success")
    except FamilyLinkError as err:
        db.session.rollback()
        flash(err.message(current_locale()), "danger")
    return redirect(back)


class FamilyView(BaseView):
    """The owner's page: who else may act for my household."""

    route_base = "/me/family"
    default_view = "index"

    def _owned(self) -> Household:
        household = require_household(db.session, current_user.id)
        if household is None:
            abort(404)
        return household

    def _is_owner(self, household: Household) -> bool:
        return any(r.user_id == current_user.id and r.relation == "owner" for r in household.residents)

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        household = self._owned()
        return self.render_template("family/family.html", household=household, owner=self._is_owner(household),
                                    logins=family_logins(db.session, household), relation=relation_label,
                                    linkable=LINKABLE, action=url_for("FamilyView.change"), resident_page=True)

    @expose("/", methods=["POST"])
    @has_access
    @permission_name("change")
    def change(self):
        household = self._owned()
        if not self._is_owner(household):
            abort(403)
        return _apply(household, url_for("FamilyView.index"))


class FamilyDeskView(BaseView):
    """Managers and the front desk: any household of their communities, by its code."""

    route_base = "/family"
    default_view = "index"

    def _household(self, code: str) -> Household | None:
        return db.session.scalar(select(Household).where(
            Household.code == code.strip(), Household.community_id.in_(visible_community_ids()))) if code else None

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        code = request.args.get("household", "")
        household = self._household(code)
        if code and household is None:
            flash(_("No household %(code)s in your communities.", code=code), "warning")
        return self.render_template(
            "family/family.html", household=household, owner=household is not None, code=code,
            logins=family_logins(db.session, household) if household else [], relation=relation_label,
            linkable=LINKABLE, action=url_for("FamilyDeskView.change", code=household.code) if household else "",
            resident_page=False)

    @expose("/<code>", methods=["POST"])
    @has_access
    @permission_name("change")
    def change(self, code: str):
        household = self._household(code)
        if household is None:
            abort(404)
        return _apply(household, url_for("FamilyDeskView.index", household=household.code))


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(FamilyView())
    appbuilder.add_view(FamilyDeskView, "family_desk", label=_l("Family logins"), icon="fa-users",
                        category="Estate", category_label=_l("Estate"))
