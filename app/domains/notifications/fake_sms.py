"""A local stand-in for Tencent Cloud SMS (``SendSms``, API 2021-01-11), built from its public
documentation: it recomputes the TC3-HMAC-SHA256 signature of every request with the secret
it was given and refuses a wrong one (``AuthFailure.SignatureFailure``), a timestamp more than
five minutes off (``AuthFailure.SignatureExpire``) or an unknown SecretId; it answers the
documented ``{"Response": {"SendStatusSet": […], "RequestId": …}}``.

Tests make it fail: ``fail_with`` (an error code answered for every number, e.g.
``LimitExceeded.PhoneNumberDailyLimit``), ``http_status`` (e.g. 502) or ``fail_times`` (fail that
many requests, then succeed). ``sent`` keeps what was delivered, ``requests`` every attempt.
"""
from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.domains.notifications.channels import SMS_ACTION, SMS_SERVICE, SMS_VERSION, tc3_canonical_request, tc3_signature

_AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=([^/]+)/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$")


@dataclass
class FakeTencentSms:
    """``with FakeTencentSms(secret_id=…, secret_key=…) as fake:`` serves at ``fake.url``."""

    secret_id: str = "AKIDfake"
    secret_key: str = "fake-key"
    sdk_app_id: str = "1400000000"
    templates: set[str] = field(default_factory=set)
    fail_with: str | None = None
    fail_times: int = 0
    http_status: int | None = None
    sent: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "use the fake as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _error(self, code: str, message: str) -> dict:
        return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": secrets.token_hex(8)}}

    def _check(self, headers, body: bytes) -> dict | None:
        """The documented authentication checks; an error answer or None."""
        match = _AUTH.match(headers.get("Authorization") or "")
        if match is None:
            return self._error("AuthFailure.InvalidAuthorization", "Authorization header is malformed")
        secret_id, scope, signed_headers, signature = match.groups()
        if secret_id != self.secret_id:
            return self._error("AuthFailure.SecretIdNotFound", "SecretId does not exist")
        if headers.get("X-TC-Action") != SMS_ACTION or headers.get("X-TC-Version") != SMS_VERSION:
            return self._error("InvalidAction", "action or version not found")
        try:
            timestamp = int(headers.get("X-TC-Timestamp") or "")
        except ValueError:
            return self._error("AuthFailure.InvalidAuthorization", "X-TC-Timestamp missing")
        if abs(time.time() - timestamp) > 300:
            return self._error("AuthFailure.SignatureExpire", "signature expired")
        if signed_headers != "content-type;host;x-tc-action":
            return self._error("AuthFailure.InvalidAuthorization", "unexpected SignedHeaders")
        canonical = tc3_canonical_request(headers.get("Host") or "", headers.get("X-TC-Action") or "", body,
                                          headers.get("Content-Type") or "")
        expected, expected_scope = tc3_signature(self.secret_key, SMS_SERVICE, timestamp, canonical)
        if scope != expected_scope or not hmac.compare_digest(signature, expected):
            return self._error("AuthFailure.SignatureFailure", "the provided credentials could not be validated")
        return None

    def _send(self, headers, body: bytes) -> dict:
        problem = self._check(headers, body)
        with self._lock:
            self.requests.append({"headers": dict(headers), "body": body, "refused": problem is not None})
        if problem is not None:
            return problem
        try:
            request = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "body is not JSON")
        if request.get("SmsSdkAppId") != self.sdk_app_id:
            return self._error("FailedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify fail")
        if self.templates and request.get("TemplateId") not in self.templates:
            return self._error("FailedOperation.TemplateIncorrectOrUnapproved", "template unapproved")
        statuses = []
        for number in request.get("PhoneNumberSet") or []:
            code, message = "Ok", "send success"
            with self._lock:
                if self.fail_times > 0:
                    self.fail_times -= 1
                    code, message = "InternalError.Timeout", "request timed out"
            if self.fail_with:
                code, message = self.fail_with, "fake failure"
            elif not re.fullmatch(r"\+\d{6,15}", str(number)):
                code, message = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number"
            serial = secrets.token_hex(10) if code == "Ok" else ""
            statuses.append({"SerialNo": serial, "PhoneNumber": number, "Fee": 1 if code == "Ok" else 0,
                             "SessionContext": request.get("SessionContext", ""), "Code": code,
                             "Message": message, "IsoCode": "CN"})
            if code == "Ok":
                with self._lock:
                    self.sent.append({"phone": number, "template": request.get("TemplateId"),
                                      "params": request.get("TemplateParamSet"),
                                      "sign": request.get("SignName"), "serial": serial})
        return {"Response": {"SendStatusSet": statuses, "RequestId": secrets.token_hex(8)}}

    def __enter__(self) -> "FakeTencentSms":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fake.http_status:
                    data, status = b"<html>bad gateway</html>", fake.http_status
                    with fake._lock:
                        fake.requests.append({"headers": dict(self.headers), "body": body, "refused": True})
                else:
                    data, status = json.dumps(fake._send(self.headers, body), ensure_ascii=False).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
