"""Inspection pages. Phone first: the guard's run page (scan a point's QR code with the camera,
or type its code), the point's checklist, closing a run. Managers: points and routes (CRUD,
QR label sheet), starting a run now, findings with their before/after photos, compliance and
the monthly report (PDF, Excel). The regulator reads all of it for its communities and records
spot checks (抽查); it changes nothing else. Rules live in runs.py, findings.py, compliance.py.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_wtf.csrf import generate_csrf
from wtforms import SelectField
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Community
from app.domains.inspection import checklists, compliance, findings, plans, points, runs
from app.domains.inspection.errors import InspectionError
from app.domains.inspection.models import (
    InspectionCheckIn,
    InspectionFinding,
    InspectionPoint,
    InspectionRoute,
    InspectionRun,
    InspectionSpotCheck,
)
from app.forms import jsonable, parse_submission, render_form
from app.localtime import local_format
from app.platform.processes import module_enabled
from app.platform.uploads import grant_uploads
from app.security.scope import require_community, visible_community_ids
from app.web.locale import current_locale as _locale
from app.web.scoped import COMMUNITY_REL, SCOPED_REL, ScopedModelView
from app.web.views.uploads import check_form_uploads

_VIEW = "^(InspectionView)$"
_RECORDS = "^(InspectionPointView|InspectionRouteView)$"
_MENU = ["^(Inspection|inspection_runs|inspection_findings|inspection_compliance|inspection_points|"
         "inspection_routes)$", "^menu_access$"]
GRANTS = {
    "Manager": [[_VIEW, "^can_(index|check_in|start)$"], [_RECORDS, ".*"], _MENU],
    "Guard": [[_VIEW, "^can_(index|check_in)$"], [_RECORDS, "^can_(list|show)$"], _MENU],
    "Technician": [[_VIEW, "^can_(index|check_in)$"], [_RECORDS, "^can_(list|show)$"], _MENU],
    "Regulator": [[_VIEW, "^can_(index|spot_check)$"], [_RECORDS, "^can_(list|show)$"], _MENU],
}


def _helpers() -> dict:
    locale = _locale()
    return {
        "local": local_format,
        "run_status": lambda s: runs.status_label(s, locale),
        "severity": lambda s: findings.label(findings.SEVERITY_LABELS, s, locale),
        "finding_status": lambda s: findings.label(findings.STATUS_LABELS, s, locale),
        "source": lambda s: findings.label(findings.SOURCE_LABELS, s, locale),
        "kind": lambda k: points.kind_label(k, locale),
        "overdue": findings.is_overdue,
    }


_FREQUENCY = {"daily": _l("Daily"), "weekly": _l("Weekly"), "monthly": _l("Monthly")}
_ROLE = {"guard": _l("Guard"), "technician": _l("Technician")}
_SHIFT = {"day": _l("Day shift"), "night": _l("Night shift")}


def _checklist_title(checklist_id: str) -> str:
    found = checklists.all_checklists(db.session).get(checklist_id)
    return found.label(_locale()) if found else checklist_id


def _phone_time(value: str | None) -> datetime | None:
    """The phone's time of the check-in (ISO 8601 with offset) as naive UTC; None if absent/bad."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return at.astimezone(timezone.utc).replace(tzinfo=None)


