"""Every state-changing route refuses the roles it is not for (issue #12, item 3).

The test walks ``app.url_map``: each POST/PUT/DELETE route of the app is sent, with plausible
form data and real ids of the caller's own community, by every demo login (and an anonymous
client). Unless the route is in that login's allow-list below (the routes the role exists for),
the server must refuse (302 to the login page, 401, 403 or 404) and **no INSERT, UPDATE or
DELETE may reach the database** (a listener on the app's engine records every write statement).

A new route is covered automatically: it is refused to every role until someone adds it to the
allow-list of the roles that need it. One app and one demo database per backend (module scope).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from app.domains.devices.models import Device
from app.domains.estate.models import Building, Community, Household, Resident, Staff, Unit
from app.domains.fees.models import Payment
from app.domains.repair.models import RepairOrder
from app.domains.visitors.models import VisitorPass
from app.engine.models import TaskRow

METHODS = ("POST", "PUT", "DELETE")
REFUSED = {401, 403, 404}

# Routes nobody needs a role for: they authenticate by other means (password, JWT refresh token,
# a device key, a gateway signature, the sandbox cashier's order number) and are tested where
# they live. They are never sent here, because a public route may legitimately write (a door's
# pass check is logged even when refused).
PUBLIC = {
    "AuthDBView.login",  # the login form itself
    "SecurityApi.login",  # JWT login
    "SecurityApi.refresh",  # JWT refresh (needs a refresh token)
    "AccessApi.validate",  # door controllers: X-Device-Key, logs every check
    "GatewayNotifyView.notify",  # payment gateways: signed callbacks
    "SandboxCashierView.pay",  # demo cashier page of one order (sandbox gateway only)
    "SandboxCashierView.cancel",
    "ParkingDriverView.pay",  # the driver at the exit: the ticket's secret token from the QR code
    "ParkingNotifyView.notify",  # payment gateways: signed callbacks for parking tickets
    # logging out writes only the caller's own token version (every session of theirs ends);
    # sending it here would end the sessions the other cases use. Tested in test_authentication.
    "AuthDBView.logout",
}

# Every logged-in user manages their own account and their own notifications.
OWN_ACCOUNT = {
    "UserInfoEditView.this_form_post",
    "ResetMyPasswordView.this_form_post",
    "NotificationView.read",
}

INBOX = {"InboxView.claim", "InboxView.release", "InboxView.complete",
         "InboxApi.claim", "InboxApi.release", "TaskApi.complete"}  # the same through API v1
# a patrol: checking in at the points of a run and ending a run early
PATROL = {"InspectionView.check_in", "InspectionView.close"}

# The write routes each role exists for (beyond PUBLIC and OWN_ACCOUNT). Anything else → refused.
ALLOWED: dict[str, set[str]] = {
    # read-only by design: nothing but their own account, and recording a spot check (抽查) whose
    # findings go to the property company's rectification list
    "regulator": {"InspectionView.record_spot_check"},
    # residents: their own bills, repairs and visitors (records of their household only)
    "resident_yc": {
        "ResidentBillsView.pay", "ResidentPortalView.switch_household", "ResidentPortalView.set_mode",
        "RepairResidentView.report", "RepairResidentView.respond", "RepairResidentView.quote",
        "VisitorResidentView.invite", "VisitorResidentView.decide", "VisitorResidentView.revoke",
        # resident services: start one, complete a step assigned to them (never claim from a pool)
        "ResidentServicesView.start", "InboxView.complete",
        "ParkingResidentView.buy_permit", "ParkingResidentView.start_charging",
        "ParkingResidentView.stop_charging",
        # their own message settings: channels they agree to, their own WeChat binding
        "MessageSettingsView.channels", "MessageSettingsView.bind_wechat", "MessageSettingsView.unbind_wechat",
        # API v1 (mini-program): the same, as JSON
        "ResidentBillsApi.pay", "RepairResidentApi.report", "VisitorResidentApi.invite",
        "VisitorResidentApi.decide", "VisitorResidentApi.revoke", "TaskApi.complete",
        "FamilyView.change",  # the owner links a family member's login to the household
    },
    # technicians: their tasks and testing a device they maintain
    "tech_yc1": INBOX | PATROL | {"DevicePanelView.test"},
    # guards: their tasks and walk-in registration at the gate
    "guard_yc": INBOX | PATROL | {"VisitorDeskView.register_walk_in"},
    # accountants: their tasks, billing runs, late fees, payments and refunds
    "accountant_yc": INBOX | {
        "FeesView.preview", "FeesView.issue", "FeesView.late_fees",
        "AccountantPaymentsView.record", "AccountantPaymentsView.refund",
        "DunningView.chase",  # 催缴 from the arrears aging list
    },
    # front desk: households and residents, their import, walk-ins, starting and retrying processes
    "frontdesk_yc": INBOX | {
        "HouseholdView.add", "HouseholdView.edit", "HouseholdView.delete",
        "ResidentView.add", "ResidentView.edit", "ResidentView.delete",
        "HouseholdImportView.upload", "HouseholdImportView.confirm",
        "EstateApi.update_household",
        "InstanceView.start", "InstanceView.retry", "InstanceApi.start",
        "VisitorDeskView.register_walk_in",
        "FamilyDeskView.change",  # family logins of a household
        # parking: spaces, permits and the waiting list at the office
        *{f"ParkingManageView.{a}" for a in ("add_space", "set_space_active", "create_permit", "cancel_permit",
                                             "renew_permit", "assign_space", "serve_waiting", "cancel_waiting")},
    },
    # consultants: process models only
    "consultant": {"ProcessDefinitionView.upload", "ProcessApi.upload_api", "ProcessApi.validate_api",
                   # module packages: the page and the JSON API
                   "ProcessDefinitionView.package", "ProcessApi.package_upload_api",
                   "ProcessApi.package_validate_api",
                   # the studio (issue #20): drafts, their files, the menu form, checks, publishing
                   *{f"StudioView.{a}" for a in ("new", "open_published", "discard", "save_file", "delete_file",
                                                 "add_file", "save_menu", "check_expression", "publish_draft")},
                   # the studio's form editor: live preview (writes nothing)
                   "StudioFormsView.preview",
                   # the studio's test runs (scratch community only)
                   "StudioRunView.start", "StudioRunView.complete", "StudioRunView.fire_timer",
                   "StudioRunView.retry", "StudioRunView.save_case"},
    # managers run their community, but payments are the accountant's (read-only for a manager)
    "manager_yc": INBOX | {
        f"{view}.{action}" for view in ("BuildingView", "UnitView", "HouseholdView", "ResidentView",
                                        "StaffView", "DeviceView", "CommunityView")
        for action in ("add", "edit", "delete")
    } | {
        "HouseholdImportView.upload", "HouseholdImportView.confirm",
        "DeviceImportView.upload", "DeviceImportView.confirm", "DevicePanelView.test",
        "EstateApi.update_household",
        "InstanceView.start", "InstanceView.retry", "InstanceApi.start",
        "ModuleMenuView.save_settings", "ModuleMenuView.disable", "ModuleMenuView.upgrade",
        "RepairOrderView.reassign", "RepairOrderView.revise_quote", "SecurityView.sync", "VisitorDeskView.register_walk_in",
        "FeesView.preview", "FeesView.issue", "FeesView.late_fees",
        "EnergyView.apportion_issue", "EnergyView.revenue_entry", "EnergyView.revenue_correct",
        "EnergyView.revenue_publish", "EnergyView.handheld_round",
        "EnergyView.measure_add",
        "DashboardView.enter",  # the audit pack's figures from before the platform
        "DunningView.chase",  # 催缴 from the arrears aging list
        "FamilyDeskView.change",  # family logins of a household
        # parking: spaces, permits and the waiting list
        *{f"ParkingManageView.{a}" for a in ("add_space", "set_space_active", "create_permit", "cancel_permit",
                                             "renew_permit", "assign_space", "serve_waiting", "cancel_waiting")},
    } | PATROL | {"InspectionView.start"} | {
        f"{view}.{action}" for view in ("InspectionPointView", "InspectionRouteView") for action in ("add", "edit", "delete")
    },
    # not logged in: nothing
    "anonymous": set(),
}
USERS = list(ALLOWED)


def _write_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every state-changing route of the app."""
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted(set(rule.methods or ()) & set(METHODS)):
            routes.append((rule.endpoint, method, rule))
    return sorted(routes, key=lambda r: (r[0], r[1]))


