"""A user's in-app notifications (staff and residents alike), and a resident's message settings:
their WeChat binding and the channels beyond the app they agree to (SMS, WeChat)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.db import db
from app.domains.notifications.delivery import REASONS, community_notifications, deliveries, inbox, mark_read

_ALL = "^(NotificationView)$"
# Everyone reads and marks read their own notifications (``read`` only touches the caller's rows);
# managers (and the admin, who has every permission) see the list of a community of theirs:
# every channel and recipient, including what ``notify.log`` published.
GRANTS = {role: [[_ALL, "^can_(index|read)$"]] for role in
          ("Manager", "Accountant", "Technician", "Guard", "FrontDesk", "Resident", "Consultant", "Regulator")}
GRANTS["Manager"] = [[_ALL, "^can_(index|read|community)$"]]
# residents choose their own channels and bind their own WeChat (every route acts on the caller only)
GRANTS["Resident"] = GRANTS["Resident"] + [["^(MessageSettingsView)$", "^can_(index|message_settings)$"]]


DELIVERY_STATUS = {"queued": _l("Waiting to be sent"), "retrying": _l("Retrying"), "sent": _l("Sent"),
                   "failed": _l("Not delivered")}
"""A delivery's state in words (its own: the generic "failed" label reads as a failed check)."""


def delivery_line(n) -> dict:
    """What a page says about one SMS/WeChat row: its state, why it failed, when it is tried again
    (the provider's codes stay in the row for staff; the page shows words)."""
    reason = REASONS.get(n.reason or "")
    return {"status": str(DELIVERY_STATUS.get(n.status, n.status)), "reason": str(reason) if reason else "", "attempts": n.attempts or 0,
            "next": n.next_attempt_at, "sent_at": n.sent_at}


class NotificationView(BaseView):
    route_base = "/notifications"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        rows = inbox(db.session, current_user.id)
        sent_out = [(n, delivery_line(n)) for n in deliveries(db.session, current_user.id)]
        return self.render_template("notifications.html", rows=rows, sent_out=sent_out,
                                    can_settings=_is_resident())

    @expose("/community/<int:community_id>/")
    @has_access
    def community(self, community_id: int):
        from app.domains.estate.models import Community
        from app.security.scope import require_community

        require_community(community_id)
        rows = community_notifications(db.session, community_id)
        return self.render_template("notifications_community.html", rows=rows, reasons=REASONS,
                                    community=db.session.get(Community, community_id))

    @expose("/read", methods=["POST"])
    @has_access
    def read(self):
        mark_read(db.session, current_user.id)
        db.session.commit()
        return redirect(url_for("NotificationView.index"))


def _is_resident() -> bool:
    return any(role.name == "Resident" for role in getattr(current_user, "roles", []) or [])


def _masked(phone: str | None) -> str:
    """138****8000: enough for the person to recognise their number, not more."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else ""


class MessageSettingsView(BaseView):
    """消息设置: how a resident hears from the property company. Every route reads and writes the
    caller's own rows only (keyed by ``current_user``, never by an id in the request), and no
    page or answer contains the openid — only whether WeChat is bound, and since when."""

    route_base = "/notifications/settings"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from app.domains.notifications.delivery import phone_of
        from app.domains.notifications.preferences import preference
        from app.security.wechat_identity import bound_since, get_wechat_settings

        wechat = get_wechat_settings()
        code = (request.args.get("code") or "").strip()[:128]
        return self.render_template(
            "notifications/settings.html", pref=preference(db.session, current_user.id),
            wechat_on=wechat.configured, bound_at=bound_since(db.session, current_user.id) if wechat.configured else None,
            login_code=code, phone=_masked(phone_of(db.session, current_user.id, None)))

    @expose("/channels", methods=["POST"])
    @has_access
    @permission_name("message_settings")
    def channels(self):
        """Save the channels the resident agrees to (ticking one is the consent)."""
        from app.domains.notifications.preferences import PreferenceError, set_channels

        try:
            set_channels(db.session, current_user.id, sms=request.form.get("sms") == "on",
                         wechat=request.form.get("wechat") == "on")
        except PreferenceError as exc:
            db.session.rollback()
            flash(_(str(exc)), "danger")
            return redirect(url_for("MessageSettingsView.index"))
        db.session.commit()
        flash(_("Your message settings are saved."), "success")
        return redirect(url_for("MessageSettingsView.index"))

    @expose("/wechat/bind", methods=["POST"])
    @has_access
    @permission_name("message_settings")
    def bind_wechat(self):
        """Bind the WeChat whose mini-program login code the page was opened with."""
        from app.security.wechat_identity import WechatIdentityError, bind_with_code
        from app.web.locale import current_locale

        try:
            bind_with_code(db.session, current_user.id, request.form.get("code") or "")
        except WechatIdentityError as exc:
            db.session.rollback()
            flash(exc.message(current_locale()), "danger")
            return redirect(url_for("MessageSettingsView.index"))
        db.session.commit()
        flash(_("Your WeChat is bound."), "success")
        return redirect(url_for("MessageSettingsView.index"))

    @expose("/wechat/unbind", methods=["POST"])
    @has_access
    @permission_name("message_settings")
    def unbind_wechat(self):
        """Unbind the caller's WeChat (their WeChat messages stop with it)."""
        from app.domains.notifications.preferences import unbind_wechat

        unbind_wechat(db.session, current_user.id)
        db.session.commit()
        flash(_("Your WeChat is unbound; WeChat messages have stopped."), "success")
        return redirect(url_for("MessageSettingsView.index"))


def register(appbuilder) -> None:
    from flask_babel import lazy_gettext as _l

    appbuilder.add_view(NotificationView, "notifications", label=_l("Notifications"), icon="fa-bell",
                        category="Work", category_label=_l("Work"))
    appbuilder.add_view_no_menu(MessageSettingsView())
