"""SMS (Tencent Cloud SendSms, TC3-HMAC-SHA256) and WeChat subscription messages reach people
through local fakes of the providers that check the signature and can fail; only with the
person's consent; failures retried with a doubling wait, then failed with a reason in words
(SQLite and PostgreSQL)."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app import clock
from app.domains.estate.models import Building, Community, Household, PropertyCompany, Resident, Unit
from app.domains.notifications import channels, preferences
from app.domains.notifications.delivery import deliver_due, deliveries, notify
from app.domains.notifications.fake_sms import FakeTencentSms
from app.domains.notifications.models import Notification
from app.domains.notifications.settings import get_message_settings
from app.security.fake_wechat_api import FakeWechatApi
from app.security.wechat_identity import bind_with_code, get_wechat_settings

T0 = datetime(2026, 11, 20, 2, 0)


@pytest.fixture
def providers(monkeypatch):
    """Both fakes running, and the platform configured to use them."""
    with FakeTencentSms(secret_id="AKIDtest", secret_key="k" * 32, sdk_app_id="1400123456",
                        templates={"900001"}) as sms, \
            FakeWechatApi(appid="wx_msg_app", secret="wxsecret", templates={"TMPL_REPAIR"}) as wx:
        env = {"ESTATEFLOW_MSG_SMS_PROVIDER": "tencent", "ESTATEFLOW_MSG_SMS_SECRET_ID": sms.secret_id,
               "ESTATEFLOW_MSG_SMS_SECRET_KEY": sms.secret_key, "ESTATEFLOW_MSG_SMS_SDK_APP_ID": sms.sdk_app_id,
               "ESTATEFLOW_MSG_SMS_SIGN_NAME": "示例物业", "ESTATEFLOW_MSG_SMS_ENDPOINT": sms.url,
               "ESTATEFLOW_MSG_SMS_TEMPLATES": '{"test.hello": {"id": "900001", "params": ["order", "title"]}}',
               "ESTATEFLOW_MSG_WECHAT_TEMPLATES": '{"test.hello": {"id": "TMPL_REPAIR", "page": "pages/repair",'
                                                  ' "data": {"character_string1": "order", "thing2": "title"}}}',
               "ESTATEFLOW_MSG_RETRY_BASE_SECONDS": "30", "ESTATEFLOW_MSG_DELIVERY_ATTEMPTS": "4",
               "ESTATEFLOW_WECHAT_APPID": wx.appid, "ESTATEFLOW_WECHAT_SECRET": wx.secret,
               "ESTATEFLOW_WECHAT_API_BASE": wx.url}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_message_settings.cache_clear()
        get_wechat_settings.cache_clear()
        channels.forget_tokens()
        clock.freeze(T0)
        yield sms, wx
        clock.reset()
    get_message_settings.cache_clear()
    get_wechat_settings.cache_clear()
    channels.forget_tokens()


@pytest.fixture(autouse=True)
def _templates(monkeypatch):
    from app.domains.notifications import delivery

    real = delivery.templates()
    monkeypatch.setattr(delivery, "templates", lambda: {
        **real, "test.hello": {"title": {"zh": "工单{order}有进展", "en": "Order {order} moved"},
                               "body": {"zh": "师傅已出发", "en": "On the way"}}})


def _estate(session):
    company = PropertyCompany(name="co")
    community = Community(company=company, code="NT", name="通知小区")
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="1", name="1号楼")
    session.add(building)
    session.flush()
    unit = Unit(community_id=community.id, building_id=building.id, number="101", floor=1, area_m2=60)
    session.add(unit)
    session.flush()
    home = Household(community_id=community.id, unit_id=unit.id, code="NT-1", head_name="王五", phone="010-1234567")
    session.add(home)
    session.flush()
    people = {}
    for name, phone in (("wang", "138 0013 8000"), ("li", "13900139000")):
        user = User(first_name=name, last_name="-", username=name, email=f"{name}@t.local", active=True)
        session.add(user)
        session.flush()
        session.add(Resident(community_id=community.id, household_id=home.id, user_id=user.id, name=name, phone=phone))
        people[name] = user.id
    session.commit()
    return community, home, people


def _send(session, community, home, channel_names=("in_app", "sms", "wechat")):
    rows = notify(session, template="test.hello", params={"order": "BX-0001"}, community_id=community.id,
                  household_id=home.id, channels=channel_names)
    session.commit()
    return rows


def test_the_tc3_canonical_request_and_string_to_sign_match_the_documented_example():
    """Tencent Cloud's "Signature v3" document signs a DescribeInstances request at 1551113065
    and publishes the payload's and the canonical request's SHA-256 (its keys are masked)."""
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    assert hashlib.sha256(payload).hexdigest() == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    canonical = channels.tc3_canonical_request("cvm.tencentcloudapi.com", "DescribeInstances", payload)
    assert hashlib.sha256(canonical.encode()).hexdigest() == \
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    _, scope = channels.tc3_signature("x", "cvm", 1551113065, canonical)
    assert scope == "2019-02-25/cvm/tc3_request"
    assert channels.e164("138 0013 8000") == "+8613800138000"


def test_without_consent_only_the_in_app_row_is_written(session, providers):
    sms, wx = providers
    community, home, people = _estate(session)
    rows = _send(session, community, home)
    assert sorted((r.user_id, r.channel) for r in rows) == sorted((uid, "in_app") for uid in people.values())
    assert deliver_due(session) == 0 and sms.requests == [] and wx.sent == []
    with pytest.raises(preferences.PreferenceError):  # WeChat needs the binding first
        preferences.set_channels(session, people["wang"], sms=False, wechat=True)


def test_sms_and_wechat_reach_a_consenting_resident_signed_and_once(session, providers):
    sms, wx = providers
    community, home, people = _estate(session)
    wang = people["wang"]
    bind_with_code(session, wang, wx.login_code("oWANG"))
    pref = preferences.set_channels(session, wang, sms=True, wechat=True)
    assert pref.sms_consent_at == T0 and pref.wechat_consent_at == T0
    session.commit()
    rows = _send(session, community, home)
    queued = [r for r in rows if r.channel != "in_app"]
    assert sorted((r.user_id, r.channel, r.status) for r in queued) == [(wang, "sms", "queued"), (wang, "wechat", "queued")]
    assert deliver_due(session) == 2
    assert deliver_due(session) == 0  # nothing is sent twice
    [delivered] = sms.sent
    assert delivered == {"phone": "+8613800138000", "template": "900001", "params": ["BX-0001", "工单BX-0001有进展"],
                         "sign": "示例物业", "serial": delivered["serial"]}
    [message] = wx.sent
    assert message["touser"] == "oWANG" and message["template_id"] == "TMPL_REPAIR"
    assert message["data"] == {"character_string1": {"value": "BX-0001"}, "thing2": {"value": "工单BX-0001有进展"}}
    assert message["page"] == "pages/repair" and message["miniprogram_state"] == "formal"
    rows = deliveries(session, wang)
    assert {(r.channel, r.status, r.attempts) for r in rows} == {("sms", "sent", 1), ("wechat", "sent", 1)}
    assert {r.provider_ref for r in rows} == {delivered["serial"], str(message["msgid"])}
    # turning SMS off withdraws the consent: the next message goes in-app and by WeChat only
    preferences.set_channels(session, wang, sms=False, wechat=True)
    session.commit()
    assert {r.channel for r in _send(session, community, home) if r.user_id == wang} == {"in_app", "wechat"}


def test_a_wrong_sms_signature_is_refused_by_the_fake_and_fails_without_retry(session, providers, monkeypatch):
    sms, _ = providers
    community, home, people = _estate(session)
    preferences.set_channels(session, people["li"], sms=True, wechat=False)
    session.commit()
    monkeypatch.setenv("ESTATEFLOW_MSG_SMS_SECRET_KEY", "not-the-key")
    get_message_settings.cache_clear()
    _send(session, community, home)
    deliver_due(session)
    [row] = deliveries(session, people["li"])
    assert (row.status, row.reason, row.attempts) == ("failed", "rejected", 1)
    assert "AuthFailure.SignatureFailure" in row.error and sms.sent == [] and sms.requests[0]["refused"]


def test_a_failing_sms_is_retried_with_a_doubling_wait_then_sent(session, providers):
    sms, _ = providers
    community, home, people = _estate(session)
    preferences.set_channels(session, people["li"], sms=True, wechat=False)
    session.commit()
    sms.fail_times = 2
    _send(session, community, home)
    deliver_due(session)
    [row] = deliveries(session, people["li"])
    assert (row.status, row.reason, row.attempts, row.next_attempt_at) == ("retrying", "unavailable", 1,
                                                                           T0 + timedelta(seconds=30))
    clock.advance(timedelta(seconds=29))
    assert deliver_due(session) == 0  # not yet
    clock.advance(timedelta(seconds=1))
    deliver_due(session)
    session.refresh(row)
    assert (row.status, row.attempts, row.next_attempt_at) == ("retrying", 2, T0 + timedelta(seconds=90))
    clock.advance(timedelta(seconds=60))
    deliver_due(session)
    session.refresh(row)
    assert (row.status, row.attempts, row.reason, row.error) == ("sent", 3, None, None)
    assert len(sms.sent) == 1


def test_an_sms_provider_that_stays_down_ends_failed_after_the_configured_attempts(session, providers):
    sms, _ = providers
    community, home, people = _estate(session)
    preferences.set_channels(session, people["li"], sms=True, wechat=False)
    session.commit()
    sms.http_status = 502
    _send(session, community, home)
    for _ in range(6):
        deliver_due(session)
        clock.advance(timedelta(minutes=10))
    [row] = deliveries(session, people["li"])
    assert (row.status, row.attempts, row.reason, row.next_attempt_at) == ("failed", 4, "unavailable", None)
    assert len(sms.requests) == 4


def test_the_wechat_access_token_is_kept_until_it_expires_and_renewed_when_wechat_ends_it(session, providers):
    _, wx = providers
    community, home, people = _estate(session)
    for name, openid in (("wang", "oWANG"), ("li", "oLI")):
        bind_with_code(session, people[name], wx.login_code(openid))
        preferences.set_channels(session, people[name], sms=False, wechat=True)
    session.commit()
    _send(session, community, home)
    deliver_due(session)
    assert wx.token_requests == 1 and len(wx.sent) == 2  # one token for both messages
    wx.expire_tokens()  # WeChat ended the token early (42001): fetched again once, then sent
    _send(session, community, home)
    deliver_due(session)
    assert wx.token_requests == 2 and len(wx.sent) == 4
    wx.token_ttl = 2  # a short-lived token is renewed when it runs out
    channels.forget_tokens()
    _send(session, community, home)
    deliver_due(session)
    time.sleep(1.2)
    _send(session, community, home)
    deliver_due(session)
    assert wx.token_requests == 4 and len(wx.sent) == 8


def test_a_resident_who_did_not_allow_the_message_in_wechat_is_a_failure_in_words(session, providers):
    _, wx = providers
    community, home, people = _estate(session)
    bind_with_code(session, people["wang"], wx.login_code("oWANG"))
    preferences.set_channels(session, people["wang"], sms=False, wechat=True)
    session.commit()
    wx.fail_with = 43101
    _send(session, community, home)
    deliver_due(session)
    [row] = deliveries(session, people["wang"])
    assert (row.status, row.reason) == ("failed", "not_subscribed")
    # unbinding withdraws the WeChat consent too
    preferences.unbind_wechat(session, people["wang"])
    session.commit()
    assert preferences.external_channels(session, people["wang"]) == set()
    assert not preferences.preference(session, people["wang"]).wechat


def test_unconfigured_sms_fails_visibly_not_silently(session, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_MSG_SMS_PROVIDER", "")
    get_message_settings.cache_clear()
    community, home, people = _estate(session)
    preferences.set_channels(session, people["li"], sms=True, wechat=False)
    session.commit()
    _send(session, community, home)
    deliver_due(session)
    [row] = deliveries(session, people["li"])
    assert (row.status, row.reason) == ("failed", "not_configured")
    assert session.scalar(select(Notification).where(Notification.user_id == people["li"],
                                                     Notification.channel == "in_app")).status == "sent"
    get_message_settings.cache_clear()


def test_a_dunning_reminder_reaches_a_consenting_resident_by_sms_and_wechat_and_threatens_no_utility(
        session, providers, monkeypatch):
    """The dunning ladder sends through the channels; what it sends never speaks of cutting
    water, power, gas or heat (Civil Code art. 944, DOMAIN-NOTES)."""
    from app.domains.dunning import ladder
    from app.domains.notifications.delivery import templates
    from tests.support import fees_estate as fe

    sms, wx = providers
    monkeypatch.setenv("ESTATEFLOW_MSG_SMS_TEMPLATES",
                       '{"dunning.reminder.second": {"id": "900001", "params": ["bill", "amount", "days"]}}')
    monkeypatch.setenv("ESTATEFLOW_MSG_WECHAT_TEMPLATES", '{"dunning.reminder.second": {"id": "TMPL_REPAIR", '
                       '"data": {"character_string1": "bill", "amount2": "amount", "thing3": "title"}}}')
    get_message_settings.cache_clear()
    community, homes = fe.make_estate(session, "DN", dunning=False, door=False)
    user = User(first_name="zhao", last_name="-", username="zhao", email="zhao@t.local", active=True)
    session.add(user)
    session.flush()
    session.add(Resident(community_id=community.id, household_id=homes[0].id, user_id=user.id, name="赵",
                         phone="13700137000"))
    bind_with_code(session, user.id, wx.login_code("oZHAO"))
    preferences.set_channels(session, user.id, sms=True, wechat=True)
    bill = fe.make_bill(session, homes[0], 8500, due=T0.date() - timedelta(days=10))
    session.commit()
    ladder.remind(session, community_id=community.id, bill_number=bill.number, tier="second",
                  channels=("in_app", "sms", "wechat"))
    session.commit()
    deliver_due(session)
    [text] = sms.sent
    assert text["phone"] == "+8613700137000" and text["params"] == [bill.number, "85.00", "10"]
    [message] = wx.sent
    assert message["touser"] == "oZHAO" and message["data"]["amount2"] == {"value": "85.00"}
    for template_id, spec in templates().items():
        if template_id.startswith("dunning."):
            words = spec["title"]["zh"] + spec["body"]["zh"]
            assert not any(w in words for w in ("停水", "停电", "停气", "停暖", "断水", "断电", "断气")), template_id
            assert "cut" not in (spec["title"]["en"] + spec["body"]["en"]).lower(), template_id
