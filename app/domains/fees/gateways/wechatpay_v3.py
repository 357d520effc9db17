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

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509 import load_pem_x509_certificate

from app import clock
from app.domains.fees.gateways import (
    GatewayNotConfigured,
    GatewayNotice,
    GatewayReply,
    NotificationInvalid,
    PaymentGateway,
    SignatureInvalid,
)
from app.domains.fees.gateways.settings import get_payment_settings

API = "https://api.mch.weixin.qq.com"
MAX_SKEW_SECONDS = 300
Transport = Callable[[str, str, dict[str, str], bytes], tuple[int, bytes]]


def _h(headers: dict[str, str], name: str) -> str:
    return {k.lower(): v for k, v in headers.items()}.get(name.lower(), "")


def sign_message(private_key: RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def decrypt_resource(apiv3_key: bytes, resource: dict) -> dict:
    """AEAD_AES_256_GCM: ciphertext (base64, tag appended), nonce and associated_data as text."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotificationInvalid(f"unsupported algorithm {resource.get('algorithm')!r}")
    try:
        plain = AESGCM(apiv3_key).decrypt(
            resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]),
            (resource.get("associated_data") or "").encode() or None)
    except (InvalidTag, KeyError, ValueError) as exc:
        raise SignatureInvalid(f"resource does not decrypt: {type(exc).__name__}") from None
    return json.loads(plain)


def encrypt_resource(apiv3_key: bytes, data: dict, associated_data: str = "transaction") -> dict:
    """The inverse (what WeChat does); used by tests and the local simulator."""
    nonce = secrets.token_hex(6)
    cipher = AESGCM(apiv3_key).encrypt(nonce.encode(), json.dumps(data).encode(), associated_data.encode())
    return {"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.b64encode(cipher).decode(),
            "nonce": nonce, "associated_data": associated_data, "original_type": "transaction"}


class WechatPayV3Gateway(PaymentGateway):
    name = "wechatpay"

    def __init__(self, *, mchid: str = "", appid: str = "", apiv3_key: bytes = b"",
                 platform_keys: dict[str, RSAPublicKey] | None = None,
                 merchant_key: RSAPrivateKey | None = None, merchant_serial: str = "",
                 transport: Transport | None = None) -> None:
        self.mchid, self.appid, self.apiv3_key = mchid, appid, apiv3_key
        self.platform_keys = dict(platform_keys or {})
        self.merchant_key, self.merchant_serial = merchant_key, merchant_serial
        self.transport = transport

    @classmethod
    def from_settings(cls) -> "WechatPayV3Gateway":
        s = get_payment_settings()
        keys: dict[str, RSAPublicKey] = {}
        if s.wechatpay_platform_cert and s.wechatpay_platform_serial:
            cert = load_pem_x509_certificate(s.wechatpay_platform_cert.read_bytes())
            keys[s.wechatpay_platform_serial] = cert.public_key()  # type: ignore[assignment]
        merchant = None
        if s.wechatpay_merchant_key:
            merchant = serialization.load_pem_private_key(s.wechatpay_merchant_key.read_bytes(), None)
        return cls(mchid=s.wechatpay_mchid, appid=s.wechatpay_appid, apiv3_key=s.wechatpay_apiv3_key.encode(),
                   platform_keys=keys, merchant_key=merchant,  # type: ignore[arg-type]
                   merchant_serial=s.wechatpay_merchant_serial)

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

    def start(self, order, *, notify_url: str, return_url: str) -> str:
        """Create an H5 order; returns WeChat's ``h5_url`` (payer goes there)."""
        if self.transport is None:
            raise GatewayNotConfigured("WeChat Pay transport not configured in this deployment")
        path = "/v3/pay/transactions/h5"
        body = json.dumps({
            "appid": self.appid, "mchid": self.mchid, "description": f"物业费 {order.out_trade_no}",
            "out_trade_no": order.out_trade_no, "notify_url": notify_url,
            "amount": {"total": order.amount_cents, "currency": "CNY"},
            "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}},
        }, ensure_ascii=False).encode()
        status, answer = self.transport("POST", API + path, {
            "Authorization": self.authorization("POST", path, body), "Content-Type": "application/json",
            "Accept": "application/json"}, body)
        if status != 200:
            raise GatewayNotConfigured(f"WeChat Pay refused the order: HTTP {status} {answer[:200]!r}")
        return json.loads(answer)["h5_url"]

    # callbacks from WeChat --------------------------------------------------------------------
    def verify(self, headers: dict[str, str], body: bytes) -> None:
        ts, nonce = _h(headers, "Wechatpay-Timestamp"), _h(headers, "Wechatpay-Nonce")
        signature, serial = _h(headers, "Wechatpay-Signature"), _h(headers, "Wechatpay-Serial")
        if not (ts and nonce and signature and serial):
            raise SignatureInvalid("missing Wechatpay-* signature headers")
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
        tx = decrypt_resource(self.apiv3_key, resource)
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
                gateway=self.name, transaction_id=str(tx["transaction_id"]), out_trade_no=str(tx["out_trade_no"]),
                amount_cents=total, success=tx.get("trade_state") == "SUCCESS", paid_at=paid_at, raw=tx)
        except (KeyError, TypeError, ValueError) as exc:
            raise NotificationInvalid(f"unreadable transaction: {exc}") from None

    def reply(self, ok: bool, message: str = "") -> GatewayReply:
        if ok:
            return GatewayReply(204, "")
        return GatewayReply(400, json.dumps({"code": "FAIL", "message": message[:200]}, ensure_ascii=False))
