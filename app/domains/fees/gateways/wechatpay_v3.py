"""WeChat Pay API v3 adapter: signed requests out, verified and decrypted callbacks in.

Callback (``POST`` to our notify URL), per WeChat Pay's v3 documentation:

* headers ``Wechatpay-Timestamp``, ``Wechatpay-Nonce``, ``Wechatpay-Signature`` (base64),
  ``Wechatpay-Serial`` (which platform certificate signed it);
* signature = RSA-SHA256 (PKCS#1 v1.5) over ``timestamp\\nnonce\\nbody\\n`` with the
  platform certificate's key;
* body ``{"id", "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
  "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext", "nonce", "associated_data"}}``;
  the resource decrypts with the merchant's APIv3 key to the transaction
  (``transaction_id``, ``out_trade_no``, ``trade_state``, ``amount.total`` in fen).

Requests to WeChat (``Authorization: WECHATPAY2-SHA256-RSA2048 ...``) are signed with the
merchant key over ``method\\nurl\\ntimestamp\\nnonce\\nbody\\n``; the HTTP transport is
injected, so this module works offline and in tests with keys the tests generate.
"""
from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509 import load_pem_x509_certificate

from app import clock
from app.domains.fees.gateways import (
    Checkout,
    GatewayNotConfigured,
    GatewayNotice,
    GatewayReply,
    NotificationInvalid,
    PaymentGateway,
    RefundNotice,
    SignatureInvalid,
    retry_network,
)
from app.domains.fees.gateways.settings import get_payment_settings

API = "https://api.mch.weixin.qq.com"
MAX_SKEW_SECONDS = 300
CERT_REFETCH_SECONDS = 60
Transport = Callable[[str, str, dict[str, str], bytes], tuple[int, bytes]]


def _h(headers: dict[str, str], name: str) -> str:
    return {k.lower(): v for k, v in headers.items()}.get(name.lower(), "")


def sign_message(private_key: RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def decrypt_bytes(apiv3_key: bytes, resource: dict) -> bytes:
    """AEAD_AES_256_GCM: ciphertext (base64, tag appended), nonce and associated_data as text."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotificationInvalid(f"unsupported algorithm {resource.get('algorithm')!r}")
    try:
        return AESGCM(apiv3_key).decrypt(
            resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]),
            (resource.get("associated_data") or "").encode() or None)
    except (InvalidTag, KeyError, ValueError) as exc:
        raise SignatureInvalid(f"resource does not decrypt: {type(exc).__name__}") from None


def decrypt_resource(apiv3_key: bytes, resource: dict) -> dict:
    return json.loads(decrypt_bytes(apiv3_key, resource))


def encrypt_resource(apiv3_key: bytes, data: dict, associated_data: str = "transaction") -> dict:
    """The inverse (what WeChat does); used by tests and the local simulator."""
    nonce = secrets.token_hex(6)
    cipher = AESGCM(apiv3_key).encrypt(nonce.encode(), json.dumps(data).encode(), associated_data.encode())
    return {"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.b64encode(cipher).decode(),
            "nonce": nonce, "associated_data": associated_data, "original_type": "transaction"}


def load_platform_keys(cert_paths: list[Path], public_key_path: Path | None = None,
                       public_key_id: str = "") -> dict[str, RSAPublicKey]:
    """The keys WeChat Pay signs callbacks and answers with, by the serial it names them by.

    Platform certificates (several at once: during a rotation WeChat signs with the new one while
    the old one is still valid) are keyed by their serial number in upper-case hex, as the
    ``Wechatpay-Serial`` header gives it; merchants created since 2024 get a **platform public
    key** instead, keyed by its id (``PUB_KEY_ID_…``). A file that holds the other kind than its
    setting says is a configuration error with a sentence, not a crash.
    """
    keys: dict[str, RSAPublicKey] = {}
    for path in cert_paths:
        pem = Path(path).read_bytes()
        if b"BEGIN CERTIFICATE" not in pem:
            raise GatewayNotConfigured(
                f"{path} is not a certificate (no BEGIN CERTIFICATE); a WeChat Pay platform public key "
                "goes in ESTATEFLOW_PAY_WECHATPAY_PUBLIC_KEY with its id in ESTATEFLOW_PAY_WECHATPAY_PUBLIC_KEY_ID")
        cert = load_pem_x509_certificate(pem)
        keys[format(cert.serial_number, "X")] = cert.public_key()  # type: ignore[assignment]
    if public_key_path:
        if not public_key_id.startswith("PUB_KEY_ID_"):
            raise GatewayNotConfigured("ESTATEFLOW_PAY_WECHATPAY_PUBLIC_KEY_ID must be the key's id (PUB_KEY_ID_…)")
        pem = Path(public_key_path).read_bytes()
        if b"BEGIN PUBLIC KEY" not in pem:
            raise GatewayNotConfigured(f"{public_key_path} is not a public key (no BEGIN PUBLIC KEY)")
        keys[public_key_id] = serialization.load_pem_public_key(pem)  # type: ignore[assignment]
    return keys


class GatewayRefused(GatewayNotConfigured):
    """WeChat Pay answered, but not with success (its ``code`` and ``message`` say why)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"WeChat Pay answered HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class HttpxTransport:
    """HTTPS to WeChat Pay with a timeout, retrying only when the request may not have arrived
    (connection or network errors), never after an answer: a retried order creation is
    harmless (same ``out_trade_no``), a retried refund too (same ``out_refund_no``)."""

    def __init__(self, timeout: float = 10.0, attempts: int = 3) -> None:
        import httpx

        self._client = httpx.Client(timeout=timeout)
        self.attempts = attempts

    def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes):
        reply = retry_network(lambda: self._client.request(method, url, headers=headers, content=body or None),
                              attempts=self.attempts, what=f"WeChat Pay at {url}")
        return reply.status_code, reply.content, dict(reply.headers)


