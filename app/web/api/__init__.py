"""JSON API v1: the base every API class builds on (platform and domains alike).

* One error body everywhere: ``{"message": "...", "errors": {"field": ["..."]}}`` (``errors``
  only when a field is at fault; ``_form`` for the request as a whole).
* ``@doc(...)`` records what a route takes and answers; ``app.web.api.openapi`` turns that into
  the OpenAPI 3 document at ``/api/v1/openapi.json`` (no YAML in docstrings to drift).
* Pagination (``page``, ``page_size``), ETags (``If-None-Match`` → 304) on lists that phones
  poll, per-caller rate limits (a fixed window per token / session / address, in each process:
  Flask-Limiter cost ~1.7 ms of CPU per request here, more than a whole engine step).
* Auth: FAB's ``@protect()`` — a JWT (``Authorization: Bearer``, from ``/api/v1/security/login``)
  or the browser session (then writes need the ``X-CSRFToken`` header, ``app.security.http``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_appbuilder.api import BaseApi
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from app.web.api_safety import safe as _safe

#: default per-caller limit; ``ESTATEFLOW_API_RATE_LIMIT`` in the Flask config overrides it
DEFAULT_RATE_LIMIT = "600 per minute"
#: the same limit from the environment (``estateflow stack`` hands it to nginx too, which counts it
#: across every gunicorn process; the in-process count below is each process's own backstop)
_ENV_LIMIT = __import__("os").environ.get("ESTATEFLOW_API_RATE_LIMIT")
MAX_PAGE_SIZE = 100


def FIELDS_MESSAGE() -> str:  # noqa: N802 - one text for every 422
    return _("Some fields need attention")


# --- error bodies ---------------------------------------------------------------------------------
class ErrorSchema(Schema):
    message = fields.Str(required=True, metadata={"description": "what went wrong, for people"})
    errors = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()),
                         metadata={"description": "per field; `_form` for the request as a whole"})


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, dict):
        return [m for v in messages.values() for m in _flat(v)]
    if isinstance(messages, (list, tuple)):
        return [m for v in messages for m in _flat(v)]
    return [str(messages)]


def field_errors(messages: Any) -> dict[str, list[str]]:
    """marshmallow's nested messages → ``{field: [text, ...]}`` (one level, strings only)."""
    if not isinstance(messages, dict):
        return {"_form": _flat(messages)}
    return {str(k): _flat(v) for k, v in messages.items()}


class ApiError(Exception):
    """Raised inside a route: answered as the common error body."""

    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def not_found() -> ApiError:
    return ApiError(404, _("Not found"))


def community_scope(args: dict) -> list[int]:
    """The caller's communities, or the one ``community_id`` asks for (404 if not theirs)."""
    from app.security.scope import visible_community_ids

    ids = visible_community_ids()
    wanted = args.get("community_id")
    if wanted is None:
        return ids
    if wanted not in ids:
        raise not_found()
    return [wanted]


# --- rate limits ----------------------------------------------------------------------------------
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(second|minute|hour)\s*$")
_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


