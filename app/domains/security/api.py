"""``/api/v1/alerts``: security incidents (grouped camera/sensor alerts) of the caller's communities
for guards and managers on a phone; acknowledging stays a task of the inbox (``/api/v1/tasks``)."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.db import db
from app.domains.security.models import SecurityAlert, SecurityIncident
from app.forms import jsonable
from app.security.scope import visible_community_ids
from app.web.api import ApiBase, community_scope, PageArgs, api_safe, doc, load_args, not_found, page_schema, paged

GRANTS = {role: [["^(AlertApi)$", "^can_get$"]] for role in ("Guard", "Manager", "Regulator")}
STATUSES = ["open", "acknowledged", "closed"]


class IncidentSchema(Schema):
    id = fields.Int(required=True)
    number = fields.Str(required=True)
    community_id = fields.Int(required=True)
    device_code = fields.Str()
    kind = fields.Str(required=True)
    location = fields.Str()
    zone = fields.Str(allow_none=True)
    status = fields.Str(required=True, metadata={"enum": STATUSES})
    first_at = fields.DateTime()
    last_at = fields.DateTime()
    alert_count = fields.Int()
    max_confidence = fields.Str()
    plate = fields.Str(allow_none=True)
    instance_id = fields.Int(allow_none=True)
    acknowledged_by = fields.Str(allow_none=True)
    outcome = fields.Str(allow_none=True)
    snapshot = fields.Dict(allow_none=True)


class IncidentDetail(IncidentSchema):
    alerts = fields.List(fields.Dict())


class AlertArgs(PageArgs):
    status = fields.Str(validate=validate.OneOf(STATUSES))
    community_id = fields.Int(validate=validate.Range(min=1))
    kind = fields.Str(validate=validate.Length(max=30))


IncidentPage = page_schema(IncidentSchema, "IncidentPage")


def _json(i: SecurityIncident) -> dict:
    return jsonable({"id": i.id, "number": i.number, "community_id": i.community_id, "device_code": i.device_code,
                     "kind": i.kind, "location": i.location, "zone": i.zone, "status": i.status,
                     "first_at": i.first_at, "last_at": i.last_at, "alert_count": i.alert_count,
                     "max_confidence": i.max_confidence, "plate": i.plate, "instance_id": i.instance_id,
                     "acknowledged_by": i.acknowledged_by, "outcome": i.outcome, "snapshot": i.snapshot})


class AlertApi(ApiBase):
    route_base = "/api/v1/alerts"
    method_permission_name = {"list_incidents": "get", "one": "get"}

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("Security incidents of my communities, newest first", tags=["Staff"], query=AlertArgs,
         response=IncidentPage, etag=True, errors=(400, 401, 403, 404))
    def list_incidents(self):
        args = load_args(AlertArgs())
        ids = community_scope(args)
        query = select(SecurityIncident).where(SecurityIncident.community_id.in_(ids))
        if args.get("status"):
            query = query.where(SecurityIncident.status == args["status"])
        if args.get("kind"):
            query = query.where(SecurityIncident.kind == args["kind"])
        query = query.order_by(SecurityIncident.last_at.desc(), SecurityIncident.id.desc())
        return self.ok(paged(query, db.session, args, _json), etag=True)

    @expose("/<int:incident_id>", methods=["GET"])
    @protect()
    @api_safe
    @doc("One incident with its alerts", tags=["Staff"], response=IncidentDetail, errors=(401, 403, 404))
    def one(self, incident_id: int):
        incident = db.session.get(SecurityIncident, incident_id)
        if incident is None or incident.community_id not in visible_community_ids():
            raise not_found()
        alerts = db.session.scalars(select(SecurityAlert).where(SecurityAlert.incident_id == incident.id)
                                    .order_by(SecurityAlert.id).limit(200))
        out = _json(incident)
        out["alerts"] = [jsonable({"id": a.id, "kind": a.kind, "confidence": a.confidence, "zone": a.zone,
                                   "plate": a.plate, "at": a.at, "received_at": a.received_at}) for a in alerts]
        return self.ok(out)


def register(appbuilder) -> None:
    appbuilder.add_api(AlertApi)