class InspectionView(BaseView):
    route_base = "/inspection"
    default_view = "index"
    method_permission_name = {
        # every read page shares the index permission (the menu checks ``can_index``)
        "index": "index", "run": "index", "scan": "index", "point": "index", "findings": "index",
        "finding": "index", "compliance": "index", "report": "index", "labels": "index",
        "service_worker": "index", "plan": "index", "token": "index",
        "check_in": "check_in", "close": "check_in", "start": "start",
        "spot_check_page": "spot_check", "record_spot_check": "spot_check",
    }

    def _run(self, run_id: int) -> InspectionRun:
        run = db.session.get(InspectionRun, run_id)
        if run is None:
            abort(404)
        require_community(run.community_id)
        return run

    # ----------------------------------------------------------------- runs

    @expose("/")
    @has_access
    def index(self):
        ids = visible_community_ids()
        flag = request.args.get("flag") if request.args.get("flag") in ("late", "missed") else None
        rows = runs.runs_of(db.session, ids, limit=100, flag=flag)
        routes = {r.id: r for r in db.session.scalars(select(InspectionRoute).where(
            InspectionRoute.community_id.in_(ids)).order_by(InspectionRoute.community_id, InspectionRoute.id))}
        done = dict(db.session.execute(
            select(InspectionCheckIn.run_id, db.func.count()).where(
                InspectionCheckIn.run_id.in_([r.id for r in rows])).group_by(InspectionCheckIn.run_id)).all()) \
            if rows else {}
        can_start = self.appbuilder.sm.has_access("can_start", "InspectionView")
        return self.render_template("inspection/runs.html", rows=rows, routes=routes, done=done,
                                    can_start=can_start, flag=flag, csrf=generate_csrf(), **_helpers())

    @expose("/routes/<int:route_id>/start", methods=["POST"])
    @has_access
    def start(self, route_id: int):
        route = db.session.get(InspectionRoute, route_id)
        if route is None:
            abort(404)
        require_community(route.community_id)
        try:
            run = runs.start_run(db.session, route, actor=current_user.username)
            db.session.commit()
        except InspectionError as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
            return redirect(url_for("InspectionView.index"))
        flash(_("Run %(number)s started.", number=run.number), "success")
        return redirect(url_for("InspectionView.run", run_id=run.id))

    @expose("/runs/<int:run_id>")
    @has_access
    def run(self, run_id: int):
        run = self._run(run_id)
        route = db.session.get(InspectionRoute, run.route_id)
        pts = {p.id: p for p in db.session.scalars(select(InspectionPoint).where(
            InspectionPoint.id.in_(run.point_ids)))}
        checks = {c.point_id: c for c in runs.checkins_of(db.session, run)}
        run_findings = list(db.session.scalars(select(InspectionFinding).where(
            InspectionFinding.checkin_id.in_([c.id for c in checks.values()])))) if checks else []
        can_check = run.status == "open" and self.appbuilder.sm.has_access("can_check_in", "InspectionView")
        return self.render_template("inspection/run.html", run=run, route=route, points=[pts[i] for i in run.point_ids],
                                    checks=checks, missed=set(run.missed_point_ids or []), findings=run_findings,
                                    can_check=can_check, csrf=generate_csrf(), **_helpers())

    @expose("/runs/<int:run_id>/scan")
    @has_access
    def scan(self, run_id: int):
        """The scanned (or typed) code: on to the point's checklist, or back with the reason."""
        run = self._run(run_id)
        try:
            point = runs.point_for_checkin(db.session, run, request.args.get("code", ""))
        except InspectionError as err:
            flash(err.message(_locale()), "danger")
            return redirect(url_for("InspectionView.run", run_id=run.id))
        return redirect(url_for("InspectionView.point", run_id=run.id, point_id=point.id))

    def _point_page(self, run_id: int, point_id: int):
        run = self._run(run_id)
        point = db.session.get(InspectionPoint, point_id)
        if point is None or point.community_id != run.community_id:
            abort(404)
        locale = _locale()
        try:
            runs.point_for_checkin(db.session, run, point.code)
            checklist = checklists.get_checklist(point.checklist, db.session)
        except InspectionError as err:
            flash(err.message(locale), "danger")
            return redirect(url_for("InspectionView.run", run_id=run.id))
        except KeyError:
            flash(InspectionError("no_checklist", code=point.code, checklist=point.checklist).message(locale), "danger")
            return redirect(url_for("InspectionView.run", run_id=run.id))
        form = checklist.as_form()
        values, errors = None, {}
        if request.method == "POST":
            stored: list[dict] = []
            data, errors, raw = parse_submission(form, request.form, request.files, session=db.session,
                                                 community_id=run.community_id, locale=locale, on_store=stored.append)
            data, errors = check_form_uploads(data, errors, raw, stored, scope=f"inspection:{run.number}:{point.code}",
                                              community_id=run.community_id)
            values = raw
            if not errors:
                try:
                    answers = jsonable(data)
                    grant_uploads(db.session, answers, run.community_id, current_user.username)
                    checkin = runs.check_in(db.session, run, point, answers, by=current_user.username,
                                            at=_phone_time(request.form.get("checked_at")))
                    db.session.commit()
                except InspectionError as err:
                    db.session.rollback()
                    flash(err.message(locale), "danger")
                    return redirect(url_for("InspectionView.run", run_id=run.id))
                if checkin.items_failed:
                    flash(_("%(code)s checked: %(n)s item(s) failed, rectification opened.", code=point.code,
                            n=checkin.items_failed), "warning")
                else:
                    flash(_("%(code)s checked.", code=point.code), "success")
                return redirect(url_for("InspectionView.run", run_id=run.id))
        html = render_form(form, values=values, errors=errors, locale=locale,
                           action_url=url_for("InspectionView.check_in", run_id=run.id, point_id=point.id),
                           csrf_token=generate_csrf(), upload_url="/uploads/{sha256}",
                           static_url=url_for("static", filename="forms"))
        return self.render_template("inspection/point.html", run=run, point=point,
                                    checklist_title=checklist.label(locale), form_html=html, **_helpers()), (422 if errors else 200)

    @expose("/runs/<int:run_id>/point/<int:point_id>", methods=["GET"])
    @has_access
    def point(self, run_id: int, point_id: int):
        return self._point_page(run_id, point_id)

    @expose("/runs/<int:run_id>/point/<int:point_id>", methods=["POST"])
    @has_access
    @permission_name("check_in")
    def check_in(self, run_id: int, point_id: int):
        return self._point_page(run_id, point_id)

    @expose("/runs/<int:run_id>/close", methods=["POST"])
    @has_access
    @permission_name("check_in")
    def close(self, run_id: int):
        run = self._run(run_id)
        note = (request.form.get("note") or "").strip()
        if len(note) < 2:
            flash(_("Say why the run ends early."), "danger")
            return redirect(url_for("InspectionView.run", run_id=run.id))
        try:
            runs.close_run(db.session, run, by=current_user.username, note=note)
            db.session.commit()
        except InspectionError as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
        except Exception as exc:  # noqa: BLE001 - an engine refusal (someone else's claim) is a message
            db.session.rollback()
            flash(_("The run could not be closed: %(why)s", why=str(exc)), "danger")
        return redirect(url_for("InspectionView.run", run_id=run.id))

    @expose("/sw.js")
    @has_access
    def service_worker(self):
        """The offline queue of check-ins (a service worker scoped to /inspection/)."""
        text = {"saved": _("No network: the check-in is saved on this phone with its time and will be sent "
                           "when the network is back."),
                "offline": _("No network, and this page was not opened before on this phone."),
                "back": _("Back to the run")}
        body = self.render_template("inspection/sw.js", text=text)
        return Response(body, mimetype="application/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/inspection/"})

    @expose("/token")
    @has_access
    def token(self):
        """A fresh CSRF token for the offline queue: a check-in queued longer than the token's
        lifetime is replayed with this one (the session still authenticates it; a signed-out
        phone gets the login redirect and keeps its queue)."""
        return Response(json.dumps({"csrf_token": generate_csrf()}), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    # ----------------------------------------------------------------- points

    @expose("/labels.pdf")
    @has_access
    def labels(self):
        ids = visible_community_ids()
        wanted = request.args.get("community", type=int)
        if wanted is not None:
            ids = [require_community(wanted)]
        pdf = points.label_sheet_pdf(db.session, [p for p in points.points_of(db.session, ids) if p.active])
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": "inline; filename=inspection-labels.pdf"})

    # ----------------------------------------------------------------- findings

    @expose("/findings/")
    @has_access
    def findings(self):
        status = request.args.get("status") or None
        if status not in (None, "open", "rectified", "accepted"):
            status = None
        rows = findings.findings_of(db.session, visible_community_ids(), status=status)
        names = dict(db.session.execute(select(Community.id, Community.name)).all())
        return self.render_template("inspection/findings.html", rows=rows, status=status, names=names, **_helpers())

    @expose("/findings/<int:finding_id>")
    @has_access
    def finding(self, finding_id: int):
        row = db.session.get(InspectionFinding, finding_id)
        if row is None:
            abort(404)
        require_community(row.community_id)
        point = db.session.get(InspectionPoint, row.point_id) if row.point_id else None
        spot = db.session.get(InspectionSpotCheck, row.spot_check_id) if row.spot_check_id else None
        return self.render_template("inspection/finding.html", row=row, point=point, spot=spot, **_helpers())

    # ----------------------------------------------------------------- compliance

    @expose("/compliance/")
    @has_access
    def compliance(self):
        months = compliance.months_back(6)
        period = request.args.get("period") if request.args.get("period") in months else months[0]
        rows = compliance.overview(db.session, visible_community_ids(), period)
        can_spot = self.appbuilder.sm.has_access("can_spot_check", "InspectionView")
        # a spot check is recorded where the module runs (elsewhere there is nothing to check)
        spot_ok = {r.community_id for r in rows if module_enabled(db.session, r.community_id, "inspection")}
        return self.render_template("inspection/compliance.html", rows=rows, period=period, months=months,
                                    can_spot=can_spot, spot_ok=spot_ok, **_helpers())

    @expose("/plan/<int:community_id>")
    @has_access
    def plan(self, community_id: int):
        """The month's self-inspection plan of one community: due, done, missed, upcoming."""
        require_community(community_id)
        community = db.session.get(Community, community_id)
        months = compliance.months_back(6)
        period = request.args.get("period") if request.args.get("period") in months else months[0]
        locale = _locale()
        status = plans.plan_status(db.session, community_id, period)
        known = status.known
        return self.render_template(
            "inspection/plan.html", community=community, period=period, months=months, status=status,
            rows=plans.checklist_rows(status, locale), frequency=_FREQUENCY, shift=_SHIFT, role=_ROLE,
            not_planned=[known[c].label(locale) for c in status.not_planned if c in known], **_helpers())

    @expose("/compliance/<int:community_id>/report.<fmt>")
    @has_access
    def report(self, community_id: int, fmt: str):
        require_community(community_id)
        if fmt not in ("pdf", "xlsx"):
            abort(404)
        try:
            data = compliance.monthly_report(db.session, community_id, request.args.get("period"))
        except ValueError:
            abort(404)
        name = f"inspection-{data['period']}.{fmt}"
        if fmt == "pdf":
            return Response(compliance.report_pdf(data), mimetype="application/pdf",
                            headers={"Content-Disposition": f"inline; filename={name}"})
        return Response(compliance.report_excel(data),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename={name}"})

    # ----------------------------------------------------------------- spot checks (regulator)

    def _spot_page(self, community_id: int):
        require_community(community_id)
        community = db.session.get(Community, community_id)
        if not module_enabled(db.session, community_id, "inspection"):
            abort(404)
        from app.web.catalog import get_forms

        form = get_forms().get("inspection/spot_check")
        locale = _locale()
        values, errors = None, {}
        if request.method == "POST":
            stored: list[dict] = []
            data, errors, raw = parse_submission(form, request.form, request.files, session=db.session,
                                                 community_id=community_id, locale=locale, on_store=stored.append)
            data, errors = check_form_uploads(data, errors, raw, stored, scope=f"form:{form.id}",
                                              community_id=community_id)
            values = raw
            if not errors:
                try:
                    data = jsonable(data)
                    grant_uploads(db.session, data, community_id, current_user.username)
                    spot = findings.record_spot_check(db.session, community_id, data, actor=current_user.username)
                    db.session.commit()
                    flash(_("Spot check %(number)s recorded.", number=spot.number), "success")
                    return redirect(url_for("InspectionView.findings"))
                except InspectionError as err:
                    db.session.rollback()
                    errors = {"_form": [err.message(locale)]}
        html = render_form(form, values=values, errors=errors, locale=locale,
                           action_url=url_for("InspectionView.record_spot_check", community_id=community_id),
                           csrf_token=generate_csrf(), upload_url="/uploads/{sha256}",
                           static_url=url_for("static", filename="forms"))
        return self.render_template("inspection/spot_check.html", community=community, form_html=html), \
            (422 if errors else 200)

    @expose("/spot-check/<int:community_id>", methods=["GET"])
    @has_access
    def spot_check_page(self, community_id: int):
        return self._spot_page(community_id)

    @expose("/spot-check/<int:community_id>", methods=["POST"])
    @has_access
    def record_spot_check(self, community_id: int):
        return self._spot_page(community_id)


class InspectionPointView(ScopedModelView):
    route_base = "/inspection/points"
    datamodel = SQLAInterface(InspectionPoint)
    list_columns = ["community", "code", "name", "kind", "building", "location", "checklist", "active"]
    add_columns = edit_columns = ["community", "code", "name", "kind", "building", "location", "checklist", "device",
                                  "active"]
    add_form_query_rel_fields = edit_form_query_rel_fields = {**COMMUNITY_REL, "building": SCOPED_REL,
                                                              "device": SCOPED_REL}
    label_columns = {"community": _l("Community"), "code": _l("Code"), "name": _l("Name"), "kind": _l("Kind"),
                     "building": _l("Building"), "location": _l("Location"), "checklist": _l("Checklist"),
                     "device": _l("Device"), "active": _l("Active")}
    description_columns = {"checklist": _l("The checklist walked at this point (forms/inspection/checklists/)"),
                           "device": _l("A sensor at this point (hydrant pressure, lift): findings link it")}
    formatters_columns = {"kind": lambda k: points.kind_label(k, _locale()), "checklist": _checklist_title}
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=[(k, v["zh"] + " " + v["en"]) for k, v in points.KINDS.items()],
                            widget=Select2Widget()),
        "checklist": SelectField(_l("Checklist"), widget=Select2Widget(), choices=lambda: [
            (c.id, f"{c.title['zh']} {c.title['en']}") for c in checklists.all_checklists(db.session).values()]),
    }

    def pre_add(self, item) -> None:
        super().pre_add(item)
        # FAB shows a refusal raised here as a message and writes nothing
        if item.kind not in points.KINDS:
            raise ValueError(_("Unknown kind of point."))
        _check_checklist(item)

    def pre_update(self, item) -> None:
        super().pre_update(item)
        _check_checklist(item)


