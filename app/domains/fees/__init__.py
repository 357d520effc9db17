"""Fees (收费): from fee items to the receipt.

Owns declarative fee items and formulas, the billing run (preview, issue, idempotent),
late fees, the double-entry ledger, money in integer cents, payments and gateways, PDF
receipts, charges put on a bill by other modules, and the fee reports.

Offers to other domains: ``Bill`` (read a household's bills), ``yuan`` (format cents),
``charge_household`` (put a one-off charge on the household's bill), ``add_period_charges``
(charges of a period another module computed, billed by the next billing run).
"""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "Bill": "models",
    "yuan": "money",
    "charge_household": "charges",
    "add_period_charges": "period_charges",
})
