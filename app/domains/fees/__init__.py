"""Fees (收费): from fee items to the receipt.

Owns declarative fee items and formulas, the billing run (preview, issue, idempotent),
late fees, the double-entry ledger, money in integer cents, payments and gateways, PDF
receipts, charges put on a bill by other modules, and the fee reports.

Offers to other domains: ``Bill`` (read a household's bills), ``yuan`` (format cents), ``parse_yuan``/``BadAmount`` (read 元),
``charge_household`` (put a one-off charge on the household's bill), ``add_period_charges``
(charges of a period another module computed, billed by the next billing run), ``apply_prepaid`` (pay
bills from the prepaid balance), and for orders that belong to something other than a
household (a parking ticket): ``OrderToPay``, ``new_order_number``, ``start_order_payment``,
``receive_order_notification``, ``gateway_reply``, ``default_gateway`` (``order_payments.py``).
"""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "Bill": "models",
    "yuan": "money",
    "parse_yuan": "money",
    "BadAmount": "money",
    "charge_household": "charges",
    "add_period_charges": "period_charges",
    "apply_prepaid": "payments",
    "OrderToPay": "order_payments",
    "new_order_number": "order_payments",
    "start_order_payment": "order_payments",
    "receive_order_notification": "order_payments",
    "gateway_reply": "order_payments",
    "default_gateway": "order_payments",
})
