"""Energy (能耗与公摊): meter readings at scale, leak and anomaly detection, 公摊
apportionment and the public revenue (公共收益) ledger with its monthly disclosure.

Owns energy meters (the energy role of a metering point: household, public, master,
lighting), billable and flagged readings (``energy_reading`` is partitioned by month on
PostgreSQL), monthly usage per meter, findings (each opens one inspection work order through
``repair.create_order`` when repair is enabled, else a manager task of ``bpmn/energy/``),
apportionments (largest-remainder shares, put on the bill as charges of the fee item
``shared_energy`` through ``fees.add_period_charges``) and the public revenue ledger.

Offers to other domains: ``post_public_revenue`` (e.g. parking posts its income),
``monthly_usage`` (a community's derived consumption per unit and month), ``billing_usage``
(what fees' tiered water bills when energy is enabled: the derived month per unit), ``public_energy_by_month`` (the dashboard's KPI).
"""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "post_public_revenue": "revenue",
    "monthly_usage": "monthly",
    "billing_usage": "monthly",
    "public_energy_by_month": "kpis",
})
