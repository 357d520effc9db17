"""Notifications: zh/en templates, recipients, and pluggable channels.

Templates are data (``menus/notifications/*.yaml``). A channel delivers one rendered
notification; ``in_app`` stores it for the recipient's notification page, ``log`` writes
the log (the demo's stand-in for SMS), ``sms`` and ``wechat`` are adapters that need
their gateway configured and otherwise fail visibly (the row says why) — never silently.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Household, Resident
from app.domains.notifications.models import Notification
from app.settings import get_settings

log = logging.getLogger("estateflow.notifications")

Channel = Callable[[Notification], None]


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@lru_cache(maxsize=1)
def templates() -> dict[str, dict]:
    merged: dict[str, dict] = {}
    folder = Path(get_settings().assets_dir) / "menus" / "notifications"
    for path in sorted(folder.glob("*.yaml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return merged


def render(template: str, params: dict[str, Any], locale: str,
           extra: dict[str, dict] | None = None) -> tuple[str, str]:
    """Title and body in ``locale``; ``extra`` (a module package's own templates) comes first."""
    spec = (extra or {}).get(template) or templates().get(template)
    if spec is None:
        raise KeyError(f"unknown notification template {template!r}")
    lang = "en" if locale.startswith("en") else "zh"
    values = _Defaults({k: "" if v is None else v for k, v in params.items()})
    return spec["title"][lang].format_map(values), spec["body"][lang].format_map(values)


def in_locale(n: Notification | dict, locale: str) -> tuple[str, str]:
    """A stored notification's title and body in the reader's language (rendered again from its
    template and parameters); the stored text when the template is gone or was sent as is.
    ``n`` is a row or its dict (``instance_history``)."""
    get = n.get if isinstance(n, dict) else (lambda key: getattr(n, key, None))
    stored = (get("title") or "", get("body") or "")
    sent_in = get("locale")
    if sent_in and locale.startswith(sent_in):
        return stored
    try:
        return render(get("template") or "", get("params") or {}, locale)
    except (KeyError, ValueError, IndexError, AttributeError):
        return stored


def _in_app(_: Notification) -> None:
    """Stored rows are the in-app inbox; nothing else to do."""


def _log(n: Notification) -> None:
    log.info("notify %s to user=%s household=%s phone=%s: %s", n.template, n.user_id, n.household_id,
             n.phone, n.title)


def _unconfigured(name: str) -> Channel:
    def send(_: Notification) -> None:
        raise RuntimeError(f"{name} gateway is not configured")

    return send


CHANNELS: dict[str, Channel] = {
    "in_app": _in_app,
    "log": _log,
    "sms": _unconfigured("SMS"),
    "wechat": _unconfigured("WeChat template message"),
}

CHANNEL_LABELS: dict[str, dict[str, str]] = {
    "in_app": {"zh": "站内通知（收件人的通知页）", "en": "In-app (the recipient's notification page)"},
    "log": {"zh": "日志（平台日志与通知列表）", "en": "Log (platform log and the notification list)"},
    "sms": {"zh": "短信（需配置网关）", "en": "SMS (needs its gateway configured)"},
    "wechat": {"zh": "微信模板消息（需配置）", "en": "WeChat template message (needs configuring)"},
}
"""What each channel means, for the consultants' reference (docs/authoring.md)."""


def register_channel(name: str, channel: Channel) -> None:
    """Install a real adapter (e.g. an SMS gateway client) under a channel name."""
    CHANNELS[name] = channel


def notify(
    session: Session,
    *,
    template: str,
    params: dict[str, Any] | None = None,
    community_id: int | None = None,
    user_ids: list[int] | None = None,
    household_id: int | None = None,
    channels: tuple[str, ...] = ("in_app",),
    locale: str = "zh",
    extra_templates: dict[str, dict] | None = None,
) -> list[Notification]:
    """Render and send to users and/or a household's residents; one row per recipient+channel.

    A channel that fails marks its row ``failed`` with the reason; the others still go out.
    ``extra_templates``: the templates of the module version the calling process belongs to.
    """
    params = dict(params or {})
    recipients: list[tuple[int | None, int | None, str | None]] = [(uid, None, None) for uid in user_ids or []]
    if household_id is not None:
        household = session.get(Household, household_id)
        residents = list(session.scalars(select(Resident).where(Resident.household_id == household_id)))
        users = [r.user_id for r in residents if r.user_id]
        recipients += [(uid, household_id, None) for uid in users] or [(None, household_id, household.phone)]
    title, body = render(template, params, locale, extra_templates)
    rows = []
    for user_id, hh_id, phone in recipients:
        for channel_name in channels:
            row = Notification(community_id=community_id, user_id=user_id, household_id=hh_id, phone=phone,
                               channel=channel_name, template=template, params=params, title=title,
                               body=body, locale=locale, created_at=clock.now())
            try:
                CHANNELS[channel_name](row)
                row.status = "sent"
            except Exception as exc:  # a failed channel is recorded, never dropped
                row.status, row.error = "failed", str(exc)[:500]
                log.warning("notification %s via %s failed: %s", template, channel_name, exc)
            session.add(row)
            rows.append(row)
    session.flush()
    return rows


def publish(
    session: Session, *, message: str, channel: str = "log", level: int = logging.INFO,
    community_id: int | None = None, instance_id: int | None = None, business_key: str | None = None,
    element_id: str | None = None, logger: logging.Logger | None = None,
) -> Notification:
    """``notify.log``: write ``message`` to the log and keep it as a row of the community's
    notification list (and of the instance's page). ``channel`` names where it is published
    (``log``, ``notice_board``...); no person receives it, so no one's inbox changes."""
    (logger or log).log(level, "[%s] community=%s instance=%s: %s", channel, community_id, instance_id, message)
    row = Notification(community_id=community_id, user_id=None, household_id=None, phone=None,
                       channel=channel[:20], template="notify.log",
                       params={"instance_id": instance_id, "business_key": business_key,
                               "element_id": element_id},
                       title=message[:300], body=message, locale="zh", status="sent",
                       created_at=clock.now())
    session.add(row)
    session.flush()
    return row


NOTICE_CHANNEL = "notice_board"


def notices(session: Session, community_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The community's published notices (公告: ``notify.log`` on the ``notice_board``
    channel), newest first, as ``{title, body, at}``: a message ``【通知】title: body`` is split
    at its first colon, anything else is all body."""
    rows = session.scalars(select(Notification).where(Notification.community_id == community_id,
                                                      Notification.channel == NOTICE_CHANNEL)
                           .order_by(Notification.id.desc()).limit(limit))
    out = []
    for row in rows:
        text = row.body.removeprefix("【通知】").strip()
        title, sep, body = text.partition(": ")
        if not sep:
            title, sep, body = text.partition("：")
        out.append({"title": title if sep else "", "body": body if sep else text, "at": row.created_at})
    return out


def community_notifications(session: Session, community_id: int, limit: int = 200) -> list[Notification]:
    """Every notification of a community, every channel and recipient, newest first."""
    return list(session.scalars(
        select(Notification).where(Notification.community_id == community_id)
        .order_by(Notification.id.desc()).limit(limit)
    ))


def instance_notifications(session: Session, community_id: int, instance_id: int) -> list[Notification]:
    """The notifications a process instance sent (``notify.log``, ``notify.send``), oldest first."""
    rows = session.scalars(select(Notification).where(Notification.community_id == community_id)
                           .order_by(Notification.id))
    return [r for r in rows if isinstance(r.params, dict) and r.params.get("instance_id") == instance_id]


def inbox(session: Session, user_id: int, limit: int = 100) -> list[Notification]:
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user_id, Notification.channel == "in_app")
        .order_by(Notification.id.desc()).limit(limit)
    ))


def unread_count(session: Session, user_id: int) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.channel == "in_app", Notification.read_at.is_(None))) or 0


def mark_read(session: Session, user_id: int) -> None:
    session.execute(update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
                    .values(read_at=clock.now()))


def validate_template_file(path: Path) -> list:
    """Every problem in a ``menus/notifications/*.yaml`` file, as ``AssetError``s."""
    from app.assets.errors import AssetError, AssetInvalid
    from app.assets.yaml_lines import LineDict, load_yaml_file

    name = str(path)
    try:
        data = load_yaml_file(path)
    except AssetInvalid as exc:
        return exc.errors
    if not isinstance(data, LineDict):
        return [AssetError(name, 1, "templates", "must map template ids to {title, body}")]
    errors = []
    for template_id, spec in data.items():
        line = data.line_of(template_id)
        if not isinstance(spec, LineDict):
            errors.append(AssetError(name, line, template_id, "must be a mapping with title and body"))
            continue
        for part in ("title", "body"):
            text = spec.get(part)
            if not isinstance(text, dict) or not all(isinstance(text.get(l), str) for l in ("zh", "en")):
                errors.append(AssetError(name, spec.line_of(part), f"{template_id}.{part}",
                                         "needs zh and en text"))
    return errors
