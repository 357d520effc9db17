"""The device registry's CRUD view, scoped to the user's communities."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.domains.devices.models import Device
from app.web.scoped import ScopedModelView


class DeviceView(ScopedModelView):
    route_base = "/devices"
    datamodel = SQLAInterface(Device)
    list_columns = ["community", "panel_link", "name", "profile", "status", "last_seen", "location"]
    search_columns = ["code", "name", "profile", "status"]
    add_columns = edit_columns = ["community", "code", "name", "profile", "address", "location"]
    show_columns = ["community", "code", "name", "profile", "address", "location", "status",
                    "last_seen", "last_value", "last_error"]
    label_columns = {
        "community": _l("Community"), "code": _l("Device code"), "panel_link": _l("Device code"),
        "name": _l("Name"),
        "profile": _l("Model profile"), "address": _l("Protocol address"), "location": _l("Location"),
        "status": _l("Status"), "last_seen": _l("Last seen"), "last_value": _l("Last reading/event"),
        "last_error": _l("Last error"),
    }
