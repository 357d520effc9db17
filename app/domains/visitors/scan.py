"""A visitor's pass scanned by a guard or the front desk (``/scan/``, ``app/web/scan.py``).

The QR code holds the signed token; a visitor without it reads out the 6-digit code. The check
says whether the pass lets the visitor in now, and why not — it records no entry (the door
controller counts entries when it opens).
"""
from __future__ import annotations

import re
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community, Household
from app.domains.visitors import passes as svc
from app.domains.visitors.models import VisitorPass

_SHARE_URL = re.compile(r"/v/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")
_T = {
    "title": ("访客通行证", "Visitor pass"), "ok": ("有效，可以放行", "Valid: let the visitor in"),
    "visitor": ("访客", "Visitor"), "household": ("到访住户", "Host household"),
    "window": ("有效时间", "Valid"), "entries": ("已用次数", "Entries used"), "plate": ("车牌", "Plate"),
    "number": ("通行证编号", "Pass number"), "open": ("访客登记", "Visitor registration"),
    "unknown": ("没有这张通行证（或不是本小区的）", "No such pass in your communities"),
    "forged": ("二维码无效（不是本系统签发的）", "Not a genuine pass (the signature does not match)"),
}


def _t(key: str, locale: str) -> str:
    zh, en = _T[key]
    return en if locale.startswith("en") else zh


def _refused(message: str, locale: str) -> dict[str, Any]:
    return {"title": _t("title", locale), "ok": False, "message": message, "lines": []}


def resolve(session: Session, code: str, community_ids, username: str, locale: str) -> dict[str, Any] | None:
    match = _SHARE_URL.search(code)
    token = match.group(1) if match else code
    is_code = len(token) == svc.CODE_DIGITS and token.isdigit()
    if not is_code and token.count(".") != 1:
        return None
    if not current_app.appbuilder.sm.has_access("can_index", "VisitorDeskView"):
        return None
    ids = list(community_ids)
    if is_code:
        vp = session.scalar(select(VisitorPass).where(
            VisitorPass.community_id.in_(ids), VisitorPass.short_code == token,
            VisitorPass.status.in_(svc.LIVE_STATUSES)).order_by(VisitorPass.id.desc()).limit(1))
    else:
        payload, reason = svc.read_token(current_app.config["SECRET_KEY"], token)
        if payload is None:
            return _refused(_t("forged", locale), locale) if reason == "bad_signature" else None
        vp = session.get(VisitorPass, payload["p"])
        if vp is not None and vp.token_id != payload.get("t"):
            vp = None
    if vp is None or vp.community_id not in ids:
        return _refused(_t("unknown", locale), locale)
    return check_result(session, vp, locale)


def check_result(session: Session, vp: VisitorPass, locale: str) -> dict[str, Any]:
    """What the scanner page shows of one pass: valid now or why not, and who it is for."""
    status = svc.effective_status(vp)
    household = session.get(Household, vp.household_id)
    community = session.get(Community, vp.community_id)
    lines = [(_t("visitor", locale), vp.visitor_name),
             (_t("household", locale), f"{community.name if community else ''} {household.code if household else ''}".strip()),
             (_t("window", locale), f"{svc.local_time(vp.valid_from)} – {svc.local_time(vp.valid_until)}"),
             (_t("entries", locale), f"{vp.entries_used}/{vp.entries_allowed}"),
             (_t("number", locale), vp.number or "—")]
    if vp.plate:
        lines.insert(1, (_t("plate", locale), vp.plate))
    from app.domains.visitors.views import STATUS_LABELS  # lazy: the labels are the desk page's

    ok = status == "active"
    return {"title": _t("title", locale), "ok": ok, "status": status, "lines": lines,
            "message": _t("ok", locale) if ok else str(STATUS_LABELS.get(status, status)),
            "href": "/visitors/", "link_label": _t("open", locale)}
