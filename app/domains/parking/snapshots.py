"""A gate's plate snapshot, kept for the guard's review: a ``data:image/...;base64,`` value
becomes an upload of the community readable by security staff; an http(s) URL is kept as a
link; anything else is dropped (logged) and the read still counts."""
from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger("estateflow.parking.snapshots")

MAX_BYTES = 2 * 1024 * 1024
IMAGES = ("image/png", "image/jpeg", "image/webp", "image/gif")


def keep_snapshot(session: Session, community_id: int, value: Any, name: str) -> dict | None:
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(("http://", "https://")):
        return {"url": value[:500]}
    if not value.startswith("data:image/") or ";base64," not in value:
        log.warning("plate read %s: snapshot is not an image data URL; dropped", name)
        return None
    from app.forms.uploads import UploadRejected, store_upload
    from app.platform.uploads import grant_uploads

    try:
        ref = store_upload(base64.b64decode(value.split(",", 1)[1], validate=True), f"{name}.png",
                           accept=IMAGES, max_bytes=MAX_BYTES)
    except (binascii.Error, ValueError, UploadRejected) as exc:
        log.warning("plate read %s: snapshot refused: %s", name, exc)
        return None
    grant_uploads(session, {"snapshot": ref}, community_id, "gate", audience="security")
    return ref
