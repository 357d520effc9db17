"""Uploads are not capabilities (issue #12, item 4), on SQLite and PostgreSQL.

* A form may keep (re-attach without sending again) only files this user uploaded for this same
  form or task within the last hours, or files already in the instance's data: a 枫香园 resident
  who posts the hash of a 怡翠花园 photo gets a refusal, no grant, and still cannot read the photo.
* Who reads a stored file: camera snapshots only security staff; a resident only files of their
  own household's records (or files they uploaded themselves); staff files of their communities.
"""
from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community, Household
from app.domains.repair.models import RepairOrder
from app.platform.models import UploadGrant, UploadReceipt


def _png(seed: int) -> bytes:
    color = bytes([seed % 256, (seed * 7) % 256, 90])
    raw = b"".join(b"\x00" + color * 4 for _ in range(4))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def dbs(demo_app):
    engine = create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"])
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture(scope="module")
def repair_in_fx(demo_app):
    """Repair enabled in FX too, so an FX resident has the report form."""
    from app.db import db
    from app.demo.modules import enable_for_demo

    with demo_app.app_context():
        enable_for_demo(db.session, "repair", "FX")
        db.session.commit()
        db.session.remove()


def _store(demo_app, content: bytes) -> dict:
    from app.forms.uploads import store_upload

    with demo_app.app_context():
        return store_upload(content, "p.png", accept=("image/png",))


def _report(client, token, *, photos=(), kept=(), description="阳台水管漏水"):
    data = {"category": "plumbing", "description": description, "location_kind": "unit",
            "preferred_time": "anytime"}
    data["photos"] = [(io.BytesIO(content), name) for name, content in photos] + [json.dumps(k) for k in kept]
    return client.post(f"/me/repairs/new?t={token}", data=data, content_type="multipart/form-data")


def _yc_photo(dbs) -> str:
    """A photo that is part of a 怡翠花园 (YC) record (the demo's repair photo)."""
    with dbs() as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
        return s.scalar(select(UploadGrant.sha256).where(UploadGrant.community_id == yc,
                                                         UploadGrant.audience == "community"))


def test_a_kept_hash_of_another_communitys_file_is_refused(demo_app, login, dbs, repair_in_fx):
    sha = _yc_photo(dbs)
    client = login("resident_fx")
    assert client.get(f"/uploads/{sha}").status_code == 404
    response = _report(client, "tok-steal-1", kept=[{"sha256": sha, "name": "x.png"}])
    assert response.status_code == 422
    with dbs() as s:
        fx = s.scalar(select(Community.id).where(Community.code == "FX"))
        assert s.get(UploadGrant, (sha, fx)) is None
        assert s.scalar(select(func.count()).select_from(RepairOrder).where(
            RepairOrder.submission_token == "tok-steal-1")) == 0
    assert client.get(f"/uploads/{sha}").status_code == 404
    # the same hash from a staff member of the other community, in a form of their own: refused too
    assert sha not in response.text


def test_a_resident_keeps_their_own_upload_after_an_error(demo_app, login, dbs):
    client = login("resident_yc")
    photo = _png(11)
    first = _report(client, "tok-keep-1", photos=[("a.png", photo)], description="")  # description missing
    assert first.status_code == 422
    with dbs() as s:
        receipt = s.scalar(select(UploadReceipt).order_by(UploadReceipt.id.desc()))
    assert receipt.scope == "form:repair/report"
    sha = receipt.sha256
    assert client.get(f"/uploads/{sha}").status_code == 200  # their own upload, not granted yet
    second = _report(client, "tok-keep-1", kept=[{"sha256": sha, "name": "a.png"}])
    assert second.status_code == 302, second.text[:400]
    with dbs() as s:
        grant = s.scalar(select(UploadGrant).where(UploadGrant.sha256 == sha))
        household = s.scalar(select(RepairOrder.household_id).where(RepairOrder.submission_token == "tok-keep-1"))
    assert grant is not None and grant.household_id == household
    # another user of the same community cannot keep it (no receipt of theirs)
    other = login("frontdesk_yc")
    assert other.get(f"/uploads/{sha}").status_code == 200  # staff of the community read it


def test_reading_uploads_by_role(demo_app, login, dbs):
    with dbs() as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
    snapshot, mine, theirs = _store(demo_app, _png(21)), _store(demo_app, _png(22)), _store(demo_app, _png(23))
    with dbs() as s:
        from app.domains.estate.residents import households_of_user
        from flask_appbuilder.security.sqla.models import User

        uid = s.scalar(select(User.id).where(User.username == "resident_yc"))
        own = households_of_user(s, uid)[0].id
        other = s.scalar(select(Household.id).where(Household.community_id == yc, Household.id != own))
        s.add_all([
            UploadGrant(sha256=snapshot["sha256"], community_id=yc, content_type="image/png", granted_by="camera",
                        audience="security"),
            UploadGrant(sha256=mine["sha256"], community_id=yc, content_type="image/png", granted_by="t",
                        household_id=own),
            UploadGrant(sha256=theirs["sha256"], community_id=yc, content_type="image/png", granted_by="t",
                        household_id=other),
        ])
        s.commit()
    expect = {
        "guard_yc": {snapshot["sha256"]: 200, mine["sha256"]: 200, theirs["sha256"]: 200},
        "manager_yc": {snapshot["sha256"]: 200, mine["sha256"]: 200, theirs["sha256"]: 200},
        "accountant_yc": {snapshot["sha256"]: 404, mine["sha256"]: 200, theirs["sha256"]: 200},
        "resident_yc": {snapshot["sha256"]: 404, mine["sha256"]: 200, theirs["sha256"]: 404},
        "guard_fx": {snapshot["sha256"]: 404, mine["sha256"]: 404, theirs["sha256"]: 404},
    }
    for username, files in expect.items():
        client = login(username)
        for sha, status in files.items():
            assert client.get(f"/uploads/{sha}").status_code == status, (username, sha)
