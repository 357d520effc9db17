"""Visitor pages: residents invite and see their passes with the QR code (phone first),
approve walk-ins; the front desk registers walk-in visitors; door controllers validate a
pass through ``POST /api/v1/access/validate``."""
from __future__ import annotations

import base64
from datetime import datetime

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.api import BaseApi
from flask_appbuilder.api import expose as api_expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Community, Household
from app.domains.estate.residents import require_household
from app.domains.visitors import passes as svc
from app.domains.visitors.models import VisitorPass
from app.domains.visitors.passes import local_time
from app.localtime import from_local
from app.platform.module_settings import module_settings
from app.security.http import public_base_url  # configured, never the request's Host
from app.security.scope import visible_community_ids
from app.web.locale import current_locale as _locale

GRANTS = {
    "Resident": [["^(VisitorResidentView)$", ".*"]],
    "FrontDesk": [["^(VisitorDeskView)$", ".*"], ["^(Visitors|visitors_desk)$", "^menu_access$"]],
    "Guard": [["^(VisitorDeskView)$", ".*"], ["^(Visitors|visitors_desk)$", "^menu_access$"]],
    "Manager": [["^(VisitorDeskView)$", ".*"], ["^(Visitors|visitors_desk)$", "^menu_access$"]],
    "Regulator": [["^(VisitorDeskView)$", "^can_index$"], ["^(Visitors|visitors_desk)$", "^menu_access$"]],
}


def _waiting_badge(session, household: Household) -> str | None:
    """The resident home's 访客 badge: walk-in visitors waiting for the host's answer."""
    from sqlalchemy import func

    count = session.scalar(select(func.count()).select_from(VisitorPass).where(
        VisitorPass.household_id == household.id, VisitorPass.status == "pending_approval"))
    return str(count) if count else None


RESIDENT_TILES = [{"module": "visitors", "endpoint": "VisitorResidentView.index",
                   "label": {"zh": "访客", "en": "Visitors"}, "icon": "fa-qrcode", "badge": _waiting_badge}]

STATUS_LABELS = {
    "active": _l("Valid"), "not_yet_valid": _l("Not yet valid"), "expired": _l("Expired"),
    "used_up": _l("Used up"), "pending_approval": _l("Waiting for approval"), "rejected": _l("Refused"),
    "revoked": _l("Cancelled"),
}



def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _datetime_local(value: str | None) -> datetime | None:
    """A ``datetime-local`` value typed in Beijing time → naive UTC."""
    if not value:
        return None
    try:
        return from_local(datetime.strptime(value, "%Y-%m-%dT%H:%M"))
    except ValueError:
        return None


class VisitorResidentView(BaseView):
    route_base = "/me/visitors"
    default_view = "index"

    def _household(self) -> Household:
        household = require_household(db.session, current_user.id)
        if household is None:
            abort(404)
        return household

    def _own_pass(self, pass_id: int) -> VisitorPass:
        household = self._household()
        vp = db.session.get(VisitorPass, pass_id)
        if vp is None or vp.household_id != household.id:
            abort(404)
        return vp

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self._index_page()

    @expose("/", methods=["POST"])
    @has_access
    @permission_name("invite")
    def invite(self):
        return self._index_page()

    def _index_page(self):
        household = self._household()
        settings = module_settings(db.session, household.community_id, "visitors")
        form, error = dict(request.form), None
        if request.method == "POST":
            try:
                vp = svc.invite(db.session, household=household, visitor_name=form.get("visitor_name", ""),
                                visitor_phone=form.get("visitor_phone"),
                                valid_from=_datetime_local(form.get("valid_from")),
                                hours=int(form.get("hours") or 0), entries=int(form.get("entries") or 0),
                                actor=current_user.username, plate=form.get("plate"))
                db.session.commit()
                return redirect(url_for("VisitorResidentView.show", pass_id=vp.id))
            except svc.PassError as exc:
                db.session.rollback()
                error = exc.message(_locale())
            except ValueError:
                db.session.rollback()
                error = _("Enter whole numbers for hours and entries.")
        passes = svc.passes_of_household(db.session, household.id)
        return self.render_template("visitors/resident.html", household=household, passes=passes, form=form,
                                    error=error, settings=settings, status=svc.effective_status,
                                    labels=STATUS_LABELS, local=local_time), (422 if error else 200)

    @expose("/pass/<int:pass_id>")
    @has_access
    def show(self, pass_id: int):
        vp = self._own_pass(pass_id)
        community = db.session.get(Community, vp.community_id)
        qr, share_url = None, None
        if vp.status == "active":
            token = svc.make_token(_secret(), vp, community.code)
            qr = base64.b64encode(svc.qr_png(token)).decode("ascii")
            share_url = f"{public_base_url()}{url_for('VisitorShareView.show', token=token)}"
        return self.render_template("visitors/pass.html", vp=vp, qr=qr, status=svc.effective_status(vp),
                                    labels=STATUS_LABELS, local=local_time, share_url=share_url,
                                    community=community)

    @expose("/pass/<int:pass_id>/token")
    @has_access
    def token(self, pass_id: int):
        """The token as text (what the QR code holds), for sharing by message."""
        vp = self._own_pass(pass_id)
        if vp.status != "active":
            abort(404)
        community = db.session.get(Community, vp.community_id)
        return svc.make_token(_secret(), vp, community.code), 200, {"Content-Type": "text/plain; charset=utf-8"}

    @expose("/pass/<int:pass_id>/decide", methods=["POST"])
    @has_access
    def decide(self, pass_id: int):
        vp = self._own_pass(pass_id)
        decision = request.form.get("decision")
        try:
            svc.host_decide(db.session, vp, decision, current_user.username)
            db.session.commit()
            flash(_("Thank you, the front desk has your answer."), "success")
        except (svc.PassError, ValueError) as exc:
            db.session.rollback()
            flash(exc.message(_locale()) if isinstance(exc, svc.PassError) else str(exc), "warning")
        return redirect(url_for("VisitorResidentView.index"))

    @expose("/pass/<int:pass_id>/revoke", methods=["POST"])
    @has_access
    def revoke(self, pass_id: int):
        vp = self._own_pass(pass_id)
        svc.revoke(db.session, vp, current_user.username)
        db.session.commit()
        return redirect(url_for("VisitorResidentView.index"))


