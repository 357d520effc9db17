"""Visitor passes: invitations, signed QR tokens, validation at the door, walk-in approval.

A pass is a row (host household, visitor, time window, entries allowed/used, a random
``token_id``). Its QR code carries a token ``<payload>.<signature>``: the payload (pass id,
token id, community code, window) in base64url JSON, signed with HMAC-SHA256 under a key
derived from the platform secret. The door sends the token to the platform
(``POST /api/v1/access/validate``); ``validate`` checks signature, community, pass status,
window and entries, consumes one entry atomically, logs the check with its reason and tells
the host household that their visitor arrived. Forged, expired, used-up and other-community
passes are refused and logged the same way.

A visitor whose phone cannot show the QR code types the pass's 6-digit code on the door's
keypad instead (the door sends it as the token): unique among the community's live passes,
and a door that sends too many wrong codes is refused for a while.

Doors authenticate with a per-door key (``device_key``) derived from the same secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community, Household
from app.domains.notifications.delivery import notify
from app.domains.visitors.models import PassCheck, VisitorPass
from app.platform.audit import record
from app.platform.module_settings import module_settings

log = logging.getLogger("estateflow.visitors")

WALK_IN_PROCESS = "visitors_walk_in"
TOKEN_VERSION = 1
REASONS = ("admitted", "malformed", "bad_signature", "unknown_device", "bad_device_key", "wrong_community",
           "unknown_pass", "not_active", "not_yet_valid", "expired", "used_up", "unknown_code", "too_many_attempts")
MOBILE = re.compile(r"1[3-9]\d{9}")
"""A mainland China mobile number: 11 digits starting 13–19."""
CODE_DIGITS = 6
CODE_ATTEMPTS = 10
"""Wrong 6-digit codes a door may send in :data:`CODE_WINDOW` before it is refused for a while."""
CODE_WINDOW = timedelta(minutes=5)
LIVE_STATUSES = ("active", "pending_approval")


class PassError(ValueError):
    """A refused invitation; ``code`` and ``params`` let the page say why in zh or en."""

    MESSAGES = {
        "name_required": ("请填写访客姓名。", "Enter the visitor's name."),
        "bad_phone": ("请填写 11 位手机号码（如 13912345678）。",
                      "Enter an 11-digit mainland mobile phone number (such as 13912345678)."),
        "no_code": ("暂时无法生成通行码，请稍后再试。", "No pass code is free right now; try again shortly."),
        "bad_plate": ("车牌号码格式不正确（例如：京A12345）。", "That is not a valid plate number (e.g. 京A12345)."),
        "hours_range": ("有效期须为 1 到 {max} 小时。", "Validity must be 1 to {max} hours."),
        "entries_range": ("通行次数须为 1 到 {max} 次。", "Entries must be 1 to {max}."),
        "start_range": ("开始时间不能早于现在 1 小时以前，也不能晚于 7 天后。",
                        "The start must be within the past hour and the next 7 days."),
        "module_off": ("本小区未开通访客通行。", "Visitor passes are not enabled in this community."),
        "not_pending": ("这次来访已经处理过了。", "This visit was already decided."),
    }

    def __init__(self, code: str, **params):
        self.code, self.params = code, params
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        zh, en = self.MESSAGES[self.code]
        return (en if locale.startswith("en") else zh).format(**self.params)


# keys and tokens -------------------------------------------------------------------------------
def _key(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"estateflow:{purpose}:v1:".encode() + secret.encode("utf-8")).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def device_key(secret: str, community_code: str, device_id: str) -> str:
    """The key a door controller presents when it asks the platform to validate a pass."""
    mac = hmac.new(_key(secret, "door"), f"{community_code}/{device_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def make_token(secret: str, vp: VisitorPass, community_code: str) -> str:
    payload = {"v": TOKEN_VERSION, "p": vp.id, "t": vp.token_id, "c": community_code,
               "f": int(vp.valid_from.timestamp()), "u": int(vp.valid_until.timestamp())}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_key(secret, "visitor-pass"), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def read_token(secret: str, token: str) -> tuple[dict | None, str]:
    """(payload, "ok") for a genuine token, else (None, reason)."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 600:
        return None, "malformed"
    body, sig = token.split(".")
    try:
        given = _unb64(sig)
    except (ValueError, TypeError):
        return None, "malformed"
    expected = hmac.new(_key(secret, "visitor-pass"), body.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        return None, "bad_signature"
    try:
        payload = json.loads(_unb64(body))
        if payload.get("v") != TOKEN_VERSION or not isinstance(payload.get("p"), int):
            return None, "malformed"
    except (ValueError, TypeError, AttributeError):
        return None, "malformed"
    return payload, "ok"


def qr_png(text: str) -> bytes:
    """The token as a QR code PNG (error correction M, large enough for door readers)."""
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=3)
    qr.add_data(text)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image().save(buf, format="PNG")
    return buf.getvalue()


