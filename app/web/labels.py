"""People's words for the codes the app stores (statuses, methods, kinds, roles, audit actions).

One table and one Jinja filter, ``code_label``, so no page shows ``open``, ``cash`` or
``module.settings``: ``{{ order.status | code_label }}``. The English text is a msgid, translated
like every other string (zh in ``app/translations/extra/labels.zh.yaml``). A dotted code (an audit
action such as ``payment.cash`` or ``repair.escalate.manager``) that has no entry of its own is
read part by part ("Payment · Cash"). A code nobody labelled is returned as it is, and the
all-pages browser test (``tests/browser/test_all_pages.py``) fails on it: add it here.

Domains may keep richer labels of their own (repair's timeline sentences); this table is the
fallback every page can use without importing a domain.
"""
from __future__ import annotations

import json
import re
from datetime import datetime

from flask_babel import lazy_gettext as _l

CODE_LABELS: dict[str, str] = {
    # generic statuses
    "open": _l("Not closed"), "closed": _l("Closed"), "pending": _l("Pending"), "active": _l("In effect"),
    "inactive": _l("Inactive"), "waiting": _l("Waiting"), "ready": _l("Ready"), "claimed": _l("Claimed"),
    "completed": _l("Completed"), "cancelled": _l("Cancelled"), "failed": _l("Failed"), "sent": _l("Sent"),
    "fired": _l("Fired"), "error": _l("Error"), "running": _l("Running"), "done": _l("Done"),
    "draft": _l("Draft"), "published": _l("Published"), "unknown": _l("Unknown"), "other": _l("Other"),
    "accepted": _l("Accepted"), "declined": _l("Declined"), "rejected": _l("Refused"),
    "approved": _l("Approved"), "expired": _l("Expired"), "revoked": _l("Cancelled"),
    "online": _l("Online"), "offline": _l("Offline"), "fault": _l("Fault"), "good": _l("Good"),
    "bad": _l("Bad reading"), "suspect": _l("Suspect reading"), "stale": _l("No recent reading"),
    "acknowledged": _l("Acknowledged"), "escalated": _l("Escalated"), "resolved": _l("Resolved"),
    "watching": _l("Watching"), "suspended": _l("Suspended"), "restored": _l("Restored"), "scheduled": _l("Scheduled"),
    "monthly": _l("Monthly"), "quarterly": _l("Quarterly"), "yearly": _l("Yearly"),
    # bills and payments
    "issued": _l("Issued"), "paid": _l("Paid"), "partial": _l("Partly paid"), "overdue": _l("Overdue"),
    "refunded": _l("Refunded"), "void": _l("Void"), "unpaid": _l("Unpaid"), "cash": _l("Cash"),
    "sandbox": _l("Online (sandbox)"), "wechatpay": _l("WeChat Pay"), "alipay": _l("Alipay"),
    "bank_transfer": _l("Bank transfer"), "charge": _l("Charge"), "charged": _l("Charged"),
    "payment": _l("Payment"), "gateway": _l("Payment gateway"), "order": _l("Order"), "callback_rejected": _l("Callback refused"),
    "order_cancelled": _l("Order cancelled"), "refund": _l("Refund"), "late_fee": _l("Late fee"),
    "accrue": _l("Accrued"), "billing": _l("Billing"),
    # repair
    "reported": _l("Reported"), "unassigned": _l("Waiting for dispatch"), "dispatched": _l("Dispatched"),
    "on_site": _l("On site"), "arrived": _l("Arrived"), "confirmed": _l("Confirmed"),
    "reopened": _l("Reopened"), "followed_up": _l("Followed up"), "called_back": _l("Called back"),
    "offered": _l("Offered"), "auto": _l("Automatic"), "manual": _l("By hand"), "reassigned": _l("Reassigned"),
    "reassign": _l("Reassigned"), "assign": _l("Assigned"), "report": _l("Reported"),
    "escalate": _l("Escalated"), "escalated_manager": _l("Escalated to the manager"),
    "escalated_reminded": _l("Technician reminded"), "escalated_resolution": _l("Resolution limit passed"),
    "escalated_company": _l("Escalated to the company"), "reminded": _l("Reminded"),
    "resolution": _l("Resolution limit"), "company": _l("Company"),
    "plumbing": _l("Plumbing"), "electrical": _l("Electrical"), "lift": _l("Lift"),
    "door_access": _l("Door access"), "public_area": _l("Public area"), "roof_leak": _l("Roof leak"),
    "repair": _l("Repair"),
    # security, doors, visitors
    "card": _l("Card"), "face": _l("Face"), "qr": _l("QR code"), "pin": _l("PIN"), "remote": _l("Remote"),
    "invite": _l("Invitation"), "walk_in": _l("Walk-in"), "decision": _l("Decision"),
    "not_yet_valid": _l("Not yet valid"), "used_up": _l("Used up"), "pending_approval": _l("Waiting for approval"),
    "security": _l("Safety"), "door": _l("Door"), "suspend": _l("Suspended"), "restore": _l("Restored"),
    "access_sync": _l("Access list synced"), "move_out": _l("Moved out"), "visitors": _l("Visitors"),
    "incident_opened": _l("Incident opened"), "incident_acknowledged": _l("Incident acknowledged"),
    "incident_closed": _l("Incident closed"), "incident_escalated": _l("Incident escalated"),
    "hydrant_alarm_opened": _l("Hydrant alarm raised"), "hydrant_alarm_closed": _l("Hydrant alarm cleared"),
    "hydrant_repaired": _l("Hydrant repaired"), "low_pressure": _l("Low pressure"), "silent": _l("Sensor silent"),
    "intrusion": _l("Intrusion"), "fire": _l("Fire"), "smoke": _l("Smoke"),
    # device readings and capabilities (device panel)
    "value": _l("Reading"), "unit": _l("Unit of measure"), "quality": _l("Quality"), "register": _l("Register"),
    "out_of_range": _l("Out of range"), "backwards": _l("Went backwards"), "timeout": _l("No answer"),
    "m3": "m³", "meter.read": _l("Read the meter"), "camera.alert": _l("Camera alert"),
    "gate.open": _l("Open the gate"), "door.grant": _l("Grant access"), "door.suspend": _l("Suspend access"),
    "door.restore": _l("Restore access"), "charger.start": _l("Start charging"), "charger.stop": _l("Stop charging"),
    "pressure.read": _l("Read the pressure"), "snapshot": _l("Snapshot"),
    "credential": _l("Credential"), "granted": _l("Granted"), "pressure": _l("Pressure"),
    # notifications
    "in_app": _l("In the app"), "sms": _l("SMS"), "email": _l("Email"), "wechat": _l("WeChat"),
    "queued": _l("Waiting to be sent"), "retrying": _l("Retrying"),
    # engine, modules, dunning
    "process": _l("Process"), "process.start": _l("Process started"), "process.deploy": _l("Process version published"),
    "start": _l("Started"), "deploy": _l("Published"), "task": _l("Task"),
    "complete": _l("Completed"), "timer": _l("Timer"), "fire_timer": _l("Timer fired"),
    "module": _l("Module"), "enable": _l("Enabled"), "disable": _l("Disabled"), "settings": _l("Settings changed"),
    "upgrade": _l("Upgraded"), "package": _l("Package"), "module.package.upload": _l("Module package uploaded"),
    "dunning": _l("Dunning"), "reminder": _l("Reminder"), "first": _l("first"), "second": _l("second"),
    "third": _l("third"), "final": _l("final"), "suspension_cancelled": _l("Suspension cancelled"),
    "suspension_check": _l("Suspension check"), "suspension_scheduled": _l("Suspension scheduled"),
    "households": _l("Households"), "devices": _l("Devices"), "import": _l("Imported"),
    # record types (audit log)
    "bill": _l("Bill"), "billing_run": _l("Billing run"), "community": _l("Community"),
    "gateway_notification": _l("Gateway notification"), "household": _l("Household"),
    "hydrant_alarm": _l("Hydrant alarm"), "incident": _l("Incident"), "payment_order": _l("Payment order"),
    "process_instance": _l("Process instance"), "process_version": _l("Process version"),
    "repair_order": _l("Repair order"), "security_incident": _l("Security incident"),
    "visitor_pass": _l("Visitor pass"), "device": _l("Device"),
    # jobs and roles (staff job codes and FAB role names)
    "manager": _l("Manager"), "accountant": _l("Accountant"), "technician": _l("Technician"),
    "guard": _l("Guard"), "front_desk": _l("Front desk"), "resident": _l("Resident"),
    "consultant": _l("Consultant"), "regulator": _l("Regulator"), "admin": _l("Admin"),
    "Admin": _l("Platform admin"), "Manager": _l("Community manager"), "Accountant": _l("Accountant"),
    "Technician": _l("Technician"), "Guard": _l("Guard"), "FrontDesk": _l("Front desk"),
    "Resident": _l("Resident"), "Consultant": _l("Consultant"), "Regulator": _l("Regulator (read-only)"),
    "Public": _l("Public"),
    # modules added later (module ids on the processes page, audit actions of their domains)
    "fees": _l("Fees"), "notice": _l("Notices"), "energy": _l("Energy"), "parking": _l("Parking"),
    "inspection": _l("Inspection"), "renovation": _l("Renovation"), "complaint": _l("Complaint"),
    "item_pass": _l("Item pass"), "deposit": _l("Deposit"), "record": _l("Recorded"), "release": _l("Released"),
    "finding_opened": _l("Finding opened"), "finding_closed": _l("Finding closed"),
    "revenue_entry": _l("Revenue entry"), "revenue_correction": _l("Revenue correction"),
    "revenue_published": _l("Revenue month published"), "apportioned": _l("Shared costs apportioned"),
    "checked_in": _l("Checked in"), "run_started": _l("Patrol run started"), "run_finished": _l("Patrol run finished"),
    "run_late": _l("Patrol run late"), "run_closed": _l("Patrol run closed"), "spot_check": _l("Spot check"),
    "rectified": _l("Rectified"), "waitlisted": _l("On the waiting list"), "permit": _l("Permit"),
    "plan_issued": _l("Self-inspection plan issued"),
    "ticket": _l("Ticket"), "gate_opened": _l("Gate opened"), "charging": _l("Charging"),
    "demo": _l("Demo data"), "system": _l("System"), "engine": _l("Workflow engine"), "init": _l("Installation"),
    "cli": _l("Command line"), "reconciliation": _l("Payment reconciliation"),
    # payments: statements and online refunds
    "gateway_only": _l("Paid at the gateway, not recorded here"), "ours_only": _l("Recorded here, not at the gateway"),
    "amount_mismatch": _l("Amounts differ"), "statement": _l("Daily statement"), "statement_run": _l("Daily statement"),
    "refund_requested": _l("Refund sent to the gateway"), "refund_failed": _l("Refund refused"),
    "refund_unsent": _l("Refund not confirmed as sent"), "refund_unbooked": _l("Refund confirmed, not booked"),
    "auto_refund_failed": _l("Automatic refund failed"),
}
# the family-link page (app/web/views/family.py)
CODE_LABELS.update({"family_link": _l("Family login linked"), "family_unlink": _l("Family login removed"),
                    "quote_reminded": _l("Quote reminder sent"), "quote_unanswered": _l("Quote not answered")})