@pytest.fixture(scope="module")
def ids(demo_app) -> dict:
    """Real ids of the YC community's records, so a refusal is never a mere missing record."""
    engine = create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"])
    with Session(engine) as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))

        def first(model, *where):
            return s.scalar(select(model.id).where(*where).order_by(model.id))

        household = s.scalar(select(Household).where(Household.community_id == yc).order_by(Household.id))
        order = s.scalar(select(RepairOrder).where(RepairOrder.community_id == yc).order_by(RepairOrder.id))
        values = {
            "community_id": yc,
            "household_id": household.id,
            "household_code": household.code,
            "task_id": first(TaskRow, TaskRow.community_id == yc, TaskRow.status.in_(("ready", "claimed"))) or 1,
            "payment_id": first(Payment, Payment.community_id == yc) or 1,
            "pass_id": first(VisitorPass, VisitorPass.community_id == yc) or 1,
            "order_id": order.id if order else 1,
            "number": order.number if order else "RO-1",
            "device_id": first(Device, Device.community_id == yc),
            "incident_id": 1,
            "module_id": "repair",
            "gateway": "sandbox",
            "out_trade_no": "X",
            "name": "muldelete",
            "pk": {
                "HouseholdView": household.id, "EstateApi": household.id,
                "BuildingView": first(Building, Building.community_id == yc),
                "UnitView": first(Unit, Unit.community_id == yc),
                "ResidentView": first(Resident, Resident.community_id == yc),
                "DeviceView": first(Device, Device.community_id == yc),
                "StaffView": first(Staff),
                "CommunityView": yc,
            },
        }
    engine.dispose()
    return values


