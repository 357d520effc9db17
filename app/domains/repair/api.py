"""``/api/v1/me/repairs`` (a resident's repairs, reporting one with photos) and ``/api/v1/repairs``
(staff: the orders of their communities; a technician sees their own), the pages' rules as JSON."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.db import db
from app.domains.estate.residents import households_of_user, require_household
from app.domains.repair import orders as repair_orders
from app.domains.repair.models import RepairOrder
from app.domains.repair.orders import RepairError
from app.forms import jsonable, parse_submission
from app.platform.processes import module_enabled
from app.platform.uploads import grant_uploads
from app.security.scope import visible_community_ids
from app.web.api import FIELDS_MESSAGE, ApiBase, community_scope, ApiError, PageArgs, actor, api_safe, doc, form_submission, load_args, \
    not_found, page_schema, paged
from app.web.locale import current_locale
from app.web.views.uploads import check_form_uploads

GRANTS = {
    "Resident": [["^(RepairResidentApi)$", ".*"]],
    "Manager": [["^(RepairOrderApi)$", "^can_get$"]],
    "FrontDesk": [["^(RepairOrderApi)$", "^can_get$"]],
    "Technician": [["^(RepairOrderApi)$", "^can_get$"]],
    "Regulator": [["^(RepairOrderApi)$", "^can_get$"]],
}
STATUSES = ["reported", "unassigned", "dispatched", "accepted", "on_site", "completed", "confirmed", "closed",
            "cancelled"]


class RepairSchema(Schema):
    id = fields.Int(required=True)
    number = fields.Str(required=True)
    community_id = fields.Int(required=True)
    household_id = fields.Int(allow_none=True)
    category = fields.Str(required=True)
    description = fields.Str(required=True)
    location_kind = fields.Str()
    location = fields.Str()
    status = fields.Str(required=True, metadata={"enum": STATUSES})
    reported_at = fields.DateTime(allow_none=True)
    technician = fields.Str(allow_none=True)
    photos = fields.List(fields.Dict())
    charge_cents = fields.Int()
    quote_status = fields.Str(allow_none=True)
    sla = fields.Dict()


class RepairArgs(PageArgs):
    status = fields.Str(validate=validate.OneOf(STATUSES))
    community_id = fields.Int(validate=validate.Range(min=1))


class ReportSchema(Schema):
    """The ``repair/report`` form's fields (its YAML is the source of truth: 422 names any problem)."""

    category = fields.Str(required=True)
    description = fields.Str(required=True)
    location_kind = fields.Str(metadata={"enum": ["unit", "building_common", "community_common"]})
    location_note = fields.Str()
    preferred_time = fields.Str()
    household_id = fields.Int(validate=validate.Range(min=1, max=2**63 - 1))
    token = fields.Str(validate=validate.Length(max=64), metadata={"description": "one per report: a repeat "
                                                                                     "answers 409 with the order"})


class ReportUpload(ReportSchema):
    photos = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}))


RepairPage = page_schema(RepairSchema, "RepairPage")


def _json(order: RepairOrder) -> dict:
    locale = current_locale()
    return jsonable({
        "id": order.id, "number": order.number, "community_id": order.community_id,
        "household_id": order.household_id, "category": order.category, "description": order.description,
        "location_kind": order.location_kind,
        "location": repair_orders.location_text(db.session, order, locale),
        "status": order.status, "reported_at": getattr(order, "reported_at", None),
        "technician": order.technician_username, "photos": list(order.photos or []),
        "charge_cents": order.charge_cents, "quote_status": order.quote_status,
        "sla": repair_orders.sla_state(order)})


