"""Registers JSON API v1: the platform's engine APIs, the OpenAPI document and docs page, and the
API modules of domains whose views are one ``views.py`` (``app/domains/<d>/api.py``: ``register``
and ``GRANTS`` like a view module). Domains with a ``views/`` package keep theirs in
``views/api.py``, found like any view module.
"""
from __future__ import annotations

from app.platform.discovery import domain_parts

_POOLS = [["^(InboxApi|TaskApi)$", ".*"]]
GRANTS: dict[str, list[list[str]]] = {
    "Manager": _POOLS + [["^(InstanceApi)$", ".*"]],
    "FrontDesk": _POOLS + [["^(InstanceApi)$", ".*"]],
    "Accountant": _POOLS,
    "Technician": _POOLS,
    "Guard": _POOLS,
    # a resident's steps are assigned to them: read and complete, never claim from a pool
    "Resident": [["^(InboxApi|TaskApi)$", "^can_(get|complete)$"]],
}
for _module in domain_parts("api"):
    for _role, _pairs in getattr(_module, "GRANTS", {}).items():
        GRANTS.setdefault(_role, []).extend(_pairs)


def register(appbuilder) -> None:
    from app.web.api.engine import API_CLASSES
    from app.web.api.openapi import OpenApiView

    for cls in API_CLASSES:
        appbuilder.add_api(cls)
    appbuilder.add_view_no_menu(OpenApiView())
    for module in domain_parts("api"):
        module.register(appbuilder)
