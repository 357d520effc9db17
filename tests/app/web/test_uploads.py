"""Stored photos are served only to users of the community whose record uses them."""
from __future__ import annotations

import base64

from sqlalchemy import select

from app.db import db
from app.forms.uploads import store_upload
from app.domains.estate.models import Community
from app.platform.uploads import grant_uploads

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_photo_is_visible_in_its_community_only(demo_app, login):
    with demo_app.app_context():
        ref = store_upload(PNG, "leak.png", accept=("image/png",))
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
        grant_uploads(db.session, {"photos": [ref]}, yc, "test")
        db.session.commit()
    own = login("manager_yc").get(f"/uploads/{ref['sha256']}")
    assert own.status_code == 200 and own.data == PNG and own.mimetype == "image/png"
    assert login("manager_fx").get(f"/uploads/{ref['sha256']}").status_code == 404
    assert demo_app.test_client().get(f"/uploads/{ref['sha256']}").status_code in (302, 401)
