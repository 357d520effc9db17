"""The flows' logger: Prefect's run logger inside a flow run, the standard logger when the
worker's scheduler calls a flow's function directly (no flow run, no Prefect context)."""
from __future__ import annotations

import logging


def run_logger():
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("workflows")
