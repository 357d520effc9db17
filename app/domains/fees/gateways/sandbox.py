"""The sandbox gateway: a pretend bank that runs the real payment cycle for the demo.

1. ``start``: we "register" the order at the bank, which answers with its cashier URL
   (``/sandbox-pay/<out_trade_no>?t=<signed order token>``, served by our app but owned by
   the bank: it keeps no state of its own, everything it needs is in the signed token).
2. The payer presses **Pay** (or **Cancel**) on the cashier page and is sent back to our
   result page; the order is *not* paid yet.
3. The bank then notifies our notify URL asynchronously over HTTP from a background thread,
   signed with HMAC-SHA256 over ``timestamp\\nnonce\\nbody\\n``, retrying with backoff until
   it gets a 2xx — exactly what a real gateway does. Only that notification pays the order.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeSerializer

from app import clock
from app.domains.fees.gateways import (
    GatewayNotice,
    NotificationInvalid,
    PaymentGateway,
    SignatureInvalid,
)
from app.domains.fees.gateways.settings import derived_secret, get_payment_settings

log = logging.getLogger("estateflow.payments.sandbox")

MAX_SKEW_SECONDS = 300
H_TS, H_NONCE, H_SIG = "X-Sandbox-Timestamp", "X-Sandbox-Nonce", "X-Sandbox-Signature"


def sandbox_secret() -> bytes:
    return derived_secret("sandbox-gateway", get_payment_settings().sandbox_secret)


def sign(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _header(headers: dict[str, str], name: str) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower(), "")


class SandboxBank:
    """The bank's side: decodes cashier tokens, 'charges' the payer, notifies the merchant."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or sandbox_secret()
        self._tokens = URLSafeSerializer(self.secret, salt="sandbox-cashier")

    def cashier_url(self, out_trade_no: str, amount_cents: int, notify_url: str, return_url: str,
                    subject: str = "") -> str:
        token = self._tokens.dumps({"o": out_trade_no, "a": amount_cents, "n": notify_url,
                                    "r": return_url, "s": subject[:60]})
        return f"/sandbox-pay/{out_trade_no}?{urlencode({'t': token})}"

    def read_token(self, out_trade_no: str, token: str) -> dict:
        try:
            data = self._tokens.loads(token)
        except BadSignature:
            raise NotificationInvalid("bad cashier token") from None
        if data.get("o") != out_trade_no:
            raise NotificationInvalid("cashier token is for another order")
        return data

    def signed_notification(self, order: dict, transaction_id: str, state: str = "SUCCESS") -> tuple[dict, bytes]:
        body = json.dumps({
            "transaction_id": transaction_id, "out_trade_no": order["o"], "amount_cents": order["a"],
            "trade_state": state, "success_time": clock.now().replace(microsecond=0).isoformat() + "Z",
        }, sort_keys=True).encode()
        ts, nonce = str(int(clock.now().timestamp())), secrets.token_hex(8)
        headers = {H_TS: ts, H_NONCE: nonce, H_SIG: sign(self.secret, ts, nonce, body),
                   "Content-Type": "application/json"}
        return headers, body

    def pay(self, out_trade_no: str, token: str, *, background: bool = True) -> tuple[str, str]:
        """The payer pressed Pay: returns (transaction id, where to send the payer) and
        delivers the signed notification asynchronously."""
        order = self.read_token(out_trade_no, token)
        transaction_id = f"SBX{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(5).upper()}"
        headers, body = self.signed_notification(order, transaction_id)
        if background:
            threading.Thread(target=deliver, args=(order["n"], headers, body), daemon=True,
                             name=f"sandbox-notify-{out_trade_no}").start()
        return transaction_id, order["r"]

    def cancel(self, out_trade_no: str, token: str) -> str:
        order = self.read_token(out_trade_no, token)
        sep = "&" if "?" in order["r"] else "?"
        return f"{order['r']}{sep}cancelled=1"


def deliver(url: str, headers: dict[str, str], body: bytes, attempts: int | None = None,
            backoff: float | None = None) -> bool:
    """POST a notification until a 2xx answer (the bank's retry policy); True if delivered."""
    settings = get_payment_settings()
    attempts = attempts or settings.notify_attempts
    delay = settings.notify_backoff_seconds if backoff is None else backoff
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own URL
                if 200 <= response.status < 300:
                    return True
                reason = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}"
        except OSError as exc:
            reason = str(exc)
        log.warning("sandbox notify %s attempt %s/%s failed: %s", url, attempt, attempts, reason)
        if attempt < attempts:
            time.sleep(delay)  # the bank's retry backoff (a delivery thread, not a timer)
            delay *= 2
    return False


class SandboxGateway(PaymentGateway):
    name = "sandbox"

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret

    @property
    def secret(self) -> bytes:
        return self._secret or sandbox_secret()

    def bank(self) -> SandboxBank:
        return SandboxBank(self.secret)

    def start(self, order, *, notify_url: str, return_url: str) -> str:
        return self.bank().cashier_url(order.out_trade_no, order.amount_cents, notify_url, return_url,
                                       subject=f"estateflow {order.out_trade_no}")

    def parse_notification(self, headers: dict[str, str], body: bytes) -> GatewayNotice:
        ts, nonce, signature = (_header(headers, h) for h in (H_TS, H_NONCE, H_SIG))
        if not (ts and nonce and signature):
            raise SignatureInvalid("missing signature headers")
        expected = sign(self.secret, ts, nonce, body)
        if not hmac.compare_digest(expected, signature.strip().lower()):
            raise SignatureInvalid("signature does not match")
        try:
            skew = abs(clock.now().timestamp() - int(ts))
        except ValueError:
            raise SignatureInvalid("bad timestamp") from None
        if skew > MAX_SKEW_SECONDS:
            raise SignatureInvalid(f"timestamp {skew:.0f}s away from now (replay?)")
        try:
            data = json.loads(body)
            amount = data["amount_cents"]
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise TypeError("amount_cents must be an integer")
            notice = GatewayNotice(
                gateway=self.name, transaction_id=str(data["transaction_id"]),
                out_trade_no=str(data["out_trade_no"]), amount_cents=amount,
                success=data.get("trade_state") == "SUCCESS",
                paid_at=datetime.fromisoformat(data["success_time"].rstrip("Z")) if data.get("success_time") else None,
                raw=data,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationInvalid(f"unreadable notification: {exc}") from None
        return notice
