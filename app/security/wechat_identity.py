"""A login's WeChat identity (mini-program openid), so JSAPI payments and subscription messages
reach the person.

The mini-program calls ``wx.login()`` and hands us a one-time ``code``; the server exchanges it
for the openid through WeChat's public ``jscode2session`` API (appid and secret from
``ESTATEFLOW_WECHAT_*``). The openid is a per-app pseudonym of the person: it is kept here and
handed to the payment and message adapters through :func:`openid_for`, never shown on a page or
in an API answer (pages only learn *whether* a login is bound, :func:`is_bound`).

One login has at most one identity per appid, and one openid belongs to at most one login of
the app (binding a WeChat already bound to somebody else is refused, not silently moved).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import clock
from app.db import Model, utcnow

log = logging.getLogger("estateflow.wechat")


class WechatSettings(BaseSettings):
    """The mini-program's credentials (environment ``ESTATEFLOW_WECHAT_*``)."""

    model_config = SettingsConfigDict(env_prefix="ESTATEFLOW_WECHAT_", extra="ignore")

    appid: str = Field(default="", description="Mini-program app id (wx…); empty: WeChat binding is off.")
    secret: str = Field(default="", description="Mini-program app secret (AppSecret).")
    api_base: str = Field(default="https://api.weixin.qq.com",
                          description="WeChat server API address (a local fake in tests and the demo).")
    timeout_seconds: float = Field(default=5.0, description="Timeout of one request to the WeChat API.")

    @property
    def configured(self) -> bool:
        return bool(self.appid and self.secret)


@lru_cache(maxsize=1)
def get_wechat_settings() -> WechatSettings:
    """Process-wide WeChat settings (tests call ``get_wechat_settings.cache_clear()``)."""
    return WechatSettings()


class UserWechatIdentity(Model):
    __tablename__ = "user_wechat_identity"
    __table_args__ = (UniqueConstraint("user_id", "appid", name="uq_wechat_identity_user_app"),
                      UniqueConstraint("appid", "openid", name="uq_wechat_identity_app_openid"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), index=True)
    appid: Mapped[str] = mapped_column(String(64))
    openid: Mapped[str] = mapped_column(String(128))
    unionid: Mapped[str | None] = mapped_column(String(128))
    bound_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --- errors, in words people read ------------------------------------------------------------

MESSAGES: dict[str, dict[str, str]] = {
    "not_configured": {"zh": "本小区尚未开通微信绑定。", "en": "WeChat binding is not set up for this deployment."},
    "invalid_code": {"zh": "微信登录凭证无效或已过期，请在小程序里重新打开本页再试。",
                     "en": "The WeChat login code is invalid or expired; open this page again in the mini program."},
    "busy": {"zh": "微信服务繁忙，请稍后再试。", "en": "WeChat is busy; please try again shortly."},
    "unreachable": {"zh": "暂时连不上微信服务，请稍后再试。", "en": "WeChat cannot be reached right now; please try again later."},
    "refused": {"zh": "微信拒绝了本次登录（账号存在风险），请联系物业服务中心。",
                "en": "WeChat refused this login (account flagged); please contact the service desk."},
    "bound_elsewhere": {"zh": "这个微信已绑定到另一个账号，请先在那个账号里解除绑定。",
                        "en": "This WeChat is already bound to another account; unbind it there first."},
}


