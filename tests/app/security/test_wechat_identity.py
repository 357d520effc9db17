"""WeChat identity: the mini-program login code is exchanged for the openid at (a local stand-in
of) WeChat's public jscode2session API, bound once per login and app, refused for a WeChat that
another login holds, and unbound again (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest
from flask_appbuilder.security.sqla.models import User

from app.security.fake_wechat_api import FakeWechatApi
from app.security.wechat_identity import (
    WechatIdentityError, WechatSettings, bind, bind_with_code, exchange_code, is_bound, openid_for, unbind,
)


@pytest.fixture
def fake():
    with FakeWechatApi(appid="wx_test_app", secret="s3cret") as api:
        yield api


def _settings(fake: FakeWechatApi, **over) -> WechatSettings:
    return WechatSettings(**{"appid": fake.appid, "secret": fake.secret, "api_base": fake.url,
                             "timeout_seconds": 2.0, **over})


def _users(session, *names: str) -> list[int]:
    users = [User(first_name=n, last_name="-", username=n, email=f"{n}@t.local", active=True) for n in names]
    session.add_all(users)
    session.flush()
    return [u.id for u in users]


def test_a_login_code_binds_the_openid_and_unbinding_forgets_it(session, fake):
    (alice,) = _users(session, "alice")
    settings = _settings(fake)
    code = fake.login_code("oALICE", unionid="uALICE")
    row = bind_with_code(session, alice, code, settings)
    session.commit()
    assert (row.openid, row.unionid, row.appid) == ("oALICE", "uALICE", "wx_test_app")
    assert openid_for(session, alice, "wx_test_app") == "oALICE"
    assert openid_for(session, alice, "wx_other_app") is None
    assert is_bound(session, alice, "wx_test_app")
    # a second bind with a fresh code of another WeChat replaces the first, one row per app
    bind_with_code(session, alice, fake.login_code("oALICE2"), settings)
    assert openid_for(session, alice, "wx_test_app") == "oALICE2"
    assert unbind(session, alice, "wx_test_app") is True
    session.commit()
    assert openid_for(session, alice, "wx_test_app") is None and not is_bound(session, alice, "wx_test_app")
    assert unbind(session, alice, "wx_test_app") is False


def test_a_code_is_good_once_and_bad_codes_bind_nothing(session, fake):
    (alice,) = _users(session, "alice")
    settings = _settings(fake)
    code = fake.login_code("oALICE")
    assert exchange_code(code, settings).openid == "oALICE"
    with pytest.raises(WechatIdentityError) as used:
        bind_with_code(session, alice, code, settings)
    assert used.value.reason == "invalid_code" and "重新打开" in used.value.message("zh")
    with pytest.raises(WechatIdentityError) as unknown:
        bind_with_code(session, alice, "not-a-code", settings)
    assert unknown.value.reason == "invalid_code"
    with pytest.raises(WechatIdentityError) as empty:
        bind_with_code(session, alice, "  ", settings)
    assert empty.value.reason == "invalid_code"
    assert openid_for(session, alice, fake.appid) is None


def test_wrong_secret_unconfigured_and_unreachable_are_sentences(session, fake):
    with pytest.raises(WechatIdentityError) as wrong:
        exchange_code(fake.login_code(), _settings(fake, secret="nope"))
    assert wrong.value.reason == "busy"
    with pytest.raises(WechatIdentityError) as off:
        exchange_code("x", WechatSettings(appid="", secret=""))
    assert off.value.reason == "not_configured" and "not set up" in off.value.message("en")
    with pytest.raises(WechatIdentityError) as down:
        exchange_code("x", _settings(fake, api_base="http://127.0.0.1:9", timeout_seconds=0.5))
    assert down.value.reason == "unreachable"


def test_a_wechat_bound_to_a_neighbour_is_refused_not_moved(session, fake):
    alice, bob = _users(session, "alice", "bob")
    bind(session, alice, appid=fake.appid, openid="oSHARED")
    session.commit()
    with pytest.raises(WechatIdentityError) as taken:
        bind_with_code(session, bob, fake.login_code("oSHARED"), _settings(fake))
    assert taken.value.reason == "bound_elsewhere"
    session.rollback()
    assert openid_for(session, alice, fake.appid) == "oSHARED"
    assert openid_for(session, bob, fake.appid) is None
    # bob's unbind touches only bob's row
    assert unbind(session, bob, fake.appid) is False
    assert openid_for(session, alice, fake.appid) == "oSHARED"
