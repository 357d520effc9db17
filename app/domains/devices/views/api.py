"""``/api/v1/devices``: the devices of the caller's communities and each one's last known status
(what the panel page shows), for staff apps and partner systems."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.db import db
from app.domains.devices.models import Device
from app.forms import jsonable
from app.security.scope import visible_community_ids
from app.web.api import ApiBase, community_scope, PageArgs, api_safe, doc, load_args, not_found, page_schema, paged

GRANTS = {role: [["^(DeviceApi)$", "^can_get$"]] for role in ("Manager", "Technician", "Guard", "Regulator")}


class DeviceSchema(Schema):
    id = fields.Int(required=True)
    community_id = fields.Int(required=True)
    code = fields.Str(required=True)
    name = fields.Str(required=True)
    profile = fields.Str(required=True)
    location = fields.Str(allow_none=True)
    building_id = fields.Int(allow_none=True)
    status = fields.Str(required=True)
    last_seen = fields.DateTime(allow_none=True)


class DeviceStatusSchema(DeviceSchema):
    last_value = fields.Dict(allow_none=True)
    last_error = fields.Str(allow_none=True)


class DeviceArgs(PageArgs):
    community_id = fields.Int(validate=validate.Range(min=1))
    status = fields.Str(validate=validate.Length(max=20))
    profile = fields.Str(validate=validate.Length(max=80))


DevicePage = page_schema(DeviceSchema, "DevicePage")


def _json(d: Device, full: bool = False) -> dict:
    out = {"id": d.id, "community_id": d.community_id, "code": d.code, "name": d.name, "profile": d.profile,
           "location": d.location, "building_id": d.building_id, "status": d.status, "last_seen": d.last_seen}
    if full:
        out.update(last_value=d.last_value, last_error=d.last_error)
    return jsonable(out)


class DeviceApi(ApiBase):
    route_base = "/api/v1/devices"
    method_permission_name = {"list_devices": "get", "status": "get"}

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("Devices of my communities", tags=["Devices"], query=DeviceArgs, response=DevicePage, etag=True,
         errors=(400, 401, 403, 404))
    def list_devices(self):
        args = load_args(DeviceArgs())
        ids = community_scope(args)
        query = select(Device).where(Device.community_id.in_(ids))
        if args.get("status"):
            query = query.where(Device.status == args["status"])
        if args.get("profile"):
            query = query.where(Device.profile == args["profile"])
        return self.ok(paged(query.order_by(Device.id), db.session, args, _json), etag=True)

    @expose("/<int:device_id>/status", methods=["GET"])
    @protect()
    @api_safe
    @doc("A device's last known status and value", tags=["Devices"], response=DeviceStatusSchema,
         errors=(401, 403, 404))
    def status(self, device_id: int):
        device = db.session.get(Device, device_id)
        if device is None or device.community_id not in visible_community_ids():
            raise not_found()
        return self.ok(_json(device, full=True))


def register(appbuilder) -> None:
    appbuilder.add_api(DeviceApi)