# issuing ------------------------------------------------------------------------------------------
def check_phone(phone: str | None) -> str | None:
    """A mainland mobile number (spaces, dashes and a +86 prefix allowed), or None if empty."""
    phone = re.sub(r"[\s-]", "", phone or "")
    if not phone:
        return None
    phone = phone.removeprefix("+86").removeprefix("0086")
    if not MOBILE.fullmatch(phone):
        raise PassError("bad_phone")
    return phone


def _free_code(session: Session, community_id: int, now: datetime) -> str:
    """6 random digits no other live pass of the community holds (its fallback code at the door)."""
    for _ in range(30):
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        taken = session.scalar(select(VisitorPass.id).where(
            VisitorPass.community_id == community_id, VisitorPass.short_code == code,
            VisitorPass.status.in_(LIVE_STATUSES), VisitorPass.valid_until > now).limit(1))
        if taken is None:
            return code
    raise PassError("no_code")


def _check_plate(plate: str | None) -> str | None:
    """A car plate as the parking gate reads it (separators dropped, upper case), or None."""
    text = "".join(ch for ch in (plate or "") if ch not in " ·-.").upper()
    if not text:
        return None
    if not 6 <= len(text) <= 9 or not text[1:].isalnum():
        raise PassError("bad_plate")
    return text


def _new_pass(session: Session, *, community_id: int, household_id: int, visitor_name: str,
              visitor_phone: str | None, valid_from: datetime | None, hours: int, entries: int,
              status: str, source: str, actor: str, plate: str | None = None) -> VisitorPass:
    from app.platform.processes import module_enabled

    if not module_enabled(session, community_id, "visitors"):
        raise PassError("module_off")
    settings = module_settings(session, community_id, "visitors")
    name = (visitor_name or "").strip()
    if not name or len(name) > 100:
        raise PassError("name_required")
    phone = check_phone(visitor_phone)
    plate = _check_plate(plate)
    max_hours, max_entries = int(settings["max_pass_hours"]), int(settings["max_entries"])
    if not 1 <= int(hours) <= max_hours:
        raise PassError("hours_range", max=max_hours)
    if not 1 <= int(entries) <= max_entries:
        raise PassError("entries_range", max=max_entries)
    now = clock.now().replace(microsecond=0)
    start = (valid_from or now).replace(microsecond=0)
    if start < now - timedelta(hours=1) or start > now + timedelta(days=7):
        raise PassError("start_range")
    vp = VisitorPass(community_id=community_id, household_id=household_id, visitor_name=name,
                     visitor_phone=phone, valid_from=start, valid_until=start + timedelta(hours=int(hours)),
                     entries_allowed=int(entries), entries_used=0, token_id=secrets.token_hex(12),
                     short_code=_free_code(session, community_id, now),
                     status=status, source=source, created_by=actor, created_at=now, plate=plate)
    session.add(vp)
    session.flush()
    community = session.get(Community, community_id)
    vp.number = f"VP-{community.code}-{vp.id:06d}"
    record(session, actor=actor, action=f"visitors.{source}", target_type="visitor_pass", target_id=vp.number,
           community_id=community_id, after={"household_id": household_id, "visitor": name,
                                             "from": start.isoformat(), "hours": int(hours), "entries": int(entries)})
    return vp


def invite(session: Session, *, household: Household, visitor_name: str, visitor_phone: str | None = None,
           valid_from: datetime | None = None, hours: int = 4, entries: int = 1, actor: str,
           plate: str | None = None) -> VisitorPass:
    """A resident invites a visitor: the pass is active at once (``plate``: the visitor's car,
    for the parking gate)."""
    return _new_pass(session, community_id=household.community_id, household_id=household.id,
                     visitor_name=visitor_name, visitor_phone=visitor_phone, valid_from=valid_from, hours=hours,
                     entries=entries, status="active", source="invite", actor=actor, plate=plate)


def register_walk_in(session: Session, *, community_id: int, household_id: int, visitor_name: str,
                     visitor_phone: str | None = None, hours: int = 2, entries: int = 1, actor: str,
                     plate: str | None = None) -> VisitorPass:
    """Front desk registers a walk-in visitor; the host approves (walk-in process). ``plate``:
    the visitor's car — once the host approves, the parking gate opens for it."""
    from app.platform.processes import start_process

    household = session.get(Household, household_id)
    if household is None or household.community_id != community_id:
        raise LookupError(f"no household {household_id} in community {community_id}")
    vp = _new_pass(session, community_id=community_id, household_id=household_id, visitor_name=visitor_name,
                   visitor_phone=visitor_phone, valid_from=None, hours=hours, entries=entries,
                   status="pending_approval", source="walk_in", actor=actor, plate=plate)
    settings = module_settings(session, community_id, "visitors")
    start_process(session, community_id=community_id, process_id=WALK_IN_PROCESS, actor=actor,
                  business_key=vp.number, data={
                      "pass_id": vp.id, "visitor_name": vp.visitor_name, "visitor_phone": vp.visitor_phone or "",
                      "household_code": household.code, "host_phone": household.phone or "",
                      "approval_timer": f"PT{int(settings['approval_minutes'])}M"})
    return vp


