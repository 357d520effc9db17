"""Energy pages: findings with the readings' chart, the 公摊 preview and run, the public
revenue ledger (entries with evidence, corrections, publication, Excel) for managers; the
monthly disclosure (公示) for residents. Regulators and accountants read."""
from __future__ import annotations

from decimal import Decimal

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app import clock
from app.db import db
from app.domains.energy import apportionment, charts, findings, revenue
from app.domains.energy.errors import EnergyError
from app.domains.energy.models import EnergyFinding, EnergyMeter, PublicRevenueDisclosure
from app.domains.estate.models import Community
from app.domains.estate.residents import households_of_user
from app.localtime import local_format, to_local
from app.platform.module_settings import module_settings
from app.platform.processes import module_enabled
from app.security.scope import require_community, visible_community_ids
from app.web.locale import current_locale as _locale

_VIEW = "^(EnergyView)$"
_READ = "^can_(index|finding|apportion|revenue|export|trends)$"
_MENU = ["^(Energy|energy_findings|energy_apportion|energy_trends|energy_revenue)$", "^menu_access$"]
GRANTS = {
    "Manager": [[_VIEW, ".*"], _MENU],
    "Accountant": [[_VIEW, _READ], _MENU],
    "Regulator": [[_VIEW, _READ], _MENU],
    "Resident": [["^(DisclosureResidentView)$", ".*"]],
}
RESIDENT_TILES = [{"module": "energy", "endpoint": "DisclosureResidentView.index",
                   "label": {"zh": "公共收益公示", "en": "Public revenue"}, "icon": "fa-bullhorn"}]


MEASURE_REASONS = {"after_running": _l("The comparison period after the measure is still running."),
                   "not_covered": _l("The readings do not cover both periods."),
                   "no_use_before": _l("No consumption before the measure.")}


def _yuan(cents) -> str:
    return f"{Decimal(cents or 0) / 100:.2f}"


def _helpers() -> dict:
    locale = _locale()
    return {"local": local_format, "yuan": _yuan, "kind_label": lambda k: findings.kind_label(k, locale),
            "category_label": lambda c: revenue.category_label(c, locale),
            "direction_label": lambda d: revenue.DIRECTION_LABELS[d][locale if locale in ("zh", "en") else "en"],
            "method_label": lambda m: apportionment.METHOD_LABELS[m][locale if locale in ("zh", "en") else "en"],
            "locale": locale}


def _community() -> Community:
    ids = visible_community_ids()
    wanted = request.values.get("community_id", type=int)
    community_id = wanted if wanted is not None else (ids[0] if ids else None)
    if community_id is None:
        abort(404)
    require_community(community_id)
    community = db.session.get(Community, community_id)
    if community is None:
        abort(404)
    return community


def _period() -> str:
    return request.values.get("period") or f"{to_local(clock.now()):%Y-%m}"


