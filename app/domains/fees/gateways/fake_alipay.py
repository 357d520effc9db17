"""A local stand-in for Alipay's open API, built from its public documentation: it checks our
RSA2 request signature (and in certificate mode the app / root certificate SNs), answers
precreate, wap pay, query, close and refund with answers signed by its own key, and sends signed
form notifications (on time, twice, late or never) — so the adapter is tested end to end
without Alipay, with keys the tests generate.
"""
from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timezone
from html import escape
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from app import clock
from app.domains.fees.gateways.fake_server import LocalServer
from app.domains.fees.gateways.alipay import BEIJING, amount_text, rsa2_sign, rsa2_verify, sign_content


def _beijing_now() -> str:
    return clock.now().replace(tzinfo=timezone.utc).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class FakeTrade:
    out_trade_no: str
    amount: str
    subject: str
    notify_url: str
    return_url: str = ""
    status: str = "WAIT_BUYER_PAY"
    trade_no: str = ""
    refunds: dict[str, str] = field(default_factory=dict)  # out_request_no -> amount
    scanned: bool = True
    paid_at: str = ""  # Beijing time text


class FakeAlipay(LocalServer):
    """``with FakeAlipay(...) as fake:`` serves ``fake.url`` (the ``gateway.do`` address)."""

    def __init__(self, *, app_id: str, alipay_key: RSAPrivateKey, app_public_key: RSAPublicKey,
                 alipay_cert_sn: str = "", app_cert_sn: str = "", root_cert_sn: str = "") -> None:
        self.app_id, self.alipay_key, self.app_public_key = app_id, alipay_key, app_public_key
        self.alipay_cert_sn, self.app_cert_sn, self.root_cert_sn = alipay_cert_sn, app_cert_sn, root_cert_sn
        self.trades: dict[str, FakeTrade] = {}
        self.requests: list[tuple[str, str]] = []
        self.tamper_answers = False
        self.bill_amounts: dict[str, str] = {}  # out_trade_no -> amount the account log shows instead
        self.bill_extra: list[FakeTrade] = []  # payments only the account log knows
        self._files: dict[str, bytes] = {}

    # --- life cycle -----------------------------------------------------------------------------
    def __enter__(self) -> "FakeAlipay":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str, location: str = "") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = dict(parse_qsl(body, keep_blank_values=True))
                if urlsplit(self.path).path == "/cashier/pay":  # the payer presses 确认付款
                    trade = fake.trades.get(form.get("out_trade_no", ""))
                    if trade is None:
                        return self._send(404, b"no such trade", "text/plain")
                    fake.pay(trade.out_trade_no)
                    return self._send(302, b"", "text/plain", f"{trade.return_url}?out_trade_no={trade.out_trade_no}")
                self._send(200, fake.api(form).encode(), "application/json;charset=utf-8")

            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/bill/"):
                    content = fake._files.get(self.path[len("/bill/"):], b"")
                    return self._send(200 if content else 404, content, "application/zip")
                form = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                self._send(200, fake.cashier(form).encode(), "text/html;charset=utf-8")

        self._serve(Handler)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/gateway.do"

    # --- the API -------------------------------------------------------------------------------
    def request_ok(self, form: dict[str, str]) -> str:
        """'' if our request is signed right, else Alipay's sub_code."""
        if form.get("app_id") != self.app_id:
            return "isv.invalid-app-id"
        if self.app_cert_sn and (form.get("app_cert_sn") != self.app_cert_sn
                                 or form.get("alipay_root_cert_sn") != self.root_cert_sn):
            return "isv.cert-sn-mismatch"
        if form.get("sign_type") != "RSA2" or not rsa2_verify([self.app_public_key], sign_content(form),
                                                              form.get("sign", "")):
            return "isv.invalid-signature"
        return ""

    def answer(self, method: str, data: dict) -> str:
        key = method.replace(".", "_") + "_response"
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        signature = rsa2_sign(self.alipay_key, text.encode())
        if self.tamper_answers:
            text = text.replace("WAIT_BUYER_PAY", "TRADE_SUCCESS")
        envelope = f'{{"{key}":{text},"sign":"{signature}"'
        if self.alipay_cert_sn:
            envelope += f',"alipay_cert_sn":"{self.alipay_cert_sn}"'
        return envelope + "}"

    def api(self, form: dict[str, str]) -> str:
        method = form.get("method", "")
        self.requests.append((method, form.get("biz_content", "")))
        problem = self.request_ok(form)
        if problem:
            key = method.replace(".", "_") + "_response"
            return json.dumps({key: {"code": "40002", "msg": "Invalid Arguments", "sub_code": problem,
                                     "sub_msg": "验签出错"}})
        biz = json.loads(form.get("biz_content") or "{}")
        trade = self.trades.get(biz.get("out_trade_no", ""))
        ok = {"code": "10000", "msg": "Success"}
        not_exist = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                     "sub_msg": "交易不存在"}
        if method == "alipay.data.dataservice.bill.downloadurl.query":
            token = secrets.token_urlsafe(8)
            self._files[token] = self.account_log(biz.get("bill_date", ""))
            base = self.url.rsplit("/", 1)[0]
            return self.answer(method, {**ok, "bill_download_url": f"{base}/bill/{token}"})
        if method == "alipay.trade.precreate":
            if trade is not None and trade.status != "WAIT_BUYER_PAY":
                return self.answer(method, {"code": "40004", "msg": "Business Failed",
                                            "sub_code": "ACQ.TRADE_HAS_SUCCESS", "sub_msg": "交易已被支付"})
            self.trades[biz["out_trade_no"]] = FakeTrade(biz["out_trade_no"], biz["total_amount"],
                                                         biz.get("subject", ""), form.get("notify_url", ""))
            return self.answer(method, {**ok, "out_trade_no": biz["out_trade_no"],
                                        "qr_code": f"https://qr.alipay.com/bax{secrets.token_hex(10)}"})
        if trade is None:
            return self.answer(method, not_exist)
        if method == "alipay.trade.query":
            if not trade.scanned:
                return self.answer(method, not_exist)
            return self.answer(method, {**ok, **self.trade_fields(trade)})
        if method == "alipay.trade.fastpay.refund.query":
            number = biz.get("out_request_no", "")
            if number not in trade.refunds:
                return self.answer(method, {**ok, "out_trade_no": trade.out_trade_no})
            return self.answer(method, {**ok, "out_trade_no": trade.out_trade_no, "out_request_no": number,
                                        "refund_amount": trade.refunds[number], "refund_status": "REFUND_SUCCESS"})
        if method == "alipay.trade.close":
            if trade.status != "WAIT_BUYER_PAY":
                return self.answer(method, {"code": "40004", "msg": "Business Failed",
                                            "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"})
            trade.status = "TRADE_CLOSED"
            return self.answer(method, {**ok, "out_trade_no": trade.out_trade_no})
        if method == "alipay.trade.refund":
            if trade.status != "TRADE_SUCCESS":
                return self.answer(method, {"code": "40004", "msg": "Business Failed",
                                            "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"})
            number = biz.get("out_request_no") or trade.out_trade_no
            repeated = number in trade.refunds
            trade.refunds.setdefault(number, biz["refund_amount"])
            total = sum(int(round(float(a) * 100)) for a in trade.refunds.values())
            return self.answer(method, {**ok, "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no,
                                        "fund_change": "N" if repeated else "Y",
                                        "refund_fee": amount_text(total)})
        return self.answer(method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.INVALID_METHOD"})

    def cashier(self, form: dict[str, str]) -> str:
        """``alipay.trade.wap.pay`` opened in the payer's browser: a cashier page to confirm."""
        if form.get("method") != "alipay.trade.wap.pay" or self.request_ok(form):
            return "<p id='alipay-error'>验签出错</p>"
        biz = json.loads(form["biz_content"])
        trade = self.trades.setdefault(biz["out_trade_no"], FakeTrade(
            biz["out_trade_no"], biz["total_amount"], biz.get("subject", ""), form.get("notify_url", "")))
        trade.return_url = form.get("return_url", "")
        return (f"<html><body><h1>支付宝</h1><p id='alipay-amount'>¥{escape(trade.amount)}</p>"
                f"<form method='post' action='/cashier/pay'><input type='hidden' name='out_trade_no' "
                f"value='{escape(trade.out_trade_no)}'><button id='alipay-confirm'>确认付款</button></form>"
                "</body></html>")

    def account_log(self, day: str) -> bytes:
        """The day's account log as Alipay ships it: a zip holding a GBK CSV (``#`` comment lines,
        cells padded with a tab) and its summary file."""
        header = "账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,收入金额（+元）,支出金额（-元）,账户余额（元）,交易渠道,业务类型,备注"
        lines = ["#支付宝账务明细查询", "#账号：[20881234567890120156]",
                 f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]",
                 "#-----------------------------------------账务明细列表----------------------------------------", header]
        total = 0
        for trade in list(self.trades.values()) + self.bill_extra:
            if trade.status not in ("TRADE_SUCCESS", "TRADE_FINISHED") or not trade.paid_at.startswith(day):
                continue
            amount = self.bill_amounts.get(trade.out_trade_no, trade.amount)
            total += int(round(float(amount) * 100))
            cells = [f"2026{secrets.token_hex(8)}", trade.trade_no, trade.out_trade_no, trade.subject, trade.paid_at,
                     "159****5620", amount, "0.00", "0.00", "支付宝", "在线支付", ""]
            lines.append(",".join(c + "\t" for c in cells))
        lines += ["#-----------------------------------------账务明细列表结束------------------------------------",
                  f"#收入合计：{len(lines) - 5}笔，共{amount_text(total)}元", "#支出合计：0笔，共0.00元",
                  f"#导出时间：[{_beijing_now()}]"]
        import io
        import zipfile

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr(f"20881234567890120156_{day.replace('-', '')}_账务明细.csv",
                             "\r\n".join(lines).encode("gbk"))
            archive.writestr(f"20881234567890120156_{day.replace('-', '')}_账务明细(汇总).csv",
                             "#汇总\r\n".encode("gbk"))
        return buf.getvalue()

    def trade_fields(self, trade: FakeTrade) -> dict[str, str]:
        data = {"out_trade_no": trade.out_trade_no, "trade_status": trade.status, "total_amount": trade.amount}
        if trade.trade_no:
            data.update(trade_no=trade.trade_no, buyer_logon_id="159****5620", send_pay_date=_beijing_now())
        return data

    # --- what the payer and Alipay do -----------------------------------------------------------
    def pay(self, out_trade_no: str, *, deliver: int = 1, amount: str | None = None) -> dict[str, str]:
        """The payer pays; the notification is sent ``deliver`` times (0: lost). Returns it."""
        trade = self.trades[out_trade_no]
        trade.status = "TRADE_SUCCESS"
        trade.trade_no = trade.trade_no or f"2026{secrets.token_hex(10)}"
        trade.paid_at = trade.paid_at or _beijing_now()
        form = self.notification(trade, amount=amount)
        for _ in range(deliver):
            self.post(trade.notify_url, form)
        return form

    def notification(self, trade: FakeTrade, *, amount: str | None = None) -> dict[str, str]:
        form = {"notify_time": _beijing_now(), "notify_type": "trade_status_sync",
                "notify_id": secrets.token_hex(16), "app_id": self.app_id, "charset": "utf-8", "version": "1.0",
                "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no, "trade_status": trade.status,
                "total_amount": amount or trade.amount, "receipt_amount": amount or trade.amount,
                "subject": trade.subject, "gmt_payment": _beijing_now(), "sign_type": "RSA2"}
        form["sign"] = rsa2_sign(self.alipay_key, sign_content(form, drop=("sign", "sign_type")))
        return form

    @staticmethod
    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - a local test URL
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
