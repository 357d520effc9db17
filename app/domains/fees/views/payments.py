"""Paying bills: residents on a phone, the sandbox cashier, gateway callbacks, accountants,
and the public receipt check. Views parse the request and render; the rules live in
``app.domains.fees.payments`` / ``receipts`` / ``ledger``."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Community, Household
from app.domains.estate.residents import require_household
from app.domains.fees import explain
from app.domains.fees import payments as pay
from app.domains.fees import receipts as rc
from app.domains.fees.gateways import GatewayError, get_gateway
from app.domains.fees.gateways.sandbox import SandboxBank
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.ledger import household_balance
from app.domains.fees.models import Bill, Payment, PaymentOrder, Receipt, Refund
from app.domains.fees.money import BadAmount, parse_yuan, yuan
from app.security.scope import require_community, visible_community_ids
from app.web.locale import current_locale as _locale

GRANTS = {
    "Resident": [["^(ResidentBillsView)$", ".*"]],
    "Accountant": [["^(AccountantPaymentsView)$", ".*"]],
    "Manager": [["^(AccountantPaymentsView)$", "^can_(index|household|receipt|statements)$"]],
    "Regulator": [["^(AccountantPaymentsView)$", "^can_(index|household|receipt|statements)$"]],
}


def _owed_badge(session, household: Household) -> str | None:
    """The resident home's 缴费 badge: what the household still owes."""
    owed = household_balance(session, household.id).outstanding_cents
    return f"¥{yuan(owed)}" if owed > 0 else None


RESIDENT_TILES = [{"module": "fees", "endpoint": "ResidentBillsView.index",
                   "label": {"zh": "缴费", "en": "Pay bills"}, "icon": "fa-credit-card", "badge": _owed_badge}]



def _base_url() -> str:
    from app.security.http import public_base_url  # configured, never the request's Host

    return public_base_url()


def _receipt_pdf(receipt: Receipt) -> Response:
    verify_url = f"{_base_url()}{url_for('ReceiptVerifyView.verify', code=receipt.verification_code)}"
    pdf = rc.receipt_pdf(db.session, receipt, verify_url=verify_url)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{receipt.number}.pdf"'})


