"""Parking pages: the driver's ticket page (public, named by the QR code at the exit), the
exit screen, the gateway callback for tickets, the guards' board, the resident's permits and
charging on the phone, and the reports with Excel export. Views parse and render; the rules
live in ``tickets``, ``permits``, ``charging`` and ``reports``."""
from __future__ import annotations

import base64

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.domains.devices.models import Device
from app.domains.estate.models import Household
from app.domains.estate.residents import require_household
from app.domains.parking import charging as chg
from app.domains.parking import permits as pm
from app.domains.parking import reports as rp
from app.domains.parking import tickets as tk
from app.domains.parking.models import (
    ChargingSession,
    ParkingPermit,
    ParkingTicket,
    ParkingWaitlist,
    PlateEvent,
    PlateReview,
)
from app.localtime import local_format, local_today
from app.security.scope import require_community, visible_community_ids
from app.web.locale import current_locale as _locale

GRANTS = {
    "Resident": [["^(ParkingResidentView)$", ".*"]],
    "Guard": [["^(ParkingDeskView)$", "^can_(index|reports|export)$"], ["^(Parking|parking_desk)$", "^menu_access$"]],
    "Manager": [["^(ParkingDeskView)$", "^can_(index|reports|export)$"], ["^(Parking|parking_desk)$", "^menu_access$"],
                ["^(ParkingManageView)$", ".*"], ["^(parking_manage)$", "^menu_access$"]],
    "FrontDesk": [["^(ParkingManageView)$", ".*"], ["^(Parking|parking_manage)$", "^menu_access$"]],
    "Accountant": [["^(ParkingDeskView)$", "^can_(index|reports|export)$"], ["^(Parking|parking_desk)$", "^menu_access$"]],
    "Regulator": [["^(ParkingDeskView)$", "^can_(index|reports|export)$"], ["^(Parking|parking_desk)$", "^menu_access$"],
                  ["^(ParkingManageView)$", "^can_index$"], ["^(parking_manage)$", "^menu_access$"]],
}
RESIDENT_TILES = [{"module": "parking", "endpoint": "ParkingResidentView.index",
                   "label": {"zh": "停车与充电", "en": "Parking and charging"}, "icon": "fa-car"}]

TICKET_STATUS = {"parked": _l("Parked"), "awaiting_payment": _l("Waiting for payment"), "paid": _l("Paid"),
                 "exited": _l("Left"), "lost": _l("No exit read")}
GATE_STATUS = {"ok": _l("Gate opened"), "queued": _l("Gate offline: opening queued"), "failed": _l("Gate did not open"),
               "timeout": _l("Gate did not answer"), "no_gate": _l("No gate"),
               "sending": _l("Opening the gate")}
OUTCOMES = {"ticket": _l("Ticket issued"), "permit": _l("Permit holder"), "visitor": _l("Visitor pass"),
            "duplicate": _l("Read again (counted once)"), "fee_due": _l("Fee due"), "exit_free": _l("Left, nothing due"),
            "orphan_exit": _l("Exit without entry"), "low_confidence": _l("Plate read uncertain"),
            "malformed_plate": _l("Plate not readable"), "clock_skew": _l("Gate clock off"),
            "closed_entry": _l("Temporary cars may not enter"), "pending": _l("Pending")}
REVIEW_STATUS = {"open": _l("Waiting for a guard"), "opened": _l("Opened by a guard"), "charged": _l("Charged"),
                 "kept_closed": _l("Kept closed")}
PERMIT_KINDS = {"monthly": _l("Monthly"), "annual": _l("Annual")}
SPACE_KINDS = {"fixed": _l("Fixed space"), "shared": _l("Shared space")}
CHARGE_STATUS = {"starting": _l("Starting"), "charging": _l("Charging"), "finished": _l("Finished"),
                 "fault": _l("Charger fault"), "silent": _l("Charger stopped reporting")}
STOP_REASONS = {"resident": _l("Stopped by you"), "full": _l("Battery full"), "budget": _l("Budget reached"),
                "fault": _l("Charger fault"), "silent": _l("Charger stopped reporting")}
MODES = {"prepaid": _l("From my prepaid balance"), "bill": _l("Pay after (on my bill)")}


def _yuan(cents: int) -> str:
    from app.domains.fees import yuan

    return yuan(cents)


def _base_url() -> str:
    from app.security.http import public_base_url

    return public_base_url()


