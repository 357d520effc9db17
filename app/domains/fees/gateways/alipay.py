"""Alipay (支付宝) open-API adapter: RSA2-signed requests out, verified answers and notifications in.

Written on httpx and ``cryptography`` from Alipay's public documentation (the ``python-alipay-sdk``
package on PyPI was looked at: its certificate mode needs pyOpenSSL and it signs with its own
transport, which we could not point at a local fake with answer-signature checks — so this is
our own small adapter):

* a request is the common parameters (``app_id``, ``method``, ``charset=utf-8``,
  ``sign_type=RSA2``, ``timestamp`` in Beijing time, ``version=1.0``, ``biz_content`` JSON, and in
  certificate mode ``app_cert_sn`` / ``alipay_root_cert_sn``) signed with SHA256withRSA over the
  ``k=v`` pairs sorted by key, joined by ``&`` (empty values and ``sign`` left out);
* an answer ``{"<method>_response": {...}, "sign": "...", "alipay_cert_sn": "..."}`` is believed
  only when ``sign`` verifies over the exact text of the ``..._response`` object;
* the async notification (form POST) verifies over every field but ``sign`` and ``sign_type``;
  we answer the plain text ``success`` (anything else and Alipay sends it again);
* public key mode: Alipay's public key PEM; certificate mode: Alipay's public key certificate(s)
  (several during a rotation, named by their SN = md5(issuer + serial)), the app certificate and
  the root certificate, whose SNs go with every request.

Amounts at Alipay are yuan strings (``"85.00"``); here they are integer cents.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.x509 import Certificate, load_pem_x509_certificates

from app import clock
from app.domains.fees.gateways import (
    Checkout,
    GatewayNotConfigured,
    GatewayNotice,
    GatewayReply,
    NotificationInvalid,
    PaymentGateway,
    SignatureInvalid,
    retry_network,
)
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.money import BadAmount, parse_yuan

GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
BEIJING = timezone(timedelta(hours=8))
PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")
FUTURE_SKEW = timedelta(minutes=10)
Transport = Callable[[str, dict[str, str]], tuple[int, bytes]]


def sign_content(params: dict[str, str], *, drop: tuple[str, ...] = ("sign",)) -> bytes:
    """The text Alipay signs: ``k=v`` sorted by key, ``&``-joined, empty values and ``drop`` left out."""
    pairs = sorted((k, str(v)) for k, v in params.items() if k not in drop and v not in (None, ""))
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def rsa2_sign(key: RSAPrivateKey, content: bytes) -> str:
    return base64.b64encode(key.sign(content, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(keys: list[RSAPublicKey], content: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, TypeError):
        return False
    for key in keys:
        try:
            key.verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            continue
    return False


def cert_sn(cert: Certificate) -> str:
    """A certificate's SN as Alipay names it: md5 of the issuer (RFC 4514 order) + decimal serial."""
    return hashlib.md5((cert.issuer.rfc4514_string() + str(cert.serial_number)).encode()).hexdigest()  # noqa: S324


def root_cert_sn(certs: list[Certificate]) -> str:
    """The root chain's SN: the RSA-signed certificates' SNs joined by ``_``."""
    rsa = ("sha1WithRSAEncryption", "sha256WithRSAEncryption")
    return "_".join(cert_sn(c) for c in certs if c.signature_algorithm_oid._name in rsa)


def response_text(body: str, key: str) -> str | None:
    """The exact text of ``"<key>": {...}`` in an answer (what Alipay's ``sign`` covers)."""
    marker = f'"{key}"'
    at = body.find(marker)
    if at < 0:
        return None
    start = body.index(":", at + len(marker)) + 1
    while body[start] in " \t\r\n":
        start += 1
    _, end = json.JSONDecoder().raw_decode(body, start)
    return body[start:end]


def amount_text(cents: int) -> str:
    """Cents as Alipay's amount: yuan with two decimals, no thousands separator."""
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(text: str) -> int:
    try:
        return parse_yuan(str(text))
    except BadAmount:
        raise NotificationInvalid(f"bad amount {text!r}") from None


