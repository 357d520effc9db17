"""Each login's channels beyond the app, and its consent to them.

SMS and WeChat messages are off until the person turns them on on their message settings page;
turning one on is their consent (its time is kept), turning it off withdraws it. WeChat also
needs the WeChat identity bound (``app/security/wechat_identity.py``); unbinding turns it off.
In-app notifications always arrive and cannot be turned off.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from app import clock
from app.domains.notifications.models import NotificationPreference
from app.security.wechat_identity import is_bound, unbind


def preference(session: Session, user_id: int) -> NotificationPreference:
    """The login's choice (a default one, all off and not yet stored, if it never chose)."""
    return session.get(NotificationPreference, user_id) or NotificationPreference(
        user_id=user_id, sms=False, wechat=False)


def external_channels(session: Session, user_id: int) -> set[str]:
    """The channels beyond the app this login agreed to and can be reached on."""
    row = session.get(NotificationPreference, user_id)
    if row is None:
        return set()
    chosen = {"sms"} if row.sms else set()
    if row.wechat and is_bound(session, user_id):
        chosen.add("wechat")
    return chosen


class PreferenceError(ValueError):
    """A choice that cannot be saved; the message is an English msgid."""


def set_channels(session: Session, user_id: int, *, sms: bool, wechat: bool) -> NotificationPreference:
    """Save the login's choice; a channel turned on now records the consent's time."""
    if wechat and not is_bound(session, user_id):
        raise PreferenceError("Bind your WeChat first to receive WeChat messages.")
    row = session.get(NotificationPreference, user_id)
    if row is None:
        row = NotificationPreference(user_id=user_id, sms=False, wechat=False)
        session.add(row)
    now = clock.now()
    if sms and not row.sms:
        row.sms_consent_at = now
    if wechat and not row.wechat:
        row.wechat_consent_at = now
    row.sms, row.wechat, row.updated_at = sms, wechat, now
    if not sms:
        row.sms_consent_at = None
    if not wechat:
        row.wechat_consent_at = None
    session.flush()
    return row


def unbind_wechat(session: Session, user_id: int) -> bool:
    """Unbind the login's WeChat and withdraw its WeChat consent with it."""
    row = session.get(NotificationPreference, user_id)
    if row is not None and row.wechat:
        row.wechat, row.wechat_consent_at, row.updated_at = False, None, clock.now()
    return unbind(session, user_id)
