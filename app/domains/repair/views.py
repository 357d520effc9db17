"""Repair pages: residents report and follow their orders on a phone; staff see orders,
their timeline and SLA state; managers reassign with a reason; a KPI page with Excel export.

Views parse the request and render; the rules live in app/domains/repair/orders.py,
dispatch.py and kpi_repair.py. Technician work happens in the inbox (/inbox/).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from app import clock
from app.db import db
from app.domains.estate.models import Community, Household, Staff, StaffCommunity
from app.domains.estate.residents import households_of_user, require_household
from app.domains.repair import (
    kpis as kpi_repair,
)
from app.domains.repair import (
    orders as repair_orders,
)
from app.domains.repair import (
    settings as repair_settings,
)
from app.domains.repair.dispatch import DispatchError, reassign
from app.domains.repair.models import RepairDispatch, RepairOrder
from app.domains.repair.orders import RepairError
from app.engine.models import ProcessInstance
from app.forms import jsonable, parse_submission, render_form
from app.localtime import local_format
from app.platform.processes import module_enabled
from app.platform.uploads import grant_uploads
from app.security.scope import (
    is_platform_admin,
    require_community,
    visible_community_ids,
)
from app.web.locale import current_locale as _locale
from app.web.views.uploads import check_form_uploads



def _open_orders_badge(session, household: Household) -> str | None:
    """The resident home's 报修 badge: orders still open (or with a quote to answer)."""
    from sqlalchemy import func, or_

    from app.domains.repair.models import ACTIVE_STATUSES

    count = session.scalar(select(func.count()).select_from(RepairOrder).where(
        RepairOrder.household_id == household.id,
        or_(RepairOrder.status.in_(ACTIVE_STATUSES), RepairOrder.quote_status == "pending")))
    return str(count) if count else None


RESIDENT_TILES = [{"module": "repair", "endpoint": "RepairResidentView.index",
                   "label": {"zh": "报修", "en": "Repairs"}, "icon": "fa-wrench", "badge": _open_orders_badge}]

_STAFF_READ = "^(can_index|can_show|can_kpi|can_export)$"
GRANTS = {
    "Manager": [["^(RepairOrderView|RepairKpiView)$", ".*"]],
    "FrontDesk": [["^(RepairOrderView|RepairKpiView)$", _STAFF_READ]],
    "Technician": [["^(RepairOrderView)$", "^(can_index|can_show)$"]],
    "Resident": [["^(RepairResidentView)$", ".*"]],
    "Regulator": [["^(RepairOrderView|RepairKpiView)$", _STAFF_READ]],
}

STATUS_LABELS = {
    "reported": _l("Reported"), "unassigned": _l("Waiting for dispatch"), "dispatched": _l("Dispatched"),
    "accepted": _l("Accepted"), "on_site": _l("Technician on site"), "completed": _l("Done, please confirm"),
    "confirmed": _l("Confirmed"), "closed": _l("Order closed"), "cancelled": _l("Cancelled"),
}
EVENT_LABELS = {
    "reported": _l("Reported"), "dispatched": _l("Dispatched to a technician"),
    "unassigned": _l("No technician available: waiting for the manager"),
    "declined": _l("Declined by the technician"), "reassigned": _l("Reassigned"),
    "accepted": _l("Accepted"), "arrived": _l("Technician on site"), "completed": _l("Work completed"),
    "charged": _l("Charged to the household"), "confirmed": _l("Confirmed and rated"),
    "auto_confirmed": _l("Confirmed automatically (no answer)"), "reopened": _l("Reopened"),
    "followed_up": _l("Manager followed up"), "called_back": _l("Front desk called back"),
    "closed": _l("Order closed"), "resolved": _l("Closed: the cause went away by itself"),
    "resolved_note": _l("Note: the cause went away by itself"), "escalated_reminded": _l("Technician reminded"),
    "quoted": _l("Quote sent to the resident"), "quote_accepted": _l("Quote accepted by the resident"),
    "quote_declined": _l("Quote declined by the resident"), "quote_waived": _l("Charge waived"),
    "quote_reminded": _l("Resident reminded to answer the quote"),
    "quote_unanswered": _l("Quote not answered: passed to the manager"),
    "escalated_manager": _l("Response limit passed: escalated to the manager"),
    "escalated_company": _l("Escalated to the property company"),
    "escalated_resolution": _l("Resolution limit passed: escalated to the manager"),
}
QUOTE_LABELS = {"pending": _l("Waiting for the resident"), "accepted": _l("Quote accepted"),
                "declined": _l("Quote declined"), "waived": _l("Charge waived")}
SLA_LABELS = {"met": _l("met"), "breached": _l("late"), "pending": _l("running"), "overdue": _l("overdue"),
              "none": "—"}