class WechatPayV3Gateway(PaymentGateway):
    name = "wechatpay"

    def __init__(self, *, mchid: str = "", appid: str = "", apiv3_key: bytes = b"",
                 platform_keys: dict[str, RSAPublicKey] | None = None,
                 merchant_key: RSAPrivateKey | None = None, merchant_serial: str = "",
                 transport: Transport | None = None, api_base: str = API, h5: bool = False) -> None:
        self.mchid, self.appid, self.apiv3_key, self.h5 = mchid, appid, apiv3_key, h5
        self.api_base = api_base.rstrip("/")
        self.platform_keys = dict(platform_keys or {})
        self.merchant_key, self.merchant_serial = merchant_key, merchant_serial
        self.transport = transport
        self._certs_fetched_at: float | None = None

    @classmethod
    def from_settings(cls) -> "WechatPayV3Gateway":
        s = get_payment_settings()
        keys = load_platform_keys(s.wechatpay_platform_certs, s.wechatpay_public_key, s.wechatpay_public_key_id)
        merchant = None
        if s.wechatpay_merchant_key:
            merchant = serialization.load_pem_private_key(s.wechatpay_merchant_key.read_bytes(), None)
        transport = HttpxTransport(s.wechatpay_timeout_seconds) if s.wechatpay_http else None
        return cls(mchid=s.wechatpay_mchid, appid=s.wechatpay_appid, apiv3_key=s.wechatpay_apiv3_key.encode(),
                   platform_keys=keys, merchant_key=merchant,  # type: ignore[arg-type]
                   merchant_serial=s.wechatpay_merchant_serial, transport=transport,
                   api_base=s.wechatpay_api_base, h5=s.wechatpay_h5)

    # requests to WeChat ---------------------------------------------------------------------
    def authorization(self, method: str, url_path: str, body: bytes, timestamp: str | None = None,
                      nonce: str | None = None) -> str:
        if self.merchant_key is None or not self.mchid:
            raise GatewayNotConfigured("WeChat Pay merchant key or mchid missing")
        timestamp = timestamp or str(int(clock.now().replace(tzinfo=timezone.utc).timestamp()))
        nonce = nonce or secrets.token_hex(16)
        message = f"{method}\n{url_path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
        signature = sign_message(self.merchant_key, message)
        return (f'WECHATPAY2-SHA256-RSA2048 mchid="{self.mchid}",nonce_str="{nonce}",'
                f'signature="{signature}",timestamp="{timestamp}",serial_no="{self.merchant_serial}"')

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        """One signed request; the answer's own signature is verified before it is believed
        (a forged "SUCCESS" from a man in the middle must not settle an order)."""
        if self.transport is None:
            raise GatewayNotConfigured("WeChat Pay transport not configured in this deployment")
        body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
        headers = {"Authorization": self.authorization(method, path, body), "Accept": "application/json",
                   "User-Agent": "estateflow"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        answer = self.transport(method, self.api_base + path, headers, body)
        status, content = answer[0], answer[1]
        answer_headers = answer[2] if len(answer) > 2 else {}
        try:
            self.verify(answer_headers, content)
        except SignatureInvalid as exc:
            raise SignatureInvalid(f"WeChat Pay's answer to {method} {path} is not signed by WeChat Pay: {exc}") from None
        data = json.loads(content) if content else {}
        if not 200 <= status < 300:
            raise GatewayRefused(status, str(data.get("code", "")), str(data.get("message", "")))
        return data

    def _order(self, order, notify_url: str, **extra) -> dict:
        return {"appid": self.appid, "mchid": self.mchid, "description": f"物业费 {order.out_trade_no}",
                "out_trade_no": order.out_trade_no, "notify_url": notify_url,
                "amount": {"total": order.amount_cents, "currency": "CNY"}, **extra}

    def start(self, order, *, notify_url: str, return_url: str) -> str:
        """Create an H5 order; returns WeChat's ``h5_url`` (payer goes there)."""
        data = self._call("POST", "/v3/pay/transactions/h5", self._order(
            order, notify_url, scene_info={"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}))
        return data["h5_url"]

    def checkout(self, order, *, notify_url: str, return_url: str, openid: str | None = None,
                 qr: bool = False) -> Checkout:
        """JSAPI for a payer whose openid we know, H5 only where configured, else a Native QR code."""
        if openid and not qr:
            return Checkout("jsapi", params=self.jsapi(order, notify_url=notify_url, openid=openid))
        if self.h5 and not qr:
            return Checkout("redirect", self.start(order, notify_url=notify_url, return_url=return_url))
        return Checkout("qr", self.native(order, notify_url=notify_url))

    def native(self, order, *, notify_url: str) -> str:
        """A Native (QR code) order for the front desk or an exit gate: the ``code_url`` to show
        as a QR code, which the payer scans with WeChat."""
        return self._call("POST", "/v3/pay/transactions/native", self._order(order, notify_url))["code_url"]

    def jsapi(self, order, *, notify_url: str, openid: str) -> dict[str, str]:
        """A JSAPI / mini-program order for a payer known by ``openid``: the parameters
        ``wx.requestPayment`` takes, signed with the merchant key as WeChat Pay prescribes
        (``appId\ntimeStamp\nnonceStr\npackage\n``)."""
        prepay_id = self._call("POST", "/v3/pay/transactions/jsapi",
                               self._order(order, notify_url, payer={"openid": openid}))["prepay_id"]
        timestamp = str(int(clock.now().replace(tzinfo=timezone.utc).timestamp()))
        nonce, package = secrets.token_hex(16), f"prepay_id={prepay_id}"
        message = f"{self.appid}\n{timestamp}\n{nonce}\n{package}\n".encode()
        return {"appId": self.appid, "timeStamp": timestamp, "nonceStr": nonce, "package": package,
                "signType": "RSA", "paySign": sign_message(self.merchant_key, message)}  # type: ignore[arg-type]

    def query(self, out_trade_no: str) -> dict:
        """The order as WeChat Pay knows it (``trade_state``, ``transaction_id``, ``amount``)."""
        return self._call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.mchid}")

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid order so it can no longer be paid (WeChat answers 204)."""
        self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": self.mchid})

    def refund(self, *, out_trade_no: str, out_refund_no: str, refund_cents: int, total_cents: int,
               reason: str, notify_url: str) -> dict:
        """Ask WeChat Pay to refund; the answer's ``status`` is usually PROCESSING, and the
        refund notification (or a query) says when it is SUCCESS."""
        return self._call("POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": out_trade_no, "out_refund_no": out_refund_no, "reason": reason[:80],
            "notify_url": notify_url,
            "amount": {"refund": refund_cents, "total": total_cents, "currency": "CNY"}})

    def refund_query(self, out_refund_no: str) -> dict:
        """A refund as WeChat Pay knows it (``status`` SUCCESS / PROCESSING / CLOSED / ABNORMAL)."""
        return self._call("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")

    def tradebill(self, bill_date) -> str:
        """The day's trade bill (``bill_type=ALL``): ask for its download URL (a signed answer), fetch
        the file (WeChat does not sign it) and check it against the SHA1 the signed answer gave."""
        import hashlib
        from urllib.parse import urlsplit

        info = self._call("GET", f"/v3/bill/tradebill?bill_date={bill_date:%Y-%m-%d}&bill_type=ALL")
        url = info["download_url"]
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if self.transport is None:
            raise GatewayNotConfigured("WeChat Pay transport not configured in this deployment")
        answer = self.transport("GET", url, {"Authorization": self.authorization("GET", path, b""),
                                             "Accept": "*/*", "User-Agent": "estateflow"}, b"")
        status, content = answer[0], answer[1]
        if status != 200:
            raise GatewayRefused(status, "DOWNLOAD", "bill file not available")
        if info.get("hash_type", "SHA1") != "SHA1" or hashlib.sha1(content).hexdigest() != info.get("hash_value"):  # noqa: S324
            raise SignatureInvalid("the downloaded trade bill does not match the hash WeChat Pay signed")
        return content.decode("utf-8-sig")

    def fetch_certificates(self) -> list[str]:
        """Download WeChat Pay's platform certificates (``GET /v3/certificates``) and add them to
        the keys callbacks and answers are verified with; returns their serials. Each certificate
        comes encrypted with our APIv3 key (only WeChat Pay has it besides us), and the answer's
        own signature must then verify with one of them. Several are kept at once (rotation)."""
        if self.transport is None:
            raise GatewayNotConfigured("WeChat Pay transport not configured in this deployment")
        path = "/v3/certificates"
        answer = self.transport("GET", self.api_base + path, {
            "Authorization": self.authorization("GET", path, b""), "Accept": "application/json",
            "User-Agent": "estateflow"}, b"")
        status, content = answer[0], answer[1]
        headers = answer[2] if len(answer) > 2 else {}
        if status != 200:
            raise GatewayRefused(status, "CERTIFICATES", "platform certificates not available")
        fetched: dict[str, RSAPublicKey] = {}
        now = clock.now().replace(tzinfo=timezone.utc)
        try:
            items = json.loads(content)["data"]
            for item in items:
                cert = load_pem_x509_certificate(decrypt_bytes(self.apiv3_key, item["encrypt_certificate"]))
                if cert.not_valid_after_utc > now:
                    fetched[format(cert.serial_number, "X")] = cert.public_key()  # type: ignore[assignment]
        except (KeyError, TypeError, ValueError) as exc:
            raise NotificationInvalid(f"unreadable certificates answer: {exc}") from None
        known, self.platform_keys = self.platform_keys, {**self.platform_keys, **fetched}
        try:
            self.verify(headers, content, refetch=False)
        except SignatureInvalid:
            self.platform_keys = known
            raise
        self._certs_fetched_at = now.timestamp()
        return sorted(fetched)

    def _maybe_refetch(self, serial: str) -> None:
        """An unknown certificate serial: WeChat Pay may have rotated; download again (at most
        once a minute, never for a platform public key)."""
        if self.transport is None or serial.startswith("PUB_KEY_ID_") or not self.apiv3_key:
            return
        now = clock.now().replace(tzinfo=timezone.utc).timestamp()
        if self._certs_fetched_at is not None and now - self._certs_fetched_at < CERT_REFETCH_SECONDS:
            return
        self._certs_fetched_at = now
        try:
            self.fetch_certificates()
        except GatewayNotConfigured as exc:
            import logging

            logging.getLogger("estateflow.fees.wechatpay").warning("platform certificates: %s", exc)

    # callbacks from WeChat --------------------------------------------------------------------
    def verify(self, headers: dict[str, str], body: bytes, refetch: bool = True) -> None:
        ts, nonce = _h(headers, "Wechatpay-Timestamp"), _h(headers, "Wechatpay-Nonce")
        signature, serial = _h(headers, "Wechatpay-Signature"), _h(headers, "Wechatpay-Serial")
        if not (ts and nonce and signature and serial):
            raise SignatureInvalid("missing Wechatpay-* signature headers")
        if serial not in self.platform_keys and refetch:
            self._maybe_refetch(serial)
        key = self.platform_keys.get(serial)
        if key is None:
            raise SignatureInvalid(f"unknown platform certificate serial {serial!r}")
        message = f"{ts}\n{nonce}\n".encode() + body + b"\n"
        try:
            key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise SignatureInvalid("Wechatpay-Signature does not verify") from None
        try:
            skew = abs(clock.now().replace(tzinfo=timezone.utc).timestamp() - int(ts))
        except ValueError:
            raise SignatureInvalid("bad Wechatpay-Timestamp") from None
        if skew > MAX_SKEW_SECONDS:
            raise SignatureInvalid(f"Wechatpay-Timestamp {skew:.0f}s away from now (replay?)")

    def parse_notification(self, headers: dict[str, str], body: bytes) -> GatewayNotice:
        self.verify(headers, body)
        if not self.apiv3_key:
            raise GatewayNotConfigured("APIv3 key missing")
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationInvalid(f"unreadable notification: {exc}") from None
        data = decrypt_resource(self.apiv3_key, resource)
        if str(envelope.get("event_type", "")).startswith("REFUND."):
            return self.refund_notice(data)  # type: ignore[return-value]
        return self.notice(data)

    def refund_notice(self, data: dict) -> RefundNotice:
        """A refund (from its notification or a query) as our notice; ``refund_status`` in a
        notification, ``status`` in a query answer."""
        try:
            if data.get("mchid") and self.mchid and data["mchid"] != self.mchid:
                raise NotificationInvalid("refund notification for another merchant")
            cents = data["amount"]["refund"]
            if not isinstance(cents, int) or isinstance(cents, bool):
                raise NotificationInvalid("amount.refund must be integer fen")
            return RefundNotice(gateway=self.name, out_refund_no=str(data["out_refund_no"]),
                                refund_id=str(data.get("refund_id") or ""), out_trade_no=str(data.get("out_trade_no", "")),
                                refund_cents=cents, status=str(data.get("refund_status") or data.get("status") or ""),
                                raw=data)
        except (KeyError, TypeError) as exc:
            raise NotificationInvalid(f"unreadable refund: {exc}") from None

    def notice(self, tx: dict) -> GatewayNotice:
        """A transaction (decrypted from a callback, or a verified query answer) as our notice."""
        try:
            if tx.get("mchid") and self.mchid and tx["mchid"] != self.mchid:
                raise NotificationInvalid("notification for another merchant")
            total = tx["amount"]["total"]
            if not isinstance(total, int) or isinstance(total, bool):
                raise NotificationInvalid("amount.total must be integer fen")
            paid_at = None
            if tx.get("success_time"):
                paid_at = datetime.fromisoformat(tx["success_time"]).astimezone(timezone.utc).replace(tzinfo=None)
            return GatewayNotice(
                gateway=self.name, transaction_id=str(tx.get("transaction_id") or ""),
                out_trade_no=str(tx["out_trade_no"]), amount_cents=total,
                success=tx.get("trade_state") == "SUCCESS", paid_at=paid_at, raw=tx)
        except (KeyError, TypeError, ValueError) as exc:
            raise NotificationInvalid(f"unreadable transaction: {exc}") from None

    def reply(self, ok: bool, message: str = "") -> GatewayReply:
        if ok:
            return GatewayReply(204, "")
        return GatewayReply(400, json.dumps({"code": "FAIL", "message": message[:200]}, ensure_ascii=False))
