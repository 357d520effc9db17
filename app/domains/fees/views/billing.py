"""Fees for accountants and managers: billing run (preview → issue → progress), bills, reports.

Views parse the request and render; rules live in ``app.domains.fees.billing``,
``late_fees`` and ``fee_reports``. Every page is scoped to one community the user may see.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from app import clock
from app.db import db
from app.domains.estate.models import Building, Community, Household, Unit
from app.domains.fees import billing
from app.domains.fees import reports as fee_reports
from app.domains.fees.billing import BillingError
from app.domains.fees.fee_items import load_items
from app.domains.fees.late_fees import accrue_late_fees
from app.domains.fees.models import Bill, BillingRun
from app.security.scope import require_community, visible_community_ids
from app.web.locale import current_locale as _locale

_VIEW = "^(FeesView)$"
_READ = "^can_(index|billing|run|bills|bill|reports|export)$"
GRANTS = {
    "Accountant": [[_VIEW, ".*"]],
    "Manager": [[_VIEW, ".*"]],
    "Regulator": [[_VIEW, _READ]],
}
STATUSES = ("open", "partially_paid", "paid", "cancelled")
PAGE_SIZE = 50



def yuan(cents) -> str:
    return f"{Decimal(int(cents or 0)) / 100:,.2f}"


def _may_write() -> bool:
    """Whether this user may run billing (the permission, not a role name, decides)."""
    from flask import current_app

    return current_app.appbuilder.sm.has_access("can_issue", "FeesView")


def _period_arg(default: str | None = None) -> str:
    period = (request.values.get("period") or default or billing.previous_period()).strip()
    return period


def _community(community_id: int) -> Community:
    require_community(community_id)
    return db.session.get(Community, community_id) or abort(404)


def _method_label(method: str) -> str:
    from app.domains.fees.receipts import METHOD_LABELS

    return METHOD_LABELS.get(method, {}).get(_locale(), method)


def _item_labels(community: Community) -> dict[str, str]:
    loc = _locale()
    labels = {"late_fee": _("Late fee")}
    try:
        labels.update({i.id: i.label.get(loc, i.id) for i in load_items(community.code).items})
    except Exception:  # noqa: BLE001 - labels only; the billing page reports broken items
        pass
    return labels


class FeesView(BaseView):
    route_base = "/fees"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        ids = visible_community_ids()
        communities = list(db.session.scalars(select(Community).where(Community.id.in_(ids)).order_by(Community.code)))
        if len(communities) == 1:
            return redirect(url_for("FeesView.billing", community_id=communities[0].id))
        return self.render_template("fees/index.html", communities=communities)

    # -- billing run ---------------------------------------------------------------------------

    @expose("/<int:community_id>/billing")
    @has_access
    def billing(self, community_id: int):
        community = _community(community_id)
        period = _period_arg()
        run = None
        error = None
        try:
            billing.parse_period(period)
            run = billing.get_run(db.session, community_id, period)
        except BillingError as exc:
            error = exc.message(_locale())
        runs = list(db.session.scalars(select(BillingRun).where(BillingRun.community_id == community_id)
                                       .order_by(BillingRun.period.desc()).limit(12)))
        return self.render_template("fees/billing.html", community=community, period=period, run=run,
                                    runs=runs, error=error, yuan=yuan, may_write=_may_write(),
                                    labels=_item_labels(community))

    @expose("/<int:community_id>/billing/preview", methods=["POST"])
    @has_access
    def preview(self, community_id: int):
        _community(community_id)
        period = _period_arg()
        try:
            billing.preview(db.session, community_id, period, actor=current_user.username)
            db.session.commit()
        except BillingError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        return redirect(url_for("FeesView.billing", community_id=community_id, period=period))

    @expose("/<int:community_id>/billing/issue", methods=["POST"])
    @has_access
    def issue(self, community_id: int):
        _community(community_id)
        period = _period_arg()
        accept = request.form.get("accept_anomalies") in ("on", "1", "y", "true")
        try:
            run = billing.issue(db.session, community_id, period, actor=current_user.username,
                                accept_anomalies=accept)
            db.session.commit()
        except BillingError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
            return redirect(url_for("FeesView.billing", community_id=community_id, period=period))
        flash(_("Issued %(count)s bills for %(period)s.", count=run.total, period=period), "success")
        return redirect(url_for("FeesView.run", community_id=community_id, run_id=run.id))

    @expose("/<int:community_id>/runs/<int:run_id>")
    @has_access
    def run(self, community_id: int, run_id: int):
        community = _community(community_id)
        run = db.session.get(BillingRun, run_id)
        if run is None or run.community_id != community_id:
            abort(404)
        return self.render_template("fees/run.html", community=community, run=run, yuan=yuan,
                                    labels=_item_labels(community))

    @expose("/<int:community_id>/late-fees", methods=["POST"])
    @has_access
    def late_fees(self, community_id: int):
        _community(community_id)
        try:
            result = accrue_late_fees(db.session, community_id, actor=current_user.username)
            db.session.commit()
            flash(_("Late fees updated on %(count)s bills (+%(amount)s yuan).", count=result.bills,
                    amount=yuan(result.added_cents)), "success")
        except BillingError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        return redirect(url_for("FeesView.bills", community_id=community_id))

    # -- bills ---------------------------------------------------------------------------------

    @expose("/<int:community_id>/bills")
    @has_access
    def bills(self, community_id: int):
        community = _community(community_id)
        period = (request.args.get("period") or "").strip()
        status = (request.args.get("status") or "").strip()
        building = (request.args.get("building") or "").strip()
        query = (request.args.get("q") or "").strip()
        page = max(int(request.args.get("page", 1) or 1), 1) if (request.args.get("page") or "1").isdigit() else 1
        q = (select(Bill, Household.code, Building.code)
             .join(Household, Bill.household_id == Household.id).join(Unit, Household.unit_id == Unit.id)
             .join(Building, Unit.building_id == Building.id).where(Bill.community_id == community_id))
        if period:
            q = q.where(Bill.period == period)
        if status in STATUSES:
            q = q.where(Bill.status == status)
        elif status == "overdue":
            q = q.where(Bill.status.in_(("open", "partially_paid")), Bill.due_date < clock.now().date())
        if building:
            q = q.where(Building.code == building)
        if query:
            q = q.where((Bill.number.contains(query)) | (Household.code.contains(query)))
        total = db.session.scalar(select(func.count()).select_from(q.subquery()))
        rows = db.session.execute(q.order_by(Bill.period.desc(), Bill.number)
                                  .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        buildings = list(db.session.scalars(select(Building.code).where(Building.community_id == community_id)
                                            .order_by(func.length(Building.code), Building.code)))
        periods = list(db.session.scalars(select(Bill.period).where(Bill.community_id == community_id)
                                          .group_by(Bill.period).order_by(Bill.period.desc())))
        return self.render_template("fees/bills.html", community=community, rows=rows, total=total, page=page,
                                    pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), period=period,
                                    status=status, building=building, q=query, buildings=buildings,
                                    periods=periods, statuses=STATUSES, yuan=yuan, today=clock.now().date(),
                                    may_write=_may_write())

    @expose("/<int:community_id>/bills/<int:bill_id>")
    @has_access
    def bill(self, community_id: int, bill_id: int):
        community = _community(community_id)
        bill = db.session.get(Bill, bill_id)
        if bill is None or bill.community_id != community_id:
            abort(404)
        household = db.session.get(Household, bill.household_id)
        return self.render_template("fees/bill.html", community=community, bill=bill, household=household,
                                    yuan=yuan, labels=_item_labels(community))

    # -- reports -------------------------------------------------------------------------------

    def _report_args(self, community_id: int):
        # no period asked for: the latest issued one (an un-issued month has no bills to show)
        period = _period_arg(fee_reports.latest_issued_period(db.session, community_id))
        try:
            billing.parse_period(period)
        except BillingError:
            period = fee_reports.latest_issued_period(db.session, community_id) or billing.previous_period()
        today = clock.now().date()
        try:
            as_of = date.fromisoformat(request.args.get("as_of") or today.isoformat())
            day = date.fromisoformat(request.args.get("day") or today.isoformat())
        except ValueError:
            as_of = day = today
        return period, as_of, day

    @expose("/<int:community_id>/reports")
    @has_access
    def reports(self, community_id: int):
        community = _community(community_id)
        period, as_of, day = self._report_args(community_id)
        journal, journal_available = fee_reports.cash_journal(db.session, community_id, day)
        return self.render_template(
            "fees/reports.html", community=community, period=period, as_of=as_of, day=day,
            by_period=fee_reports.collection_by_period(db.session, community_id).to_dict("records"),
            by_building=fee_reports.collection_by_building(db.session, community_id, period).to_dict("records"),
            by_item=fee_reports.collection_by_item(db.session, community_id, period).to_dict("records"),
            aging=fee_reports.arrears_aging(db.session, community_id, as_of).to_dict("records"),
            journal=journal.to_dict("records"), journal_available=journal_available,
            journal_totals=fee_reports.journal_totals(journal), yuan=yuan, labels=_item_labels(community),
            bucket_label=lambda b: fee_reports.bucket_label(b, _locale()), method_label=_method_label)

    @expose("/<int:community_id>/reports.xlsx")
    @has_access
    def export(self, community_id: int):
        community = _community(community_id)
        period, as_of, day = self._report_args(community_id)
        data = fee_reports.export_excel(db.session, community_id, period, as_of, day, locale=_locale(),
                                        item_labels=_item_labels(community))
        name = f"fees-{community.code}-{period}.xlsx"
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def register(appbuilder) -> None:
    cat = {"category": "Fees", "category_label": _l("Fees")}
    appbuilder.add_view(FeesView, "fee_billing", label=_l("Billing run"), icon="fa-calculator", **cat)
