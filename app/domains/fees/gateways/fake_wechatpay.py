"""A local stand-in for WeChat Pay API v3, built from its public documentation: it checks our
merchant signature, answers orders, queries, closes and refunds with answers signed by its own
platform key, and sends signed, encrypted callbacks (on time, twice, or never) — so the real
HTTP adapter is tested end to end without WeChat, with keys the tests generate.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from app import clock
from app.domains.fees.gateways.fake_server import LocalServer
from app.domains.fees.gateways.wechatpay_v3 import encrypt_resource, sign_message

_AUTH = re.compile(r'(\w+)="([^"]*)"')


def _now() -> datetime:
    """The platform clock (tests freeze it), as an aware UTC time."""
    return clock.now().replace(tzinfo=timezone.utc)


@dataclass
class FakeOrder:
    out_trade_no: str
    amount_cents: int
    notify_url: str
    kind: str
    state: str = "NOTPAY"
    transaction_id: str = ""
    refunds: list[dict] = field(default_factory=list)
    paid_at: datetime | None = None  # aware UTC


class FakeWechatPay(LocalServer):
    """``with FakeWechatPay(...) as fake:`` serves on 127.0.0.1; ``fake.url`` is the API base."""

    def __init__(self, *, mchid: str, appid: str, apiv3_key: bytes, platform_key: RSAPrivateKey,
                 platform_serial: str, merchant_public_key: RSAPublicKey,
                 platform_certs: list[bytes] | None = None) -> None:
        """``platform_certs``: PEM certificates ``/v3/certificates`` hands out (certificate mode)."""
        self.platform_certs = list(platform_certs or [])
        self.mchid, self.appid, self.apiv3_key = mchid, appid, apiv3_key
        self.platform_key, self.platform_serial = platform_key, platform_serial
        self.merchant_public_key = merchant_public_key
        self.orders: dict[str, FakeOrder] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.tamper_answers = False
        self.bill_amounts: dict[str, int] = {}  # out_trade_no -> amount the trade bill shows instead
        self.bill_extra: list[FakeOrder] = []  # payments only the trade bill knows
        self._files: dict[str, bytes] = {}

    # --- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> "FakeWechatPay":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self, status: int, data: dict | None) -> None:
                body = json.dumps(data).encode() if data is not None else b""
                ts, nonce = str(int(_now().timestamp())), secrets.token_hex(16)
                signature = sign_message(fake.platform_key, f"{ts}\n{nonce}\n".encode() + body + b"\n")
                if fake.tamper_answers:
                    body = body.replace(b"NOTPAY", b"SUCCESS") + b" "
                self.send_response(status)
                for name, value in (("Wechatpay-Timestamp", ts), ("Wechatpay-Nonce", nonce),
                                    ("Wechatpay-Signature", signature), ("Wechatpay-Serial", fake.platform_serial),
                                    ("Content-Type", "application/json"), ("Content-Length", str(len(body)))):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not fake.signed_by_merchant(method, self.path, self.headers.get("Authorization", ""), body):
                    fake.requests.append((method, self.path, 401))
                    return self._answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
                if self.path.startswith("/v3/billdownload/file"):  # the file itself is not signed
                    content = fake._files.get(self.path.rsplit("token=", 1)[-1], b"")
                    self.send_response(200 if content else 404)
                    self.send_header("Content-Type", "text/plain;charset=utf-8")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                    return None
                status, data = fake.route(method, self.path, json.loads(body) if body else {})
                fake.requests.append((method, self.path, status))
                self._answer(status, data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

        self._serve(Handler)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the API --------------------------------------------------------------------------------
    def signed_by_merchant(self, method: str, path: str, authorization: str, body: bytes) -> bool:
        if not authorization.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return False
        parts = dict(_AUTH.findall(authorization))
        if parts.get("mchid") != self.mchid:
            return False
        message = f"{method}\n{path}\n{parts.get('timestamp')}\n{parts.get('nonce_str')}\n".encode() + body + b"\n"
        try:
            self.merchant_public_key.verify(base64.b64decode(parts.get("signature", "")), message,
                                            padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def route(self, method: str, path: str, payload: dict) -> tuple[int, dict | None]:
        path_only = path.split("?", 1)[0]
        created = re.fullmatch(r"/v3/pay/transactions/(native|jsapi|h5)", path_only)
        if method == "POST" and created:
            kind = created.group(1)
            number = payload.get("out_trade_no", "")
            total = payload.get("amount", {}).get("total")
            if not number or not isinstance(total, int) or total <= 0:
                return 400, {"code": "PARAM_ERROR", "message": "out_trade_no / amount.total"}
            existing = self.orders.get(number)
            if existing and existing.state != "NOTPAY":
                return 400, {"code": "ORDERPAID" if existing.state == "SUCCESS" else "ORDER_CLOSED",
                             "message": "订单状态不允许"}
            self.orders[number] = FakeOrder(number, total, payload.get("notify_url", ""), kind)
            if kind == "native":
                return 200, {"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"}
            if kind == "jsapi":
                return 200, {"prepay_id": f"wx{secrets.token_hex(14)}"}
            return 200, {"h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx{number}"}
        queried = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", path_only)
        if method == "GET" and queried:
            order = self.orders.get(queried.group(1))
            if order is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            return 200, self.transaction(order)
        closed = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)/close", path_only)
        if method == "POST" and closed:
            order = self.orders.get(closed.group(1))
            if order is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            if order.state == "SUCCESS":
                return 400, {"code": "ORDERPAID", "message": "订单已支付"}
            order.state = "CLOSED"
            return 204, None
        if method == "POST" and path_only == "/v3/refund/domestic/refunds":
            order = self.orders.get(payload.get("out_trade_no", ""))
            if order is None or order.state != "SUCCESS":
                return 400, {"code": "INVALID_REQUEST", "message": "订单未支付"}
            refund = {"out_refund_no": payload["out_refund_no"], "refund_id": f"50{secrets.token_hex(8)}",
                      "status": "PROCESSING", "amount": payload["amount"],
                      "notify_url": payload.get("notify_url", "")}
            order.refunds.append(refund)
            return 200, {k: v for k, v in refund.items() if k != "notify_url"}
        refund_asked = re.fullmatch(r"/v3/refund/domestic/refunds/([^/]+)", path_only)
        if method == "GET" and refund_asked:
            for order in self.orders.values():
                for refund in order.refunds:
                    if refund["out_refund_no"] == refund_asked.group(1):
                        return 200, self.refund_resource(order, refund)
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
        if method == "GET" and path_only == "/v3/certificates":
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.x509 import load_pem_x509_certificate

            items = []
            for pem in self.platform_certs:
                cert, nonce = load_pem_x509_certificate(pem), secrets.token_hex(6)
                cipher = AESGCM(self.apiv3_key).encrypt(nonce.encode(), pem, b"certificate")
                items.append({"serial_no": format(cert.serial_number, "X"),
                              "effective_time": cert.not_valid_before_utc.isoformat(),
                              "expire_time": cert.not_valid_after_utc.isoformat(),
                              "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce": nonce,
                                                      "associated_data": "certificate",
                                                      "ciphertext": base64.b64encode(cipher).decode()}})
            return 200, {"data": items}
        if method == "GET" and path_only == "/v3/bill/tradebill":
            from urllib.parse import parse_qs, urlsplit

            day = parse_qs(urlsplit(path).query).get("bill_date", [""])[0]
            content = self.tradebill(day).encode()
            token = secrets.token_urlsafe(8)
            self._files[token] = content
            import hashlib

            return 200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(content).hexdigest(),  # noqa: S324
                         "download_url": f"{self.url}/v3/billdownload/file?token={token}"}
        return 404, {"code": "NOT_FOUND", "message": path_only}

    def tradebill(self, day: str) -> str:
        """The trade bill of ``day`` (Beijing date) in WeChat Pay's format: a header, one row per
        transaction with every field prefixed by a backtick, then the summary block."""
        header = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
                  "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
                  "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
        lines, total = [header], 0
        paid = [o for o in list(self.orders.values()) + self.bill_extra if o.state in ("SUCCESS", "REFUND")]
        for order in paid:
            at = (order.paid_at or _now()) + timedelta(hours=8)
            if f"{at:%Y-%m-%d}" != day:
                continue
            cents = self.bill_amounts.get(order.out_trade_no, order.amount_cents)
            total += cents
            amount = f"{cents // 100}.{cents % 100:02d}"
            cells = [f"{at:%Y-%m-%d %H:%M:%S}", self.appid, self.mchid, "0", "", order.transaction_id,
                     order.out_trade_no, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", order.kind.upper(), "SUCCESS", "CMC", "CNY",
                     amount, "0.00", "0", "0", "0.00", "0.00", "", "", "物业费", "", "0.00000", "0.60%", amount,
                     "0.00", ""]
            lines.append(",".join("`" + c for c in cells))
        lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        money = f"{total // 100}.{total % 100:02d}"
        lines.append(",".join("`" + c for c in [str(len(lines) - 2), money, "0.00", "0.00", "0.00000", money, "0.00"]))
        return "\r\n".join(lines) + "\r\n"

    def refund_resource(self, order: FakeOrder, refund: dict) -> dict:
        return {"mchid": self.mchid, "out_trade_no": order.out_trade_no, "transaction_id": order.transaction_id,
                "out_refund_no": refund["out_refund_no"], "refund_id": refund["refund_id"],
                "refund_status": refund["status"], "status": refund["status"],
                "success_time": (_now() + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                "amount": {"total": order.amount_cents, "refund": refund["amount"]["refund"],
                           "payer_total": order.amount_cents, "payer_refund": refund["amount"]["refund"]}}

    def confirm_refund(self, out_refund_no: str, *, deliver: int = 1, status: str = "SUCCESS",
                       refund_cents: int | None = None) -> tuple[dict, bytes]:
        """WeChat Pay finishes a refund and sends ``REFUND.<status>`` ``deliver`` times (0: lost)."""
        for order in self.orders.values():
            for refund in order.refunds:
                if refund["out_refund_no"] == out_refund_no:
                    refund["status"] = status
                    resource = self.refund_resource(order, refund)
                    if refund_cents is not None:
                        resource["amount"]["refund"] = refund_cents
                    headers, body = self.callback(f"REFUND.{status}", "refund", resource)
                    for _ in range(deliver):
                        self.post(refund["notify_url"], headers, body)
                    return headers, body
        raise KeyError(out_refund_no)

    def transaction(self, order: FakeOrder) -> dict:
        data = {"mchid": self.mchid, "appid": self.appid, "out_trade_no": order.out_trade_no,
                "trade_state": order.state, "amount": {"total": order.amount_cents, "currency": "CNY"}}
        if order.state == "SUCCESS":
            data.update(transaction_id=order.transaction_id,
                        success_time=(_now() + timedelta(hours=8)).strftime(
                            "%Y-%m-%dT%H:%M:%S+08:00"),
                        amount={"total": order.amount_cents, "payer_total": order.amount_cents, "currency": "CNY"})
        return data

    # --- what the payer and WeChat do ---------------------------------------------------------
    def pay(self, out_trade_no: str, *, deliver: int = 1) -> tuple[dict, bytes]:
        """The payer pays: the order becomes SUCCESS; its callback is sent ``deliver`` times
        (0: lost). Returns the callback's headers and body (for a test to replay)."""
        order = self.orders[out_trade_no]
        order.state, order.transaction_id, order.paid_at = "SUCCESS", f"42{secrets.token_hex(8)}", _now()
        headers, body = self.callback("TRANSACTION.SUCCESS", "transaction", self.transaction(order))
        for _ in range(deliver):
            self.post(order.notify_url, headers, body)
        return headers, body

    def callback(self, event_type: str, original_type: str, resource: dict) -> tuple[dict, bytes]:
        envelope = {"id": secrets.token_hex(8), "create_time": _now().isoformat(),
                    "event_type": event_type, "resource_type": "encrypt-resource",
                    "resource": {**encrypt_resource(self.apiv3_key, resource, original_type),
                                 "original_type": original_type}}
        body = json.dumps(envelope).encode()
        ts, nonce = str(int(_now().timestamp())), secrets.token_hex(16)
        headers = {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": self.platform_serial,
                   "Wechatpay-Signature": sign_message(self.platform_key, f"{ts}\n{nonce}\n".encode() + body + b"\n"),
                   "Content-Type": "application/json"}
        return headers, body

    @staticmethod
    def post(url: str, headers: dict, body: bytes) -> int:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - a local test URL
                return reply.status
        except urllib.error.HTTPError as exc:
            return exc.code