def _url(rule, endpoint: str, ids: dict) -> str:
    path = rule.rule
    for arg in rule.arguments:
        value = ids.get(arg, 1)
        if isinstance(value, dict):
            value = value.get(endpoint.split(".")[0], 1)
        path = re.sub(r"<(?:[^:<>]+:)?" + arg + ">", str(value), path)
    return path


def _form(ids: dict) -> dict:
    """Plausible values for the fields of the write forms, so an unguarded route would write."""
    return {
        "household_code": ids["household_code"], "visitor_name": "Probe", "visitor_phone": "13800000000",
        "hours": "2", "entries": "1", "decision": "approve", "bill_id": "1", "amount": "1.00",
        "amount_yuan": "1.00", "method": "cash", "reason": "probe", "note": "probe", "technician_id": "1",
        "process_id": "repair", "description": "probe", "title": "probe", "name": "probe", "code": "PRB",
        "head_name": "Probe", "phone": "13800000000", "period": "2026-11", "satisfied": "yes",
    }


@pytest.fixture(scope="module")
def clients(demo_app):
    made = {}
    for username in USERS:
        client = demo_app.test_client()
        if username != "anonymous":
            pw = "demo1234"
            response = client.post("/login/", data={"username": username, "password": pw})
            assert response.status_code == 302, f"login failed for {username}"
        made[username] = client
    return made


@pytest.fixture(scope="module")
def writes(demo_app):
    """Every INSERT/UPDATE/DELETE statement the app sends to its database (cleared per request)."""
    from app.db import db

    with demo_app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement.split("\n", 1)[0][:120])

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_the_app_has_write_routes_and_the_allow_lists_name_real_routes(demo_app):
    endpoints = {endpoint for endpoint, _m, _r in _write_routes(demo_app)}
    assert len(endpoints) > 80
    for username, allowed in ALLOWED.items():
        unknown = (allowed | PUBLIC | OWN_ACCOUNT) - endpoints
        assert not unknown, f"allow-list of {username} names routes that do not exist: {unknown}"