def _check_checklist(item: InspectionPoint) -> None:
    """A shipped checklist, or one of an uploaded package whose module this community runs."""
    community_id = item.community.id if item.community is not None else item.community_id
    try:
        checklists.usable_in(db.session, item.checklist, community_id)
    except LookupError:
        raise ValueError(_("Unknown checklist.")) from None
    except PermissionError as off:
        raise ValueError(_("The checklist comes with module %(module)s, which is not enabled in this community.",
                           module=off.args[0])) from None


class InspectionRouteView(ScopedModelView):
    route_base = "/inspection/routes"
    datamodel = SQLAInterface(InspectionRoute)
    list_columns = ["community", "name", "frequency", "shift", "start_time", "role", "assignee", "active"]
    add_columns = edit_columns = ["community", "name", "point_codes", "frequency", "shift", "start_time", "weekday",
                                  "month_day", "role", "assignee", "active"]
    label_columns = {"community": _l("Community"), "name": _l("Name"), "point_codes": _l("Points in order"),
                     "frequency": _l("Frequency"), "shift": _l("Shift"), "start_time": _l("Start time"),
                     "weekday": _l("Weekday"), "month_day": _l("Day of the month"), "role": _l("Role"),
                     "assignee": _l("Assigned to"), "active": _l("Active")}
    description_columns = {"point_codes": _l("Point codes in walking order, separated by spaces"),
                           "start_time": _l("Local time, HH:MM")}
    formatters_columns = {"frequency": lambda v: _FREQUENCY.get(v, v), "role": lambda v: _ROLE.get(v, v),
                          "shift": lambda v: _SHIFT.get(v, v)}
    add_form_extra_fields = edit_form_extra_fields = {
        "frequency": SelectField(_l("Frequency"), choices=list(_FREQUENCY.items()), widget=Select2Widget()),
        "role": SelectField(_l("Role"), choices=list(_ROLE.items()), widget=Select2Widget()),
        "shift": SelectField(_l("Shift"), choices=list(_SHIFT.items()), widget=Select2Widget()),
    }

    def pre_add(self, item) -> None:
        super().pre_add(item)
        if item.frequency not in _FREQUENCY or item.role not in _ROLE or item.shift not in _SHIFT:
            raise ValueError(_("Choose a frequency, a shift and a role from the lists."))
        try:
            points.route_points(db.session, item)
        except InspectionError as err:  # FAB shows it as a message and writes nothing
            raise ValueError(err.message(_locale())) from None


def register(appbuilder) -> None:
    cat = {"category": "Inspection", "category_label": _l("Inspection")}
    appbuilder.add_view(InspectionView, "inspection_runs", label=_l("Patrol runs"), icon="fa-map-signs", **cat)
    appbuilder.add_link("inspection_findings", label=_l("Findings"), href="/inspection/findings/",
                        icon="fa-exclamation-triangle", **cat)
    appbuilder.add_link("inspection_compliance", label=_l("Compliance"), href="/inspection/compliance/",
                        icon="fa-check-square-o", **cat)
    appbuilder.add_view(InspectionPointView, "inspection_points", label=_l("Inspection points"), icon="fa-qrcode",
                        **cat)
    appbuilder.add_view(InspectionRouteView, "inspection_routes", label=_l("Routes"), icon="fa-road", **cat)