# --- residents --------------------------------------------------------------------------------------
class ResidentBillsView(BaseView):
    """My bills on a phone: what is owed and why, pay, result, receipts."""

    route_base = "/me/bills"
    default_view = "index"

    def _household(self) -> Household:
        household = require_household(db.session, current_user.id)
        if household is None:
            abort(404)
        return household

    def _own_order(self, out_trade_no: str) -> PaymentOrder:
        household = self._household()
        order = db.session.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no))
        if order is None or order.household_id != household.id:
            abort(404)
        return order

    @expose("/")
    @has_access
    def index(self):
        household = self._household()
        bills = list(db.session.scalars(select(Bill).where(Bill.household_id == household.id,
                                                           Bill.status != "cancelled")
                                        .order_by(Bill.due_date.desc(), Bill.id.desc())))
        unpaid = [b for b in bills if b.status in pay.PAYABLE]
        receipts = list(db.session.scalars(select(Receipt).where(Receipt.household_id == household.id)
                                           .order_by(Receipt.id.desc()).limit(20)))
        return self.render_template("payments/my_bills.html", household=household, unpaid=unpaid,
                                    paid=[b for b in bills if b not in unpaid], receipts=receipts,
                                    balance=household_balance(db.session, household.id), yuan=yuan)

    @expose("/<int:bill_id>")
    @has_access
    def bill(self, bill_id: int):
        household = self._household()
        bill = db.session.get(Bill, bill_id)
        if bill is None or bill.household_id != household.id:
            abort(404)
        labels = explain.item_labels(household.community.code)
        words = [explain.line_words(line, _locale(), labels) for line in bill.lines]
        return self.render_template("payments/bill.html", bill=bill, household=household, yuan=yuan,
                                    lines=list(zip(bill.lines, words)))

    @expose("/pay", methods=["POST"])
    @has_access
    def pay(self):
        household = self._household()
        bill_ids = [int(b) for b in request.form.getlist("bill_id") if b.isdigit()]
        gateway_name = get_payment_settings().gateway
        try:
            order = pay.create_order(db.session, household_id=household.id, bill_ids=bill_ids,
                                     gateway=gateway_name, actor=current_user.username)
            notify_url = f"{_base_url()}{url_for('GatewayNotifyView.notify', gateway=gateway_name)}"
            return_url = f"{_base_url()}{url_for('ResidentBillsView.result', out_trade_no=order.out_trade_no)}"
            checkout = get_gateway(gateway_name).checkout(order, notify_url=notify_url, return_url=return_url,
                                                          openid=_openid(gateway_name))
        except pay.PaymentError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
            return redirect(url_for("ResidentBillsView.index"))
        except GatewayError as exc:
            db.session.rollback()
            flash(_("The payment service is not available right now: %(error)s", error=str(exc)), "danger")
            return redirect(url_for("ResidentBillsView.index"))
        db.session.commit()
        if checkout.kind == "redirect":
            return redirect(checkout.url)
        return self.render_template("payments/checkout.html", order=order, checkout=checkout, yuan=yuan,
                                    gateway=gateway_name, qr=qr_data_uri(checkout.url) if checkout.kind == "qr" else "")

    @expose("/status/<out_trade_no>")
    @has_access
    def status(self, out_trade_no: str):
        """What the checkout page polls while the payer pays on WeChat / Alipay."""
        return {"status": self._own_order(out_trade_no).status}

    @expose("/result/<out_trade_no>", methods=["GET", "POST"])
    @has_access
    def result(self, out_trade_no: str):
        order = self._own_order(out_trade_no)
        if request.method == "POST":  # cancelling changes state: POST (CSRF-checked), never a GET
            if request.args.get("cancelled") and order.status == "created":
                pay.cancel_order(db.session, order, current_user.username)
                db.session.commit()
            return redirect(url_for("ResidentBillsView.result", out_trade_no=out_trade_no), code=303)
        receipt = None
        if order.payment_id:
            receipt = db.session.scalar(select(Receipt).where(Receipt.payment_id == order.payment_id))
        bills = list(db.session.scalars(select(Bill).where(Bill.id.in_(order.bill_ids or []))))
        return self.render_template("payments/result.html", order=order, receipt=receipt, bills=bills, yuan=yuan)

    def _own_receipt(self, number: str) -> Receipt:
        household = self._household()
        receipt = db.session.scalar(select(Receipt).where(Receipt.number == number))
        if receipt is None or receipt.household_id != household.id:
            abort(404)
        return receipt

    @expose("/receipts/<number>")
    @has_access
    def receipt_page(self, number: str):
        """The receipt as a page (WeChat's in-app browser does not download PDFs), with 大写金额,
        the payee and a link to save it as a PDF."""
        receipt = self._own_receipt(number)
        verify_url = f"{_base_url()}{url_for('ReceiptVerifyView.verify', code=receipt.verification_code)}"
        return self.render_template("payments/receipt.html", verify_url=verify_url, yuan=yuan,
                                    **rc.receipt_facts(db.session, receipt, _locale()))

    @expose("/receipt/<number>.pdf")
    @has_access
    def receipt(self, number: str):
        return _receipt_pdf(self._own_receipt(number))


def _openid(gateway_name: str) -> str | None:
    """The resident's bound WeChat openid in the app WeChat Pay charges for (JSAPI needs it);
    None (not bound, or another gateway): a Native QR code instead."""
    if gateway_name != "wechatpay":
        return None
    from app.security.wechat_identity import openid_for

    appid = getattr(get_gateway(gateway_name), "appid", "") or get_payment_settings().wechatpay_appid
    return openid_for(db.session, current_user.id, appid) if appid else None


def qr_data_uri(text: str) -> str:
    """A QR code as an inline PNG (the page's CSP allows ``data:`` images)."""
    import base64
    import io

    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=3)
    code.add_data(text)
    code.make(fit=True)
    buf = io.BytesIO()
    code.make_image().save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class PaymentQrView(BaseView):
    """A payment QR code for a payer not logged in here (a driver at the exit gate); public: the
    signed token is the only way to make it show a code."""

    route_base = "/pay/qr"

    @expose("/<token>")
    def show(self, token: str):
        from app.domains.fees.order_payments import read_qr_token

        data = read_qr_token(token)
        if data is None:
            abort(404)
        return self.render_template("payments/qr.html", qr=qr_data_uri(data["u"]), back=data["r"],
                                    amount=yuan(int(data["a"])), subject=data.get("s", ""), gateway=data.get("g", ""))


