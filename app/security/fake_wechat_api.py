"""A local stand-in for the WeChat server API (``api.weixin.qq.com``), built from its public
documentation, so identity binding and subscription messages are tested end to end without
WeChat:

* ``GET /sns/jscode2session`` — a login code (issued by :meth:`FakeWechatApi.login_code`, usable
  once) for the openid; wrong appid/secret → 40125, unknown code → 40029, used code → 40163;
* ``GET /cgi-bin/token`` — an ``access_token`` valid ``token_ttl`` seconds (40125 for a wrong
  secret); :meth:`expire_tokens` makes every issued token stale (42001) as WeChat does early;
* ``POST /cgi-bin/message/subscribe/send?access_token=…`` — checks the token, the template id,
  that ``touser`` is an openid it issued and that every ``data`` value is a ``{"value": …}``;
  answers ``{"errcode": 0, "errmsg": "ok", "msgid": …}``; ``fail_with`` makes it answer an
  errcode (43101: the user did not subscribe) or ``http_status`` an HTTP error.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeWechatApi:
    """``with FakeWechatApi(appid=…, secret=…) as fake:`` serves on 127.0.0.1 at ``fake.url``."""

    appid: str = "wx_fake_app"
    secret: str = "fake-secret"
    templates: set[str] = field(default_factory=set)
    token_ttl: int = 7200
    fail_with: int | None = None
    http_status: int | None = None
    codes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    used_codes: set[str] = field(default_factory=set)
    openids: set[str] = field(default_factory=set)
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: int = 0
    sent: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the tests drive -----------------------------------------------------------------
    def login_code(self, openid: str | None = None, unionid: str | None = None) -> str:
        """A one-time ``wx.login()`` code for ``openid`` (a fresh one if not given)."""
        openid = openid or "o" + secrets.token_urlsafe(20)
        code = secrets.token_hex(16)
        with self._lock:
            self.codes[code] = (openid, unionid)
            self.openids.add(openid)
        return code

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = {t: 0.0 for t in self.tokens}

    @property
    def url(self) -> str:
        assert self._server is not None, "use the fake as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- the API ------------------------------------------------------------------------------
    def _jscode2session(self, q: dict) -> dict:
        if q.get("appid") != self.appid or q.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if q.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = q.get("js_code", "")
        with self._lock:
            if code in self.used_codes:
                return {"errcode": 40163, "errmsg": "code been used"}
            if code not in self.codes:
                return {"errcode": 40029, "errmsg": "invalid code"}
            self.used_codes.add(code)
            openid, unionid = self.codes.pop(code)
        answer = {"openid": openid, "session_key": secrets.token_urlsafe(16)}
        if unionid:
            answer["unionid"] = unionid
        return answer

    def _token(self, q: dict) -> dict:
        if q.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if q.get("appid") != self.appid or q.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.token_requests += 1
            self.tokens[token] = time.monotonic() + self.token_ttl
        return {"access_token": token, "expires_in": self.token_ttl}

    def _subscribe_send(self, q: dict, body: bytes) -> dict:
        with self._lock:
            expires = self.tokens.get(q.get("access_token", ""))
        if expires is None:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if expires < time.monotonic():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        try:
            message = json.loads(body)
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        if self.fail_with is not None:
            return {"errcode": self.fail_with, "errmsg": "fake failure"}
        if message.get("template_id") not in self.templates:
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        if message.get("touser") not in self.openids:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        data = message.get("data")
        if not isinstance(data, dict) or not all(isinstance(v, dict) and "value" in v for v in data.values()):
            return {"errcode": 47003, "errmsg": "argument invalid! data.value invalid"}
        msgid = secrets.randbelow(10**12)
        with self._lock:
            self.sent.append({**message, "msgid": msgid})
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    # --- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> "FakeWechatApi":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, data: dict) -> None:
                status = fake.http_status or 200
                body = json.dumps(data, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append(f"GET {parts.path}")
                if parts.path == "/sns/jscode2session":
                    self._reply(fake._jscode2session(q))
                elif parts.path == "/cgi-bin/token":
                    self._reply(fake._token(q))
                else:
                    self._reply({"errcode": 404, "errmsg": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(f"POST {parts.path}")
                if parts.path == "/cgi-bin/message/subscribe/send":
                    self._reply(fake._subscribe_send(q, body))
                else:
                    self._reply({"errcode": 404, "errmsg": "not found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
