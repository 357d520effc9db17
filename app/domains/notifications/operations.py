"""``notify.send``: a BPMN service task sends a templated notification."""
from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import select

from app.domains.notifications.delivery import notify
from app.engine.operations import OperationContext, operation


class NotifySendSchema(Schema):
    template = fields.String(required=True)
    to_household = fields.Integer(load_default=None, allow_none=True)
    to_users = fields.String(load_default="", metadata={"description": "comma-separated usernames"})
    to_role = fields.String(load_default="", metadata={"description": "every login of this role in the community"})
    channels = fields.String(load_default="in_app")
    params = fields.Dict(load_default=dict)


@operation("notify.send", schema=NotifySendSchema)
def notify_send(params: dict, ctx: OperationContext) -> dict:
    """Send a template to a household, named users, or everyone of a role in the community."""
    from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role

    from app.domains.estate.models import UserCommunity
    from app.security.roles import ROLE_KEYS

    session = ctx.session
    user_ids: list[int] = []
    names = [n.strip() for n in params["to_users"].split(",") if n.strip()]
    if names:
        user_ids += list(session.scalars(select(User.id).where(User.username.in_(names))))
    if params["to_role"]:
        fab_names = [name for name, key in ROLE_KEYS.items() if key == params["to_role"]]
        user_ids += list(session.scalars(
            select(User.id).join(assoc_user_role, assoc_user_role.c.user_id == User.id)
            .join(Role, Role.id == assoc_user_role.c.role_id)
            .join(UserCommunity, UserCommunity.user_id == User.id)
            .where(Role.name.in_(fab_names), UserCommunity.community_id == ctx.community_id)
        ))
    merged = {**{k: v for k, v in ctx.data.items() if isinstance(v, (str, int))}, **params["params"],
              "instance_id": ctx.instance.id}  # shows the rows on the instance's page
    rows = notify(session, template=params["template"], params=merged, community_id=ctx.community_id,
                  user_ids=sorted(set(user_ids)), household_id=params["to_household"],
                  channels=tuple(c.strip() for c in params["channels"].split(",") if c.strip()),
                  extra_templates=_module_templates(ctx))
    return {"notified_count": sum(1 for r in rows if r.status in ("sent", "queued"))}


def _module_templates(ctx: OperationContext) -> dict[str, dict]:
    """The templates of the module package version this instance runs (none for shipped modules,
    whose templates are the installation's ``menus/notifications/``)."""
    from app.engine.models import ProcessVersion
    from app.modules.packages import package_for_process, package_templates

    version = ctx.session.get(ProcessVersion, ctx.instance.version_id) if ctx.instance is not None else None
    return package_templates(package_for_process(ctx.session, ctx.community_id, version))