def _beijing(text: str | None) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` Beijing time as naive UTC (how the platform stores times)."""
    if not text:
        return None
    try:
        local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        raise NotificationInvalid(f"bad time {text!r}") from None
    return local.astimezone(timezone.utc).replace(tzinfo=None)


class AlipayRefused(GatewayNotConfigured):
    """Alipay answered with a business error (``code`` ≠ 10000; ``sub_code`` says why)."""

    def __init__(self, method: str, code: str, sub_code: str, message: str) -> None:
        super().__init__(f"Alipay {method}: {code} {sub_code} {message}".strip())
        self.code, self.sub_code = code, sub_code


class HttpxFormTransport:
    """POST a form to Alipay; retried only on network errors (never after an answer)."""

    def __init__(self, timeout: float = 10.0, attempts: int = 3) -> None:
        import httpx

        self._client = httpx.Client(timeout=timeout)
        self.attempts = attempts

    def get(self, url: str) -> tuple[int, bytes]:
        """A file download (Alipay's bill URL is short-lived and carries its own token)."""
        import httpx

        try:
            reply = self._client.get(url)
        except httpx.TransportError:
            raise GatewayNotConfigured(f"Alipay unreachable at {url}") from None
        return reply.status_code, reply.content

    def __call__(self, url: str, form: dict[str, str]) -> tuple[int, bytes]:
        reply = retry_network(lambda: self._client.post(url, data=form), attempts=self.attempts,
                              what=f"Alipay at {url}")
        return reply.status_code, reply.content


class AlipayGateway(PaymentGateway):
    name = "alipay"
    signature_status = 200  # Alipay reads the body: "fail" makes it retry

    def __init__(self, *, app_id: str = "", private_key: RSAPrivateKey | None = None,
                 alipay_keys: dict[str, RSAPublicKey] | None = None, app_cert_sn: str = "",
                 root_cert_sn: str = "", transport: Transport | None = None,
                 gateway_url: str = GATEWAY_URL, wap: bool = False) -> None:
        """``alipay_keys``: Alipay's verification keys by certificate SN (certificate mode) or
        under ``""`` (public key mode)."""
        self.app_id, self.private_key = app_id, private_key
        self.alipay_keys = dict(alipay_keys or {})
        self.app_cert_sn, self.root_cert_sn = app_cert_sn, root_cert_sn
        self.transport, self.gateway_url, self.wap = transport, gateway_url, wap

    @property
    def cert_mode(self) -> bool:
        return bool(self.app_cert_sn)

    @classmethod
    def from_settings(cls) -> "AlipayGateway":
        s = get_payment_settings()
        private = None
        if s.alipay_private_key:
            private = serialization.load_pem_private_key(Path(s.alipay_private_key).read_bytes(), None)
        keys: dict[str, RSAPublicKey] = {}
        app_sn = root_sn = ""
        if s.alipay_cert:
            if not (s.alipay_app_cert and s.alipay_root_cert):
                raise GatewayNotConfigured("Alipay certificate mode needs ESTATEFLOW_PAY_ALIPAY_APP_CERT and "
                                           "ESTATEFLOW_PAY_ALIPAY_ROOT_CERT beside ESTATEFLOW_PAY_ALIPAY_CERT")
            keys = load_alipay_certs(Path(s.alipay_cert).read_bytes())
            app_sn = cert_sn(load_pem_x509_certificates(Path(s.alipay_app_cert).read_bytes())[0])
            root_sn = root_cert_sn(load_pem_x509_certificates(Path(s.alipay_root_cert).read_bytes()))
        elif s.alipay_public_key:
            pem = Path(s.alipay_public_key).read_bytes()
            if b"BEGIN PUBLIC KEY" not in pem:
                raise GatewayNotConfigured(f"{s.alipay_public_key} is not a public key (no BEGIN PUBLIC KEY); an "
                                           "Alipay certificate goes in ESTATEFLOW_PAY_ALIPAY_CERT")
            keys = {"": serialization.load_pem_public_key(pem)}  # type: ignore[dict-item]
        transport = HttpxFormTransport(s.alipay_timeout_seconds) if s.alipay_http else None
        return cls(app_id=s.alipay_app_id, private_key=private, alipay_keys=keys,  # type: ignore[arg-type]
                   app_cert_sn=app_sn, root_cert_sn=root_sn, transport=transport,
                   gateway_url=s.alipay_gateway_url, wap=s.alipay_wap)

    # requests to Alipay -------------------------------------------------------------------------
    def signed_params(self, method: str, biz: dict, **extra: str) -> dict[str, str]:
        if self.private_key is None or not self.app_id:
            raise GatewayNotConfigured("Alipay app id or app private key missing")
        params = {"app_id": self.app_id, "method": method, "format": "JSON", "charset": "utf-8",
                  "sign_type": "RSA2", "version": "1.0",
                  "timestamp": clock.now().replace(tzinfo=timezone.utc).astimezone(BEIJING).strftime(
                      "%Y-%m-%d %H:%M:%S"),
                  "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")), **extra}
        if self.cert_mode:
            params.update(app_cert_sn=self.app_cert_sn, alipay_root_cert_sn=self.root_cert_sn)
        params["sign"] = rsa2_sign(self.private_key, sign_content(params))
        return params

    def _call(self, method: str, biz: dict, **extra: str) -> dict:
        """One signed request; the answer's signature is checked before it is believed."""
        if self.transport is None:
            raise GatewayNotConfigured("Alipay transport not configured in this deployment")
        status, content = self.transport(self.gateway_url, self.signed_params(method, biz, **extra))
        text = content.decode("utf-8", "replace")
        key = method.replace(".", "_") + "_response"
        signed = response_text(text, key) if status == 200 else None
        try:
            envelope = json.loads(text)
        except ValueError:
            envelope = None
        if signed is None or not isinstance(envelope, dict):
            raise GatewayNotConfigured(f"Alipay answered {method} with HTTP {status} and no {key}")
        data = envelope[key]
        if not self.answer_verified(signed, str(envelope.get("sign", "")), str(envelope.get("alipay_cert_sn", ""))):
            if data.get("code") == "40002" and not envelope.get("sign"):  # our own signature refused
                raise AlipayRefused(method, "40002", str(data.get("sub_code", "")), str(data.get("sub_msg", "")))
            raise SignatureInvalid(f"Alipay's answer to {method} is not signed by Alipay")
        if data.get("code") != "10000":
            raise AlipayRefused(method, str(data.get("code", "")), str(data.get("sub_code", "")),
                                str(data.get("sub_msg") or data.get("msg") or ""))
        return data

    def answer_verified(self, text: str, signature: str, serial: str) -> bool:
        if not signature:
            return False
        keys = self._keys(serial)
        return bool(keys) and rsa2_verify(keys, text.encode(), signature)

    def _keys(self, serial: str = "") -> list[RSAPublicKey]:
        """Certificate mode: the certificate the answer names (all of them when it names none,
        as notifications do); public key mode: the one key."""
        if serial and serial in self.alipay_keys:
            return [self.alipay_keys[serial]]
        if serial and self.cert_mode:
            return []
        return list(self.alipay_keys.values())

    def _biz(self, order) -> dict:
        subject = getattr(order, "subject", "") or f"物业费 {order.out_trade_no}"
        return {"out_trade_no": order.out_trade_no, "total_amount": amount_text(order.amount_cents), "subject": subject[:128]}

    def precreate(self, order, *, notify_url: str) -> str:
        """A QR-code order (当面付 precreate): the ``qr_code`` the payer scans with Alipay."""
        return self._call("alipay.trade.precreate", self._biz(order), notify_url=notify_url)["qr_code"]

    def wap_url(self, order, *, notify_url: str, return_url: str) -> str:
        """Alipay's phone cashier (手机网站支付): a signed GET the payer's browser goes to."""
        params = self.signed_params("alipay.trade.wap.pay",
                                    {**self._biz(order), "product_code": "QUICK_WAP_WAY", "quit_url": return_url},
                                    notify_url=notify_url, return_url=return_url)
        return f"{self.gateway_url}?{urlencode(params)}"

    def start(self, order, *, notify_url: str, return_url: str) -> str:
        return self.wap_url(order, notify_url=notify_url, return_url=return_url)

    def checkout(self, order, *, notify_url: str, return_url: str, openid: str | None = None,
                 qr: bool = False) -> Checkout:
        if self.wap and not qr:
            if self.transport is None:
                raise GatewayNotConfigured("Alipay transport not configured in this deployment")
            return Checkout("redirect", self.wap_url(order, notify_url=notify_url, return_url=return_url))
        return Checkout("qr", self.precreate(order, notify_url=notify_url))

    def query(self, out_trade_no: str) -> dict:
        """The trade as Alipay knows it; a QR code nobody scanned yet is no trade at Alipay
        (``ACQ.TRADE_NOT_EXIST``): answered as ``trade_status=TRADE_NOT_EXIST`` (unpaid)."""
        try:
            return self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        except AlipayRefused as exc:
            if exc.sub_code != "ACQ.TRADE_NOT_EXIST":
                raise
            return {"out_trade_no": out_trade_no, "trade_status": "TRADE_NOT_EXIST"}

    def close(self, out_trade_no: str) -> None:
        try:
            self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        except AlipayRefused as exc:
            if exc.sub_code != "ACQ.TRADE_NOT_EXIST":  # never scanned: nothing to close at Alipay
                raise

    def refund(self, *, out_trade_no: str, out_refund_no: str, refund_cents: int, total_cents: int,
               reason: str, notify_url: str = "") -> dict:
        """Alipay refunds synchronously: ``fund_change == "Y"`` is its confirmation (a retry with
        the same ``out_request_no`` is answered again, never refunded twice)."""
        data = self._call("alipay.trade.refund", {"out_trade_no": out_trade_no, "out_request_no": out_refund_no,
                                                  "refund_amount": amount_text(refund_cents), "refund_reason": reason[:80]})
        return {"status": "SUCCESS" if data.get("fund_change") == "Y" else "PROCESSING",
                "refund_id": data.get("trade_no", ""), "out_refund_no": out_refund_no, "raw": data}

    def refund_query(self, out_trade_no: str, out_refund_no: str) -> dict:
        """``refund_status == REFUND_SUCCESS``: the refund went through."""
        data = self._call("alipay.trade.fastpay.refund.query",
                          {"out_trade_no": out_trade_no, "out_request_no": out_refund_no})
        return {"status": "SUCCESS" if data.get("refund_status") == "REFUND_SUCCESS" else "PROCESSING",
                "refund_cents": _cents(data["refund_amount"]) if data.get("refund_amount") else None, "raw": data}

    def account_log(self, bill_date) -> bytes:
        """The day's account log (账务明细, ``bill_type=signcustomer``): a zip of GBK CSV files."""
        data = self._call("alipay.data.dataservice.bill.downloadurl.query",
                          {"bill_type": "signcustomer", "bill_date": f"{bill_date:%Y-%m-%d}"})
        getter = getattr(self.transport, "get", None)
        if getter is None:
            raise GatewayNotConfigured("Alipay transport cannot download files")
        status, content = getter(data["bill_download_url"])
        if status != 200:
            raise AlipayRefused("bill download", str(status), "", "bill file not available")
        return content

    # notifications from Alipay --------------------------------------------------------------------
    def verify_form(self, form: dict[str, str]) -> None:
        if not form.get("sign"):
            raise SignatureInvalid("notification has no sign")
        if form.get("sign_type", "RSA2") != "RSA2":
            raise SignatureInvalid(f"sign_type {form.get('sign_type')!r} is not RSA2")
        if not rsa2_verify(self._keys(), sign_content(form, drop=("sign", "sign_type")), form["sign"]):
            raise SignatureInvalid("sign does not verify with Alipay's key")
        if self.app_id and form.get("app_id") != self.app_id:
            raise NotificationInvalid("notification for another app_id")
        sent = _beijing(form.get("notify_time"))
        if sent is None:
            raise SignatureInvalid("notification has no notify_time")
        if sent > clock.now() + FUTURE_SKEW:
            raise SignatureInvalid(f"notify_time {form['notify_time']} is in the future")

    def parse_notification(self, headers: dict[str, str], body: bytes) -> GatewayNotice:
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise SignatureInvalid("notification is not a form") from None
        self.verify_form(form)
        return self.notice(form)

    def notice(self, tx: dict) -> GatewayNotice:
        """A trade (a verified notification or query answer) as our notice."""
        if tx.get("trade_status") == "TRADE_NOT_EXIST":
            return GatewayNotice(gateway=self.name, transaction_id="", out_trade_no=str(tx.get("out_trade_no", "")),
                                 amount_cents=0, success=False, raw={**tx, "trade_state": "TRADE_NOT_EXIST"})
        if not tx.get("out_trade_no") or not tx.get("total_amount"):
            raise NotificationInvalid("trade without out_trade_no / total_amount")
        paid_at = _beijing(tx.get("gmt_payment") or tx.get("send_pay_date"))
        return GatewayNotice(gateway=self.name, transaction_id=str(tx.get("trade_no") or ""),
                             out_trade_no=str(tx["out_trade_no"]), amount_cents=_cents(tx["total_amount"]),
                             success=tx.get("trade_status") in PAID_STATES, paid_at=paid_at,
                             raw={**tx, "trade_state": tx.get("trade_status")})

    def reply(self, ok: bool, message: str = "") -> GatewayReply:
        """Alipay reads the plain text ``success``; anything else makes it retry later."""
        return GatewayReply(200, "success" if ok else "fail", "text/plain")


def load_alipay_certs(pem: bytes) -> dict[str, RSAPublicKey]:
    """Alipay's public key certificate(s) by SN (a rotation has two in one file)."""
    if b"BEGIN CERTIFICATE" not in pem:
        raise GatewayNotConfigured("the Alipay certificate file holds no certificate (no BEGIN CERTIFICATE); "
                                   "a plain Alipay public key goes in ESTATEFLOW_PAY_ALIPAY_PUBLIC_KEY")
    return {cert_sn(c): c.public_key() for c in load_pem_x509_certificates(pem)}  # type: ignore[misc]
