"""A device's live page: status, last reading or event, recent errors, refused messages and
dead letters, capability tests; and the list of rejected device messages."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.db import db
from app.domains.devices import bus as device_bus
from app.domains.devices.models import Device
from app.domains.devices.models import DeviceRejected
from app.domains.devices.registry import (
    device_dead_letters,
    device_errors,
    device_rejections,
    profile_of,
    read_meters,
)
from app.security.scope import is_platform_admin, require_community, visible_community_ids

GRANTS = {
    "Manager": [["^(DevicePanelView)$", ".*"]],
    "Technician": [["^(DevicePanelView)$", ".*"]],
    "Guard": [["^(DevicePanelView)$", "^can_show$"]],
    "Regulator": [["^(DevicePanelView)$", "^can_show$"]],
}
# the rejected-messages list is read-only: no state-changing route
for _role in ("Manager", "Technician", "Guard", "Regulator"):
    GRANTS[_role].append(["^(RejectedMessagesView)$", "^can_list$"])

#: capability -> parameters the test button sends
TEST_PARAMS = {
    "gate.open": {"reason": "test"},
    "door.grant": {"credential": "TEST-CARD", "kind": "card"},
    "door.suspend": {"credential": "TEST-CARD", "reason": "test"},
    "door.restore": {"credential": "TEST-CARD"},
    # the charger needs a session id: the test session is stopped by the stop button
    "charger.start": {"session_id": "DEVICE-TEST", "max_kwh": 0.1},
    "charger.stop": {"session_id": "DEVICE-TEST"},
}


def _device(device_id: int) -> Device:
    device = db.session.get(Device, device_id)
    if device is None:
        abort(404)
    require_community(device.community_id)
    return device


class DevicePanelView(BaseView):
    route_base = "/device"
    default_view = "show"

    @expose("/<int:device_id>")
    @has_access
    def show(self, device_id: int):
        device = _device(device_id)
        try:
            profile = profile_of(device)
        except Exception:  # an unknown profile is shown, not a crash
            profile = None
        return self.render_template(
            "devices/panel.html", device=device, profile=profile,
            errors=device_errors(db.session, device, limit=20),
            rejections=device_rejections(db.session, device, limit=20),
            dead_letters=device_dead_letters(db.session, device, limit=20),
            capabilities=list(profile.capabilities) if profile else [],
        )

    @expose("/<int:device_id>/test", methods=["POST"])
    @has_access
    def test(self, device_id: int):
        device = _device(device_id)
        capability = request.form.get("capability", "")
        profile = profile_of(device)
        if capability not in profile.capabilities:
            abort(400)
        if capability == "meter.read":
            readings = read_meters(db.session, device.community_id, device_ids=[device.id], timeout=1.0, retries=1)
            db.session.commit()
            reading = readings[0] if readings else None
            if reading is None:
                flash(_("No reading."), "warning")
            elif reading.quality == "good":
                flash(_("Reading: %(value)s %(unit)s", value=reading.value, unit=reading.unit), "success")
            else:
                flash(_("Reading flagged: %(quality)s %(error)s", quality=reading.quality,
                        error=reading.error or ""), "warning")
        elif capability in TEST_PARAMS:
            try:
                ack = device_bus.command(db.session, device, capability, TEST_PARAMS[capability], timeout=3.0)
            except Exception as exc:  # broker down, rejected command: say so
                flash(_("Command failed: %(error)s", error=str(exc)), "danger")
            else:
                level = {"ok": "success", "queued": "warning"}.get(ack.status, "danger")
                flash(_("Device answered: %(status)s %(error)s", status=ack.status, error=ack.error or ""), level)
            db.session.commit()
        else:
            flash(_("This capability has no test action; its events appear here when they arrive."), "info")
        return redirect(url_for("DevicePanelView.show", device_id=device_id))


class RejectedMessagesView(BaseView):
    """Device messages the platform refused, newest first, in the user's communities (a
    platform admin also sees those no community could be found for)."""

    route_base = "/devices/rejected"
    default_view = "list"
    PAGE = 50

    @expose("/")
    @has_access
    def list(self):
        page = max(0, request.args.get("page", 0, type=int) or 0)
        scope = DeviceRejected.community_id.in_(visible_community_ids() or [-1])
        if is_platform_admin():
            scope = or_(scope, DeviceRejected.community_id.is_(None))
        rows = list(db.session.scalars(select(DeviceRejected).where(scope)
                                       .order_by(DeviceRejected.at.desc(), DeviceRejected.id.desc())
                                       .offset(page * self.PAGE).limit(self.PAGE + 1)))
        return self.render_template("devices/rejected.html", rows=rows[: self.PAGE], page=page,
                                    more=len(rows) > self.PAGE)


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(DevicePanelView())
    appbuilder.add_view(RejectedMessagesView(), "rejected_device_messages", label=_l("Rejected device messages"),
                        icon="fa-ban", category="Estate", category_label=_l("Estate"))