@pytest.mark.parametrize("username", USERS)
def test_write_routes_refuse_roles_they_are_not_for(demo_app, clients, ids, writes, username):
    client = clients[username]
    allowed = ALLOWED[username] | PUBLIC | (OWN_ACCOUNT if username != "anonymous" else set())
    failures, tried = [], 0
    for endpoint, method, rule in _write_routes(demo_app):
        if endpoint in allowed:
            continue
        view = demo_app.view_functions[endpoint].__self__
        if endpoint.endswith((".action", ".action_post")):
            # FAB's generic action routes run one of the view's declared actions; a view that
            # declares none has nothing to run (FAB fails the lookup before any write).
            if not getattr(view, "actions", None):
                continue
            ids = {**ids, "name": next(iter(view.actions))}
        url = _url(rule, endpoint, ids)
        form = {**_form(ids), "action": ids["name"], "rowid": "1"}
        writes.clear()
        if "/api/" in rule.rule:
            response = client.open(url, method=method, json=form)
        else:
            response = client.open(url, method=method, data=form)
        tried += 1
        status = response.status_code
        location = response.headers.get("Location", "")
        refused = status in REFUSED or (status == 302 and "/login" in location)
        if status == 302 and endpoint.endswith((".action", ".action_post")):
            # FAB refuses an action by flashing "Access is Denied" (translated) as an error and
            # sending the user back; the write check below still applies
            with client.session_transaction() as sess:
                refused = any(category == "danger" for category, _text in sess.pop("_flashes", []))
        if not refused or writes:
            failures.append(f"{method} {url} ({endpoint}) → {status} {location} writes={writes[:3]}")
    assert tried > 25  # the manager, allowed the most, is still sent 37 routes
    assert not failures, f"{username} was not refused by {len(failures)} of {tried} routes:\n" + "\n".join(failures)


# (login, page, marker of a write control): the control shows only with the write permission
PAGES = [
    ("/visitors/", 'id="walk-in-form"', {"guard_yc": True, "frontdesk_yc": True, "regulator": False}),
    ("/payments/household/{household_id}", 'id="record-form"',
     {"accountant_yc": True, "manager_yc": False, "regulator": False}),
    ("/payments/household/{household_id}", 'id="record-button"', {"accountant_yc": True, "regulator": False}),
    ("/security/access/", "/sync", {"manager_yc": True, "guard_yc": False, "regulator": False}),
    ("/device/{device_id}", "test-btn", {"manager_yc": True, "regulator": False}),
    ("/processes/", 'id="upload-form"', {"consultant": True, "manager_yc": False}),
]


@pytest.mark.parametrize("path,marker,who", PAGES, ids=[f"{p}-{m}" for p, m, _w in PAGES])
def test_pages_show_write_controls_only_to_who_may_use_them(clients, ids, path, marker, who):
    url = path.format(**ids)
    for username, shown in who.items():
        response = clients[username].get(url)
        assert response.status_code == 200, (username, url, response.status_code)
        assert (marker in response.get_data(as_text=True)) is shown, (username, url, marker)


ROLE_OF = {"regulator": "Regulator", "resident_yc": "Resident", "tech_yc1": "Technician", "guard_yc": "Guard",
           "accountant_yc": "Accountant", "frontdesk_yc": "FrontDesk", "consultant": "Consultant",
           "manager_yc": "Manager"}


def _permission_of(app, endpoint: str) -> tuple[str, str]:
    """(permission, view name) FAB checks for ``endpoint``."""
    view = app.view_functions[endpoint].__self__
    method = endpoint.split(".", 1)[1]
    name = (view.method_permission_name or {}).get(method) or getattr(view, method)._permission_name
    return f"can_{name.removeprefix('can_')}", view.class_permission_name


def test_every_allow_listed_write_route_is_granted_to_that_role(demo_app):
    """The allow-lists are not wider than the grants: each allowed route is really permitted to
    the role (so the refusal test above covers everything the role is not granted)."""
    from types import SimpleNamespace

    sm = demo_app.appbuilder.sm
    for username, role in ROLE_OF.items():
        for endpoint in ALLOWED[username] | OWN_ACCOUNT:
            permission, view_name = _permission_of(demo_app, endpoint)
            assert sm._has_access_builtin_roles(SimpleNamespace(name=role), permission, view_name), (
                username, endpoint, permission, view_name)
    # and the check discriminates: the probe's finding and the accountant's routes
    for role, endpoint in (("Regulator", "VisitorDeskView.register_walk_in"),
                           ("Manager", "AccountantPaymentsView.record"),
                           ("Technician", "AccountantPaymentsView.refund")):
        permission, view_name = _permission_of(demo_app, endpoint)
        assert not sm._has_access_builtin_roles(SimpleNamespace(name=role), permission, view_name), endpoint