# --- the sandbox bank's cashier page (public: it belongs to the pretend bank) -------------------------
class SandboxCashierView(BaseView):
    route_base = "/sandbox-pay"

    @expose("/<out_trade_no>")
    def cashier(self, out_trade_no: str):
        try:
            order = SandboxBank().read_token(out_trade_no, request.args.get("t", ""))
        except GatewayError:
            abort(404)
        return self.render_template("payments/sandbox_cashier.html", out_trade_no=out_trade_no,
                                    token=request.args.get("t", ""), amount=yuan(order["a"]),
                                    subject=order.get("s", ""))

    @expose("/<out_trade_no>/pay", methods=["POST"])
    def pay(self, out_trade_no: str):
        try:
            _, back = SandboxBank().pay(out_trade_no, request.form.get("t", ""))
        except GatewayError:
            abort(404)
        return redirect(back)

    @expose("/<out_trade_no>/cancel", methods=["POST"])
    def cancel(self, out_trade_no: str):
        try:
            back = SandboxBank().cancel(out_trade_no, request.form.get("t", ""))
        except GatewayError:
            abort(404)
        return redirect(back, code=307)  # 307: the browser POSTs the form (CSRF token) on to the result


# --- gateway callbacks (CSRF-exempt: authenticated by the gateway's signature) -----------------------
class GatewayNotifyView(BaseView):
    route_base = "/pay/notify"

    @expose("/<gateway>", methods=["POST"])
    def notify(self, gateway: str):
        try:
            handler = get_gateway(gateway)
        except GatewayError:
            abort(404)
        body = request.get_data(cache=False)
        try:
            outcome = pay.handle_notification(db.session, gateway, dict(request.headers), body,
                                              remote_addr=request.remote_addr)
            db.session.commit()
        except Exception:
            db.session.rollback()
            current_app.logger.exception("payment notification failed")
            reply = handler.reply(False, "internal error")
            return Response(reply.body, status=500, mimetype=reply.content_type)
        reply = handler.reply(outcome.ok, outcome.reason)
        status = handler.signature_status if not outcome.ok and outcome.reason.startswith("signature") \
            else reply.status
        return Response(reply.body, status=status, mimetype=reply.content_type)


# --- public receipt check ------------------------------------------------------------------------------
class ReceiptVerifyView(BaseView):
    route_base = "/receipts"

    @expose("/verify")
    def verify(self):
        code = request.args.get("code", "").strip()
        receipt = rc.verify(db.session, code) if code else None
        household = db.session.get(Household, receipt.household_id) if receipt else None
        masked = f"{household.code[:-3]}***" if household else ""
        return self.render_template("payments/verify.html", code=code, receipt=receipt, masked=masked, yuan=yuan,
                                    community=receipt and db.session.get(
                                        Community,
                                        receipt.community_id))