#: who did something, when it was not a person (the audit log's "who"): a person's login is shown as typed
SYSTEM_ACTORS = {"demo", "system", "timer", "engine", "init", "cli", "gateway", "reconciliation",
                 "fees", "repair", "security", "visitors", "dunning", "energy", "parking", "inspection"}


def code_label(value) -> str:
    """The label of one stored code in the current language (the code itself if nobody labelled it)."""
    if value is None or value == "":
        return "—"
    code = str(value)
    label = CODE_LABELS.get(code)
    if label is not None:
        return str(label)
    if "." in code or ":" in code:  # an audit action (payment.cash) or an actor (gateway:sandbox)
        parts = code.replace(":", ".").split(".")
        if all(p in CODE_LABELS for p in parts):
            return " · ".join(str(CODE_LABELS[p]) for p in parts)
    return code


def actor_label(value) -> str:
    """The audit log's "who": a person's login as typed, a system actor in words
    (``demo`` → 演示数据, ``gateway:sandbox`` → 支付网关 · 在线支付（沙箱）)."""
    text = str(value or "")
    if text.split(":", 1)[0] in SYSTEM_ACTORS:
        return code_label(text)
    return text or "—"


def code_label_list(values) -> str:
    """Labels of several codes (a user's roles) joined for display."""
    return "，".join(code_label(getattr(v, "name", v)) for v in values or [])


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def readable_json(value) -> str:
    """A JSON snapshot (audit before/after) for people: ISO times in the one local format."""
    from app.localtime import local_format

    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str) and _ISO.match(v):
            try:
                return local_format(datetime.fromisoformat(v))
            except ValueError:
                return v
        return v

    if value in (None, "", {}, []):
        return "—"
    return json.dumps(walk(value), ensure_ascii=False, default=str)


