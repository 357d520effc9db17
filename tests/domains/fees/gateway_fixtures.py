"""Fake WeChat Pay / Alipay servers with a gateway registered against each (keys made here)."""
from __future__ import annotations

from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric import rsa

from app.domains.fees.gateways import _GATEWAYS, register_gateway

APIV3 = b"0123456789abcdef0123456789abcdef"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextmanager
def registered(gateway):
    saved = _GATEWAYS.get(gateway.name)
    register_gateway(gateway)
    try:
        yield gateway
    finally:
        if saved is not None:
            register_gateway(saved)
        else:
            _GATEWAYS.pop(gateway.name, None)


@contextmanager
def fake_wechatpay():
    from app.domains.fees.gateways.fake_wechatpay import FakeWechatPay
    from app.domains.fees.gateways.wechatpay_v3 import HttpxTransport, WechatPayV3Gateway

    platform, merchant = rsa_key(), rsa_key()
    with FakeWechatPay(mchid="1900000001", appid="wx1", apiv3_key=APIV3, platform_key=platform,
                       platform_serial="PUB_KEY_ID_01", merchant_public_key=merchant.public_key()) as fake:
        gateway = WechatPayV3Gateway(mchid="1900000001", appid="wx1", apiv3_key=APIV3,
                                     platform_keys={"PUB_KEY_ID_01": platform.public_key()}, merchant_key=merchant,
                                     merchant_serial="M1", transport=HttpxTransport(timeout=5), api_base=fake.url)
        with registered(gateway):
            yield fake, gateway


@contextmanager
def fake_alipay():
    from app.domains.fees.gateways.alipay import AlipayGateway, HttpxFormTransport
    from app.domains.fees.gateways.fake_alipay import FakeAlipay

    app_key, alipay_key = rsa_key(), rsa_key()
    with FakeAlipay(app_id="2021000000000001", alipay_key=alipay_key, app_public_key=app_key.public_key()) as fake:
        gateway = AlipayGateway(app_id="2021000000000001", private_key=app_key,
                                alipay_keys={"": alipay_key.public_key()}, transport=HttpxFormTransport(timeout=5),
                                gateway_url=fake.url)
        with registered(gateway):
            yield fake, gateway
