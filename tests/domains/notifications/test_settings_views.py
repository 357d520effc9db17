"""The resident's message settings page: binding WeChat with the mini-program's login code (via
the fake WeChat API), unbinding, and agreeing to SMS/WeChat — each login acts on its own rows
only, and no page shows the openid (SQLite and PostgreSQL, the demo estate, the test client)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.security.fake_wechat_api import FakeWechatApi
from app.security.wechat_identity import get_wechat_settings

OPENID = "oRESIDENT_YC_SECRET_OPENID"


@pytest.fixture(scope="module")
def wechat(demo_app):
    """The fake WeChat API, and the app configured to use it (for this module)."""
    import os

    with FakeWechatApi(appid="wx_settings_app", secret="s3") as fake:
        saved = {k: os.environ.get(k) for k in ("ESTATEFLOW_WECHAT_APPID", "ESTATEFLOW_WECHAT_SECRET",
                                                 "ESTATEFLOW_WECHAT_API_BASE")}
        os.environ.update({"ESTATEFLOW_WECHAT_APPID": fake.appid, "ESTATEFLOW_WECHAT_SECRET": fake.secret,
                           "ESTATEFLOW_WECHAT_API_BASE": fake.url})
        get_wechat_settings.cache_clear()
        yield fake
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_wechat_settings.cache_clear()


@pytest.fixture(scope="module")
def neighbour(demo_app):
    """A second resident login of the YC community, in another household."""
    from app.db import db
    from app.domains.estate.models import Community, Household, Resident

    with demo_app.app_context():
        sm = demo_app.appbuilder.sm
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
        homes = list(db.session.scalars(select(Household).where(Household.community_id == yc)
                                        .order_by(Household.id).limit(5)))
        user = sm.add_user("neighbour_yc", "邻居", "", "neighbour@t.local", sm.find_role("Resident"), "demo1234")
        from app.domains.estate.models import UserCommunity

        db.session.add(UserCommunity(user_id=user.id, community_id=yc))
        db.session.add(Resident(community_id=yc, household_id=homes[-1].id, user_id=user.id, name="邻居",
                                phone="13911112222"))
        db.session.commit()
        return user.id


def _identity(demo_app, username):
    from app.db import db
    from app.security.wechat_identity import UserWechatIdentity, get_wechat_settings, openid_for

    with demo_app.app_context():
        user = demo_app.appbuilder.sm.find_user(username=username)
        return openid_for(db.session, user.id, get_wechat_settings().appid)


def _pref(demo_app, username):
    from app.db import db
    from app.domains.notifications.preferences import preference

    with demo_app.app_context():
        user = demo_app.appbuilder.sm.find_user(username=username)
        pref = preference(db.session, user.id)
        return pref.sms, pref.sms_consent_at, pref.wechat, pref.wechat_consent_at


def test_a_resident_binds_and_unbinds_wechat_and_never_sees_the_openid(demo_app, login, wechat, neighbour):
    client = login("resident_yc")
    page = client.get("/notifications/settings/")
    assert page.status_code == 200 and "尚未绑定微信" in page.text and 'id="wechat-bind"' not in page.text
    code = wechat.login_code(OPENID)
    page = client.get(f"/notifications/settings/?code={code}")
    assert 'id="wechat-bind"' in page.text
    answer = client.post("/notifications/settings/wechat/bind", data={"code": code}, follow_redirects=True)
    assert "微信已绑定" in answer.text and "已绑定微信" in answer.text
    assert _identity(demo_app, "resident_yc") == OPENID
    for url in ("/notifications/settings/", "/notifications/", "/me/"):
        assert OPENID not in client.get(url).text, url
    # the same code again is refused in words, the binding stays
    again = client.post("/notifications/settings/wechat/bind", data={"code": code}, follow_redirects=True)
    assert "凭证无效或已过期" in again.text and _identity(demo_app, "resident_yc") == OPENID

    # the neighbour sees nothing of it, cannot unbind it, cannot take the same WeChat over
    other = login("neighbour_yc")
    assert "尚未绑定微信" in other.get("/notifications/settings/").text
    other.post("/notifications/settings/wechat/unbind")
    assert _identity(demo_app, "resident_yc") == OPENID
    taken = other.post("/notifications/settings/wechat/bind", data={"code": wechat.login_code(OPENID)},
                       follow_redirects=True)
    assert "已绑定到另一个账号" in taken.text
    assert _identity(demo_app, "resident_yc") == OPENID and _identity(demo_app, "neighbour_yc") is None

    # agreeing to WeChat messages, then unbinding: the consent goes with the binding
    client.post("/notifications/settings/channels", data={"wechat": "on"})
    assert _pref(demo_app, "resident_yc")[2] is True
    done = client.post("/notifications/settings/wechat/unbind", follow_redirects=True)
    assert "微信已解除绑定" in done.text and "尚未绑定微信" in done.text
    assert _identity(demo_app, "resident_yc") is None
    assert _pref(demo_app, "resident_yc")[2:] == (False, None)


def test_sms_consent_is_the_residents_own_tick_and_wechat_needs_the_binding(demo_app, login, wechat, neighbour):
    other = login("neighbour_yc")
    page = other.get("/notifications/settings/")
    assert "139****2222" in page.text and "13911112222" not in page.text  # the number, masked
    assert _pref(demo_app, "neighbour_yc")[0] is False  # off until the person turns it on
    saved = other.post("/notifications/settings/channels", data={"sms": "on"}, follow_redirects=True)
    assert "消息设置已保存" in saved.text and "已于" in saved.text
    sms, sms_at, _, _ = _pref(demo_app, "neighbour_yc")
    assert sms is True and sms_at is not None
    refused = other.post("/notifications/settings/channels", data={"sms": "on", "wechat": "on"},
                         follow_redirects=True)
    assert "请先绑定微信" in refused.text and _pref(demo_app, "neighbour_yc")[2] is False
    other.post("/notifications/settings/channels", data={})  # unticked: the consent is withdrawn
    assert _pref(demo_app, "neighbour_yc")[:2] == (False, None)


def test_staff_have_no_resident_message_settings(demo_app, login):
    for username in ("frontdesk_yc", "regulator"):
        response = login(username).get("/notifications/settings/")
        assert response.status_code in (302, 403), username
