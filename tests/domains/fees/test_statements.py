"""Daily statement reconciliation: the gateway's bill file (WeChat Pay tradebill, Alipay account
log, downloaded from the local fakes in their public formats) against our books; each kind of
difference found once, a re-run replaces the day's differences, the flow takes communities."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app import clock
from app.domains.fees import payments as pay
from app.domains.fees.gateways.fake_wechatpay import FakeOrder
from app.domains.fees.gateways.fake_alipay import FakeTrade
from app.domains.fees.ledger import ledger_problems
from app.domains.fees.models import StatementDifference, StatementRun
from app.domains.fees.statements import (
    StatementUnreadable,
    parse_alipay_account_log,
    parse_wechat_tradebill,
    read_statement,
    reconcile_statement,
)

from tests.domains.fees.gateway_fixtures import fake_alipay, fake_wechatpay
from tests.support import fees_estate as fe

T0 = datetime(2026, 11, 20, 2, 0)  # 10:00 in Beijing
DAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _clock():
    clock.freeze(T0)
    yield
    clock.reset()


def _orders(session, gateway, fake, code, amounts):
    community, households = fe.make_estate(session, code, dunning=False)
    orders = []
    for i, cents in enumerate(amounts):
        household = households[i % len(households)]
        bill = fe.make_bill(session, household, cents, period=f"2026-{10 - i // len(households):02d}")
        orders.append(pay.create_order(session, household_id=household.id, bill_ids=[bill.id],
                                       gateway=gateway.name, actor="r"))
    session.commit()
    for order in orders:
        if gateway.name == "wechatpay":
            gateway.native(order, notify_url="http://127.0.0.1:9/n")
        else:
            gateway.precreate(order, notify_url="http://127.0.0.1:9/n")
    return community, orders


def _credit(session, gateway, fake, order):
    if gateway.name == "wechatpay":
        headers, body = fake.pay(order.out_trade_no, deliver=0)
    else:
        headers, body = {}, urlencode(fake.pay(order.out_trade_no, deliver=0)).encode()
    assert pay.handle_notification(session, gateway.name, headers, body).outcome == "accepted"
    session.commit()


def _kinds(session, run):
    return sorted((d.kind, d.out_trade_no) for d in session.scalars(
        select(StatementDifference).where(StatementDifference.run_id == run.id)))


@pytest.mark.parametrize("which", ["wechatpay", "alipay"])
def test_each_kind_of_difference_is_listed_once(session, which):
    with (fake_wechatpay() if which == "wechatpay" else fake_alipay()) as (fake, gateway):
        community, (matched, mismatched, ours_only, lost) = _orders(session, gateway, fake, "ST", [8500, 4000, 3000, 2000])
        for order in (matched, mismatched, ours_only):
            _credit(session, gateway, fake, order)
        fake.pay(lost.out_trade_no, deliver=0)  # paid at the gateway, callback lost: not credited here
        if which == "wechatpay":
            fake.bill_amounts[mismatched.out_trade_no] = 3990  # the one deliberate mismatch
            fake.orders.pop(ours_only.out_trade_no)  # not in the file
            fake.bill_extra.append(FakeOrder("EF-UNKNOWN", 100, "", "native", "SUCCESS", "4200009",
                                             paid_at=fake.orders[matched.out_trade_no].paid_at))
        else:
            fake.bill_amounts[mismatched.out_trade_no] = "39.90"
            fake.trades.pop(ours_only.out_trade_no)
            fake.bill_extra.append(FakeTrade("EF-UNKNOWN", "1.00", "x", "", status="TRADE_SUCCESS",
                                             trade_no="2026x", paid_at=fake.trades[matched.out_trade_no].paid_at))
        rows = read_statement(gateway, DAY)
        assert len(rows) == 4  # matched, mismatched, lost, unknown
        run = reconcile_statement(session, gateway.name, DAY, rows)
        session.commit()
        assert _kinds(session, run) == sorted([
            ("amount_mismatch", mismatched.out_trade_no), ("gateway_only", lost.out_trade_no),
            ("gateway_only", "EF-UNKNOWN"), ("ours_only", ours_only.out_trade_no)])
        assert (run.gateway_rows, run.our_rows, run.matched) == (4, 3, 1)
        mismatch = session.scalar(select(StatementDifference).where(StatementDifference.kind == "amount_mismatch"))
        assert (mismatch.gateway_cents, mismatch.our_cents, mismatch.community_id) == (3990, 4000, community.id)
        unknown = session.scalar(select(StatementDifference).where(StatementDifference.out_trade_no == "EF-UNKNOWN"))
        assert unknown.community_id is None

        again = reconcile_statement(session, gateway.name, DAY, rows)  # re-reading the day replaces it
        session.commit()
        assert session.scalar(select(StatementRun.id).where(StatementRun.gateway == gateway.name)) == again.id
        assert len(_kinds(session, again)) == 4
        assert session.query(StatementDifference).count() == 4
        assert ledger_problems(session) == []  # reading a statement moves no money


def test_the_flow_reads_yesterday_for_the_configured_gateway(session, db_engine, monkeypatch):
    from app.domains.fees.gateways.settings import get_payment_settings
    from workflows.payment_statement import statement

    with fake_wechatpay() as (fake, gateway):
        community, (a, b) = _orders(session, gateway, fake, "SF", [1000, 2000])
        _credit(session, gateway, fake, a)
        _credit(session, gateway, fake, b)
        fake.bill_amounts[b.out_trade_no] = 1999
        monkeypatch.setattr(get_payment_settings(), "gateway", "wechatpay")
        clock.advance(timedelta(days=1))
        url = db_engine.url.render_as_string(hide_password=False)
        outcome = statement(url, communities=["SF"])
        assert outcome["bill_date"] == DAY.isoformat()
        assert outcome["gateways"]["wechatpay"] == {"rows": 2, "matched": 1, "differences": 1}
        assert statement(url, communities=["NONE"])["gateways"]["wechatpay"]["differences"] == 0


def test_files_in_another_format_are_refused_with_a_sentence():
    with pytest.raises(StatementUnreadable):
        parse_wechat_tradebill("hello,world\n1,2\n")
    with pytest.raises(StatementUnreadable):
        parse_alipay_account_log("#支付宝\nfoo,bar\n".encode("gbk"))
    rows = parse_wechat_tradebill(
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额\r\n"
        "`2026-11-20 10:00:00,`wx1,`1900000001,`0,`,`4200001,`EF1,`o,`NATIVE,`SUCCESS,`CMC,`CNY,`1234.50\r\n"
        "`2026-11-20 11:00:00,`wx1,`1900000001,`0,`,`4200001,`EF1,`o,`NATIVE,`REFUND,`CMC,`CNY,`1234.50\r\n"
        "总交易单数,应结订单总金额\r\n`2,`2469.00\r\n")
    assert [(r.transaction_id, r.out_trade_no, r.amount_cents) for r in rows] == [("4200001", "EF1", 123450)]
    assert rows[0].traded_at == datetime(2026, 11, 20, 2, 0)  # Beijing 10:00 as UTC
