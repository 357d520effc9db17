"""``/api/v1/me/visitors``: a resident's visitor passes — list, invite (with the QR token to share),
answer a walk-in, cancel. The rules are ``app.domains.visitors.passes``, as for the pages."""
from __future__ import annotations

from flask import current_app
from flask_appbuilder.api import expose, protect
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Community, Household
from app.domains.estate.residents import require_household
from app.domains.visitors import passes as svc
from app.domains.visitors.models import VisitorPass
from app.localtime import from_local
from app.web.api import ApiBase, ApiError, PageArgs, actor, api_safe, doc, load_args, load_json, not_found, \
    page_schema, paged
from app.web.locale import current_locale

GRANTS = {"Resident": [["^(VisitorResidentApi)$", ".*"]]}


class PassSchema(Schema):
    id = fields.Int(required=True)
    number = fields.Str(allow_none=True)
    visitor_name = fields.Str(required=True)
    visitor_phone = fields.Str(allow_none=True)
    plate = fields.Str(allow_none=True)
    valid_from = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True)
    entries_allowed = fields.Int()
    entries_used = fields.Int()
    status = fields.Str(required=True, metadata={"description": "effective: active, not_yet_valid, expired, "
                                                                  "used_up, pending_approval, rejected, revoked"})
    source = fields.Str()
    short_code = fields.Str(allow_none=True)
    token = fields.Str(allow_none=True, metadata={"description": "what the QR code holds (active passes)"})


class InviteSchema(Schema):
    visitor_name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    visitor_phone = fields.Str(allow_none=True, validate=validate.Length(max=30))
    plate = fields.Str(allow_none=True, validate=validate.Length(max=12))
    valid_from = fields.NaiveDateTime(allow_none=True, metadata={"description": "Beijing wall-clock time"})
    hours = fields.Int(load_default=4, validate=validate.Range(min=1, max=24 * 31))
    entries = fields.Int(load_default=1, validate=validate.Range(min=1, max=1000))


class DecideSchema(Schema):
    decision = fields.Str(required=True, validate=validate.OneOf(["approve", "reject"]))


PassPage = page_schema(PassSchema, "PassPage")
_FIELD_OF = {"name": "visitor_name", "phone": "visitor_phone", "plate": "plate", "hours": "hours",
             "entries": "entries", "from": "valid_from"}


def _household() -> Household:
    household = require_household(db.session, current_user.id)
    if household is None:
        raise not_found()
    return household


def _json(vp: VisitorPass) -> dict:
    token = None
    if vp.status == "active":
        community = db.session.get(Community, vp.community_id)
        token = svc.make_token(current_app.config["SECRET_KEY"], vp, community.code)
    return {"id": vp.id, "number": vp.number, "visitor_name": vp.visitor_name, "visitor_phone": vp.visitor_phone,
            "plate": vp.plate, "valid_from": vp.valid_from.isoformat(), "valid_until": vp.valid_until.isoformat(),
            "entries_allowed": vp.entries_allowed, "entries_used": vp.entries_used,
            "status": svc.effective_status(vp), "source": vp.source, "short_code": vp.short_code, "token": token}


def _field_for(exc: Exception) -> str:
    code = str(getattr(exc, "code", "") or "")
    return next((field for key, field in _FIELD_OF.items() if key in code), "_form")


class VisitorResidentApi(ApiBase):
    route_base = "/api/v1/me/visitors"
    method_permission_name = {"list_passes": "get", "one": "get", "invite": "invite", "decide": "decide",
                              "revoke": "revoke"}

    def _own(self, pass_id: int) -> VisitorPass:
        vp = db.session.get(VisitorPass, pass_id)
        if vp is None or vp.household_id != _household().id:
            raise not_found()
        return vp

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("My household's visitor passes", tags=["Resident"], query=PageArgs, response=PassPage, etag=True,
         errors=(400, 401, 403, 404))
    def list_passes(self):
        args = load_args(PageArgs())
        query = select(VisitorPass).where(VisitorPass.household_id == _household().id).order_by(VisitorPass.id.desc())
        return self.ok(paged(query, db.session, args, _json), etag=True)

    @expose("/<int:pass_id>", methods=["GET"])
    @protect()
    @api_safe
    @doc("One of my passes (with its QR token when active)", tags=["Resident"], response=PassSchema,
         errors=(401, 403, 404))
    def one(self, pass_id: int):
        return self.ok(_json(self._own(pass_id)))

    @expose("/", methods=["POST"])
    @protect()
    @api_safe
    @doc("Invite a visitor: an active pass", tags=["Resident"], body=InviteSchema, response=PassSchema,
         status=201, errors=(400, 401, 403, 404, 422))
    def invite(self):
        body = load_json(InviteSchema())
        household = _household()
        try:
            vp = svc.invite(db.session, household=household, visitor_name=body["visitor_name"],
                            visitor_phone=body.get("visitor_phone"),
                            valid_from=from_local(body["valid_from"]) if body.get("valid_from") else None,
                            hours=body["hours"], entries=body["entries"], actor=actor(), plate=body.get("plate"))
        except svc.PassError as exc:
            msg = exc.message(current_locale())
            raise ApiError(422, msg, {_field_for(exc): [msg]}) from exc
        db.session.commit()
        return self.ok(_json(vp), status=201)

    @expose("/<int:pass_id>/decide", methods=["POST"])
    @protect()
    @api_safe
    @doc("Answer a walk-in visitor's request", tags=["Resident"], body=DecideSchema, response=PassSchema,
         errors=(400, 401, 403, 404, 409, 422))
    def decide(self, pass_id: int):
        body = load_json(DecideSchema())
        vp = self._own(pass_id)
        try:
            svc.host_decide(db.session, vp, body["decision"], actor())
        except svc.PassError as exc:
            raise ApiError(409, exc.message(current_locale())) from exc
        except ValueError as exc:
            raise ApiError(422, str(exc), {"decision": [str(exc)]}) from exc
        db.session.commit()
        return self.ok(_json(vp))

    @expose("/<int:pass_id>/revoke", methods=["POST"])
    @protect()
    @api_safe
    @doc("Cancel one of my passes", tags=["Resident"], response=PassSchema, errors=(401, 403, 404))
    def revoke(self, pass_id: int):
        vp = svc.revoke(db.session, self._own(pass_id), actor())
        db.session.commit()
        return self.ok(_json(vp))


def register(appbuilder) -> None:
    appbuilder.add_api(VisitorResidentApi)
