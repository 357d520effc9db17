"""Repair (报修): work orders from report to rating.

Owns repair orders and their timeline, dispatch (distance, load, on-duty, decliners),
SLA settings per category, the resident and technician pages, KPIs and the repair operations
of ``bpmn/repair/``. Charges to a household go through ``fees.charge_household``.

Offers to other domains: ``create_order`` (e.g. a hydrant alarm opens a public-area order) and
``resolve_order`` (the cause went away by itself: close the unfinished order with a note),
``get_order`` (an order by number, e.g. to show its status).
"""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {"create_order": "orders", "resolve_order": "orders", "get_order": "orders"})
