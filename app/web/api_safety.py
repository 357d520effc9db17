"""``@safe`` for our JSON APIs: FAB's behaviour (a JSON 400/500 instead of an HTML error page),
except that a busy database is not a "Fatal error" 500 but reaches the app's busy handler
(``app.db.install_busy_handler``): 503 "busy, try again" with ``Retry-After``, like every page.

FAB's own ``@safe`` catches every exception before Flask's error handlers see it, which is how the
process upload API answered 500 four times in a row while four people used the demo.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask_appbuilder.api import get_error_msg
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import BadRequest

from app.db import is_locked_error

log = logging.getLogger("estateflow.api")


def safe(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wraps(self, *args: Any, **kwargs: Any):
        try:
            return f(self, *args, **kwargs)
        except BadRequest as exc:
            return self.response_400(message=str(exc))
        except DBAPIError as exc:
            if is_locked_error(exc):
                raise  # the busy handler answers 503
            log.exception(exc)
            return self.response_500(message=get_error_msg())
        except Exception as exc:  # noqa: BLE001 - FAB's contract: JSON, never an HTML 500 page
            log.exception(exc)
            return self.response_500(message=get_error_msg())

    return wraps