def _minutes(ticket: ParkingTicket) -> int | None:
    if ticket.exit_at is None:
        return None
    return max(0, int((ticket.exit_at - ticket.entry_at).total_seconds() // 60))


def _qr(text: str) -> str:
    from app.domains.parking.qr import qr_png

    return base64.b64encode(qr_png(text)).decode("ascii")


# --- the driver (public: the QR code at the exit names the ticket) ------------------------------
class ParkingDriverView(BaseView):
    route_base = "/parking/t"

    def _ticket(self, token: str) -> ParkingTicket:
        ticket = tk.ticket_by_token(db.session, token)
        if ticket is None:
            abort(404)
        return ticket

    @expose("/<token>")
    def ticket(self, token: str):
        ticket = self._ticket(token)
        return self.render_template("parking/ticket.html", ticket=ticket, yuan=_yuan, local=local_format,
                                    minutes=_minutes(ticket), status=TICKET_STATUS, gate=GATE_STATUS,
                                    cancelled=bool(request.args.get("cancelled")))

    @expose("/<token>/pay", methods=["POST"])
    def pay(self, token: str):
        ticket = self._ticket(token)
        gateway = _gateway()
        try:
            target = tk.start_payment(
                db.session, ticket,
                notify_url=f"{_base_url()}{url_for('ParkingNotifyView.notify', gateway=gateway)}",
                return_url=f"{_base_url()}{url_for('ParkingDriverView.ticket', token=token)}")
        except tk.TicketError:
            db.session.rollback()
            flash(_("Nothing is due on this ticket."), "info")
            return redirect(url_for("ParkingDriverView.ticket", token=token))
        except Exception as exc:  # noqa: BLE001 - the gateway is down: say so, keep the ticket as it was
            db.session.rollback()
            current_app.logger.warning("ticket %s: gateway refused: %s", ticket.number, exc)
            flash(_("The payment service is not available right now: %(error)s", error=str(exc)), "danger")
            return redirect(url_for("ParkingDriverView.ticket", token=token))
        db.session.commit()
        return redirect(target)

    @expose("/exit/<int:device_id>")
    def exit_screen(self, device_id: int):
        """What the exit's screen shows: the fee due and the QR code to pay it."""
        device = db.session.get(Device, device_id)
        if device is None or device.profile != "barrier_gate":
            abort(404)
        ticket = tk.due_at_gate(db.session, device)
        qr = url = None
        if ticket is not None:
            url = f"{_base_url()}{url_for('ParkingDriverView.ticket', token=ticket.pay_token)}"
            qr = _qr(url)
        return self.render_template("parking/exit_screen.html", device=device, ticket=ticket, qr=qr, url=url,
                                    yuan=_yuan)


def _gateway() -> str:
    from app.domains import fees

    return fees.default_gateway()


class ParkingNotifyView(BaseView):
    """Gateway callbacks for ticket orders (CSRF-exempt: authenticated by the signature)."""

    route_base = "/parking/notify"

    @expose("/<gateway>", methods=["POST"])
    def notify(self, gateway: str):
        from app.domains import fees

        body = request.get_data(cache=False)
        try:
            notice = tk.receive_notification(db.session, gateway, dict(request.headers), body,
                                             remote_addr=request.remote_addr)
            db.session.commit()
        except Exception:
            db.session.rollback()
            current_app.logger.exception("parking payment notification failed")
            return Response('{"code": "FAIL", "message": "internal error"}', status=500, mimetype="application/json")
        reply = fees.gateway_reply(gateway, notice)
        return Response(reply.body, status=reply.status, mimetype=reply.content_type)


# --- guards, managers, accountants: the board and the reports ---------------------------------------
class ParkingDeskView(BaseView):
    route_base = "/parking"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from app.domains.devices.registry import pending_commands

        ids = visible_community_ids()
        reviews = list(db.session.scalars(select(PlateReview).where(PlateReview.community_id.in_(ids))
                                          .order_by(PlateReview.id.desc()).limit(30)))
        events = list(db.session.scalars(select(PlateEvent).where(PlateEvent.community_id.in_(ids))
                                         .order_by(PlateEvent.id.desc()).limit(50)))
        due = list(db.session.scalars(select(ParkingTicket).where(
            ParkingTicket.community_id.in_(ids), ParkingTicket.status == "awaiting_payment")
            .order_by(ParkingTicket.exit_at.desc()).limit(30)))
        gates = list(db.session.scalars(select(Device).where(Device.community_id.in_(ids),
                                                              Device.profile == "barrier_gate").order_by(Device.code)))
        queued = {g.id: len(pending_commands(db.session, g)) for g in gates}
        names = {g.id: g.name for g in gates}
        return self.render_template("parking/desk.html", reviews=reviews, events=events, due=due, gates=gates,
                                    queued=queued, names=names, local=local_format, yuan=_yuan,
                                    outcomes=OUTCOMES, gate=GATE_STATUS, review_status=REVIEW_STATUS,
                                    status=TICKET_STATUS)

    def _community(self) -> int:
        ids = visible_community_ids()
        wanted = request.args.get("community", type=int) or (ids[0] if ids else None)
        return require_community(wanted)

    @expose("/reports")
    @has_access
    def reports(self):
        community_id = self._community()
        day = local_today()
        return self.render_template("parking/reports.html", community_id=community_id,
                                    report=rp.summary(db.session, community_id, day), yuan=_yuan, day=day)

    @expose("/reports.xlsx")
    @has_access
    def export(self):
        community_id = self._community()
        data = rp.export_excel(db.session, community_id, local_today())
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="parking-report.xlsx"'})


# --- the office: spaces, permits and the waiting list ------------------------------------------------
class ParkingManageView(BaseView):
    """Managers and the front desk manage one community's spaces, permits and waiting list
    (others of their communities by ``?community=``); every record is checked against the
    login's communities (404 otherwise); each change is audited by the service."""

    route_base = "/parking/manage"
    default_view = "index"

    def _community(self) -> int:
        ids = visible_community_ids()
        wanted = (request.values.get("community", type=int)) or (ids[0] if ids else None)
        return require_community(wanted)

    def _record(self, model, record_id: int):
        row = db.session.get(model, record_id)
        if row is None:
            abort(404)
        require_community(row.community_id)
        return row

    @expose("/")
    @has_access
    def index(self):
        return self._page(self._community())

    def _page(self, community_id: int, error: str | None = None, form: dict | None = None, status: int = 200):
        from app.domains.estate.models import Community
        from app.domains.parking.models import ParkingSpace

        ids = visible_community_ids()
        communities = list(db.session.scalars(select(Community).where(Community.id.in_(ids)).order_by(Community.code)))
        spaces = list(db.session.scalars(select(ParkingSpace).where(ParkingSpace.community_id == community_id)
                                         .order_by(ParkingSpace.code)))
        permits = list(db.session.scalars(select(ParkingPermit).where(
            ParkingPermit.community_id == community_id, ParkingPermit.status == "active")
            .order_by(ParkingPermit.ends_on, ParkingPermit.id).limit(200)))
        waiting = list(db.session.scalars(select(ParkingWaitlist).where(
            ParkingWaitlist.community_id == community_id, ParkingWaitlist.status == "waiting")
            .order_by(ParkingWaitlist.id)))
        homes = {h.id: h.code for h in db.session.scalars(select(Household).where(
            Household.id.in_({p.household_id for p in permits} | {w.household_id for w in waiting})))}
        return self.render_template("parking/manage.html", community_id=community_id, communities=communities,
                                    spaces=spaces, permits=permits, waiting=waiting, homes=homes,
                                    space_codes={s.id: s.code for s in spaces}, kinds=PERMIT_KINDS,
                                    space_kinds=SPACE_KINDS, error=error, form=form or {}, yuan=_yuan,
                                    local=local_format, today=local_today()), status

    def _done(self, community_id: int, message: str, category: str = "success"):
        db.session.commit()
        flash(message, category)
        return redirect(url_for("ParkingManageView.index", community=community_id))

    def _refused(self, community_id: int, exc) -> tuple:
        db.session.rollback()
        return self._page(community_id, exc.message(_locale()), dict(request.form), 422)

    @expose("/spaces", methods=["POST"])
    @has_access
    @permission_name("add_space")
    def add_space(self):
        from app.domains.parking import spaces as sp

        community_id = self._community()
        try:
            space = sp.add_space(db.session, community_id=community_id, code=request.form.get("code", ""),
                                 kind=request.form.get("kind", ""), has_charger=request.form.get("has_charger") == "1",
                                 actor=current_user.username)
        except sp.SpaceError as exc:
            return self._refused(community_id, exc)
        return self._done(community_id, _("Space %(code)s added.", code=space.code))

    @expose("/spaces/<int:space_id>/active", methods=["POST"])
    @has_access
    @permission_name("set_space_active")
    def set_space_active(self, space_id: int):
        from app.domains.parking import spaces as sp
        from app.domains.parking.models import ParkingSpace

        space = self._record(ParkingSpace, space_id)
        sp.set_space_active(db.session, space, request.form.get("active") == "1", current_user.username)
        return self._done(space.community_id, _("Space %(code)s updated.", code=space.code))

    @expose("/permits", methods=["POST"])
    @has_access
    @permission_name("create_permit")
    def create_permit(self):
        community_id = self._community()
        code = (request.form.get("household_code") or "").strip()
        household = db.session.scalar(select(Household).where(Household.code == code,
                                                              Household.community_id == community_id))
        if household is None:
            return self._page(community_id, _("No household %(code)s in this community.", code=code),
                              dict(request.form), 422)
        try:
            permit = pm.buy_permit(db.session, household=household, plate=request.form.get("plate", ""),
                                   kind=request.form.get("kind", ""), actor=current_user.username)
        except pm.PermitError as exc:
            if exc.code == "waiting":
                return self._done(community_id, exc.message(_locale()), "warning")
            return self._refused(community_id, exc)
        return self._done(community_id, _("Permit %(number)s for %(plate)s is valid until %(end)s; it is on the "
                                          "household's bill.", number=permit.number, plate=permit.plate,
                                          end=permit.ends_on.isoformat()))

    @expose("/permits/<int:permit_id>/cancel", methods=["POST"])
    @has_access
    @permission_name("cancel_permit")
    def cancel_permit(self, permit_id: int):
        permit = self._record(ParkingPermit, permit_id)
        try:
            granted = pm.cancel_permit(db.session, permit, current_user.username)
        except pm.PermitError as exc:
            return self._refused(permit.community_id, exc)
        message = _("Permit %(number)s cancelled.", number=permit.number)
        if granted is not None:
            message += " " + _("The space went to %(plate)s from the waiting list.", plate=granted.plate)
        return self._done(permit.community_id, message)

    @expose("/permits/<int:permit_id>/renew", methods=["POST"])
    @has_access
    @permission_name("renew_permit")
    def renew_permit(self, permit_id: int):
        permit = self._record(ParkingPermit, permit_id)
        try:
            renewed = pm.renew_permit(db.session, permit, current_user.username)
        except pm.PermitError as exc:
            if exc.code == "waiting":
                return self._done(permit.community_id, exc.message(_locale()), "warning")
            return self._refused(permit.community_id, exc)
        return self._done(permit.community_id, _("Permit %(number)s for %(plate)s is valid until %(end)s; it is on "
                                                 "the household's bill.", number=renewed.number, plate=renewed.plate,
                                                 end=renewed.ends_on.isoformat()))

    @expose("/permits/<int:permit_id>/space", methods=["POST"])
    @has_access
    @permission_name("assign_space")
    def assign_space(self, permit_id: int):
        permit = self._record(ParkingPermit, permit_id)
        try:
            pm.assign_space(db.session, permit, request.form.get("space_id", type=int), current_user.username)
        except pm.PermitError as exc:
            return self._refused(permit.community_id, exc)
        return self._done(permit.community_id, _("Space of %(plate)s updated.", plate=permit.plate))

    @expose("/waiting/<int:entry_id>/serve", methods=["POST"])
    @has_access
    @permission_name("serve_waiting")
    def serve_waiting(self, entry_id: int):
        entry = self._record(ParkingWaitlist, entry_id)
        try:
            permit = pm.serve_waiting(db.session, entry, current_user.username)
        except pm.PermitError as exc:
            return self._refused(entry.community_id, exc)
        return self._done(entry.community_id, _("Permit %(number)s for %(plate)s is valid until %(end)s; it is on "
                                                "the household's bill.", number=permit.number, plate=permit.plate,
                                                end=permit.ends_on.isoformat()))

    @expose("/waiting/<int:entry_id>/cancel", methods=["POST"])
    @has_access
    @permission_name("cancel_waiting")
    def cancel_waiting(self, entry_id: int):
        entry = self._record(ParkingWaitlist, entry_id)
        try:
            pm.cancel_waiting(db.session, entry, current_user.username)
        except pm.PermitError as exc:
            return self._refused(entry.community_id, exc)
        return self._done(entry.community_id, _("%(plate)s taken off the waiting list.", plate=entry.plate))


# --- residents: permits and charging on the phone --------------------------------------------------
class ParkingResidentView(BaseView):
    route_base = "/me/parking"
    default_view = "index"

    def _household(self) -> Household:
        household = require_household(db.session, current_user.id)
        if household is None:
            abort(404)
        return household

    @expose("/")
    @has_access
    def index(self):
        return self._page()

    def _page(self, error: str | None = None, form: dict | None = None, status: int = 200):
        household = self._household()
        permits = list(db.session.scalars(select(ParkingPermit).where(ParkingPermit.household_id == household.id)
                                          .order_by(ParkingPermit.id.desc()).limit(20)))
        waiting = list(db.session.scalars(select(ParkingWaitlist).where(
            ParkingWaitlist.household_id == household.id, ParkingWaitlist.status == "waiting")))
        sessions = list(db.session.scalars(select(ChargingSession).where(ChargingSession.household_id == household.id)
                                           .order_by(ChargingSession.id.desc()).limit(10)))
        chargers = chg.chargers(db.session, household.community_id)
        busy = set(db.session.scalars(select(ChargingSession.device_id).where(
            ChargingSession.community_id == household.community_id, ChargingSession.status.in_(chg.ACTIVE))))
        return self.render_template("parking/resident.html", household=household, permits=permits, waiting=waiting,
                                    sessions=sessions, chargers=chargers, busy=busy, error=error, form=form or {},
                                    kinds=PERMIT_KINDS, charge_status=CHARGE_STATUS, stop_reasons=STOP_REASONS,
                                    modes=MODES, yuan=_yuan, local=local_format,
                                    today=local_today()), status

    @expose("/permit", methods=["POST"])
    @has_access
    @permission_name("buy_permit")
    def buy_permit(self):
        household = self._household()
        try:
            permit = pm.buy_permit(db.session, household=household, plate=request.form.get("plate", ""),
                                   kind=request.form.get("kind", ""), actor=current_user.username)
        except pm.PermitError as exc:
            if exc.code == "waiting":
                db.session.commit()  # the place on the waiting list is what was asked for
                flash(exc.message(_locale()), "warning")
                return redirect(url_for("ParkingResidentView.index"))
            db.session.rollback()
            return self._page(exc.message(_locale()), dict(request.form), 422)
        db.session.commit()
        flash(_("Permit %(number)s for %(plate)s is valid until %(end)s; it is on your bill.", number=permit.number,
                plate=permit.plate, end=permit.ends_on.isoformat()), "success")
        return redirect(url_for("ParkingResidentView.index"))

    @expose("/charge", methods=["POST"])
    @has_access
    @permission_name("start_charging")
    def start_charging(self):
        from app.domains.fees import BadAmount, parse_yuan

        household = self._household()
        budget_text = (request.form.get("budget") or "").strip()
        try:
            budget = parse_yuan(budget_text) if budget_text else None
            cs = chg.start_session(db.session, household=household,
                                   device_id=request.form.get("charger_id", type=int) or 0,
                                   mode=request.form.get("mode", ""), budget_cents=budget,
                                   actor=current_user.username)
        except BadAmount:
            db.session.rollback()
            return self._page(_("Enter the budget in yuan, e.g. 20 or 20.50."), dict(request.form), 422)
        except chg.ChargingError as exc:
            db.session.rollback()
            return self._page(exc.message(_locale()), dict(request.form), 422)
        db.session.commit()
        flash(_("Charging started (%(number)s).", number=cs.number), "success")
        return redirect(url_for("ParkingResidentView.index"))

    @expose("/charge/<int:session_id>/stop", methods=["POST"])
    @has_access
    @permission_name("stop_charging")
    def stop_charging(self, session_id: int):
        household = self._household()
        cs = db.session.get(ChargingSession, session_id)
        if cs is None or cs.household_id != household.id:
            abort(404)
        try:
            chg.stop_session(db.session, cs, reason="resident", actor=current_user.username)
        except chg.ChargingError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "warning")
            return redirect(url_for("ParkingResidentView.index"))
        db.session.commit()
        flash(_("Charging stopped: %(kwh)s kWh, ¥%(fee)s.", kwh=cs.kwh, fee=_yuan(cs.fee_cents)), "success")
        return redirect(url_for("ParkingResidentView.index"))


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ParkingDriverView())
    appbuilder.add_view_no_menu(ParkingNotifyView())
    appbuilder.add_view_no_menu(ParkingResidentView())
    appbuilder.add_view(ParkingDeskView, "parking_desk", label=_l("Gates and tickets"), icon="fa-car",
                        category="Parking", category_label=_l("Parking"))
    appbuilder.add_view(ParkingManageView, "parking_manage", label=_l("Spaces and permits"), icon="fa-id-card",
                        category="Parking", category_label=_l("Parking"))
    csrf = current_app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(ParkingNotifyView.notify)
