"""Uploaded images (issue #12, item 8): decompression bombs refused before any decode, EXIF (GPS)
removed from photos, and files of refused submissions swept after a grace period (SQLite and
PostgreSQL) — only when no grant refers to them."""
from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from app.db import utcnow
from app.forms.uploads import MAX_IMAGE_PIXELS, UploadRejected, store_upload, upload_path
from app.platform.models import UploadGrant, UploadReceipt
from app.platform.uploads import sweep_unreferenced_uploads
from app.settings import get_settings

PHOTOS = ("image/jpeg", "image/png", "image/webp", "image/gif")


@pytest.fixture
def uploads_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield get_settings().uploads_dir
    get_settings.cache_clear()


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG that announces ``width × height`` pixels (its data would decode to gigabytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    idat = zlib.compress(b"\x00" * 4096, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (8, 8), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 4.0)}  # GPS IFD
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_a_decompression_bomb_is_refused_without_decoding(uploads_dir):
    bomb = _png_header(50_000, 50_000)  # 2.5 gigapixels in a few kilobytes
    assert len(bomb) < 10_000
    with pytest.raises(UploadRejected) as err:
        store_upload(bomb, "bomb.png", accept=PHOTOS)
    assert err.value.key == "too_many_pixels"
    assert not list((uploads_dir).glob("??/??/*"))  # nothing kept
    # just under the limit is fine (header-only check: nothing is decoded here either)
    side = int(MAX_IMAGE_PIXELS ** 0.5) - 1
    ref = store_upload(_png_header(side, side), "big.png", accept=PHOTOS)
    assert ref["content_type"] == "image/png"


def test_exif_and_gps_are_stripped_from_photos(uploads_dir):
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the fixture has a position
    ref = store_upload(original, "photo.jpg", accept=PHOTOS)
    stored = upload_path(ref["sha256"]).read_bytes()
    assert stored != original and ref["size"] == len(stored)
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (8, 8)
        exif = img.getexif()
        assert not exif.get_ifd(0x8825) and 0x010F not in exif
    # a photo with no metadata is kept byte for byte
    plain = io.BytesIO()
    Image.new("RGB", (4, 4)).save(plain, "PNG")
    ref2 = store_upload(plain.getvalue(), "plain.png", accept=PHOTOS)
    assert upload_path(ref2["sha256"]).read_bytes() == plain.getvalue()


def test_refused_submissions_files_are_swept_after_the_grace_period(uploads_dir, session):
    from app.domains.estate.models import Community, PropertyCompany

    company = PropertyCompany(name="测试物业")
    session.add(company)
    session.flush()
    community = Community(company_id=company.id, code="T1", name="测试小区")
    session.add(community)
    session.flush()
    community_id = community.id
    old = utcnow() - timedelta(hours=72)
    refs = {name: store_upload(_png_header(2, 2 + i), f"{name}.png", accept=PHOTOS)
            for i, name in enumerate(("refused", "granted", "recent", "reused"))}
    for name, ref in refs.items():
        session.add(UploadReceipt(sha256=ref["sha256"], scope="form:repair/report", community_id=community_id,
                                  uploaded_at=utcnow() if name == "recent" else old))
    session.add(UploadReceipt(sha256=refs["reused"]["sha256"], scope="task:9", uploaded_at=utcnow()))
    session.add(UploadGrant(sha256=refs["granted"]["sha256"], community_id=community_id, content_type="image/png"))
    session.commit()

    assert sweep_unreferenced_uploads(session) == 1
    session.commit()
    assert not upload_path(refs["refused"]["sha256"]).exists()
    for name in ("granted", "recent", "reused"):
        assert upload_path(refs[name]["sha256"]).exists(), name
    assert session.query(UploadReceipt).filter_by(sha256=refs["refused"]["sha256"]).count() == 0
    assert sweep_unreferenced_uploads(session) == 0  # idempotent
