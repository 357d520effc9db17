"""The OpenAPI 3 document of API v1, built from the routes' ``@doc`` facts and marshmallow schemas
(apispec), and a Swagger UI page served from our own static files (never a CDN)."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify, render_template_string, url_for
from flask_appbuilder import BaseView, expose

from app.web.api import ApiBase, ErrorSchema

_RULE_ARG = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
_STATUS_TEXT = {200: "OK", 201: "Created", 304: "Not modified (ETag matched)", 400: "Malformed request",
                401: "Not signed in", 403: "Not allowed for this role", 404: "Not found (or not yours)",
                409: "Conflict with the current state", 422: "Validation errors per field",
                429: "Rate limit reached", 503: "Busy, try again (Retry-After)"}


def _schema_name(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def _path_of(rule) -> tuple[str, list[dict]]:
    params = []

    def repl(m: re.Match) -> str:
        conv = m.group("conv") or "string"
        schema = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1} if conv == "int" else {"type": "string"}
        params.append({"name": m.group("name"), "in": "path", "required": True, "schema": schema})
        return "{" + m.group("name") + "}"

    return _RULE_ARG.sub(repl, rule.rule), params


def build_spec(app) -> dict:
    """Every route of every :class:`ApiBase` with ``@doc`` (and the JWT login) as OpenAPI 3.0."""
    spec = APISpec(title="estateflow API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
                   info={"description": "JSON API v1 of estateflow (智慧物业). Sign in with "
                                        "`POST /api/v1/security/login` for a JWT, or use the browser session."})
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.security_scheme("jwt", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name":
                                                app.config.get("SESSION_COOKIE_NAME", "session")})
    _login_path(spec)
    views = {type(v).__name__: v for v in app.appbuilder.baseviews if isinstance(v, ApiBase)}
    paths: dict[str, dict[str, dict]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        blueprint, _, method_name = rule.endpoint.partition(".")
        view = views.get(blueprint)
        if view is None:
            continue
        facts = getattr(getattr(type(view), method_name, None), "_apidoc", None)
        if facts is None:
            continue
        path, params = _path_of(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(facts, params, rule.endpoint)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return _naive_utc(spec.to_dict())


_NAIVE_UTC = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$",
              "description": "UTC, ISO 8601 without an offset (YYYY-MM-DDTHH:MM:SS[.ffffff])"}


def _naive_utc(node: Any) -> Any:
    """Every timestamp the API answers is naive UTC (the project's one convention, app.db.utcnow);
    OpenAPI's ``date-time`` demands an offset, so timestamps are described as what they are."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            node = {k: v for k, v in node.items() if k != "format"}
            node.update({k: v for k, v in _NAIVE_UTC.items() if k not in node or k == "pattern"})
        return {k: _naive_utc(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_naive_utc(v) for v in node]
    return node


def _operation(facts: dict, params: list[dict], endpoint: str) -> dict:
    op: dict[str, Any] = {"operationId": endpoint.replace(".", "_"), "summary": facts["summary"],
                          "tags": facts["tags"], "security": [{"jwt": []}, {"session": []}]}
    if facts["description"]:
        op["description"] = facts["description"]
    parameters = list(params)
    if facts["query"] is not None:
        parameters.append({"in": "query", "schema": facts["query"]})
    if facts["etag"]:
        parameters.append({"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"}})
    if parameters:
        op["parameters"] = parameters
    content: dict[str, Any] = {}
    if facts["body"] is not None:
        content["application/json"] = {"schema": facts["body"]}
    if facts["multipart"] is not None:
        content["multipart/form-data"] = {"schema": facts["multipart"]}
    if content:
        op["requestBody"] = {"required": True, "content": content}
    ok = {"description": _STATUS_TEXT.get(facts["status"], "OK")}
    if facts["response"] is not None:
        ok["content"] = {"application/json": {"schema": facts["response"]}}
    responses: dict[str, Any] = {str(facts["status"]): ok}
    if facts["etag"]:
        responses["304"] = {"description": _STATUS_TEXT[304]}
    for code in sorted(set(facts["errors"]) | {401, 429}):
        responses[str(code)] = {"description": _STATUS_TEXT.get(code, "Error"),
                                "content": {"application/json": {"schema": "Error"}}}
    op["responses"] = responses
    return op


def _login_path(spec: APISpec) -> None:
    spec.path(path="/api/v1/security/login", operations={"post": {
        "operationId": "SecurityApi_login", "summary": "Sign in: a JWT access (and refresh) token",
        "tags": ["Security"], "security": [],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["username", "password", "provider"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                           "provider": {"type": "string", "enum": ["db"]},
                           "refresh": {"type": "boolean"}}}}}},
        "responses": {"200": {"description": "Signed in", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"access_token": {"type": "string"},
                                             "refresh_token": {"type": "string"}}}}}},
                      "400": {"description": "Malformed"}, "401": {"description": "Wrong name or password"},
                      "429": {"description": "Locked for a while after failed logins"}}}})


@lru_cache(maxsize=4)
def _cached(app_id: int) -> dict:  # one document per app (routes do not change after start)
    return build_spec(current_app)


_DOCS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>estateflow API v1</title>
{% if have_ui %}<link rel="stylesheet" href="{{ css }}">{% endif %}</head><body>
{% if have_ui %}<div id="ui"></div><script src="{{ js }}"></script>
<script nonce="{{ csp_nonce() if csp_nonce is defined else '' }}">
window.ui = SwaggerUIBundle({url: "{{ spec }}", dom_id: "#ui", deepLinking: true});</script>
{% else %}<p>The interactive page needs Swagger UI (<code>scripts/setup.sh</code> installs it).
The OpenAPI document: <a href="{{ spec }}">{{ spec }}</a></p>{% endif %}
</body></html>"""


class OpenApiView(BaseView):
    """``/api/v1/openapi.json`` (public: it describes, it holds no data) and ``/api/v1/docs``."""

    route_base = "/api/v1"

    @expose("/openapi.json")
    def document(self):
        response = jsonify(_cached(id(current_app)))
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    @expose("/docs")
    def docs(self):
        from pathlib import Path

        have_ui = (Path(current_app.static_folder) / "vendor" / "swagger-ui-bundle.js").exists()
        return render_template_string(
            _DOCS_PAGE, have_ui=have_ui, spec=url_for("OpenApiView.document"),
            js=url_for("static", filename="vendor/swagger-ui-bundle.js"),
            css=url_for("static", filename="vendor/swagger-ui.css"))