class EnergyView(BaseView):
    route_base = "/energy"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        status = request.args.get("status", "open")
        status = status if status in ("open", "closed", "all") else "open"
        rows = findings.open_findings(db.session, visible_community_ids(), None if status == "all" else status)
        meters = {m.id: m for m in db.session.scalars(select(EnergyMeter).where(
            EnergyMeter.id.in_({r.meter_id for r in rows if r.meter_id})))}
        return self.render_template("energy/findings.html", rows=rows, meters=meters, status=status,
                                    describe=lambda f: findings.describe(f, meters.get(f.meter_id), _locale()),
                                    **_helpers())

    @expose("/finding/<int:finding_id>")
    @has_access
    def finding(self, finding_id: int):
        row = db.session.get(EnergyFinding, finding_id)
        if row is None:
            abort(404)
        require_community(row.community_id)
        meter = db.session.get(EnergyMeter, row.meter_id) if row.meter_id else None
        threshold = (row.detail or {}).get("threshold")
        chart = charts.svg_chart(findings.chart_points(db.session, row), threshold=threshold)
        return self.render_template("energy/finding.html", row=row, meter=meter, chart=chart,
                                    order_status=findings.work_order_status(db.session, row),
                                    summary=findings.describe(row, meter, _locale()), **_helpers())

    def _apportion_page(self, community: Community, period: str, kind: str):
        plans, error = [], None
        try:
            plans = apportionment.plan(db.session, community.id, period, kind)  # writes nothing
        except EnergyError as exc:
            error = exc.message(_locale())
        done = apportionment.existing(db.session, community.id, period, kind)
        return self.render_template("energy/apportion.html", community=community, period=period, kind=kind,
                                    plans=plans, error=error, done=done,
                                    shares_of=lambda a: apportionment.shares_of(db.session, a.id),
                                    communities=db.session.scalars(select(Community).where(
                                        Community.id.in_(visible_community_ids())).order_by(Community.code)).all(),
                                    **_helpers())

    @expose("/apportion", methods=["GET"])
    @has_access
    def apportion(self):
        kind = request.args.get("kind", "electricity")
        return self._apportion_page(_community(), _period(), kind if kind in ("electricity", "water") else "electricity")

    @expose("/apportion", methods=["POST"])
    @has_access
    @permission_name("apportion_issue")
    def apportion_issue(self):
        community = _community()
        period, kind = _period(), request.form.get("kind", "electricity")
        if kind not in ("electricity", "water"):
            abort(400)
        try:
            rows = apportionment.issue(db.session, community.id, period, kind, actor=current_user.username)
            db.session.commit()
            flash(_("Apportioned %(total)s yuan among %(n)s households; the shares go on the next bill.",
                    total=_yuan(sum(r.total_cents for r in rows)), n=sum(r.households for r in rows)), "success")
        except EnergyError as exc:
            db.session.rollback()
            if exc.code == "negative_remainder":  # keep the finding for the manager
                try:
                    apportionment.plan(db.session, community.id, period, kind, record_findings=True)
                except EnergyError:
                    db.session.commit()
            flash(exc.message(_locale()), "warning" if exc.code == "already_apportioned" else "danger")
        return redirect(url_for("EnergyView.apportion", community_id=community.id, period=period, kind=kind))

    @expose("/trends")
    @has_access
    def trends(self):
        from app.domains.energy import trends

        community = _community()
        kind = request.args.get("kind", "electricity")
        kind = kind if kind in ("electricity", "water") else "electricity"
        meters = db.session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community.id)
                                    .order_by(EnergyMeter.code)).all()
        meter = next((m for m in meters if m.id == request.args.get("meter_id", type=int)), None)
        daily = trends.daily_use(db.session, meter.id, clock.now()) if meter else []
        bars = charts.bar_chart(daily)
        from app.domains.energy import measures

        by_id = {m.id: m for m in meters}
        savings = [(m, by_id.get(m.meter_id), measures.saving(db.session, m))
                   for m in measures.measures_of(db.session, community.id)]
        return self.render_template("energy/trends.html", community=community, kind=kind, meters=meters, meter=meter,
                                    rows=trends.monthly_by_building(db.session, community.id, kind), daily=daily,
                                    bars=bars, savings=savings, reason_label=lambda r: MEASURE_REASONS.get(r, r),
                                    **_helpers())

    @expose("/measures", methods=["POST"])
    @has_access
    @permission_name("measure_add")
    def measure_add(self):
        from datetime import datetime

        from app.domains.energy import measures

        community = _community()
        try:
            done_on = datetime.strptime(request.form.get("done_on", ""), "%Y-%m-%d")
            days = int(request.form.get("days") or 30)
        except ValueError:
            flash(_("Give the date the measure was done and the number of days to compare."), "danger")
            return redirect(url_for("EnergyView.trends", community_id=community.id))
        try:
            measures.add_measure(db.session, community.id, request.form.get("meter_id", type=int) or 0,
                                 request.form.get("name", ""), done_on, current_user.username, days=days)
            db.session.commit()
            flash(_("Measure recorded."), "success")
        except EnergyError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        return redirect(url_for("EnergyView.trends", community_id=community.id))

    @expose("/handheld/start", methods=["POST"])
    @has_access
    @permission_name("handheld_round")
    def handheld_round(self):
        from app.domains.energy import handheld

        community = _community()
        started = handheld.start_round(db.session, community.id, actor=current_user.username)
        db.session.commit()
        flash(_("%(n)s reading tasks sent to the technicians.", n=started), "success")
        return redirect(url_for("EnergyView.trends", community_id=community.id))

    @expose("/revenue")
    @has_access
    def revenue(self):
        community, period = _community(), _period()
        pct = Decimal(str(module_settings(db.session, community.id, "energy")["owners_share_percent"]))
        return self.render_template("energy/revenue.html", community=community, period=period,
                                    totals=revenue.totals(db.session, community.id, period, pct),
                                    published=revenue.disclosure(db.session, community.id, period),
                                    categories=revenue.CATEGORIES, **_helpers())

    def _back(self, community: Community, period: str):
        return redirect(url_for("EnergyView.revenue", community_id=community.id, period=period))

    @expose("/revenue/entry", methods=["POST"])
    @has_access
    @permission_name("revenue_entry")
    def revenue_entry(self):
        from app.forms.uploads import UploadRejected, store_upload

        community, period = _community(), _period()
        evidence = []
        try:
            cents = revenue.parse_yuan(request.form.get("amount", ""))
            for f in request.files.getlist("evidence"):
                if f and f.filename:
                    evidence.append(store_upload(f.stream, f.filename))
            revenue.add_entry(db.session, community.id, period=period, direction=request.form.get("direction", ""),
                              category=request.form.get("category", ""), amount_cents=cents,
                              description=request.form.get("description", ""), evidence=evidence,
                              actor=current_user.username)
            db.session.commit()
            flash(_("Entry recorded."), "success")
        except EnergyError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        except UploadRejected as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        return self._back(community, period)

    @expose("/revenue/correct/<int:entry_id>", methods=["POST"])
    @has_access
    @permission_name("revenue_correct")
    def revenue_correct(self, entry_id: int):
        community = _community()
        try:
            text = (request.form.get("difference") or "").strip()
            sign = -1 if text.startswith("-") else 1
            cents = sign * revenue.parse_yuan(text.lstrip("+-"))
            entry = revenue.correct_entry(db.session, community.id, entry_id, amount_cents=cents,
                                          reason=request.form.get("reason", "") or "-", actor=current_user.username)
            db.session.commit()
            flash(_("Correcting entry recorded in %(period)s.", period=entry.period), "success")
            return self._back(community, entry.period)
        except EnergyError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        return self._back(community, _period())

    @expose("/revenue/publish", methods=["POST"])
    @has_access
    @permission_name("revenue_publish")
    def revenue_publish(self):
        community, period = _community(), _period()
        try:
            revenue.publish(db.session, community.id, period, actor=current_user.username)
            db.session.commit()
            flash(_("%(period)s published: residents can open it now.", period=period), "success")
        except EnergyError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        return self._back(community, period)

    @expose("/revenue/export.xlsx")
    @has_access
    def export(self):
        community, period = _community(), _period()
        try:
            data = revenue.export_xlsx(db.session, community.id, period)
        except EnergyError:
            abort(404)
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="revenue-{community.code}-{period}.xlsx"'})


