"""The Alipay adapter over real HTTP against a local fake speaking Alipay's public formats:
precreate (QR), wap pay, query, close, refund, answers whose RSA2 signatures are checked, async
notifications verified in public key mode and in public-key certificate mode."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from app import clock
from app.domains.fees.gateways import GatewayNotConfigured, NotificationInvalid, SignatureInvalid
from app.domains.fees.gateways.alipay import (
    AlipayGateway,
    AlipayRefused,
    HttpxFormTransport,
    cert_sn,
    load_alipay_certs,
    root_cert_sn,
)
from app.domains.fees.gateways.fake_alipay import FakeAlipay

APP_ID = "2021000000000001"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(key, issuer_key, serial: int, cn: str, issuer_cn: str = "Ant Financial Certification Authority Class 1"):
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ant Financial"),
                                    x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
            .sign(issuer_key, hashes.SHA256()))


class Order:
    def __init__(self, number: str, cents: int) -> None:
        self.out_trade_no, self.amount_cents, self.subject = number, cents, "物业费"


@pytest.fixture(scope="module")
def keys():
    return {"app": _key(), "alipay": _key(), "other": _key(), "root": _key()}


@pytest.fixture
def fake(keys):
    clock.reset()
    with FakeAlipay(app_id=APP_ID, alipay_key=keys["alipay"], app_public_key=keys["app"].public_key()) as server:
        yield server


@pytest.fixture
def gateway(fake, keys):
    return AlipayGateway(app_id=APP_ID, private_key=keys["app"], alipay_keys={"": keys["alipay"].public_key()},
                         transport=HttpxFormTransport(timeout=5), gateway_url=fake.url)


def test_precreate_query_notify_refund_in_public_key_mode(gateway, fake):
    qr = gateway.precreate(Order("EF-A1", 123456), notify_url="http://127.0.0.1:9/n")
    assert qr.startswith("https://qr.alipay.com/")
    assert fake.trades["EF-A1"].amount == "1234.56"  # yuan text, no thousands separator
    assert gateway.query("EF-A1")["trade_status"] == "WAIT_BUYER_PAY"
    form = fake.pay("EF-A1", deliver=0)
    notice = gateway.parse_notification({}, urlencode(form).encode())
    assert (notice.out_trade_no, notice.amount_cents, notice.success) == ("EF-A1", 123456, True)
    assert notice.transaction_id == form["trade_no"]
    queried = gateway.notice(gateway.query("EF-A1"))
    assert queried.success and queried.transaction_id == notice.transaction_id
    answer = gateway.refund(out_trade_no="EF-A1", out_refund_no="R1", refund_cents=1000, total_cents=123456,
                            reason="多收")
    assert answer["status"] == "SUCCESS"
    again = gateway.refund(out_trade_no="EF-A1", out_refund_no="R1", refund_cents=1000, total_cents=123456,
                           reason="多收")
    assert again["status"] == "PROCESSING"  # the same out_request_no moves no money twice
    assert gateway.reply(True).body == "success" and gateway.reply(False).body == "fail"


def test_close_of_a_never_scanned_trade_and_business_errors(gateway, fake):
    gateway.precreate(Order("EF-A2", 500), notify_url="http://127.0.0.1:9/n")
    fake.trades["EF-A2"].scanned = False
    assert gateway.notice(gateway.query("EF-A2")).success is False  # TRADE_NOT_EXIST: unpaid
    gateway.close("EF-A2")  # nothing to close at Alipay: not an error
    with pytest.raises(AlipayRefused):
        gateway.refund(out_trade_no="EF-A2", out_refund_no="R", refund_cents=1, total_cents=500, reason="x")


def test_wap_url_is_a_signed_cashier(gateway, fake):
    import httpx

    url = gateway.wap_url(Order("EF-W1", 8500), notify_url="http://127.0.0.1:9/n", return_url="http://x/back")
    page = httpx.get(url).text
    assert "alipay-confirm" in page and "85.00" in page


def test_forged_and_tampered_answers_are_refused(gateway, fake, keys):
    gateway.precreate(Order("EF-A3", 500), notify_url="http://127.0.0.1:9/n")
    fake.tamper_answers = True
    with pytest.raises(SignatureInvalid):
        gateway.query("EF-A3")  # "TRADE_SUCCESS" written over the signed answer
    fake.tamper_answers = False
    wrong = AlipayGateway(app_id=APP_ID, private_key=keys["app"], alipay_keys={"": keys["other"].public_key()},
                          transport=HttpxFormTransport(timeout=5), gateway_url=fake.url)
    with pytest.raises(SignatureInvalid):
        wrong.query("EF-A3")
    unsigned = AlipayGateway(app_id=APP_ID, private_key=keys["other"], alipay_keys={"": keys["alipay"].public_key()},
                             transport=HttpxFormTransport(timeout=5), gateway_url=fake.url)
    with pytest.raises(AlipayRefused) as refused:
        unsigned.query("EF-A3")  # the fake refuses our wrong signature (40002)
    assert refused.value.sub_code == "isv.invalid-signature"


def test_notification_faults(gateway, fake):
    gateway.precreate(Order("EF-A4", 8500), notify_url="http://127.0.0.1:9/n")
    form = fake.pay("EF-A4", deliver=0)
    body = lambda f: urlencode(f).encode()  # noqa: E731
    with pytest.raises(SignatureInvalid):
        gateway.parse_notification({}, body({**form, "total_amount": "0.01"}))  # amount changed after signing
    with pytest.raises(SignatureInvalid):
        gateway.parse_notification({}, body({k: v for k, v in form.items() if k != "sign"}))
    with pytest.raises(SignatureInvalid):
        gateway.parse_notification({}, body({**form, "sign_type": "RSA"}))
    with pytest.raises(SignatureInvalid):
        gateway.parse_notification({}, b"\xff\xfe")
    future = dict(fake.notification(fake.trades["EF-A4"]))
    clock.freeze(clock.now() - dt.timedelta(hours=1))  # our clock an hour behind: the notice is "from the future"
    try:
        with pytest.raises(SignatureInvalid):
            gateway.parse_notification({}, body(future))
    finally:
        clock.reset()
    other_app = AlipayGateway(app_id="2021999", private_key=gateway.private_key, alipay_keys=gateway.alipay_keys)
    with pytest.raises(NotificationInvalid):
        other_app.parse_notification({}, body(form))


def test_certificate_mode_with_a_rotation(keys, tmp_path):
    root = _cert(keys["root"], keys["root"], 1, "Ant Financial Certification Authority Class 1")
    app_cert = _cert(keys["app"], keys["root"], 1001, APP_ID)
    old, new = _key(), keys["alipay"]
    old_cert, new_cert = _cert(old, keys["root"], 2001, "支付宝(中国)网络技术有限公司"), \
        _cert(new, keys["root"], 2002, "支付宝(中国)网络技术有限公司")
    pem = lambda *cs: b"".join(c.public_bytes(serialization.Encoding.PEM) for c in cs)  # noqa: E731
    both = load_alipay_certs(pem(old_cert, new_cert))
    assert set(both) == {cert_sn(old_cert), cert_sn(new_cert)}
    with pytest.raises(GatewayNotConfigured):
        load_alipay_certs(keys["alipay"].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with FakeAlipay(app_id=APP_ID, alipay_key=new, app_public_key=keys["app"].public_key(),
                    alipay_cert_sn=cert_sn(new_cert), app_cert_sn=cert_sn(app_cert),
                    root_cert_sn=root_cert_sn([root])) as fake:
        gateway = AlipayGateway(app_id=APP_ID, private_key=keys["app"], alipay_keys=both,
                                app_cert_sn=cert_sn(app_cert), root_cert_sn=root_cert_sn([root]),
                                transport=HttpxFormTransport(timeout=5), gateway_url=fake.url)
        gateway.precreate(Order("EF-C1", 700), notify_url="http://127.0.0.1:9/n")
        form = fake.pay("EF-C1", deliver=0)
        assert gateway.parse_notification({}, urlencode(form).encode()).amount_cents == 700
        only_old = AlipayGateway(app_id=APP_ID, private_key=keys["app"], alipay_keys={cert_sn(old_cert): old.public_key()},
                                 app_cert_sn=cert_sn(app_cert), root_cert_sn=root_cert_sn([root]),
                                 transport=HttpxFormTransport(timeout=5), gateway_url=fake.url)
        with pytest.raises(SignatureInvalid):
            only_old.query("EF-C1")  # the answer names a certificate we do not have
        wrong_sn = AlipayGateway(app_id=APP_ID, private_key=keys["app"], alipay_keys=both, app_cert_sn="0" * 32,
                                 root_cert_sn=root_cert_sn([root]), transport=HttpxFormTransport(timeout=5),
                                 gateway_url=fake.url)
        with pytest.raises(AlipayRefused):
            wrong_sn.query("EF-C1")
