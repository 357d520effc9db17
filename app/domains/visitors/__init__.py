"""Visitors (访客): resident invitations, signed expiring QR passes checked by the doors,
walk-ins approved by the host, the front desk's list. Offers the ``pass:`` credential
resolver to security's door events (``events.py``).

Offers to other domains: ``pass_for_plate`` (parking: a pass valid now for this car)."""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {"pass_for_plate": "passes"})