class VisitorShareView(BaseView):
    """``/v/<token>``: what the host shares with the visitor (a link in a chat message): the QR
    code and the 6-digit code, no login. The signed token is the credential; the page shows
    nothing of the host household."""

    route_base = "/v"

    @expose("/<token>")
    def show(self, token: str):
        payload, _reason = svc.read_token(_secret(), token)
        vp = db.session.get(VisitorPass, payload["p"]) if payload else None
        if vp is None or vp.token_id != payload.get("t"):
            abort(404)
        community = db.session.get(Community, vp.community_id)
        status = svc.effective_status(vp)
        qr = base64.b64encode(svc.qr_png(token)).decode("ascii") if status in ("active", "not_yet_valid") else None
        return self.render_template("visitors/shared.html", vp=vp, qr=qr, status=status, labels=STATUS_LABELS,
                                    local=local_time, community=community)


class VisitorDeskView(BaseView):
    route_base = "/visitors"
    default_view = "index"

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self._index_page()

    @expose("/", methods=["POST"])
    @has_access
    @permission_name("register_walk_in")
    def register_walk_in(self):
        return self._index_page()

    def _index_page(self):
        ids = visible_community_ids()
        form, error = dict(request.form), None
        if request.method == "POST":
            code = (form.get("household_code") or "").strip()
            household = db.session.scalar(select(Household).where(Household.code == code,
                                                                  Household.community_id.in_(ids)))
            if household is None:
                error = _("No household %(code)s in your communities.", code=code)
            else:
                try:
                    vp = svc.register_walk_in(db.session, community_id=household.community_id,
                                              household_id=household.id, visitor_name=form.get("visitor_name", ""),
                                              visitor_phone=form.get("visitor_phone"),
                                              hours=int(form.get("hours") or 2), entries=1,
                                              actor=current_user.username, plate=form.get("plate"))
                    db.session.commit()
                    flash(_("Registered %(number)s; waiting for the host's approval.", number=vp.number), "success")
                    return redirect(url_for("VisitorDeskView.index"))
                except svc.PassError as exc:
                    db.session.rollback()
                    error = exc.message(_locale())
                except ValueError:
                    db.session.rollback()
                    error = _("Enter whole numbers for hours and entries.")
        households = {h.id: h.code for h in db.session.scalars(select(Household).where(
            Household.community_id.in_(ids)))}
        return self.render_template("visitors/desk.html", form=form, error=error, households=households,
                                    passes=svc.passes_of_communities(db.session, ids),
                                    checks=svc.recent_checks(db.session, ids, limit=30),
                                    status=svc.effective_status, labels=STATUS_LABELS,
                                    local=local_time), (422 if error else 200)


class AccessApi(BaseApi):
    """``POST /api/v1/access/validate``: a door controller asks whether a QR pass opens it.

    Body ``{"community": "YC", "device": "door-yc-1", "token": "..."}`` (or ``"code": "123456"``,
    the pass's 6-digit code typed on the door's keypad), header ``X-Device-Key``.
    Answers 200 ``{"ok": true, "credential": "pass:VP-..", ...}`` or ``{"ok": false, "reason": ...}``
    (the door stays shut); 400 for a body that is not a JSON object.
    """

    resource_name = "access"

    @api_expose("/validate", methods=["POST"])
    def validate(self):
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.response_400(message="expected a JSON object with community, device and token")
        result = svc.validate(db.session, secret=_secret(), community_code=str(body.get("community", "")),
                              device_id=str(body.get("device", "")),
                              token=str(body.get("token") or body.get("code") or ""),
                              key=request.headers.get("X-Device-Key"))
        db.session.commit()
        return self.response(200, **result.as_json())


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(VisitorResidentView())
    appbuilder.add_view_no_menu(VisitorShareView())
    appbuilder.add_view(VisitorDeskView, "visitors_desk", label=_l("Visitor registration"), icon="fa-user-plus",
                        category="Visitors", category_label=_l("Visitors"))
    appbuilder.add_api(AccessApi)
