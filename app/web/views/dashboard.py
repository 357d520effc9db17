"""The BI dashboard (数据看板): company, community and building level, ECharts served locally.

The tiles come from the KPI registry (``app/platform/kpi.py``) that each domain fills from its
``kpis.py``; this page never imports a domain. The page, its Excel export and the JSON API
(``/api/v1/dashboard/``) all call :func:`app.platform.kpi.build_dashboard`: one query path.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from flask import Response, abort, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import BaseApi, protect
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from app import clock
from app.db import db
from app.domains.estate.models import Building, Community
from app.platform.kpi import BuiltTile, Figure, Scope, build_dashboard, month_scope
from app.security.scope import require_community, visible_community_ids
from app.web.api_safety import safe
from app.web.locale import current_locale

MONTHS = (3, 6, 12)
#: a figure's unit → the spreadsheet cell format (app/platform/excel.py)
UNIT_KINDS = {"percent": "percent", "yuan_cents": "money", "minutes": "decimal1", "hours": "decimal1",
              "per_day": "decimal2", "count": "int"}
_READ = "^(can_index|can_export|can_staff|can_audit|can_audit_xlsx|can_audit_pdf)$"
GRANTS = {
    "Manager": [["^(DashboardView)$", ".*"], ["^(DashboardApi)$", "^can_get$"]],
    "Regulator": [["^(DashboardView)$", _READ], ["^(DashboardApi)$", "^can_get$"]],
}

BASIS = {"bills": _l("bills"), "orders": _l("orders"), "devices": _l("devices"), "alerts": _l("alerts"),
         "incidents": _l("incidents"), "tasks": _l("tasks"), "households": _l("households"),
         "passes": _l("visitor passes")}
#: why a figure is empty, in the user's language (the KPI services give the English msgid)
EMPTY = {"no bills issued": _l("no bills issued"), "no accepted orders": _l("no accepted orders"),
         "no completed orders": _l("no completed orders"), "no rated orders": _l("no rated orders"),
         "no devices registered": _l("no devices registered"), "no tasks closed": _l("no tasks closed"),
         "no acknowledged incidents": _l("no acknowledged incidents"),
         "no closed incidents": _l("no closed incidents"),
         "no buildings with map coordinates": _l("no buildings with map coordinates"),
         "choose one community to see its buildings": _l("choose one community to see its buildings")}


def empty_text(reason: str | None) -> str:
    return str(EMPTY.get(reason, reason or "—"))


def format_value(fig: Figure) -> str:
    value = fig.value
    if value is None:
        return empty_text(fig.empty)
    if fig.unit == "percent":
        return f"{Decimal(str(value)):.1f}%"
    if fig.unit == "yuan_cents":
        return f"¥{Decimal(int(value)) / 100:,.2f}"
    if fig.unit in ("minutes", "hours"):
        return f"{float(value):.1f}"
    if fig.unit == "per_day":
        return f"{float(value):.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def href(link) -> str | None:
    if not link:
        return None
    endpoint, args = link
    try:
        return url_for(endpoint, **args)
    except BuildError:
        return None


def freshness(as_of) -> str | None:
    """"Rolled up at 14:30 (12 min ago)": how fresh a figure read from the roll-ups is."""
    if as_of is None:
        return None
    from app.localtime import to_local

    minutes = max(0, int((clock.now() - as_of).total_seconds() // 60))
    local = to_local(as_of)
    when = local.strftime("%H:%M") if local.date() == to_local(clock.now()).date() else local.strftime("%Y-%m-%d %H:%M")
    return _("Rolled up at %(when)s (%(minutes)s min ago); refreshed every 15 minutes", when=when, minutes=minutes)


def present(fig: Figure) -> dict:
    """A figure as the page shows it: the number (or why there is none), its basis, its link."""
    count = None
    if fig.count is not None and fig.basis:
        count = _("%(basis)s: %(count)s", count=fig.count, basis=BASIS.get(fig.basis, fig.basis))
    return {"key": fig.key, "label": str(fig.label), "text": format_value(fig), "empty": fig.value is None,
            "count": count, "href": href(fig.link), "target": fig.target, "unit": fig.unit}


def _chart(built: BuiltTile) -> dict | None:
    chart = built.data.chart
    if not chart:
        return None
    chart = dict(chart)
    if "links" in chart:
        chart["hrefs"] = [href(tuple(link)) for link in chart.pop("links")]
    chart["empty"] = str(_("No data in this period"))
    return chart


class Selection:
    """The dashboard's level (company, community, building) and period, from the query string."""

    def __init__(self) -> None:
        self.months = request.args.get("months", type=int)
        if self.months not in MONTHS:
            self.months = 6
        visible = visible_community_ids()
        self.building = None
        self.community = None
        building_id = request.args.get("building_id", type=int)
        community_id = request.args.get("community_id", type=int)
        if building_id:
            self.building = db.session.get(Building, building_id) or abort(404)
            community_id = self.building.community_id
        if community_id:
            require_community(community_id)
            self.community = db.session.get(Community, community_id) or abort(404)
        self.community_ids = [self.community.id] if self.community else list(visible)
        self.level = "building" if self.building else ("community" if self.community else "company")

    def scope(self) -> Scope:
        return month_scope(self.community_ids, self.months, clock.now(),
                           building_id=self.building.id if self.building else None)

    def args(self) -> dict:
        out = {"months": self.months}
        if self.building:
            out["building_id"] = self.building.id
        elif self.community:
            out["community_id"] = self.community.id
        return out