def task_title(task) -> str:
    """A user task's name in the current language: the BPMN ``name`` (Chinese) or its
    ``name_en`` property, stored as ``title_en``; the element id when neither was given.

    A task stored before ``title_en`` existed (or under an older definition with a mixed
    "Draft notice 起草通知" name) takes both names from the shipped definition of its process,
    when that gives them as plain text (a name with ``${...}`` depends on the task's data)."""
    from app.web.locale import current_locale

    title, english = getattr(task, "title", None), getattr(task, "title_en", None)
    if not english and getattr(task, "instance_id", None) and getattr(task, "element_id", None):
        shipped = _shipped_names().get((_process_of(task.instance_id), task.element_id))
        if shipped:
            title, english = shipped
    if current_locale() == "en" and english:
        return english
    return title or english or getattr(task, "element_id", "")


_SHIPPED: dict[tuple[str, str], tuple[str, str]] | None = None
_CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def _shipped_names() -> dict[tuple[str, str], tuple[str, str]]:
    """``{(process id, user task id): (name, name_en)}`` of the installation's BPMN files whose
    user tasks carry a plain ``name_en`` (read once: shipped files change with a release)."""
    global _SHIPPED
    if _SHIPPED is None:
        import xml.etree.ElementTree as ET

        from flask import current_app

        found: dict[tuple[str, str], tuple[str, str]] = {}
        root = current_app.config["ESTATEFLOW_SETTINGS"].assets_dir / "bpmn"
        for path in sorted(root.glob("**/*.bpmn")):
            try:
                tree = ET.parse(path)
            except (ET.ParseError, OSError):
                continue
            for process in tree.iter(f"{_BPMN}process"):
                for node in process.iter(f"{_BPMN}userTask"):
                    name = node.get("name") or ""
                    english = next((p.get("value") for p in node.iter(f"{_CAMUNDA}property")
                                    if p.get("name") == "name_en"), None)
                    if english and name and "${" not in name + english:
                        found[(process.get("id"), node.get("id"))] = (name, english)
        _SHIPPED = found
    return _SHIPPED


def _process_of(instance_id: int) -> str | None:
    """The process id of an instance, remembered for the request (an inbox lists many)."""
    from flask import g

    from app.db import db
    from app.engine.models import ProcessInstance

    cache = g.setdefault("ef_process_of", {})
    if instance_id not in cache:
        instance = db.session.get(ProcessInstance, instance_id)
        cache[instance_id] = instance.process_id if instance else None
    return cache[instance_id]


def notification_text(n) -> tuple[str, str]:
    """(title, body) of a stored notification in the current language."""
    from app.domains.notifications.delivery import in_locale
    from app.web.locale import current_locale

    return in_locale(n, current_locale())


def install(app) -> None:
    app.add_template_filter(code_label, "code_label")
    app.add_template_global(code_label, "code_label")
    app.add_template_global(task_title, "task_title")
    app.add_template_global(notification_text, "notification_text")
    from app.web.cards import pending_work, top_badges

    app.add_template_global(pending_work, "pending_work")
    app.add_template_global(top_badges, "top_badges")
