"""JSON API for the estate (mini-programs and integrations), scoped like the views."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_appbuilder.api import expose, protect
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Building, Community, Household
from app.security.schemas import column_lengths
from app.security.scope import visible_community_ids
from app.web.api import ApiBase, ApiError, api_safe, community_scope, doc, load_args, not_found


class CommunitySchema(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    name_en = fields.Str(allow_none=True)


class BuildingSchema(Schema):
    id = fields.Int()
    community_id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    floors = fields.Int()


class HouseholdSchema(Schema):
    id = fields.Int()
    community_id = fields.Int()
    unit_id = fields.Int()
    code = fields.Str()
    head_name = fields.Str()
    phone = fields.Str(allow_none=True)
    active = fields.Bool()


@column_lengths(Household)  # too long for its column: 400, not a database error
class HouseholdUpdateSchema(Schema):
    head_name = fields.Str(validate=lambda s: 0 < len(s) <= 100)
    phone = fields.Str(allow_none=True)
    active = fields.Bool()


class HouseholdArgs(Schema):
    community_id = fields.Int(validate=validate.Range(min=1))


def _result(item: type[Schema], name: str, many: bool = True) -> type[Schema]:
    """The ``{"result": ...}`` body these routes have always answered."""
    value = fields.List(fields.Nested(item), required=True) if many else fields.Nested(item, required=True)
    return Schema.from_dict({"result": value}, name=name)


CommunityList = _result(CommunitySchema, "CommunityList")
BuildingList = _result(BuildingSchema, "BuildingList")
HouseholdList = _result(HouseholdSchema, "HouseholdList")
HouseholdOne = _result(HouseholdSchema, "HouseholdOne", many=False)


class EstateApi(ApiBase):
    """``/api/v1/estate/...``: every query is filtered by the caller's communities."""

    resource_name = "estate"
    method_permission_name = {
        "communities": "get",
        "buildings": "get",
        "households": "get",
        "household": "get",
        "update_household": "put",
    }

    @expose("/communities", methods=["GET"])
    @protect()
    @api_safe
    @doc("My communities", tags=["Estate"], response=CommunityList, errors=(401, 403))
    def communities(self):
        rows = db.session.scalars(
            select(Community).where(Community.id.in_(visible_community_ids())).order_by(Community.id)
        )
        return self.response(200, result=CommunitySchema(many=True).dump(rows))

    @expose("/communities/<int:community_id>/buildings", methods=["GET"])
    @protect()
    @api_safe
    @doc("The buildings of one of my communities", tags=["Estate"], response=BuildingList,
         errors=(401, 403, 404))
    def buildings(self, community_id: int):
        if community_id not in visible_community_ids():
            raise not_found()
        rows = db.session.scalars(select(Building).where(Building.community_id == community_id))
        return self.response(200, result=BuildingSchema(many=True).dump(rows))

    @expose("/households", methods=["GET"])
    @protect()
    @api_safe
    @doc("Households of my communities (the first 1,000)", tags=["Estate"], query=HouseholdArgs,
         response=HouseholdList, errors=(400, 401, 403, 404))
    def households(self):
        ids = community_scope(load_args(HouseholdArgs()))
        rows = db.session.scalars(
            select(Household).where(Household.community_id.in_(ids)).order_by(Household.id).limit(1000)
        )
        return self.response(200, result=HouseholdSchema(many=True).dump(rows))

    @expose("/households/<int:pk>", methods=["GET"])
    @protect()
    @api_safe
    @doc("One household", tags=["Estate"], response=HouseholdOne, errors=(401, 403, 404))
    def household(self, pk: int):
        item = db.session.get(Household, pk)
        if item is None or item.community_id not in visible_community_ids():
            raise not_found()
        return self.response(200, result=HouseholdSchema().dump(item))

    @expose("/households/<int:pk>", methods=["PUT"])
    @protect()
    @api_safe
    @doc("Change a household's head, phone or active flag", tags=["Estate"], body=HouseholdUpdateSchema,
         response=HouseholdOne, errors=(400, 401, 403, 404))
    def update_household(self, pk: int):
        item = db.session.get(Household, pk)
        if item is None or item.community_id not in visible_community_ids():
            raise not_found()
        from marshmallow import ValidationError

        payload = request.get_json(silent=True)
        if payload is None and not request.data:
            payload = {}
        if not isinstance(payload, dict):
            raise ApiError(400, _("Send a JSON object (Content-Type: application/json)"))
        try:
            changes = HouseholdUpdateSchema().load(payload)
        except ValidationError as err:
            return self.response_400(message=err.messages)
        from app.platform.audit import record

        before = HouseholdSchema().dump(item)
        for key, value in changes.items():
            setattr(item, key, value)
        record(db.session, actor=_actor(), action="household.update", target_type="household",
               target_id=pk, community_id=item.community_id, before=before,
               after=HouseholdSchema().dump(item))
        db.session.commit()
        return self.response(200, result=HouseholdSchema().dump(item))


def _actor() -> str:
    from flask_login import current_user

    return getattr(current_user, "username", "anonymous")