def _title(selection: Selection) -> str:
    loc = current_locale()
    if selection.community is None:
        return _("All my communities")
    name = selection.community.name if loc == "zh" else (selection.community.name_en or selection.community.name)
    return f"{name} · {selection.building.name}" if selection.building else name


class DashboardView(BaseView):
    route_base = "/dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        selection = Selection()
        scope = selection.scope()
        built = build_dashboard(db.session, scope)
        communities = list(db.session.scalars(select(Community).where(
            Community.id.in_(visible_community_ids())).order_by(Community.id)))
        buildings = []
        if selection.community is not None:
            buildings = list(db.session.scalars(select(Building).where(
                Building.community_id == selection.community.id).order_by(func.length(Building.code), Building.code)))
        tiles = [{"id": b.tile.id, "title": str(b.tile.title), "figures": [present(f) for f in b.data.figures],
                  "chart": _chart(b), "note": empty_text(b.data.note) if b.data.note else None,
                  "whole_community": b.whole_community, "as_of": freshness(b.data.as_of)} for b in built]
        return self.render_template("dashboard/index.html", tiles=tiles, selection=selection, months=MONTHS,
                                    communities=communities, buildings=buildings, title=_title(selection),
                                    period=f"{scope.months[0]} – {scope.months[-1]}",
                                    export_args=selection.args())

    @expose("/export.xlsx")
    @has_access
    def export(self):
        from app.platform.excel import Column, Sheet, workbook

        selection = Selection()
        scope = selection.scope()
        rows, units = [], []
        for b in build_dashboard(db.session, scope):
            for f in b.data.figures:
                value = f.value
                if value is not None and f.unit == "percent":
                    value = Decimal(str(value)) / 100
                elif value is not None and f.unit == "yuan_cents":
                    value = Decimal(int(value)) / 100
                rows.append([str(b.tile.title), str(f.label), value, f.count, str(BASIS.get(f.basis, f.basis or "")),
                             empty_text(f.empty) if f.value is None else "", freshness(b.data.as_of) or _("live")])
                units.append(f.unit)
        columns = [Column(_("Tile"), "text", 26), Column(_("Figure"), "text", 36), Column(_("Value"), "by_row", 14),
                   Column(_("Records behind it"), "int", 14), Column(_("Records"), "text", 12),
                   Column(_("Why empty"), "text", 26), Column(_("As of"), "text", 30)]
        sheet = Sheet(_("Dashboard"), columns, rows, row_kinds=[UNIT_KINDS.get(u, "text") for u in units])
        data = workbook([sheet], title=_("Dashboard: %(where)s, %(period)s", where=_title(selection),
                                         period=f"{scope.months[0]} – {scope.months[-1]}"))
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="dashboard.xlsx"'})


    @expose("/staff/")
    @has_access
    def staff(self):
        """The records behind staff efficiency at company level: per community and person, each
        community linking to its processes (every task and who closed it)."""
        from datetime import date, datetime

        from app.engine.kpis import staff_by_person
        from app.localtime import from_local

        ids = [c for c in visible_community_ids()]
        community_id = request.args.get("community_id", type=int)
        if community_id:
            require_community(community_id)
            ids = [community_id]
        today = clock.now().date()
        try:
            since = date.fromisoformat(request.args.get("since") or today.replace(day=1).isoformat())
            until = date.fromisoformat(request.args.get("until") or today.isoformat())
        except ValueError:
            abort(400)
        if until <= since:
            abort(400)
        start = from_local(datetime(since.year, since.month, since.day))
        end = from_local(datetime(until.year, until.month, until.day))
        scope = Scope(tuple(ids), start, end, (since.isoformat()[:7],))
        rows = staff_by_person(db.session, scope)
        names = {c.id: (c.name if current_locale() == "zh" else (c.name_en or c.name)) for c in db.session.scalars(
            select(Community).where(Community.id.in_(ids)))}
        return self.render_template("dashboard/staff.html", rows=rows, names=names, since=since,
                                    until=until - timedelta(days=1), total=sum(r["tasks"] for r in rows))

    # -- the renovation audit pack ----------------------------------------------------------

    def _audit_args(self):
        from app.platform.audit_pack import AuditPackError, months_between, parse_month

        community_id = request.values.get("community_id", type=int)
        if not community_id:
            visible = visible_community_ids()
            community_id = visible[0] if visible else None
        require_community(community_id)
        community = db.session.get(Community, community_id) or abort(404)
        today = clock.now()
        this_year = today.year
        defaults = {"before_from": f"{this_year - 1}-01", "before_to": f"{this_year - 1}-06",
                    "after_from": f"{this_year}-01", "after_to": f"{this_year}-06"}
        values = {k: (request.values.get(k) or v).strip() for k, v in defaults.items()}
        error = None
        try:
            for a, b in (("before_from", "before_to"), ("after_from", "after_to")):
                months_between(parse_month(values[a]), parse_month(values[b]))
        except AuditPackError as err:
            error = err.message(current_locale())
            values = defaults
        return community, (values["before_from"], values["before_to"]), (values["after_from"], values["after_to"]), \
            values, error

    def _community_name(self, community) -> str:
        return community.name if current_locale() == "zh" else (community.name_en or community.name)

    @expose("/audit/")
    @has_access
    def audit(self, error: str | None = None, status: int = 200):
        from app.platform.audit_pack import OUTCOMES, outcomes, target_text

        community, before, after, values, arg_error = self._audit_args()
        rows = outcomes(db.session, community.id, before, after, clock.now())
        lang = "en" if current_locale() == "en" else "zh"
        labels = {k: (v[1] if lang == "en" else v[0]) for k, v in OUTCOMES.items()}
        communities = list(db.session.scalars(select(Community).where(
            Community.id.in_(visible_community_ids())).order_by(Community.id)))
        trends = {r.outcome: _trend_chart(r, lang) for r in rows}
        return self.render_template("dashboard/audit.html", community=community, rows=rows, values=values,
                                    trends=trends, targets={k: target_text(k, lang) for k in OUTCOMES},
                                    labels=labels, units={k: v[2] for k, v in OUTCOMES.items()},
                                    error=error or arg_error, communities=communities,
                                    may_enter=self.appbuilder.sm.has_access("can_enter", "DashboardView")), status

    @expose("/audit/enter", methods=["POST"])
    @has_access
    @permission_name("enter")
    def enter(self):
        from flask import flash, redirect
        from flask_login import current_user

        from app.platform.audit_pack import AuditPackError, enter_figure

        community, _before, _after, values, _error = self._audit_args()
        try:
            enter_figure(db.session, community.id, request.form.get("outcome", ""),
                         (request.form.get("period_from", ""), request.form.get("period_to", "")),
                         request.form.get("value", ""), request.form.get("source", ""), current_user.username)
            db.session.commit()
        except AuditPackError as err:
            db.session.rollback()
            return self.audit(error=err.message(current_locale()), status=422)
        flash(_("Figure saved; the pack marks it as entered, not measured."), "success")
        return redirect(url_for("DashboardView.audit", community_id=community.id, **values))

    @expose("/audit/pack.xlsx")
    @has_access
    def audit_xlsx(self):
        from app.platform.audit_pack import outcomes, workbook_bytes

        community, before, after, _values, _error = self._audit_args()
        data = workbook_bytes(outcomes(db.session, community.id, before, after, clock.now()),
                              self._community_name(community), before, after, current_locale())
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="audit-{community.code}.xlsx"'})

    @expose("/audit/pack.pdf")
    @has_access
    def audit_pdf(self):
        from app.platform.audit_pack import outcomes, pdf_bytes

        community, before, after, _values, _error = self._audit_args()
        data = pdf_bytes(outcomes(db.session, community.id, before, after, clock.now()), community.name, before, after)
        return Response(data, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="audit-{community.code}.pdf"'})


def _trend_chart(row, lang: str) -> dict | None:
    """An outcome's months over both periods as the page's line chart (before and after as two
    series); None when no month was measured."""
    from app.platform.audit_pack import OUTCOMES

    if not any(p.value is not None for p in row.trend):
        return None
    unit = OUTCOMES[row.outcome][2]
    return {"kind": "line", "unit": "percent" if unit == "percent" else "count", "x": [p.month for p in row.trend],
            "series": [{"name": str(_l("Before")), "data": [p.value if p.period == "before" else None for p in row.trend]},
                       {"name": str(_l("After")), "data": [p.value if p.period == "after" else None for p in row.trend]}],
            "empty": str(_("No data in this period"))}


class DashboardApi(BaseApi):
    """``GET /api/v1/dashboard/?community_id=&building_id=&months=``: the same tiles as JSON."""

    resource_name = "dashboard"
    allow_browser_login = True
    method_permission_name: ClassVar[dict[str, str]] = {"tiles": "get"}

    @api_expose("/", methods=["GET"])
    @protect()
    @safe
    def tiles(self):
        selection = Selection()
        scope = selection.scope()
        return self.response(200, level=selection.level, months=list(scope.months),
                             community_ids=selection.community_ids,
                             tiles=[b.as_dict() for b in build_dashboard(db.session, scope)])


def register(appbuilder) -> None:
    appbuilder.add_view(DashboardView, "dashboard", label=_l("Dashboard"), icon="fa-bar-chart")
    appbuilder.add_api(DashboardApi)
