"""The WeChat Pay v3 adapter over real HTTP against a local fake that speaks the public v3
formats: orders (Native QR, JSAPI, H5), query, close, refund, answers whose signatures are
checked, callbacks verified with several platform certificates or the platform public key."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from app import clock
from app.domains.fees.gateways import GatewayNotConfigured, SignatureInvalid
from app.domains.fees.gateways.fake_wechatpay import FakeWechatPay
from app.domains.fees.gateways.wechatpay_v3 import (
    GatewayRefused,
    HttpxTransport,
    WechatPayV3Gateway,
    load_platform_keys,
)

APIV3 = b"0123456789abcdef0123456789abcdef"
MCHID, APPID = "1900000001", "wx8888888888888888"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key, serial: int) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def keys():
    return {"old": _key(), "new": _key(), "pub": _key(), "merchant": _key()}


class Order:
    def __init__(self, number: str, cents: int) -> None:
        self.out_trade_no, self.amount_cents = number, cents


@pytest.fixture
def fake(keys):
    clock.reset()
    with FakeWechatPay(mchid=MCHID, appid=APPID, apiv3_key=APIV3, platform_key=keys["pub"],
                       platform_serial="PUB_KEY_ID_0114232134912410000000000000",
                       merchant_public_key=keys["merchant"].public_key()) as server:
        yield server


@pytest.fixture
def gateway(fake, keys, tmp_path):
    pem = tmp_path / "pub.pem"
    pem.write_bytes(keys["pub"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    platform = load_platform_keys([], pem, fake.platform_serial)
    return WechatPayV3Gateway(mchid=MCHID, appid=APPID, apiv3_key=APIV3, platform_keys=platform,
                              merchant_key=keys["merchant"], merchant_serial="MERCH01",
                              transport=HttpxTransport(timeout=5), api_base=fake.url)


def test_native_order_paid_then_queried_and_its_callback_verified(gateway, fake):
    code_url = gateway.native(Order("EF-N1", 8500), notify_url="http://127.0.0.1:9/unused")
    assert code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    assert gateway.query("EF-N1")["trade_state"] == "NOTPAY"
    headers, body = fake.pay("EF-N1", deliver=0)
    notice = gateway.parse_notification(headers, body)  # public-key mode: PUB_KEY_ID_ serial
    assert (notice.out_trade_no, notice.amount_cents, notice.success) == ("EF-N1", 8500, True)
    state = gateway.query("EF-N1")
    assert state["trade_state"] == "SUCCESS" and state["transaction_id"] == notice.transaction_id


def test_jsapi_parameters_are_signed_for_wx_request_payment(gateway, keys):
    params = gateway.jsapi(Order("EF-J1", 100), notify_url="http://127.0.0.1:9/n", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert params["package"].startswith("prepay_id=wx") and params["signType"] == "RSA"
    message = f"{APPID}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    keys["merchant"].public_key().verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(),
                                         hashes.SHA256())


def test_close_refund_and_refusals_carry_wechat_codes(gateway, fake):
    gateway.native(Order("EF-C1", 500), notify_url="http://127.0.0.1:9/n")
    gateway.close("EF-C1")
    assert gateway.query("EF-C1")["trade_state"] == "CLOSED"
    with pytest.raises(GatewayRefused) as refused:
        gateway.native(Order("EF-C1", 500), notify_url="http://127.0.0.1:9/n")
    assert refused.value.code == "ORDER_CLOSED"

    gateway.native(Order("EF-R1", 3000), notify_url="http://127.0.0.1:9/n")
    fake.pay("EF-R1", deliver=0)
    answer = gateway.refund(out_trade_no="EF-R1", out_refund_no="RF-1", refund_cents=1000, total_cents=3000,
                            reason="多缴退款", notify_url="http://127.0.0.1:9/r")
    assert answer["status"] == "PROCESSING" and answer["amount"]["refund"] == 1000
    with pytest.raises(GatewayRefused) as missing:
        gateway.query("NO-SUCH")
    assert (missing.value.status, missing.value.code) == (404, "ORDER_NOT_EXIST")


def test_an_answer_not_signed_by_wechat_is_not_believed(gateway, fake):
    gateway.native(Order("EF-T1", 500), notify_url="http://127.0.0.1:9/n")
    fake.tamper_answers = True  # a man in the middle turns NOTPAY into SUCCESS
    with pytest.raises(SignatureInvalid, match="not signed by WeChat Pay"):
        gateway.query("EF-T1")


def test_a_request_not_signed_by_our_merchant_key_is_refused_by_the_fake(gateway, fake):
    gateway.merchant_key = _key()
    with pytest.raises(GatewayRefused) as refused:
        gateway.native(Order("EF-S1", 500), notify_url="http://127.0.0.1:9/n")
    assert (refused.value.status, refused.value.code) == (401, "SIGN_ERROR")


def test_unreachable_gateway_is_a_clear_error_after_retries(keys):
    gateway = WechatPayV3Gateway(mchid=MCHID, appid=APPID, apiv3_key=APIV3, merchant_key=keys["merchant"],
                                 transport=HttpxTransport(timeout=1, attempts=2), api_base="http://127.0.0.1:9")
    with pytest.raises(GatewayNotConfigured, match="unreachable"):
        gateway.native(Order("EF-U1", 500), notify_url="http://127.0.0.1:9/n")


def test_rotation_both_platform_certificates_verify_callbacks(keys, tmp_path):
    old, new = tmp_path / "old.pem", tmp_path / "new.pem"
    old.write_bytes(_certificate(keys["old"], 0x5157F09EFDC096DE15EBE81A47057A72))
    new.write_bytes(_certificate(keys["new"], 0x7132D72A03E93CDDF8C03BBD1F37EEDF))
    platform = load_platform_keys([old, new])
    assert set(platform) == {"5157F09EFDC096DE15EBE81A47057A72", "7132D72A03E93CDDF8C03BBD1F37EEDF"}
    gateway = WechatPayV3Gateway(mchid=MCHID, appid=APPID, apiv3_key=APIV3, platform_keys=platform)
    tx = {"mchid": MCHID, "out_trade_no": "EF-1", "transaction_id": "4200", "trade_state": "SUCCESS",
          "amount": {"total": 100}}
    for key_name, serial in (("old", "5157F09EFDC096DE15EBE81A47057A72"), ("new", "7132D72A03E93CDDF8C03BBD1F37EEDF")):
        fake = FakeWechatPay(mchid=MCHID, appid=APPID, apiv3_key=APIV3, platform_key=keys[key_name],
                             platform_serial=serial, merchant_public_key=keys["merchant"].public_key())
        headers, body = fake.callback("TRANSACTION.SUCCESS", "transaction", tx)
        assert gateway.parse_notification(headers, body).out_trade_no == "EF-1"


def test_a_public_key_given_as_a_certificate_is_a_sentence_not_a_crash(keys, tmp_path):
    pem = tmp_path / "pub_key.pem"
    pem.write_bytes(keys["pub"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(GatewayNotConfigured, match="not a certificate.*PUBLIC_KEY_ID"):
        load_platform_keys([pem])
    with pytest.raises(GatewayNotConfigured, match="PUB_KEY_ID_"):
        load_platform_keys([], pem, "7132D72A")
    assert json.dumps(sorted(load_platform_keys([], pem, "PUB_KEY_ID_01")))  # the right way works


def test_platform_certificates_fetched_from_v3_certificates_and_rotated(keys):
    """Certificate mode with nothing configured but the APIv3 key: the first callback's unknown
    serial makes the adapter download ``/v3/certificates``; when WeChat Pay rotates, the new
    serial is fetched again (at most once a minute) and the old certificate still verifies."""
    from datetime import timedelta

    clock.freeze(dt.datetime(2026, 11, 20, 9, 0))
    try:
        old_pem, new_pem = _certificate(keys["old"], 0x1A2B), _certificate(keys["new"], 0x3C4D)
        with FakeWechatPay(mchid=MCHID, appid=APPID, apiv3_key=APIV3, platform_key=keys["old"],
                           platform_serial="1A2B", merchant_public_key=keys["merchant"].public_key(),
                           platform_certs=[old_pem]) as fake:
            gateway = WechatPayV3Gateway(mchid=MCHID, appid=APPID, apiv3_key=APIV3, platform_keys={},
                                         merchant_key=keys["merchant"], merchant_serial="MERCH01",
                                         transport=HttpxTransport(timeout=5), api_base=fake.url)
            gateway.native(Order("EF-C1", 100), notify_url="http://127.0.0.1:9/n")  # the answer names 1A2B
            assert set(gateway.platform_keys) == {"1A2B"}
            old_callback = fake.pay("EF-C1", deliver=0)

            fake.platform_key, fake.platform_serial, fake.platform_certs = keys["new"], "3C4D", [old_pem, new_pem]
            clock.advance(timedelta(seconds=61))
            gateway.native(Order("EF-C2", 200), notify_url="http://127.0.0.1:9/n")
            headers, body = fake.pay("EF-C2", deliver=0)
            assert set(gateway.platform_keys) == {"1A2B", "3C4D"}  # the answer named 3C4D: fetched again
            assert gateway.parse_notification(headers, body).amount_cents == 200
            assert gateway.parse_notification(*old_callback).amount_cents == 100  # the old one still verifies
            clock.advance(timedelta(seconds=20))
            stranger = dict(headers, **{"Wechatpay-Serial": "5E6F"})
            with pytest.raises(SignatureInvalid):  # unknown serial, fetched 20 s ago: not asked again
                gateway.parse_notification(stranger, body)
            assert fake.requests.count(("GET", "/v3/certificates", 200)) == 2
    finally:
        clock.reset()


def test_certificates_answer_not_from_wechat_is_refused(keys):
    """Certificates encrypted with another APIv3 key (not WeChat Pay) are not believed."""
    clock.reset()
    pem = _certificate(keys["old"], 0x1A2B)
    with FakeWechatPay(mchid=MCHID, appid=APPID, apiv3_key=b"f" * 32, platform_key=keys["old"],
                       platform_serial="1A2B", merchant_public_key=keys["merchant"].public_key(),
                       platform_certs=[pem]) as fake:
        gateway = WechatPayV3Gateway(mchid=MCHID, appid=APPID, apiv3_key=APIV3, platform_keys={},
                                     merchant_key=keys["merchant"], merchant_serial="MERCH01",
                                     transport=HttpxTransport(timeout=5), api_base=fake.url)
        with pytest.raises(SignatureInvalid):
            gateway.fetch_certificates()
        assert gateway.platform_keys == {}