class DisclosureResidentView(BaseView):
    """The monthly public revenue disclosure (公示) of the resident's community."""

    route_base = "/me/disclosure"
    default_view = "index"

    def _community_ids(self) -> list[int]:
        ids = sorted({h.community_id for h in households_of_user(db.session, current_user.id)})
        ids = [i for i in ids if module_enabled(db.session, i, "energy")]
        if not ids:
            abort(404)
        return ids

    @expose("/")
    @has_access
    def index(self):
        rows = revenue.published(db.session, self._community_ids())
        return self.render_template("energy/disclosures.html", rows=rows, **_helpers())

    @expose("/<int:disclosure_id>")
    @has_access
    def show(self, disclosure_id: int):
        row = db.session.get(PublicRevenueDisclosure, disclosure_id)
        if row is None or row.community_id not in self._community_ids():
            abort(404)
        entries = revenue.entries(db.session, row.community_id, row.period)
        community = db.session.get(Community, row.community_id)
        return self.render_template("energy/disclosure.html", row=row, entries=entries, community=community,
                                    **_helpers())


def register(appbuilder) -> None:
    cat = {"category": "Energy", "category_label": _l("Energy")}
    appbuilder.add_view(EnergyView, "energy_findings", label=_l("Energy findings"), icon="fa-bolt", **cat)
    appbuilder.add_link("energy_apportion", label=_l("Shared costs"), href="/energy/apportion", icon="fa-pie-chart",
                        **cat)
    appbuilder.add_link("energy_trends", label=_l("Energy trends"), href="/energy/trends", icon="fa-line-chart",
                        **cat)
    appbuilder.add_link("energy_revenue", label=_l("Public revenue"), href="/energy/revenue", icon="fa-money", **cat)
    appbuilder.add_view_no_menu(DisclosureResidentView())
