"""Security pages for guards and managers: alert incidents (snapshot, location, time), hydrant
list with a pressure chart, door event search, access-credential sync, KPIs. Regulators read."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import clock
from app.db import db
from app.domains.devices.models import Device
from app.domains.estate.models import Community, Household, Resident
from app.domains.security import access_control, alerts, hydrants
from app.domains.security import kpis as security_kpis
from app.domains.security.models import SecurityIncident
from app.engine.models import TaskRow
from app.localtime import from_local
from app.platform.module_settings import module_settings
from app.security.scope import require_community, visible_community_ids
from app.web.locale import current_locale as _locale

_VIEW = "^(SecurityView)$"
_READ = "^can_(index|incident|hydrants|hydrant|doors|kpis|access)$"
_MENU = ["^(Safety|security_alerts|security_hydrants|security_doors|security_access|security_kpis)$",
         "^menu_access$"]
GRANTS = {
    "Guard": [[_VIEW, _READ], _MENU],
    "Manager": [[_VIEW, ".*"], _MENU],
    "Regulator": [[_VIEW, _READ], _MENU],
}



def _date(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d") if value else None
    except ValueError:
        return None


class SecurityView(BaseView):
    route_base = "/security"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        status = request.args.get("status", "open")
        if status not in ("open", "closed", "all"):
            status = "open"
        since, until = _date(request.args.get("since")), _date(request.args.get("until"))  # local dates
        rows = alerts.list_incidents(db.session, visible_community_ids(), status=None if status == "all" else status,
                                     since=from_local(since) if since else None,
                                     until=from_local(until) if until else None)
        return self.render_template("security/incidents.html", rows=rows, status=status,
                                    label=lambda k: alerts.kind_label(k, _locale()), local=alerts.local_time)

    @expose("/incident/<int:incident_id>")
    @has_access
    def incident(self, incident_id: int):
        row = db.session.get(SecurityIncident, incident_id)
        if row is None:
            abort(404)
        require_community(row.community_id)
        open_task = db.session.scalar(select(TaskRow).where(
            TaskRow.instance_id == row.instance_id, TaskRow.status.in_(("ready", "claimed")))) \
            if row.instance_id else None
        household = db.session.get(Household, row.household_id) if row.household_id else None
        return self.render_template("security/incident.html", row=row, open_task=open_task, household=household,
                                    alerts=alerts.incident_alerts(db.session, row.id),
                                    label=alerts.kind_label(row.kind, _locale()), local=alerts.local_time)

    @expose("/hydrants/")
    @has_access
    def hydrants(self):
        rows = hydrants.overview(db.session, visible_community_ids())
        return self.render_template("security/hydrants.html", rows=rows, local=alerts.local_time)

    @expose("/hydrants/<int:device_id>")
    @has_access
    def hydrant(self, device_id: int):
        device = db.session.get(Device, device_id)
        if device is None or device.profile != hydrants.PROFILE:
            abort(404)
        require_community(device.community_id)
        days = request.args.get("days", 7, type=int)
        days = days if days in (1, 7, 30) else 7
        readings = hydrants.history(db.session, device.id, since=clock.now() - timedelta(days=days))
        threshold = module_settings(db.session, device.community_id, "security")["hydrant_min_pressure_mpa"]
        return self.render_template("security/hydrant.html", device=device, readings=readings, days=days,
                                    chart=hydrants.chart_points(readings, threshold), threshold=threshold,
                                    alarms=hydrants.alarms(db.session, device.id), local=alerts.local_time)

    @expose("/doors/")
    @has_access
    def doors(self):
        args = request.args
        granted = {"yes": True, "no": False}.get(args.get("granted", ""))
        until = _date(args.get("until"))
        rows = access_control.search_door_events(
            db.session, visible_community_ids(), q=(args.get("q") or "").strip()[:60] or None, granted=granted,
            device_code=(args.get("device") or "").strip() or None, since=_date(args.get("since")),
            until=until + timedelta(days=1) if until else None, limit=300)
        households = {h.id: h.code for h in db.session.scalars(select(Household).where(
            Household.id.in_({r.household_id for r in rows if r.household_id})))}
        residents = {r.id: r.name for r in db.session.scalars(select(Resident).where(
            Resident.id.in_({r.resident_id for r in rows if r.resident_id})))}
        return self.render_template("security/doors.html", rows=rows, args=args, households=households,
                                    residents=residents, local=alerts.local_time)

    @expose("/access/")
    @has_access
    def access(self):
        ids = visible_community_ids()
        communities = list(db.session.scalars(select(Community).where(Community.id.in_(ids)).order_by(Community.id)))
        return self.render_template("security/access.html", communities=communities,
                                    counts=access_control.sync_counts(db.session, ids),
                                    rows=access_control.credentials_of(db.session, ids, limit=200))

    @expose("/access/<int:community_id>/sync", methods=["POST"])
    @has_access
    def sync(self, community_id: int):
        require_community(community_id)
        from flask_login import current_user

        try:
            result = access_control.sync_community(db.session, community_id, access_control.default_sender(db.session),
                                                   actor=current_user.username)
            db.session.commit()
            flash(_("Synchronised: %(active)s granted, %(suspended)s revoked, %(queued)s queued, %(failed)s failed.",
                    active=result.active, suspended=result.suspended, queued=result.queued, failed=result.failed),
                  "success" if not result.failed else "warning")
        except Exception as exc:  # noqa: BLE001 - the broker being down is a message, not a 500
            db.session.rollback()
            flash(_("The door controllers could not be reached: %(why)s", why=str(exc)), "danger")
        return redirect(url_for("SecurityView.access"))

    @expose("/kpis/")
    @has_access
    def kpis(self):
        days = request.args.get("days", 30, type=int)
        days = days if days in (1, 7, 30, 90) else 30
        data = security_kpis.summary(db.session, visible_community_ids(), since=clock.now() - timedelta(days=days))
        return self.render_template("security/kpis.html", data=data, days=days,
                                    label=lambda k: alerts.kind_label(k, _locale()))


def register(appbuilder) -> None:
    cat = {"category": "Safety", "category_label": _l("Safety")}
    appbuilder.add_view(SecurityView, "security_alerts", label=_l("Alerts"), icon="fa-bell-o", **cat)
    appbuilder.add_link("security_hydrants", label=_l("Hydrants"), href="/security/hydrants/", icon="fa-tint",
                        **cat)
    appbuilder.add_link("security_doors", label=_l("Door events"), href="/security/doors/", icon="fa-key", **cat)
    appbuilder.add_link("security_access", label=_l("Access credentials"), href="/security/access/",
                        icon="fa-id-card", **cat)
    appbuilder.add_link("security_kpis", label=_l("Security KPIs"), href="/security/kpis/", icon="fa-line-chart",
                        **cat)