def _local(at: datetime | None) -> str:
    """Stored times are UTC; people here read Beijing time."""
    return local_format(at)


def _helpers() -> dict:
    locale = _locale()
    return {"status_label": lambda s: STATUS_LABELS.get(s, s), "event_label": lambda k: EVENT_LABELS.get(k, k),
            "sla_label": lambda s: SLA_LABELS.get(s, s), "local": _local,
            "category_label": lambda c: repair_settings.category_label(c, locale),
            "yuan": lambda cents: f"{(cents or 0) / 100:.2f}", "quote_label": lambda q: QUOTE_LABELS.get(q, "")}


def _report_form():
    from app.web.catalog import get_forms

    return get_forms().get("repair/report")


def _confirm_form():
    from app.web.catalog import get_forms

    return get_forms().get("repair/confirm")


# --------------------------------------------------------------------------- resident pages


class RepairResidentView(BaseView):
    route_base = "/me/repairs"
    default_view = "index"

    def _household(self):
        households = households_of_user(db.session, current_user.id)
        if not households:
            abort(404)
        if not module_enabled(db.session, households[0].community_id, "repair"):
            abort(404)
        return households

    @expose("/")
    @has_access
    def index(self):
        households = self._household()
        orders = repair_orders.orders_of_households(db.session, [h.id for h in households])
        return self.render_template("repair/resident_list.html", orders=orders, **_helpers())

    @expose("/new", methods=["GET"])
    @has_access
    def new(self):
        return self._new_page()

    @expose("/new", methods=["POST"])
    @has_access
    @permission_name("report")
    def report(self):
        return self._new_page()

    def _new_page(self):
        households = self._household()
        household_id = request.args.get("household", type=int)
        household = require_household(db.session, current_user.id, household_id) or households[0]
        locale = _locale()
        form = _report_form()
        token = request.args.get("t") or repair_orders.new_token()
        values, errors = None, {}
        if request.method == "POST":
            stored: list[dict] = []
            data, errors, raw = parse_submission(form, request.form, request.files, session=db.session,
                                                 community_id=household.community_id, locale=locale,
                                                 on_store=stored.append)
            data, errors = check_form_uploads(data, errors, raw, stored, scope=f"form:{form.id}",
                                              community_id=household.community_id)
            values = raw
            if not errors:
                try:
                    own_ids = {h.id for h in households}
                    grant_uploads(db.session, jsonable(data), household.community_id, current_user.username,
                                  household_id=household_id if household_id in own_ids else household.id)
                    order = repair_orders.create_order(
                        db.session, community_id=household.community_id, data=jsonable(data),
                        actor=current_user.username, user_id=current_user.id,
                        household_id=household_id, token=token)
                    db.session.commit()
                    flash(_("Your repair was received: order %(number)s", number=order.number), "success")
                    return redirect(url_for("RepairResidentView.order", number=order.number))
                except RepairError as err:
                    db.session.rollback()
                    if err.code == "duplicate":
                        flash(err.message(locale), "warning")
                        return redirect(url_for("RepairResidentView.order", number=err.params["number"]))
                    errors = {"_form": [err.message(locale)]}
        html = render_form(form, values=values, errors=errors, locale=locale,
                           action_url=url_for("RepairResidentView.new", t=token, household=household_id),
                           csrf_token=generate_csrf(), upload_url="/uploads/{sha256}",
                           static_url=url_for("static", filename="forms"))
        return self.render_template("repair/resident_new.html", form_html=html,
                                    household=household), (422 if errors else 200)

    @expose("/order/<number>", methods=["GET"])
    @has_access
    def order(self, number: str):
        return self._order_page(number)

    @expose("/order/<number>", methods=["POST"])
    @has_access
    @permission_name("respond")
    def respond(self, number: str):
        return self._order_page(number)

    @expose("/order/<number>/quote", methods=["POST"])
    @has_access
    @permission_name("quote")
    def quote(self, number: str):
        """The resident accepts the repair quote (then it is billed) or declines it with a reason."""
        households = self._household()
        order = repair_orders.get_order(db.session, number)
        if order is None or order.household_id not in {h.id for h in households}:
            abort(404)
        accept = request.form.get("decision") == "accept"
        try:
            repair_orders.decide_quote(db.session, order, user_id=current_user.id, username=current_user.username,
                                       accept=accept, reason=request.form.get("reason", ""))
            db.session.commit()
        except RepairError as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
            return redirect(url_for("RepairResidentView.order", number=number, reason=request.form.get("reason", "")))
        flash(_("Thank you: the charge goes on your bill.") if accept else
              _("Your answer was sent to the technician and the manager; they will contact you."), "success")
        return redirect(url_for("RepairResidentView.order", number=number))

    def _order_page(self, number: str):
        households = self._household()
        order = repair_orders.get_order(db.session, number)
        if order is None or order.household_id not in {h.id for h in households}:
            abort(404)
        locale = _locale()
        form = _confirm_form()
        values, errors = None, {}
        if request.method == "POST":
            stored: list[dict] = []
            data, errors, raw = parse_submission(form, request.form, request.files, session=db.session,
                                                 community_id=order.community_id, locale=locale,
                                                 on_store=stored.append)
            data, errors = check_form_uploads(data, errors, raw, stored, scope=f"form:{form.id}:{order.number}",
                                              community_id=order.community_id)
            values = raw
            if not errors:
                try:
                    repair_orders.resident_respond(db.session, order, user_id=current_user.id,
                                                   username=current_user.username, data=jsonable(data))
                    db.session.commit()
                    flash(_("Thank you: your answer was saved."), "success")
                    return redirect(url_for("RepairResidentView.order", number=number))
                except RepairError as err:
                    db.session.rollback()
                    errors = {"_form": [err.message(locale)]}
        can_respond = order.status == "completed" and repair_orders.open_confirm_task(db.session, order) is not None
        confirm_html = None
        if can_respond:
            confirm_html = render_form(form, values=values, errors=errors, locale=locale,
                                       action_url=url_for("RepairResidentView.order", number=number),
                                       csrf_token=generate_csrf(), static_url=url_for("static", filename="forms"))
        return self.render_template(
            "repair/resident_order.html", order=order, events=repair_orders.timeline(db.session, order),
            location=repair_orders.location_text(db.session, order, locale), confirm_html=confirm_html,
            technician=_technician(order), decline_reason=request.args.get("reason", ""),
            **_helpers()), (422 if errors else 200)


