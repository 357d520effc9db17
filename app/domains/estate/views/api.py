"""JSON API for the estate (mini-programs and integrations), scoped like the views."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, expose, protect
from marshmallow import Schema, fields
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Building, Community, Household
from app.security.schemas import column_lengths
from app.security.scope import visible_community_ids
from app.web.api_safety import safe


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


class EstateApi(BaseApi):
    """``/api/v1/estate/...``: every query is filtered by the caller's communities."""

    resource_name = "estate"
    allow_browser_login = True
    method_permission_name = {
        "communities": "get",
        "buildings": "get",
        "households": "get",
        "household": "get",
        "update_household": "put",
    }

    @expose("/communities", methods=["GET"])
    @protect()
    @safe
    def communities(self):
        rows = db.session.scalars(
            select(Community).where(Community.id.in_(visible_community_ids())).order_by(Community.id)
        )
        return self.response(200, result=CommunitySchema(many=True).dump(rows))

    @expose("/communities/<int:community_id>/buildings", methods=["GET"])
    @protect()
    @safe
    def buildings(self, community_id: int):
        if community_id not in visible_community_ids():
            return self.response_404()
        rows = db.session.scalars(select(Building).where(Building.community_id == community_id))
        return self.response(200, result=BuildingSchema(many=True).dump(rows))

    @expose("/households", methods=["GET"])
    @protect()
    @safe
    def households(self):
        ids = visible_community_ids()
        wanted = request.args.get("community_id", type=int)
        if wanted is not None:
            if wanted not in ids:
                return self.response_404()
            ids = [wanted]
        rows = db.session.scalars(
            select(Household).where(Household.community_id.in_(ids)).order_by(Household.id).limit(1000)
        )
        return self.response(200, result=HouseholdSchema(many=True).dump(rows))

    @expose("/households/<int:pk>", methods=["GET"])
    @protect()
    @safe
    def household(self, pk: int):
        item = db.session.get(Household, pk)
        if item is None or item.community_id not in visible_community_ids():
            return self.response_404()
        return self.response(200, result=HouseholdSchema().dump(item))

    @expose("/households/<int:pk>", methods=["PUT"])
    @protect()
    @safe
    def update_household(self, pk: int):
        item = db.session.get(Household, pk)
        if item is None or item.community_id not in visible_community_ids():
            return self.response_404()
        from marshmallow import ValidationError

        try:
            changes = HouseholdUpdateSchema().load(request.get_json(silent=True) or {})
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