def ask_host(session: Session, pass_id: int, community_id: int | None = None) -> VisitorPass:
    vp = _pass(session, pass_id, community_id)
    notify(session, template="visitors.approval_needed", community_id=vp.community_id,
           household_id=vp.household_id, params={"visitor": vp.visitor_name, "number": vp.number})
    return vp


def host_decide(session: Session, vp: VisitorPass, decision: str, actor: str) -> None:
    """The host answers on their phone page: the walk-in process continues."""
    from app.engine import send_message

    if decision not in ("approve", "reject"):
        raise ValueError("decision must be approve or reject")
    if vp.status != "pending_approval":
        raise PassError("not_pending")
    reached = send_message(session, "visitor.host_decision", vp.number, {"decision": decision, "decided_by": actor},
                           community_id=vp.community_id, actor=actor)
    if not reached:  # no process waiting (e.g. the front desk already called): decide directly
        apply_decision(session, vp.id, decision, actor)
    elif vp.status == "pending_approval":
        vp.decided_by = actor


def apply_decision(session: Session, pass_id: int, decision: str, actor: str,
                   community_id: int | None = None) -> VisitorPass:
    vp = _pass(session, pass_id, community_id)
    if vp.status != "pending_approval":
        return vp
    now = clock.now().replace(microsecond=0)
    vp.status = "active" if decision == "approve" else "rejected"
    vp.decided_by, vp.decided_at = vp.decided_by or actor, now
    if decision == "approve":  # the window starts when the host says yes
        length = vp.valid_until - vp.valid_from
        vp.valid_from, vp.valid_until = now, now + length
    record(session, actor=actor, action="visitors.decision", target_type="visitor_pass", target_id=vp.number,
           community_id=vp.community_id, after={"status": vp.status})
    return vp


def revoke(session: Session, vp: VisitorPass, actor: str) -> VisitorPass:
    if vp.status in ("active", "pending_approval"):
        vp.status = "revoked"
        record(session, actor=actor, action="visitors.revoke", target_type="visitor_pass", target_id=vp.number,
               community_id=vp.community_id)
    return vp


def _pass(session: Session, pass_id: int, community_id: int | None = None) -> VisitorPass:
    vp = session.get(VisitorPass, pass_id)
    if vp is None or (community_id is not None and vp.community_id != community_id):
        raise LookupError(f"no visitor pass {pass_id}")
    return vp


def effective_status(vp: VisitorPass, now: datetime | None = None) -> str:
    """What a pass is right now: active, not_yet_valid, expired, used_up or its stored status."""
    now = now or clock.now()
    if vp.status != "active":
        return vp.status
    if vp.entries_used >= vp.entries_allowed:
        return "used_up"
    if now < vp.valid_from:
        return "not_yet_valid"
    if now >= vp.valid_until:
        return "expired"
    return "active"


def pass_for_plate(session: Session, community_id: int, plate: str, now: datetime | None = None) -> dict | None:
    """A pass valid now whose visitor comes by this car (parking's gate opens for it):
    ``{"number", "household_id", "valid_until"}``, else None."""
    for vp in session.scalars(select(VisitorPass).where(VisitorPass.community_id == community_id,
                                                        VisitorPass.plate == plate)
                              .order_by(VisitorPass.valid_until.desc())):
        if effective_status(vp, now) == "active":
            return {"number": vp.number, "household_id": vp.household_id, "valid_until": vp.valid_until}
    return None


def passes_of_household(session: Session, household_id: int, limit: int = 50) -> list[VisitorPass]:
    return list(session.scalars(select(VisitorPass).where(VisitorPass.household_id == household_id)
                                .order_by(VisitorPass.id.desc()).limit(limit)))


def passes_of_communities(session: Session, community_ids: list[int], limit: int = 100) -> list[VisitorPass]:
    return list(session.scalars(select(VisitorPass).where(VisitorPass.community_id.in_(community_ids))
                                .order_by(VisitorPass.id.desc()).limit(limit)))