class RateLimiter:
    """Fixed windows per caller, kept in this process (each gunicorn worker counts its own; the
    stack's nginx ``limit_req`` is the limit shared by all of them, see ``app.stack``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self._parsed: dict[str, tuple[int, int]] = {}

    def _limit(self, text: str) -> tuple[int, int]:
        if text not in self._parsed:
            m = _LIMIT.match(text)
            if m is None:
                raise ValueError(f"rate limit {text!r}: write like '600 per minute'")
            self._parsed[text] = (int(m.group(1)), _SECONDS[m.group(2)])
        return self._parsed[text]

    def hit(self, key: str, text: str) -> int | None:
        """Count a request; the seconds to wait when over the limit, else None."""
        allowed, seconds = self._limit(text)
        now = int(time.time())
        window = now - now % seconds
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                start, count = window, 0
                if len(self._windows) > 100_000:
                    self._windows.clear()
            count += 1
            self._windows[key] = (start, count)
        if count <= allowed:
            return None
        return max(1, start + seconds - now)


limiter = RateLimiter()


def caller_key() -> str:
    """Who is asking, before authentication: the bearer token, the session, or the address."""
    auth = request.headers.get("Authorization", "")
    if auth:
        return "t:" + hashlib.sha256(auth.encode()).hexdigest()[:24]
    cookie = request.cookies.get(current_app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie:
        return "s:" + hashlib.sha256(cookie.encode()).hexdigest()[:24]
    return "a:" + (request.remote_addr or "?")


def check_rate_limit() -> Any:
    """``before_request`` of every API v1 blueprint: 429 in the common shape when over."""
    from flask import jsonify

    wait = limiter.hit(caller_key(), current_app.config.get("ESTATEFLOW_API_RATE_LIMIT") or _ENV_LIMIT or DEFAULT_RATE_LIMIT)
    if wait is None:
        return None
    response = jsonify(message=_("Too many requests: slow down and try again shortly."))
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


# --- the base class -------------------------------------------------------------------------------
class ApiBase(BaseApi):
    """FAB's BaseApi with our error body, pagination, ETags and rate limits."""

    allow_browser_login = True

    def create_blueprint(self, appbuilder, *args: Any, **kwargs: Any):  # noqa: D102
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.before_request(check_rate_limit)
        return blueprint

    def fail(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        body: dict[str, Any] = {"message": message}
        if errors:
            body["errors"] = errors
        return self.response(status, **body)

    # FAB's own helpers answer ``{"message": ...}`` already; 400 may carry a dict: normalise it
    def response_400(self, message: Any = None):  # noqa: D102
        if isinstance(message, dict):
            return self.fail(400, _("Invalid request"), field_errors(message))
        return self.fail(400, str(message or "Bad request"))

    def ok(self, payload: Any, status: int = 200, etag: bool = False):
        """JSON answer; ``etag``: a strong ETag of the body, 304 when the caller has it."""
        body = json.dumps(payload, ensure_ascii=False, default=str, sort_keys=True)
        response = current_app.response_class(body, status=status, mimetype="application/json")
        if etag:
            tag = hashlib.sha256(body.encode()).hexdigest()[:32]
            response.set_etag(tag)
            response.headers["Cache-Control"] = "private, no-cache"
            if request.if_none_match.contains(tag):
                response = current_app.response_class(status=304)
                response.set_etag(tag)
        return response


def load_args(schema: Schema) -> dict:
    """The query string through ``schema``: per-field errors as 400."""
    try:
        return schema.load(request.args, unknown=EXCLUDE)
    except ValidationError as err:
        raise ApiError(400, _("Invalid query parameters"), field_errors(err.messages)) from err


def load_json(schema: Schema) -> dict:
    """The JSON body through ``schema``: not an object → 400, per-field errors → 422."""
    payload = request.get_json(silent=True)
    if payload is None and not request.data:
        payload = {}
    if not isinstance(payload, dict):
        raise ApiError(400, _("Send a JSON object (Content-Type: application/json)"))
    try:
        return schema.load(payload)
    except ValidationError as err:
        raise ApiError(422, FIELDS_MESSAGE(), field_errors(err.messages)) from err


def form_submission() -> tuple[MultiDict, MultiDict | None]:
    """A form's fields from a JSON object or a multipart / urlencoded post (files only then),
    as the MultiDicts ``parse_submission`` reads: one parser for pages and API alike."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return request.form, request.files
    payload = request.get_json(silent=True)
    if payload is None and not request.data:
        payload = {}
    if not isinstance(payload, dict):
        raise ApiError(400, _("Send a JSON object or a multipart form"))
    items: list[tuple[str, str]] = []
    for key, value in payload.items():
        for one in value if isinstance(value, list) else [value]:
            if one is None:
                continue
            if isinstance(one, bool):
                items.append((key, "true" if one else "false"))
            elif isinstance(one, (dict, list)):
                items.append((key, json.dumps(one)))
            else:
                items.append((key, str(one)))
    return MultiDict(items), None


class PageArgs(Schema):
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Int(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def paged(query, session, args: dict, dump: Callable[[Any], dict]) -> dict:
    """``{"count", "page", "page_size", "items"}`` of a SELECT (ordered by the caller)."""
    from sqlalchemy import func, select

    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.limit(args["page_size"]).offset((args["page"] - 1) * args["page_size"]))
    return {"count": count, "page": args["page"], "page_size": args["page_size"],
            "items": [dump(r) for r in rows]}


def page_schema(item: type[Schema] | Schema, name: str) -> type[Schema]:
    """The response schema of a paginated list of ``item``."""
    return Schema.from_dict({
        "count": fields.Int(required=True), "page": fields.Int(required=True),
        "page_size": fields.Int(required=True),
        "items": fields.List(fields.Nested(item), required=True),
    }, name=name)


# --- route decorators -----------------------------------------------------------------------------
def doc(summary: str, *, tags: list[str], query: type[Schema] | None = None,
        body: type[Schema] | None = None, multipart: type[Schema] | None = None,
        response: type[Schema] | None = None, status: int = 200, errors: tuple[int, ...] = (),
        etag: bool = False, description: str = "") -> Callable:
    """Record the OpenAPI facts of a route (read by ``app.web.api.openapi``)."""

    def wrap(f: Callable) -> Callable:
        f._apidoc = {"summary": summary, "tags": tags, "query": query, "body": body,
                     "multipart": multipart, "response": response, "status": status,
                     "errors": errors, "etag": etag, "description": description}
        return f

    return wrap


def api_safe(f: Callable) -> Callable:
    """``app.web.api_safety.safe`` plus :class:`ApiError` → the common error body; rolls back."""

    @functools.wraps(f)
    def inner(self, *args: Any, **kwargs: Any):
        from app.db import db

        _adopt_jwt_user()
        try:
            return f(self, *args, **kwargs)
        except ApiError as err:
            db.session.rollback()
            return self.fail(err.status, err.message, err.errors)

    wrapped = _safe(inner)
    wrapped._apidoc = getattr(f, "_apidoc", None)
    return wrapped


def _adopt_jwt_user() -> None:
    """A Bearer token's user (FAB's ``protect`` leaves it in ``g.user``) becomes Flask-Login's
    ``current_user`` for this request only, so the pages' helpers (pools, uploads, households)
    serve JWT callers unchanged. Nothing is written to the session."""
    from flask import g
    from flask_login import current_user

    user = g.get("user")
    if user is not None and getattr(user, "is_authenticated", False) and not current_user.is_authenticated:
        g._login_user = user


def actor() -> str:
    from flask_login import current_user

    return getattr(current_user, "username", "anonymous")
