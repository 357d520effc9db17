"""The exit gate's order (a parking ticket, no household) paid by WeChat Pay Native or Alipay
precreate: the driver is sent to our signed QR page, which nobody can make show another code."""
from __future__ import annotations

import pytest

from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.order_payments import OrderToPay, start_order_payment

from tests.domains.fees.gateway_fixtures import fake_alipay, fake_wechatpay


@pytest.mark.parametrize("which", ["wechatpay", "alipay"])
def test_exit_gate_order_shows_a_signed_qr_page(demo_app, which, monkeypatch):
    with (fake_wechatpay() if which == "wechatpay" else fake_alipay()) as (fake, gateway):
        monkeypatch.setattr(get_payment_settings(), "gateway", which)
        order = OrderToPay(community_id=1, out_trade_no=f"EFQR{which[:2].upper()}0001", amount_cents=1500,
                           subject="临停 京A12345")
        with demo_app.test_request_context():
            url = start_order_payment(order, notify_url="http://127.0.0.1:9/n",
                                      return_url="http://127.0.0.1/parking/t/abc")
        assert "/pay/qr/" in url
        if which == "wechatpay":
            assert fake.orders[order.out_trade_no].kind == "native"
        else:
            assert fake.trades[order.out_trade_no].amount == "15.00"
        client = demo_app.test_client()
        path = url.split("://", 1)[1].split("/", 1)[1]
        page = client.get(f"/{path}").get_data(as_text=True)
        assert 'id="pay-qr" src="data:image/png;base64,' in page and "¥15.00" in page
        assert "http://127.0.0.1/parking/t/abc" in page and "临停 京A12345" in page
        words = ("支付宝", "Alipay") if which == "alipay" else ("微信", "WeChat")
        assert any(w in page for w in words)
        token = path.rsplit("/", 1)[1]
        assert client.get(f"/pay/qr/{token[:-2]}xx").status_code == 404  # forged