class RepairResidentApi(ApiBase):
    route_base = "/api/v1/me/repairs"
    method_permission_name = {"list_mine": "get", "one": "get", "report": "report"}

    def _households(self):
        households = households_of_user(db.session, current_user.id)
        if not households or not module_enabled(db.session, households[0].community_id, "repair"):
            raise not_found()
        return households

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("My household's repair orders", tags=["Resident"], query=PageArgs, response=RepairPage, etag=True,
         errors=(400, 401, 403, 404))
    def list_mine(self):
        args = load_args(PageArgs())
        ids = [h.id for h in self._households()]
        query = select(RepairOrder).where(RepairOrder.household_id.in_(ids)).order_by(RepairOrder.id.desc())
        return self.ok(paged(query, db.session, args, _json), etag=True)

    @expose("/<number>", methods=["GET"])
    @protect()
    @api_safe
    @doc("One of my repair orders", tags=["Resident"], response=RepairSchema, errors=(401, 403, 404))
    def one(self, number: str):
        ids = {h.id for h in self._households()}
        order = db.session.scalar(select(RepairOrder).where(RepairOrder.number == number[:40]))
        if order is None or order.household_id not in ids:
            raise not_found()
        return self.ok(_json(order))

    @expose("/", methods=["POST"])
    @protect()
    @api_safe
    @doc("Report a repair (JSON, or multipart with photos)", tags=["Resident"], body=ReportSchema,
         multipart=ReportUpload, response=RepairSchema, status=201, errors=(400, 401, 403, 404, 409, 422))
    def report(self):
        from app.web.catalog import get_forms

        households = self._households()
        submitted, files = form_submission()
        raw_household = submitted.get("household_id")
        household_id = int(raw_household) if raw_household and str(raw_household).isdigit() else None
        household = require_household(db.session, current_user.id, household_id) if household_id else households[0]
        if household is None:
            raise ApiError(422, FIELDS_MESSAGE(), {"household_id": [_("Not your household.")]})
        form = get_forms().get("repair/report")
        stored: list[dict] = []
        data, errors, raw = parse_submission(form, submitted, files, session=db.session,
                                             community_id=household.community_id, locale=current_locale(),
                                             on_store=stored.append)
        data, errors = check_form_uploads(data, errors, raw, stored, scope=f"form:{form.id}",
                                          community_id=household.community_id)
        if errors:
            raise ApiError(422, FIELDS_MESSAGE(), errors)
        token = (submitted.get("token") or "")[:64] or repair_orders.new_token()
        try:
            grant_uploads(db.session, jsonable(data), household.community_id, actor(), household_id=household.id)
            order = repair_orders.create_order(db.session, community_id=household.community_id, data=jsonable(data),
                                               actor=actor(), user_id=current_user.id, household_id=household.id,
                                               token=token)
        except RepairError as err:
            msg = err.message(current_locale())
            if err.code == "duplicate":
                raise ApiError(409, msg, {"token": [msg]}) from err
            raise ApiError(422, msg, {"_form": [msg]}) from err
        db.session.commit()
        return self.ok(_json(order), status=201)


class RepairOrderApi(ApiBase):
    route_base = "/api/v1/repairs"
    method_permission_name = {"list_orders": "get", "one": "get"}

    @staticmethod
    def _only_own() -> bool:
        from app.domains.repair.views import _only_own_orders

        return _only_own_orders()

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("Repair orders of my communities (a technician: their own)", tags=["Staff"], query=RepairArgs,
         response=RepairPage, etag=True, errors=(400, 401, 403, 404))
    def list_orders(self):
        args = load_args(RepairArgs())
        ids = community_scope(args)
        query = select(RepairOrder).where(RepairOrder.community_id.in_(ids))
        if args.get("status"):
            query = query.where(RepairOrder.status == args["status"])
        if self._only_own():
            query = query.where(RepairOrder.technician_username == current_user.username)
        return self.ok(paged(query.order_by(RepairOrder.id.desc()), db.session, args, _json), etag=True)

    @expose("/<int:order_id>", methods=["GET"])
    @protect()
    @api_safe
    @doc("One repair order", tags=["Staff"], response=RepairSchema, errors=(401, 403, 404))
    def one(self, order_id: int):
        order = db.session.get(RepairOrder, order_id)
        if order is None or order.community_id not in visible_community_ids():
            raise not_found()
        if self._only_own() and order.technician_username != current_user.username:
            raise not_found()
        return self.ok(_json(order))


def register(appbuilder) -> None:
    appbuilder.add_api(RepairResidentApi)
    appbuilder.add_api(RepairOrderApi)
