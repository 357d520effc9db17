"""Parking (停车与充电): barrier gates, temporary parking, permits, EV charging.

Owns parking spaces, monthly/annual permits and the waiting list, temporary tickets with the
fee rule (``fee_rule.py``, a pure function), every plate read at a gate, the guard's plate
reviews (``bpmn/parking/plate_review.bpmn``), the driver's QR payment page, EV charging
sessions and the parking reports. Gate plate events and charger session reports arrive
through ``events.py``; gate and charger commands go out over MQTT (the devices outbox).
Money goes through fees: a ticket's payment order through ``fees.receive_order_notification``
(an order that belongs to the ticket, not to a household), permits and charging through
``fees.charge_household``; a broken charger opens a ``repair.create_order``.

Offers to other domains: ``permit_for_plate`` (is this plate a permit holder now?).
"""
from app.platform.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "permit_for_plate": "permits",
})