def _reported_window() -> tuple[datetime, datetime] | None:
    """``reported_from``/``reported_to`` (local dates, the second exclusive) → UTC bounds."""
    from datetime import date

    from app.localtime import from_local

    try:
        first = date.fromisoformat(request.args.get("reported_from") or "")
        last = date.fromisoformat(request.args.get("reported_to") or "")
    except ValueError:
        return None
    return (from_local(datetime(first.year, first.month, first.day)),
            from_local(datetime(last.year, last.month, last.day)))


def _technician(order: RepairOrder) -> Staff | None:
    return db.session.get(Staff, order.technician_id) if order.technician_id else None


# --------------------------------------------------------------------------- staff pages


def _open_tasks(instance: ProcessInstance | None) -> list:
    """The order's open steps this user may act on (a manager's manual dispatch, say): the
    order page links each one, so nobody hunts for it in the inbox."""
    if instance is None:
        return []
    from app.engine.models import TaskRow
    from app.web.views.inbox import user_role_keys

    roles = user_role_keys()
    rows = db.session.scalars(select(TaskRow).where(TaskRow.instance_id == instance.id,
                                                    TaskRow.status.in_(("ready", "claimed"))).order_by(TaskRow.id))
    return [t for t in rows if t.assignee == current_user.username or (t.status == "ready" and t.role in roles)
            or is_platform_admin()]


def _is_manager() -> bool:
    from app.web.views.inbox import user_role_keys

    return is_platform_admin() or "manager" in user_role_keys()


def _may_reassign() -> bool:
    from flask import current_app

    return current_app.appbuilder.sm.has_access("can_reassign", "RepairOrderView")


def _only_own_orders() -> bool:
    from app.web.views.inbox import user_role_keys

    keys = user_role_keys()
    return not is_platform_admin() and "technician" in keys and not keys & {"manager", "front_desk", "regulator"}


