"""Payment gateways behind one small interface.

A gateway turns a ``PaymentOrder`` into a page the payer goes to (``start``) and turns the
gateway's asynchronous notification back into a verified ``GatewayNotice``
(``parse_notification``), refusing anything whose signature does not verify. What to do
with a verified notice (idempotency, crediting bills) is not the gateway's business:
``app.domains.fees.payments.handle_notification`` does it for every gateway alike.

``checkout`` says how the payer pays: sent to a page (``redirect``: the sandbox cashier, WeChat
H5, Alipay wap), shown a QR code to scan (``qr``: WeChat Native, Alipay precreate — the exit gate,
the front desk, a resident without a bound WeChat identity) or handed the signed parameters of
``wx.requestPayment`` (``jsapi``: a resident whose WeChat openid is bound).

Shipped: ``sandbox`` (the demo's pretend bank, real create → redirect → signed callback
cycle), ``wechatpay`` (WeChat Pay API v3: RSA-SHA256 callback signatures and
AEAD_AES_256_GCM resources) and ``alipay`` (Alipay open API, RSA2, public key or
public-key certificate mode).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class GatewayError(Exception):
    """Base class of gateway problems."""


class SignatureInvalid(GatewayError):
    """The notification's signature does not verify: refuse it and log it."""


class NotificationInvalid(GatewayError):
    """The notification verified (or could not be read) but makes no sense."""


class GatewayNotConfigured(GatewayError):
    """The gateway lacks keys or endpoints in this deployment."""


@dataclass(frozen=True)
class GatewayNotice:
    """A verified payment result from a gateway."""

    gateway: str
    transaction_id: str
    out_trade_no: str
    amount_cents: int
    success: bool
    paid_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundNotice:
    """A verified refund result (WeChat Pay's refund notification, a refund query answer)."""

    gateway: str
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    refund_cents: int
    status: str  # SUCCESS, CLOSED, ABNORMAL, PROCESSING
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == "SUCCESS"


@dataclass(frozen=True)
class GatewayReply:
    """What we answer the gateway's callback with."""

    status: int
    body: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class Checkout:
    """How the payer pays an order: ``redirect`` to ``url``, scan ``url`` as a ``qr`` code, or
    call ``wx.requestPayment`` with ``params`` (``jsapi``)."""

    kind: str
    url: str = ""
    params: dict[str, str] = field(default_factory=dict)


class PaymentGateway(ABC):
    name: str = ""
    #: a refused signature is answered with HTTP 401 (WeChat Pay, sandbox); Alipay reads only the body
    signature_status: int = 401

    @abstractmethod
    def start(self, order, *, notify_url: str, return_url: str) -> str:
        """Register ``order`` at the gateway; return the URL to send the payer to."""

    @abstractmethod
    def parse_notification(self, headers: dict[str, str], body: bytes) -> GatewayNotice:
        """Verify and decode a callback; raise ``SignatureInvalid``/``NotificationInvalid``."""

    def checkout(self, order, *, notify_url: str, return_url: str, openid: str | None = None,
                 qr: bool = False) -> Checkout:
        """How to pay ``order`` (``qr``: the payer is not on this device, e.g. an exit gate).
        Gateways without QR codes or JSAPI send the payer to their page."""
        return Checkout("redirect", self.start(order, notify_url=notify_url, return_url=return_url))

    def reply(self, ok: bool, message: str = "") -> GatewayReply:
        import json

        if ok:
            return GatewayReply(200, json.dumps({"code": "SUCCESS", "message": "OK"}))
        return GatewayReply(400, json.dumps({"code": "FAIL", "message": message[:200]}, ensure_ascii=False))


def retry_network(call, *, attempts: int, what: str):
    """``call()``, retried only when the request may not have arrived (a connection or network
    error), never after an answer: a retried order or refund is harmless (same number)."""
    import time

    import httpx

    for attempt in range(attempts):
        try:
            return call()
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise GatewayNotConfigured(f"{what} unreachable") from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


_GATEWAYS: dict[str, PaymentGateway] = {}


def register_gateway(gateway: PaymentGateway) -> None:
    _GATEWAYS[gateway.name] = gateway


def get_gateway(name: str) -> PaymentGateway:
    if name not in _GATEWAYS:
        if name == "sandbox":
            from app.domains.fees.gateways.sandbox import SandboxGateway

            register_gateway(SandboxGateway())
        elif name == "wechatpay":
            from app.domains.fees.gateways.wechatpay_v3 import WechatPayV3Gateway

            register_gateway(WechatPayV3Gateway.from_settings())
        elif name == "alipay":
            from app.domains.fees.gateways.alipay import AlipayGateway

            register_gateway(AlipayGateway.from_settings())
        else:
            raise GatewayNotConfigured(f"unknown payment gateway {name!r}")
    return _GATEWAYS[name]
