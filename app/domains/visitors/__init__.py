"""Visitors (访客): resident invitations, signed expiring QR passes checked by the doors,
walk-ins approved by the host, the front desk's list. Offers the ``pass:`` credential
resolver to security's door events (``events.py``)."""
