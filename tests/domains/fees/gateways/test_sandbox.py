"""The sandbox bank: signed cashier tokens, HMAC-signed notifications, and delivery over
real HTTP with retries (a local server that fails first, then answers)."""
from __future__ import annotations

import http.server
import threading
from datetime import timedelta

import pytest

from app import clock
from app.domains.fees.gateways import NotificationInvalid, SignatureInvalid
from app.domains.fees.gateways.sandbox import (
    H_SIG,
    H_TS,
    SandboxBank,
    SandboxGateway,
    deliver,
)


class _Order:
    out_trade_no, amount_cents = "EF20261101ABC", 12345


@pytest.fixture(autouse=True)
def _clock():
    clock.reset()
    yield
    clock.reset()


def test_cycle_token_sign_verify():
    bank, gw = SandboxBank(b"k" * 32), SandboxGateway(b"k" * 32)
    url = gw.start(_Order(), notify_url="http://x/pay/notify/sandbox", return_url="http://x/back")
    assert url.startswith("/sandbox-pay/EF20261101ABC?t=")
    token = url.split("t=", 1)[1]
    txn, back = bank.pay("EF20261101ABC", token, background=False)
    assert back == "http://x/back" and txn.startswith("SBX")
    headers, body = bank.signed_notification(bank.read_token("EF20261101ABC", token), txn)
    notice = gw.parse_notification(headers, body)
    assert (notice.out_trade_no, notice.amount_cents, notice.success) == ("EF20261101ABC", 12345, True)
    with pytest.raises(NotificationInvalid):
        bank.read_token("EF-OTHER", token)
    with pytest.raises(NotificationInvalid):
        bank.read_token("EF20261101ABC", token[:-2] + "xx")


def test_forged_wrong_key_and_replay_refused():
    bank, gw = SandboxBank(b"k" * 32), SandboxGateway(b"k" * 32)
    token = gw.start(_Order(), notify_url="n", return_url="r").split("t=", 1)[1]
    headers, body = bank.signed_notification(bank.read_token("EF20261101ABC", token), "SBX1")
    with pytest.raises(SignatureInvalid):
        gw.parse_notification(headers, body.replace(b"12345", b"99999"))
    with pytest.raises(SignatureInvalid):
        SandboxGateway(b"other" * 8).parse_notification(headers, body)
    with pytest.raises(SignatureInvalid):
        gw.parse_notification({k: v for k, v in headers.items() if k != H_SIG}, body)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(SignatureInvalid, match="replay"):
        gw.parse_notification(headers, body)
    assert H_TS in headers


def test_delivery_retries_until_2xx():
    seen: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(500 if len(seen) < 3 else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ok = deliver(f"http://127.0.0.1:{server.server_port}/pay/notify/sandbox", {"Content-Type": "application/json"},
                     b'{"x": 1}', attempts=5, backoff=0.01)
    finally:
        server.shutdown()
        server.server_close()
    assert ok and len(seen) == 3 and seen[0] == b'{"x": 1}'
    assert deliver("http://127.0.0.1:9/nowhere", {}, b"{}", attempts=2, backoff=0.01) is False
