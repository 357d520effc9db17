"""The demo's SMS provider and WeChat API: the local fakes (``fake_sms``, ``fake_wechat_api``),
started by ``estateflow demo`` when no real provider is configured, so a demo resident can bind
a (simulated) WeChat on 消息设置, agree to SMS, and see repair updates and fee reminders go out
as 已发送 — with the same signing, tokens, retries and failures as production, minus the phones.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable

from app.domains.notifications.delivery import templates
from app.domains.notifications.fake_sms import FakeTencentSms
from app.domains.notifications.settings import MessageSettings, get_message_settings, use_message_settings
from app.security.fake_wechat_api import FakeWechatApi
from app.security.wechat_identity import WechatSettings, get_wechat_settings, use_wechat_settings

DEMO_PREFIXES = ("repair.", "dunning.")
"""The notices residents get by SMS/WeChat in the demo (the ones that go by RESIDENT_CHANNELS)."""


def start_demo_providers() -> Callable[[], None]:
    """Start both fakes and point the platform at them; the returned function stops them. A
    deployment with a real SMS provider or WeChat app configured is left alone."""
    if get_message_settings().sms_provider or get_wechat_settings().configured:
        return lambda: None
    names = sorted(t for t in templates() if t.startswith(DEMO_PREFIXES))
    sms = FakeTencentSms(secret_id="AKIDdemo", secret_key=secrets.token_hex(16), sdk_app_id="1400000000")
    wx = FakeWechatApi(appid="wx_demo", secret=secrets.token_hex(16), templates={"DEMO_NOTICE"}, demo_logins=True)
    sms.__enter__()
    wx.__enter__()
    use_message_settings(MessageSettings(
        sms_provider="tencent", sms_secret_id=sms.secret_id, sms_secret_key=sms.secret_key,
        sms_sdk_app_id=sms.sdk_app_id, sms_sign_name="演示物业", sms_endpoint=sms.url,
        sms_templates={name: {"id": f"DEMO{i:03d}", "params": ["title"]} for i, name in enumerate(names)},
        wechat_templates={name: {"id": "DEMO_NOTICE", "data": {"thing1": "title", "thing2": "body"}}
                          for name in names}))
    use_wechat_settings(WechatSettings(appid=wx.appid, secret=wx.secret, api_base=wx.url, demo=True))

    def stop() -> None:
        use_message_settings(None)
        use_wechat_settings(None)
        wx.__exit__(None, None, None)
        sms.__exit__(None, None, None)

    return stop