# validation at the door ----------------------------------------------------------------------------
@dataclass
class CheckResult:
    ok: bool
    reason: str
    visitor_pass: VisitorPass | None = None

    def as_json(self) -> dict:
        out = {"ok": self.ok, "reason": self.reason}
        if self.visitor_pass is not None and self.ok:
            vp = self.visitor_pass
            out.update({"pass": vp.number, "credential": f"pass:{vp.number}", "visitor": vp.visitor_name,
                        "entries_left": vp.entries_allowed - vp.entries_used})
        return out


def _log(session: Session, community_id: int | None, device_code: str, vp: VisitorPass | None, ok: bool,
         reason: str) -> CheckResult:
    session.add(PassCheck(community_id=community_id, device_code=device_code[:60], pass_id=vp.id if vp else None,
                          ok=ok, reason=reason, at=clock.now()))
    if not ok:
        log.warning("visitor pass refused at %s (community %s): %s", device_code, community_id, reason)
    session.flush()
    return CheckResult(ok, reason, vp)


def validate(session: Session, *, secret: str, community_code: str, device_id: str, token: str,
             key: str | None) -> CheckResult:
    """A door asks whether to open for this token; consumes one entry when it may."""
    from app.domains.devices.registry import find_mqtt_device

    community = session.scalar(select(Community).where(Community.code == str(community_code)))
    device = find_mqtt_device(session, community.code, str(device_id)) if community else None
    if community is None or device is None or device.profile != "door_controller":
        return _log(session, community.id if community else None, str(device_id), None, False, "unknown_device")
    if not key or not hmac.compare_digest(str(key), device_key(secret, community.code, device.address)):
        return _log(session, community.id, device.code, None, False, "bad_device_key")
    token = str(token or "").strip()
    if len(token) == CODE_DIGITS and token.isdigit():  # the 6-digit code typed on the door's keypad
        vp, reason = _pass_by_code(session, community.id, device.code, token)
        if vp is None:
            return _log(session, community.id, device.code, None, False, reason)
    else:
        payload, reason = read_token(secret, token)
        if payload is None:
            return _log(session, community.id, device.code, None, False, reason)
        if payload.get("c") != community.code:
            return _log(session, community.id, device.code, None, False, "wrong_community")
        vp = session.get(VisitorPass, payload["p"])
        if vp is None or vp.token_id != payload.get("t") or vp.community_id != community.id:
            return _log(session, community.id, device.code, None, False, "unknown_pass")
    status = effective_status(vp)
    if status != "active":
        reason = status if status in ("not_yet_valid", "expired", "used_up") else "not_active"
        return _log(session, community.id, device.code, vp, False, reason)
    now = clock.now()
    consumed = session.execute(
        update(VisitorPass).where(VisitorPass.id == vp.id, VisitorPass.entries_used < VisitorPass.entries_allowed)
        .values(entries_used=VisitorPass.entries_used + 1, last_entry_at=now)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(vp)
    if not consumed:
        return _log(session, community.id, device.code, vp, False, "used_up")
    notify(session, template="visitors.arrived", community_id=vp.community_id, household_id=vp.household_id,
           params={"visitor": vp.visitor_name, "door": device.name, "time": local_time(now),
                   "left": vp.entries_allowed - vp.entries_used})
    return _log(session, community.id, device.code, vp, True, "admitted")


def _pass_by_code(session: Session, community_id: int, device_code: str, code: str) -> tuple[VisitorPass | None, str]:
    """The live pass of the community holding ``code``; a door that sent too many wrong codes
    lately is refused first (6 digits must not be guessable by trying)."""
    since = clock.now() - CODE_WINDOW
    wrong = session.scalar(select(func.count()).select_from(PassCheck).where(
        PassCheck.community_id == community_id, PassCheck.device_code == device_code[:60],
        PassCheck.reason.in_(("unknown_code", "too_many_attempts")), PassCheck.at >= since)) or 0
    if wrong >= CODE_ATTEMPTS:
        return None, "too_many_attempts"
    vp = session.scalar(select(VisitorPass).where(
        VisitorPass.community_id == community_id, VisitorPass.short_code == code,
        VisitorPass.status.in_(LIVE_STATUSES), VisitorPass.valid_until > clock.now())
        .order_by(VisitorPass.id.desc()).limit(1))
    return (vp, "ok") if vp is not None else (None, "unknown_code")


def local_time(at: datetime) -> str:
    """Local wall-clock time of a naive UTC timestamp, as staff read it."""
    from app.localtime import local_format

    return local_format(at, "%m-%d %H:%M")


def recent_checks(session: Session, community_ids: list[int], limit: int = 100) -> list[PassCheck]:
    return list(session.scalars(select(PassCheck).where(PassCheck.community_id.in_(community_ids))
                                .order_by(PassCheck.id.desc()).limit(limit)))
