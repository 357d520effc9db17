"""WeChat Pay v3 adapter with keys the test generates: RSA-SHA256 callback signatures over
``timestamp\\nnonce\\nbody\\n`` and AEAD_AES_256_GCM resources; signed outgoing requests."""
from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app import clock
from app.domains.fees.gateways import (
    GatewayNotConfigured,
    NotificationInvalid,
    SignatureInvalid,
)
from app.domains.fees.gateways.wechatpay_v3 import (
    WechatPayV3Gateway,
    encrypt_resource,
    sign_message,
)

APIV3 = b"0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def keys():
    return {"platform": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "merchant": rsa.generate_private_key(public_exponent=65537, key_size=2048)}


@pytest.fixture
def gateway(keys):
    clock.reset()
    return WechatPayV3Gateway(mchid="1900000001", appid="wx123", apiv3_key=APIV3,
                              platform_keys={"PLAT01": keys["platform"].public_key()},
                              merchant_key=keys["merchant"], merchant_serial="MERCH01")


def callback(keys, tx: dict, key=APIV3, serial="PLAT01", ts=None):
    body = json.dumps({"id": "EV-1", "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
                       "resource": encrypt_resource(key, tx)}).encode()
    ts = ts or str(int(clock.now().replace(tzinfo=timezone.utc).timestamp()))
    nonce = secrets.token_hex(16)
    sig = sign_message(keys["platform"], f"{ts}\n{nonce}\n".encode() + body + b"\n")
    return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": sig,
            "Wechatpay-Serial": serial}, body


TX = {"mchid": "1900000001", "appid": "wx123", "out_trade_no": "EF1", "transaction_id": "4200000001",
      "trade_state": "SUCCESS", "success_time": "2026-11-01T10:00:00+08:00",
      "amount": {"total": 8500, "payer_total": 8500, "currency": "CNY"}}


def test_valid_callback_verified_and_decrypted(gateway, keys):
    headers, body = callback(keys, TX)
    notice = gateway.parse_notification(headers, body)
    assert (notice.transaction_id, notice.out_trade_no, notice.amount_cents, notice.success) == \
        ("4200000001", "EF1", 8500, True)
    assert notice.paid_at.hour == 2  # 10:00 Beijing is 02:00 UTC


def test_tampered_body_wrong_serial_wrong_key_replay(gateway, keys):
    headers, body = callback(keys, TX)
    with pytest.raises(SignatureInvalid):
        gateway.parse_notification(headers, body.replace(b"EV-1", b"EV-2"))
    with pytest.raises(SignatureInvalid, match="serial"):
        gateway.parse_notification({**headers, "Wechatpay-Serial": "OTHER"}, body)
    headers2, body2 = callback(keys, TX, key=b"f" * 32)  # encrypted with another APIv3 key
    with pytest.raises(SignatureInvalid, match="decrypt"):
        gateway.parse_notification(headers2, body2)
    old = str(int((clock.now() - timedelta(minutes=30)).replace(tzinfo=timezone.utc).timestamp()))
    headers3, body3 = callback(keys, TX, ts=old)
    with pytest.raises(SignatureInvalid, match="replay"):
        gateway.parse_notification(headers3, body3)
    headers4, body4 = callback(keys, {**TX, "mchid": "999"})
    with pytest.raises(NotificationInvalid):
        gateway.parse_notification(headers4, body4)


def test_outgoing_request_signature_and_unconfigured(gateway, keys):
    sent = {}

    def transport(method, url, headers, body):
        sent.update(method=method, url=url, headers=headers, body=body)
        answer = b'{"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1"}'
        ts, nonce = str(int(clock.now().replace(tzinfo=timezone.utc).timestamp())), "n1"
        signature = sign_message(keys["platform"], f"{ts}\n{nonce}\n".encode() + answer + b"\n")
        return 200, answer, {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
                             "Wechatpay-Signature": signature, "Wechatpay-Serial": "PLAT01"}

    gateway.transport = transport

    class Order:
        out_trade_no, amount_cents = "EF1", 8500

    url = gateway.start(Order(), notify_url="https://pay.example.com/pay/notify/wechatpay", return_url="")
    assert url.startswith("https://wx.tenpay.com/")
    auth = dict(part.split("=", 1) for part in sent["headers"]["Authorization"].split(" ", 1)[1].split(","))
    auth = {k: v.strip('"') for k, v in auth.items()}
    message = f"POST\n/v3/pay/transactions/h5\n{auth['timestamp']}\n{auth['nonce_str']}\n".encode() + sent["body"] + b"\n"
    keys["merchant"].public_key().verify(base64.b64decode(auth["signature"]), message, padding.PKCS1v15(),
                                         hashes.SHA256())
    assert json.loads(sent["body"])["amount"] == {"total": 8500, "currency": "CNY"}
    with pytest.raises(GatewayNotConfigured):
        WechatPayV3Gateway().start(Order(), notify_url="", return_url="")
