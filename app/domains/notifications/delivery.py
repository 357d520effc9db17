"""Notifications: zh/en templates, recipients, and pluggable channels.

Templates are data (``menus/notifications/*.yaml``). A channel delivers one rendered
notification; ``in_app`` stores it for the recipient's notification page, ``log`` writes
the log (the demo's stand-in for SMS), ``sms`` (Tencent Cloud SMS) and ``wechat`` (WeChat
subscription messages) leave the platform (``channels.py``).

Those two reach a login only if the person turned them on (their consent,
``preferences.py``); a caller names the channels a message *may* use. Their rows are an outbox:
``queued`` at once, sent by the worker's sweep (:func:`deliver_due`), retried with a doubling
wait when a failure may pass (``retrying``), ``failed`` with a reason in words otherwise —
never silently dropped. The in-app row is always written.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Household, Resident
from app.domains.notifications.channels import ChannelError, send_sms, send_wechat
from app.domains.notifications.models import Notification
from app.domains.notifications.preferences import external_channels
from app.domains.notifications.settings import get_message_settings
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


CHANNELS: dict[str, Channel] = {
    "in_app": _in_app,
    "log": _log,
    "sms": lambda row: send_sms(row),
    "wechat": lambda row: send_wechat(row),
}
EXTERNAL = ("sms", "wechat")
"""Channels that leave the platform: only with the person's consent, sent by the outbox sweep."""
RESIDENT_CHANNELS = ("in_app", "sms", "wechat")
"""What residents' notices (repair updates, fee reminders) go by: in the app always, by SMS and
WeChat to those who turned them on."""

CHANNEL_LABELS: dict[str, dict[str, str]] = {
    "in_app": {"zh": "站内通知（收件人的通知页）", "en": "In-app (the recipient's notification page)"},
    "log": {"zh": "日志（平台日志与通知列表）", "en": "Log (platform log and the notification list)"},
    "sms": {"zh": "短信（腾讯云短信；仅发给同意接收短信的住户，失败自动重试）",
            "en": "SMS (Tencent Cloud SMS; only to residents who agreed to SMS; failures retried)"},
    "wechat": {"zh": "微信订阅消息（仅发给绑定微信并同意接收的住户，失败自动重试）",
               "en": "WeChat subscription message (only to residents who bound WeChat and agreed; failures retried)"},
}

REASONS: dict[str, object] = {
    "not_configured": _l("This channel is not set up by the property company yet."),
    "no_template": _l("No message template is set up for this kind of notice."),
    "bad_number": _l("The phone number on file is not a mobile number."),
    "no_phone": _l("No mobile number is on file."),
    "not_bound": _l("No WeChat is bound."),
    "not_subscribed": _l("This kind of message was not allowed in WeChat."),
    "rejected": _l("The provider refused this message."),
    "rate_limited": _l("The provider's sending limit was reached."),
    "unavailable": _l("The provider could not be reached."),
}
"""Why a delivery failed, in words (the row keeps the provider's code in ``error`` for staff)."""
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
    now = clock.now()
    for user_id, hh_id, phone in recipients:
        allowed = external_channels(session, user_id) if user_id is not None else set()
        for channel_name in channels:
            if channel_name in EXTERNAL and channel_name not in allowed:
                continue  # no consent (or no login to give it): the in-app row still goes
            row = Notification(community_id=community_id, user_id=user_id, household_id=hh_id, phone=phone,
                               channel=channel_name, template=template, params=params, title=title,
                               body=body, locale=locale, created_at=now, attempts=0)
            if channel_name in EXTERNAL:
                if channel_name == "sms":
                    row.phone = phone or phone_of(session, user_id, hh_id)
                row.status, row.next_attempt_at = "queued", now
                session.add(row)
                rows.append(row)
                continue
            try:
                CHANNELS[channel_name](row)
                row.status, row.sent_at = "sent", now
            except Exception as exc:  # a failed channel is recorded, never dropped
                row.status, row.error = "failed", str(exc)[:500]
                log.warning("notification %s via %s failed: %s", template, channel_name, exc)
            session.add(row)
            rows.append(row)
    session.flush()
    return rows


def phone_of(session: Session, user_id: int | None, household_id: int | None) -> str | None:
    """The login's mobile number: its resident row in the household (any of its rows otherwise)."""
    if user_id is None:
        return None
    query = select(Resident.phone).where(Resident.user_id == user_id, Resident.phone.is_not(None))
    if household_id is not None:
        found = session.scalar(query.where(Resident.household_id == household_id).limit(1))
        if found:
            return found
    return session.scalar(query.order_by(Resident.id).limit(1))


# --- the outbox: SMS and WeChat rows --------------------------------------------------------

def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: the base, doubled each time."""
    return timedelta(seconds=get_message_settings().retry_base_seconds * 2 ** max(attempts - 1, 0))


def attempt(row: Notification, now: datetime | None = None) -> None:
    """One delivery attempt of a queued/retrying row; its status, reason and next try updated."""
    now = now or clock.now()
    row.attempts = (row.attempts or 0) + 1
    try:
        CHANNELS[row.channel](row)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        failure = exc if isinstance(exc, ChannelError) else ChannelError("unavailable", str(exc), retry=True)
        row.reason, row.error = failure.reason, (failure.detail or failure.reason)[:500]
        if failure.retry and row.attempts < get_message_settings().delivery_attempts:
            row.status, row.next_attempt_at = "retrying", now + retry_delay(row.attempts)
        else:
            row.status, row.next_attempt_at = "failed", None
        log.warning("notification %s via %s attempt %s: %s", row.id, row.channel, row.attempts, failure)
        return
    row.status, row.sent_at, row.next_attempt_at, row.reason, row.error = "sent", now, None, None, None


def deliver_due(session: Session, now: datetime | None = None, limit: int = 50) -> int:
    """Send the outbox rows whose time has come (the worker calls it every tick); how many were
    tried. Each row is locked (``SKIP LOCKED`` on PostgreSQL, so several workers share the
    work) and committed on its own: a crash never sends one message twice from the same row."""
    now = now or clock.now()
    due = list(session.scalars(select(Notification.id).where(
        Notification.status.in_(("queued", "retrying")), Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id).limit(limit)))
    session.commit()  # ends the read; each row then gets its own locking transaction
    tried = 0
    for row_id in due:
        row = session.scalar(select(Notification).where(
            Notification.id == row_id, Notification.status.in_(("queued", "retrying")),
            Notification.next_attempt_at <= now).with_for_update(skip_locked=True))
        if row is None:
            session.commit()
            continue
        attempt(row, now)
        session.commit()
        tried += 1
    return tried


def deliveries(session: Session, user_id: int, limit: int = 30) -> list[Notification]:
    """The login's SMS and WeChat messages, newest first (their notifications page shows them)."""
    return list(session.scalars(
        select(Notification).where(Notification.user_id == user_id, Notification.channel.in_(EXTERNAL))
        .order_by(Notification.id.desc()).limit(limit)))


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
