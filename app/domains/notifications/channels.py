"""The channels that leave the platform: SMS through Tencent Cloud SMS (``SendSms``, API
2021-01-11, signed with TC3-HMAC-SHA256 as the Tencent Cloud "Signature v3" document describes)
and WeChat subscription messages (订阅消息, ``POST /cgi-bin/message/subscribe/send`` with an
``access_token`` from ``/cgi-bin/token``, kept until shortly before it expires).

Each is a :data:`delivery.Channel`: it sends one notification row or raises
:class:`ChannelError`, whose ``reason`` says in words what went wrong and whose ``retry`` says
whether trying again later may help (a network error or a busy provider: yes; a wrong template,
a number that is not a mobile number, a person who did not allow the message: no).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from datetime import datetime, timezone

from sqlalchemy.orm import object_session

from app.domains.notifications.models import Notification
from app.domains.notifications.settings import MessageSettings, get_message_settings

log = logging.getLogger("estateflow.notifications")


class ChannelError(Exception):
    """A delivery that did not happen; ``reason`` keys ``delivery.REASONS``."""

    def __init__(self, reason: str, detail: str = "", *, retry: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.retry = reason, detail, retry


def _values(row: Notification) -> dict[str, str]:
    params = row.params if isinstance(row.params, dict) else {}
    return {**{k: "" if v is None else str(v) for k, v in params.items()}, "title": row.title, "body": row.body}


# --- SMS: Tencent Cloud SendSms -----------------------------------------------------------------

SMS_SERVICE, SMS_ACTION, SMS_VERSION = "sms", "SendSms", "2021-01-11"
_CONTENT_TYPE = "application/json; charset=utf-8"


def tc3_canonical_request(host: str, action: str, payload: bytes, content_type: str = _CONTENT_TYPE) -> str:
    """The canonical request of a POST to ``/`` signing content-type, host and x-tc-action
    (header names and the action's value lower-cased, as in the documented example)."""
    headers = f"content-type:{content_type}\nhost:{host}\nx-tc-action:{action.lower()}\n"
    return "\n".join(["POST", "/", "", headers, "content-type;host;x-tc-action",
                      hashlib.sha256(payload).hexdigest()])


def tc3_signature(secret_key: str, service: str, timestamp: int, canonical_request: str) -> tuple[str, str]:
    """(signature, credential scope) of a canonical request: the string to sign is the algorithm,
    the timestamp, ``<UTC date>/<service>/tc3_request`` and the request's SHA-256; the key is
    derived HMAC-SHA256("TC3"+SecretKey, date) → service → "tc3_request"."""
    day = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                         hashlib.sha256(canonical_request.encode()).hexdigest()])

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = mac(mac(mac(("TC3" + secret_key).encode(), day), service), "tc3_request")
    return hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest(), scope


def tc3_headers(*, secret_id: str, secret_key: str, host: str, service: str, action: str, version: str,
                region: str, payload: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Every header of a signed Tencent Cloud API 3.0 request."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature, scope = tc3_signature(secret_key, service, timestamp,
                                     tc3_canonical_request(host, action, payload))
    return {"Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
                             f"SignedHeaders=content-type;host;x-tc-action, Signature={signature}",
            "Content-Type": _CONTENT_TYPE, "Host": host, "X-TC-Action": action, "X-TC-Version": version,
            "X-TC-Timestamp": str(timestamp), "X-TC-Region": region}


def e164(phone: str | None) -> str:
    """A mainland mobile number as +86…; a number already in +country form as it is."""
    digits = re.sub(r"[\s\-()]", "", phone or "")
    if re.fullmatch(r"\+\d{6,15}", digits):
        return digits
    if re.fullmatch(r"(0086|86)?1\d{10}", digits):
        return "+86" + digits[-11:]
    raise ChannelError("bad_number", "not a mobile number")


def _sms_error(code: str, message: str) -> ChannelError:
    """Tencent's error codes in our words: limits and internal errors pass, the rest does not."""
    if code.startswith(("LimitExceeded", "RequestLimitExceeded")):
        return ChannelError("rate_limited", f"{code}: {message}", retry=True)
    if code.startswith(("InternalError", "ResourceUnavailable")) or code in ("FailedOperation.FailResolvePacket",):
        return ChannelError("unavailable", f"{code}: {message}", retry=True)
    if code in ("InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberInBlacklist",
                "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"):
        return ChannelError("bad_number", f"{code}: {message}")
    return ChannelError("rejected", f"{code}: {message}")


