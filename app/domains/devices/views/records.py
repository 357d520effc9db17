"""The device registry's CRUD view, scoped to the user's communities."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from app.domains.devices.models import Device
from app.web.scoped import ScopedModelView


def _profile_exists(form, field) -> None:
    from app.db import db
    from app.domains.devices.registry import _profiles

    if (field.data or "").strip() not in _profiles(db.session):
        from app.domains.devices.registry import check_device_fields

        try:
            check_device_fields(field.data, "", db.session)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


def _address_parses(form, field) -> None:
    """The address must parse for the protocol of the profile chosen in the same form."""
    from app.db import db
    from app.domains.devices.registry import _profiles, check_device_fields

    profile = getattr(form, "profile", None)
    if profile is None or (profile.data or "").strip() not in _profiles(db.session):
        return  # the profile field reports its own error
    try:
        check_device_fields(profile.data.strip(), field.data, db.session)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class DeviceView(ScopedModelView):
    route_base = "/devices"
    datamodel = SQLAInterface(Device)
    list_columns = ["community", "panel_link", "name", "profile", "status", "last_seen", "location"]
    search_columns = ["code", "name", "profile", "status"]
    add_columns = edit_columns = ["community", "code", "name", "profile", "address", "location"]
    show_columns = ["community", "code", "name", "profile", "address", "location", "status",
                    "last_seen", "last_value", "last_error"]
    validators_columns = {"profile": [_profile_exists], "address": [_address_parses]}
    description_columns = {
        "profile": _l("A file name in connectors/profiles/, e.g. water_meter_dn20"),
        "address": _l("Modbus: host:port/unit (192.168.1.20:502/7); MQTT: the device id in its topic"),
    }
    label_columns = {
        "community": _l("Community"), "code": _l("Device code"), "panel_link": _l("Device code"),
        "name": _l("Name"),
        "profile": _l("Model profile"), "address": _l("Protocol address"), "location": _l("Location"),
        "status": _l("Status"), "last_seen": _l("Last seen"), "last_value": _l("Last reading/event"),
        "last_error": _l("Last error"),
    }