class WechatIdentityError(Exception):
    """A binding that could not happen; ``reason`` keys :data:`MESSAGES`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail

    def message(self, locale: str = "zh") -> str:
        return MESSAGES.get(self.reason, MESSAGES["busy"])["en" if locale.startswith("en") else "zh"]


@dataclass(frozen=True)
class WechatSession:
    """What ``jscode2session`` answers (the session key is never stored)."""

    openid: str
    unionid: str | None
    session_key: str


# errcodes of jscode2session (public docs): 40029 invalid code, 40163 code used, 45011 rate limit,
# 40226 high-risk user, -1 system busy.
_CODE_REASONS = {40029: "invalid_code", 40163: "invalid_code", 45011: "busy", -1: "busy", 40226: "refused"}


def exchange_code(code: str, settings: WechatSettings | None = None) -> WechatSession:
    """The mini-program login ``code`` exchanged for the openid (``GET /sns/jscode2session``)."""
    import httpx

    settings = settings or get_wechat_settings()
    if not settings.configured:
        raise WechatIdentityError("not_configured")
    code = (code or "").strip()
    if not code or len(code) > 128:
        raise WechatIdentityError("invalid_code", "empty or oversized code")
    try:
        answer = httpx.get(f"{settings.api_base.rstrip('/')}/sns/jscode2session",
                           params={"appid": settings.appid, "secret": settings.secret, "js_code": code,
                                   "grant_type": "authorization_code"},
                           timeout=settings.timeout_seconds)
        data = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("jscode2session unreachable: %s", exc)
        raise WechatIdentityError("unreachable", str(exc)) from exc
    errcode = int(data.get("errcode") or 0)
    if errcode or not data.get("openid"):
        log.info("jscode2session refused: %s %s", errcode, data.get("errmsg"))
        raise WechatIdentityError(_CODE_REASONS.get(errcode, "busy"), f"errcode {errcode}")
    return WechatSession(openid=str(data["openid"]), unionid=data.get("unionid") or None,
                         session_key=str(data.get("session_key") or ""))


# --- the binding ------------------------------------------------------------------------------

def openid_for(session: Session, user_id: int, appid: str) -> str | None:
    """The login's openid in ``appid`` — for the payment and message adapters only."""
    return session.scalar(select(UserWechatIdentity.openid).where(
        UserWechatIdentity.user_id == user_id, UserWechatIdentity.appid == appid))


def is_bound(session: Session, user_id: int, appid: str | None = None) -> bool:
    """Whether the login has a WeChat identity (in ``appid``, default the configured app)."""
    appid = appid or get_wechat_settings().appid
    return session.scalar(select(UserWechatIdentity.id).where(
        UserWechatIdentity.user_id == user_id, UserWechatIdentity.appid == appid)) is not None


def bound_since(session: Session, user_id: int, appid: str | None = None) -> datetime | None:
    """When the login bound its WeChat (what a page may show instead of the openid)."""
    appid = appid or get_wechat_settings().appid
    return session.scalar(select(UserWechatIdentity.bound_at).where(
        UserWechatIdentity.user_id == user_id, UserWechatIdentity.appid == appid))


def bind(session: Session, user_id: int, *, appid: str, openid: str,
         unionid: str | None = None) -> UserWechatIdentity:
    """Bind ``openid`` to the login (replacing its earlier WeChat in that app). An openid bound
    to another login is refused (``bound_elsewhere``): moving it silently would let whoever holds
    a phone take over another household's messages and payments."""
    other = session.scalar(select(UserWechatIdentity).where(
        UserWechatIdentity.appid == appid, UserWechatIdentity.openid == openid))
    if other is not None and other.user_id != user_id:
        raise WechatIdentityError("bound_elsewhere")
    row = other or session.scalar(select(UserWechatIdentity).where(
        UserWechatIdentity.user_id == user_id, UserWechatIdentity.appid == appid))
    if row is None:
        row = UserWechatIdentity(user_id=user_id, appid=appid)
        session.add(row)
    row.openid, row.unionid, row.bound_at = openid, unionid, clock.now()
    session.flush()
    return row


def bind_with_code(session: Session, user_id: int, code: str,
                   settings: WechatSettings | None = None) -> UserWechatIdentity:
    """Exchange the mini-program login code and bind the openid it names to the login."""
    settings = settings or get_wechat_settings()
    found = exchange_code(code, settings)
    return bind(session, user_id, appid=settings.appid, openid=found.openid, unionid=found.unionid)


def unbind(session: Session, user_id: int, appid: str | None = None) -> bool:
    """Forget the login's WeChat identity (in ``appid``, default the configured app); whether
    there was one. Only ever the caller's own row: the query is keyed by ``user_id``."""
    appid = appid or get_wechat_settings().appid
    result = session.execute(delete(UserWechatIdentity).where(
        UserWechatIdentity.user_id == user_id, UserWechatIdentity.appid == appid))
    session.flush()
    return bool(result.rowcount)