class RepairOrderView(BaseView):
    route_base = "/repairs"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        status = request.args.get("status") or ""
        query = select(RepairOrder).where(RepairOrder.community_id.in_(visible_community_ids()))
        if status:
            query = query.where(RepairOrder.status == status)
        community_id = request.args.get("community_id", type=int)
        if community_id:
            query = query.where(RepairOrder.community_id == community_id)
        window = _reported_window()
        if window:
            query = query.where(RepairOrder.reported_at >= window[0], RepairOrder.reported_at < window[1])
        state = request.args.get("state") or ""
        if state in ("open", "overdue"):  # the dashboard's numbers link here
            query = query.where(kpi_repair.backlog_filter(state, clock.now()))
        if _only_own_orders():
            query = query.where(RepairOrder.technician_username == current_user.username)
        orders = list(db.session.scalars(query.order_by(RepairOrder.id.desc()).limit(300)))
        return self.render_template("repair/orders.html", orders=orders, status=status, state=state,
                                    window=(request.args.get("reported_from"), request.args.get("reported_to"))
                                    if window else None,
                                    statuses=list(STATUS_LABELS), sla=repair_orders.sla_state, **_helpers())

    def _order(self, order_id: int) -> RepairOrder:
        order = db.session.get(RepairOrder, order_id)
        if order is None:
            abort(404)
        require_community(order.community_id)
        if _only_own_orders() and order.technician_username != current_user.username:
            abort(404)
        return order

    @expose("/show/<int:order_id>")
    @has_access
    def show(self, order_id: int):
        order = self._order(order_id)
        locale = _locale()
        household = db.session.get(Household, order.household_id) if order.household_id else None
        dispatches = list(db.session.scalars(select(RepairDispatch).where(RepairDispatch.order_id == order.id)
                                             .order_by(RepairDispatch.id)))
        staff_names = dict(db.session.execute(select(Staff.id, Staff.name)).all())
        technicians = []
        if _is_manager():
            technicians = list(db.session.scalars(
                select(Staff).join(StaffCommunity, StaffCommunity.staff_id == Staff.id)
                .where(StaffCommunity.community_id == order.community_id, Staff.job == "technician")
                .order_by(Staff.name)))
        instance = db.session.get(ProcessInstance, order.instance_id) if order.instance_id else None
        return self.render_template(
            "repair/order.html", open_tasks=_open_tasks(instance), order=order, household=household, events=repair_orders.timeline(db.session, order),
            location=repair_orders.location_text(db.session, order, locale), technician=_technician(order),
            sla=repair_orders.sla_state(order), dispatches=dispatches, staff_names=staff_names,
            technicians=technicians, can_reassign=_may_reassign() and order.status in ("dispatched", "accepted", "on_site"),
            instance=instance, community=db.session.get(Community, order.community_id),
            can_revise_quote=current_app.appbuilder.sm.has_access("can_revise_quote", "RepairOrderView"),
            **_helpers())

    @expose("/show/<int:order_id>/reassign", methods=["POST"])
    @has_access
    def reassign(self, order_id: int):
        order = self._order(order_id)
        if not _may_reassign():
            abort(403)
        try:
            reassign(db.session, order, request.form.get("staff_id", type=int) or 0,
                     request.form.get("reason", ""), current_user.username)
            db.session.commit()
            flash(_("Order %(number)s reassigned.", number=order.number), "success")
        except DispatchError as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
        return redirect(url_for("RepairOrderView.show", order_id=order_id))


    @expose("/show/<int:order_id>/quote", methods=["POST"])
    @has_access
    @permission_name("revise_quote")
    def revise_quote(self, order_id: int):
        """A manager answers a declined quote: new amounts for the resident, or the charge waived."""
        order = self._order(order_id)
        try:
            repair_orders.revise_quote(db.session, order, materials_cost=request.form.get("materials_cost"),
                                       labour_cost=request.form.get("labour_cost"), actor=current_user.username,
                                       waive=request.form.get("decision") == "waive")
            db.session.commit()
            flash(_("Order %(number)s: the resident has the new answer.", number=order.number), "success")
        except RepairError as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
        return redirect(url_for("RepairOrderView.show", order_id=order_id))


class RepairKpiView(BaseView):
    route_base = "/repairs/kpi"
    default_view = "kpi"

    def _tables(self):
        months = request.args.get("months", type=int) or 12
        from app import clock

        start = clock.now() - timedelta(days=31 * months)
        return kpi_repair.report(db.session, visible_community_ids(), start=start), months

    @expose("/")
    @has_access
    def kpi(self):
        tables, months = self._tables()
        by = request.args.get("by") or "month"
        if by not in kpi_repair.DIMENSIONS:
            by = "month"
        return self.render_template("repair/kpi.html", overall=kpi_repair.records(tables["all"])[0],
                                    rows=kpi_repair.records(tables[by]), by=by, months=months,
                                    dimensions=list(kpi_repair.DIMENSIONS), why=kpi_repair.EMPTY_REASONS,
                                    **_helpers())

    @expose("/export")
    @has_access
    def export(self):
        tables, months = self._tables()
        locale = _locale()
        data = kpi_repair.to_excel(tables, locale, lambda c: repair_settings.category_label(c, locale),
                                   period=_("Last %(months)s months", months=months))
        return Response(data,
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename=repair-kpi.xlsx"})


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(RepairResidentView())
    cat = {"category": "Repair", "category_label": _l("Repair")}
    appbuilder.add_view(RepairOrderView, "repair_orders", label=_l("Repair orders"), icon="fa-wrench", **cat)
    appbuilder.add_view(RepairKpiView, "repair_kpi", label=_l("Repair KPIs"), icon="fa-line-chart", **cat)