# --- accountants --------------------------------------------------------------------------------------
class AccountantPaymentsView(BaseView):
    """Find a household, record cash or a bank transfer, refund, see balances and receipts."""

    route_base = "/payments"
    default_view = "index"

    def _household(self, household_id: int) -> Household:
        household = db.session.get(Household, household_id)
        if household is None:
            abort(404)
        require_community(household.community_id)
        return household

    @expose("/")
    @has_access
    def index(self):
        q = request.args.get("q", "").strip()
        households = []
        if q:
            households = list(db.session.scalars(select(Household).where(
                Household.community_id.in_(visible_community_ids()),
                (Household.code.contains(q)) | (Household.head_name.contains(q))).order_by(Household.code).limit(30)))
        recent = list(db.session.scalars(select(Payment).where(
            Payment.community_id.in_(visible_community_ids())).order_by(Payment.id.desc()).limit(20)))
        return self.render_template("payments/accountant_index.html", q=q, households=households, recent=recent,
                                    yuan=yuan, Household=Household)

    @expose("/household/<int:household_id>")
    @has_access
    def household(self, household_id: int):
        household = self._household(household_id)
        bills = list(db.session.scalars(select(Bill).where(Bill.household_id == household.id)
                                        .order_by(Bill.due_date.desc(), Bill.id.desc())))
        payments_ = list(db.session.scalars(select(Payment).where(Payment.household_id == household.id)
                                            .order_by(Payment.id.desc())))
        receipts = {r.payment_id: r for r in db.session.scalars(
            select(Receipt).where(Receipt.household_id == household.id))}
        refunds = list(db.session.scalars(select(Refund).where(Refund.household_id == household.id)
                                          .order_by(Refund.id.desc())))
        return self.render_template("payments/accountant_household.html", household=household, bills=bills,
                                    payments=payments_, receipts=receipts, refunds=refunds,
                                    balance=household_balance(db.session, household.id), yuan=yuan,
                                    payable=pay.PAYABLE, refundable=pay.refundable_cents)

    @expose("/household/<int:household_id>/record", methods=["POST"])
    @has_access
    def record(self, household_id: int):
        household = self._household(household_id)
        try:
            cents = parse_yuan(request.form.get("amount", ""))
            pay.record_offline_payment(
                db.session, household_id=household.id,
                bill_ids=[int(b) for b in request.form.getlist("bill_id") if b.isdigit()],
                amount_cents=cents, method=request.form.get("method", "cash"), actor=current_user.username,
                reference=request.form.get("reference"), note=request.form.get("note"),
                excess_to_prepaid=request.form.get("excess_to_prepaid") == "y")
        except BadAmount:
            db.session.rollback()
            flash(pay.PaymentError("amount_invalid").message(_locale()), "danger")
        except pay.PaymentError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        else:
            db.session.commit()
            flash(_("Payment of ¥%(amount)s recorded.", amount=yuan(cents)), "success")
        return redirect(url_for("AccountantPaymentsView.household", household_id=household.id))

    @expose("/payment/<int:payment_id>/refund", methods=["POST"])
    @has_access
    def refund(self, payment_id: int):
        payment = db.session.get(Payment, payment_id)
        if payment is None:
            abort(404)
        household = self._household(payment.household_id)
        try:
            cents = parse_yuan(request.form.get("amount", ""))
            if pay.is_online(payment):  # books move when the gateway confirms
                row = pay.request_refund(db.session, payment_id=payment.id, amount_cents=cents,
                                             reason=request.form.get("reason", ""), actor=current_user.username)
            else:
                row = pay.refund(db.session, payment_id=payment.id, amount_cents=cents,
                                 reason=request.form.get("reason", ""), actor=current_user.username)
        except BadAmount:
            db.session.rollback()
            flash(pay.PaymentError("amount_invalid").message(_locale()), "danger")
        except pay.PaymentError as exc:
            db.session.rollback()
            flash(exc.message(_locale()), "danger")
        else:
            db.session.commit()
            if row.status == "pending":
                flash(_("Refund of ¥%(amount)s sent to the payment service; the books change when it confirms.",
                        amount=yuan(cents)), "info")
            elif row.status == "failed":
                flash(_("The payment service refused the refund of ¥%(amount)s; nothing was refunded.",
                        amount=yuan(cents)), "danger")
            else:
                flash(_("Refund of ¥%(amount)s recorded.", amount=yuan(cents)), "success")
        return redirect(url_for("AccountantPaymentsView.household", household_id=household.id))

    @expose("/statements")
    @has_access
    def statements(self):
        """The gateways' daily bill files against our books: the days read and what differs
        (differences of other communities hidden; those no order places in a community shown)."""
        from app.domains.fees.models import StatementDifference, StatementRun

        runs = list(db.session.scalars(select(StatementRun).order_by(StatementRun.bill_date.desc(),
                                                                     StatementRun.gateway).limit(30)))
        visible = visible_community_ids()
        differences = list(db.session.scalars(select(StatementDifference).where(
            StatementDifference.run_id.in_([r.id for r in runs] or [0]),
            StatementDifference.community_id.in_(visible) | StatementDifference.community_id.is_(None))
            .order_by(StatementDifference.run_id.desc(), StatementDifference.id)))
        by_run: dict[int, list] = {}
        for difference in differences:
            by_run.setdefault(difference.run_id, []).append(difference)
        return self.render_template("payments/statements.html", runs=runs, by_run=by_run, yuan=yuan)

    @expose("/receipt/<number>.pdf")
    @has_access
    def receipt(self, number: str):
        receipt = db.session.scalar(select(Receipt).where(Receipt.number == number))
        if receipt is None:
            abort(404)
        require_community(receipt.community_id)
        return _receipt_pdf(receipt)


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ResidentBillsView())
    appbuilder.add_view_no_menu(SandboxCashierView())
    appbuilder.add_view_no_menu(PaymentQrView())
    notify_view = GatewayNotifyView()
    appbuilder.add_view_no_menu(notify_view)
    appbuilder.add_view_no_menu(ReceiptVerifyView())
    appbuilder.add_view(AccountantPaymentsView, "payments", label=_l("Payments"), icon="fa-money",
                        category="Fees", category_label=_l("Fees"))
    from flask import current_app

    csrf = current_app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(GatewayNotifyView.notify)
