"""What a scanned (or typed) code opens: each domain says whether the code is one of its own.

A staff phone has one scanner (the top bar's QR button, ``/scan/``). The code it reads may be a
visitor's pass (a signed token or its 6-digit code), an inspection point's label
(``EFP:<community>:<point>``) or something a later module prints. Each domain may offer
``resolve(session, code, community_ids, username, locale)`` in its ``scan.py`` (found by name,
``app/platform/discovery.py``) answering ``None`` (not mine) or a dict:

- ``{"url": "/inspection/runs/4/scan?code=…"}`` — go there (e.g. the point's check-in);
- ``{"title", "ok": bool, "message", "lines": [(label, value)], "href", "link_label"}`` — shown
  on the scanner page as the result of a check (a visitor pass: admitted or why not).

The first domain that answers wins; the platform imports no domain.
"""
from __future__ import annotations

import logging
from typing import Any

from app.platform.discovery import domain_parts

log = logging.getLogger(__name__)

MAX_CODE = 600
"""A longer text is not one of our codes (the visitor token is ~155 characters)."""


def resolve(session, code: str, community_ids, username: str, locale: str) -> dict[str, Any] | None:
    code = (code or "").strip()
    if not code or len(code) > MAX_CODE:
        return None
    for module in domain_parts("scan"):
        provider = getattr(module, "resolve", None)
        if provider is None:
            continue
        try:
            answer = provider(session, code, community_ids, username, locale)
        except Exception:  # noqa: BLE001 - one domain's trouble must not hide the others' answers
            log.exception("scan resolver of %s failed", module.__name__)
            continue
        if answer:
            return answer
    return None
