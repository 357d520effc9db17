"""``/api/v1/me/bills``: a resident's bills and paying them from a mini-program.

Paying creates the order through ``app.domains.fees.payments.create_order`` (the amount is ours,
never the caller's) and hands back what the client needs to pay at the gateway: WeChat Pay JSAPI
parameters for ``wx.requestPayment`` when the gateway has JSAPI and an ``openid`` is sent, else the
cashier URL to open (sandbox, H5). The gateway's signed callback settles it, as for the pages.
"""
from __future__ import annotations

from flask import url_for
from flask_appbuilder.api import expose, protect
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Household
from app.domains.estate.residents import require_household
from app.domains.fees import payments as pay
from app.domains.fees.gateways import GatewayError, get_gateway
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.ledger import household_balance
from app.domains.fees.models import Bill, PaymentOrder
from app.web.api import ApiBase, ApiError, PageArgs, actor, api_safe, doc, load_args, load_json, not_found, \
    page_schema, paged
from app.web.locale import current_locale

GRANTS = {"Resident": [["^(ResidentBillsApi)$", ".*"]]}


class BillSchema(Schema):
    id = fields.Int(required=True)
    number = fields.Str(required=True)
    period = fields.Str(required=True)
    kind = fields.Str(required=True)
    status = fields.Str(required=True)
    amount_cents = fields.Int(required=True)
    paid_cents = fields.Int(required=True)
    outstanding_cents = fields.Int(required=True)
    due_date = fields.Date(required=True)
    lines = fields.List(fields.Dict())


class BillArgs(PageArgs):
    status = fields.Str(validate=validate.OneOf(["open", "partially_paid", "paid", "unpaid"]),
                        metadata={"description": "`unpaid`: open or partially paid"})


class BillsPage(page_schema(BillSchema, "BillList")):
    household_id = fields.Int()
    outstanding_cents = fields.Int()


class PaySchema(Schema):
    bill_ids = fields.List(fields.Int(validate=validate.Range(min=1, max=2**63 - 1)), required=True,
                           validate=validate.Length(min=1, max=50))
    openid = fields.Str(validate=validate.Length(min=1, max=128),
                        metadata={"description": "the payer's WeChat openid (JSAPI in a mini-program)"})


class OrderSchema(Schema):
    out_trade_no = fields.Str(required=True)
    gateway = fields.Str(required=True)
    amount_cents = fields.Int(required=True)
    status = fields.Str(required=True)
    bill_ids = fields.List(fields.Int())
    pay = fields.Dict(metadata={"description": "`{kind: jsapi, params}` for wx.requestPayment, "
                                               "or `{kind: redirect, url}` to open"})


def _household() -> Household:
    household = require_household(db.session, current_user.id)
    if household is None:
        raise not_found()
    return household


def _bill_json(bill: Bill) -> dict:
    return {"id": bill.id, "number": bill.number, "period": bill.period, "kind": bill.kind, "status": bill.status,
            "amount_cents": bill.amount_cents, "paid_cents": bill.paid_cents,
            "outstanding_cents": bill.outstanding_cents, "due_date": bill.due_date.isoformat(),
            "lines": [{"item": line.item, "kind": line.kind, "description": line.description,
                       "quantity": str(line.quantity), "unit_price": str(line.unit_price),
                       "amount_cents": line.amount_cents} for line in bill.lines]}


def _order_json(order: PaymentOrder, how: dict | None = None) -> dict:
    out = {"out_trade_no": order.out_trade_no, "gateway": order.gateway, "amount_cents": order.amount_cents,
           "status": order.status, "bill_ids": list(order.bill_ids or [])}
    if how is not None:
        out["pay"] = how
    return out


class ResidentBillsApi(ApiBase):
    route_base = "/api/v1/me/bills"
    method_permission_name = {"list_bills": "get", "pay": "pay", "order": "get"}

    @expose("/", methods=["GET"])
    @protect()
    @api_safe
    @doc("My household's bills", tags=["Resident"], query=BillArgs, response=BillsPage, etag=True,
         errors=(400, 401, 403, 404))
    def list_bills(self):
        args = load_args(BillArgs())
        household = _household()
        query = select(Bill).where(Bill.household_id == household.id, Bill.status != "cancelled")
        status = args.get("status")
        if status == "unpaid":
            query = query.where(Bill.status.in_(pay.PAYABLE))
        elif status:
            query = query.where(Bill.status == status)
        page = paged(query.order_by(Bill.due_date.desc(), Bill.id.desc()), db.session, args, _bill_json)
        page.update(household_id=household.id,
                    outstanding_cents=household_balance(db.session, household.id).outstanding_cents)
        return self.ok(page, etag=True)

    @expose("/pay", methods=["POST"])
    @protect()
    @api_safe
    @doc("Pay bills: an order and the gateway parameters", tags=["Resident"], body=PaySchema,
         response=OrderSchema, status=201, errors=(400, 401, 403, 404, 422, 502))
    def pay(self):
        body = load_json(PaySchema())
        household = _household()
        gateway_name = get_payment_settings().gateway
        try:
            order = pay.create_order(db.session, household_id=household.id, bill_ids=body["bill_ids"],
                                     gateway=gateway_name, actor=actor())
        except pay.PaymentError as exc:
            msg = exc.message(current_locale())
            raise ApiError(422, msg, {"bill_ids": [msg]}) from exc
        from app.security.http import public_base_url

        base = public_base_url()
        notify_url = f"{base}{url_for('GatewayNotifyView.notify', gateway=gateway_name)}"
        return_url = f"{base}{url_for('ResidentBillsView.result', out_trade_no=order.out_trade_no)}"
        gateway = get_gateway(gateway_name)
        try:
            if body.get("openid") and hasattr(gateway, "jsapi"):
                how = {"kind": "jsapi", "params": gateway.jsapi(order, notify_url=notify_url, openid=body["openid"])}
            else:
                how = {"kind": "redirect", "url": gateway.start(order, notify_url=notify_url, return_url=return_url)}
        except GatewayError as exc:
            raise ApiError(502, _("The payment service is not available right now: %(error)s", error=str(exc))) from exc
        db.session.commit()
        return self.ok(_order_json(order, how), status=201)

    @expose("/orders/<out_trade_no>", methods=["GET"])
    @protect()
    @api_safe
    @doc("One of my payment orders (poll it after paying)", tags=["Resident"], response=OrderSchema,
         errors=(401, 403, 404))
    def order(self, out_trade_no: str):
        household = _household()
        order = db.session.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no[:40]))
        if order is None or order.household_id != household.id:
            raise not_found()
        return self.ok(_order_json(order))


def register(appbuilder) -> None:
    appbuilder.add_api(ResidentBillsApi)
