"""Values looked up once per transaction of a session, not once per event.

The event inbox handles a batch of device events in one transaction; each event of the batch
asks the same questions (which device is this, is the module on here, what are its settings).
A cache that lives exactly as long as the transaction needs no invalidation: the next
transaction (the next batch, the next request) asks again.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy.orm import Session, scoped_session

T = TypeVar("T")
_KEY = "estateflow.tx_cache"


def per_transaction(session: Session, key: Hashable, compute: Callable[[], T], *, keep_none: bool = True) -> T:
    """``compute()`` once per transaction of ``session`` for ``key`` (``keep_none=False``: a
    None answer is asked again, e.g. a device that may be registered later in the transaction)."""
    if isinstance(session, scoped_session):  # the web app's ``db.session``
        session = session()
    tx = session.get_transaction()
    if tx is None:
        return compute()
    owner, values = session.info.get(_KEY, (None, None))
    if owner is not tx:
        values = {}
        session.info[_KEY] = (tx, values)
    if key in values:
        return values[key]
    value = compute()
    if value is not None or keep_none:
        values[key] = value
    return value