def send_sms(row: Notification, settings: MessageSettings | None = None) -> None:
    """Send one row by SMS (Tencent Cloud ``SendSms``); ``row.provider_ref`` = the SerialNo."""
    import httpx

    settings = settings or get_message_settings()
    if settings.sms_provider != "tencent" or not (settings.sms_secret_id and settings.sms_secret_key
                                                  and settings.sms_sdk_app_id):
        raise ChannelError("not_configured", "SMS gateway is not configured")
    template = settings.sms_templates.get(row.template)
    if not template or not template.get("id"):
        raise ChannelError("no_template", f"no SMS template for {row.template}")
    number = e164(row.phone)
    values = _values(row)
    payload = json.dumps({"PhoneNumberSet": [number], "SmsSdkAppId": settings.sms_sdk_app_id,
                          "SignName": settings.sms_sign_name, "TemplateId": str(template["id"]),
                          "TemplateParamSet": [values.get(name, "") for name in template.get("params", [])],
                          "SessionContext": f"notification-{row.id}"},
                         ensure_ascii=False, separators=(",", ":")).encode()
    endpoint = settings.sms_endpoint.rstrip("/")
    host = httpx.URL(endpoint).netloc.decode()
    headers = tc3_headers(secret_id=settings.sms_secret_id, secret_key=settings.sms_secret_key, host=host,
                          service=SMS_SERVICE, action=SMS_ACTION, version=SMS_VERSION,
                          region=settings.sms_region, payload=payload)
    try:
        answer = httpx.post(endpoint + "/", content=payload, headers=headers, timeout=settings.timeout_seconds)
    except httpx.HTTPError as exc:
        raise ChannelError("unavailable", str(exc), retry=True) from exc
    if answer.status_code >= 500:
        raise ChannelError("unavailable", f"HTTP {answer.status_code}", retry=True)
    try:
        data = answer.json()["Response"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ChannelError("unavailable", f"unreadable answer (HTTP {answer.status_code})", retry=True) from exc
    if "Error" in data:
        raise _sms_error(str(data["Error"].get("Code", "")), str(data["Error"].get("Message", "")))
    statuses = data.get("SendStatusSet") or []
    if not statuses:
        raise ChannelError("unavailable", "no send status in the answer", retry=True)
    status = statuses[0]
    if status.get("Code") != "Ok":
        raise _sms_error(str(status.get("Code", "")), str(status.get("Message", "")))
    row.provider_ref = str(status.get("SerialNo") or "")[:80] or None


# --- WeChat subscription messages ---------------------------------------------------------------

_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKEN_LOCK = threading.Lock()
# WeChat's errcodes: a stale/invalid token is fetched again once; these pass with time.
_STALE_TOKEN = {40001, 40014, 42001}
_PASSING = {-1, 45009, 45011}
# keyword kinds of subscription templates and their documented value limits (characters)
_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "number": 32, "letter": 32,
           "symbol": 5, "car_number": 8, "short_thing": 5, "time": 40, "date": 40, "amount": 20,
           "phone_number": 17}


def _token(settings, *, fresh: bool = False) -> str:
    """The app's access_token, fetched once and kept until shortly before ``expires_in``."""
    import httpx

    key = (settings.api_base, settings.appid)
    with _TOKEN_LOCK:
        cached = _TOKENS.get(key)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
        try:
            answer = httpx.get(f"{settings.api_base.rstrip('/')}/cgi-bin/token",
                               params={"grant_type": "client_credential", "appid": settings.appid,
                                       "secret": settings.secret}, timeout=settings.timeout_seconds)
            data = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChannelError("unavailable", f"token: {exc}", retry=True) from exc
        if not data.get("access_token"):
            errcode = int(data.get("errcode") or 0)
            raise ChannelError("unavailable" if errcode in _PASSING else "not_configured",
                               f"token errcode {errcode}", retry=errcode in _PASSING)
        expires_in = int(data.get("expires_in") or 7200)
        _TOKENS[key] = (data["access_token"], time.monotonic() + expires_in - min(300, expires_in // 2))
        return data["access_token"]


def forget_tokens() -> None:
    """Drop the kept access tokens (tests; a changed secret)."""
    with _TOKEN_LOCK:
        _TOKENS.clear()


def _data(template: dict, values: dict[str, str]) -> dict[str, dict[str, str]]:
    out = {}
    for keyword, name in (template.get("data") or {}).items():
        kind = re.sub(r"\d+$", "", keyword)
        limit = _LIMITS.get(kind, 20)
        text = values.get(name, "")
        out[keyword] = {"value": text if len(text) <= limit else text[: limit - 1] + "…"}
    return out


def send_wechat(row: Notification, settings: MessageSettings | None = None) -> None:
    """Send one row as a WeChat subscription message to the login's bound openid."""
    import httpx

    from app.security.wechat_identity import get_wechat_settings, openid_for

    settings = settings or get_message_settings()
    wechat = get_wechat_settings()
    if not wechat.configured:
        raise ChannelError("not_configured", "WeChat template message is not configured")
    template = settings.wechat_templates.get(row.template)
    if not template or not template.get("id"):
        raise ChannelError("no_template", f"no WeChat template for {row.template}")
    session = object_session(row)
    openid = openid_for(session, row.user_id, wechat.appid) if session is not None and row.user_id else None
    if not openid:
        raise ChannelError("not_bound", "the recipient has no WeChat bound")
    message = {"touser": openid, "template_id": str(template["id"]), "data": _data(template, _values(row)),
               "miniprogram_state": settings.wechat_miniprogram_state, "lang": "zh_CN"}
    if template.get("page"):
        message["page"] = str(template["page"])
    body = json.dumps(message, ensure_ascii=False).encode()
    for fresh in (False, True):
        token = _token(wechat, fresh=fresh)
        try:
            answer = httpx.post(f"{wechat.api_base.rstrip('/')}/cgi-bin/message/subscribe/send",
                                params={"access_token": token}, content=body,
                                headers={"Content-Type": "application/json; charset=utf-8"},
                                timeout=settings.timeout_seconds)
            data = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChannelError("unavailable", str(exc), retry=True) from exc
        errcode = int(data.get("errcode") or 0)
        if errcode == 0:
            row.provider_ref = str(data.get("msgid") or "")[:80] or None
            return
        if errcode in _STALE_TOKEN and not fresh:
            continue  # WeChat may end a token early: fetch a new one, once
        detail = f"errcode {errcode}: {data.get('errmsg', '')}"
        if errcode == 43101:
            raise ChannelError("not_subscribed", detail)
        if errcode in _PASSING or errcode in _STALE_TOKEN:
            raise ChannelError("unavailable", detail, retry=True)
        raise ChannelError("rejected", detail)
