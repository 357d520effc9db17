"""Two requests granting the same photo to the same community at the same moment both succeed and
one grant is kept (it was an IntegrityError, a 500, for the second one)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.platform.models import UploadGrant
from app.platform.uploads import grant_uploads

REF = {"sha256": "ab" * 32, "content_type": "image/png", "name": "leak.png", "size": 10}


def test_a_grant_made_by_another_request_in_between_is_kept_not_a_failure(session, two_communities, monkeypatch):
    yc, _fx = two_communities
    session.commit()
    with Session(session.get_bind()) as other:  # the other request got there first and committed
        assert grant_uploads(other, {"photos": [REF]}, yc, "resident_a") == 1
        other.commit()
    # this request had looked before the other one committed: it saw no grant
    monkeypatch.setattr(type(session), "get", lambda self, *a, **k: None)
    assert grant_uploads(session, {"photos": [REF]}, yc, "resident_b") == 0
    session.commit()
    monkeypatch.undo()
    grants = session.scalars(select(UploadGrant).where(UploadGrant.sha256 == REF["sha256"])).all()
    assert [(g.community_id, g.granted_by) for g in grants] == [(yc, "resident_a")]
    assert session.scalar(select(func.count()).select_from(UploadGrant)) == 1
