import io

import pytest

from app.forms.definitions import PHOTO_TYPES
from app.forms.uploads import UploadRejected, open_upload, store_upload, upload_path
from app.settings import get_settings

from .conftest import JPEG, PDF, PNG


def test_same_content_is_stored_once_at_its_hash(uploads_dir):
    first = store_upload(io.BytesIO(PNG), "a.png", accept=PHOTO_TYPES)
    second = store_upload(PNG, "b.png", accept=PHOTO_TYPES)
    sha = first["sha256"]
    assert first == {"sha256": sha, "name": "a.png", "size": len(PNG), "content_type": "image/png"}
    assert second["sha256"] == sha and second["name"] == "b.png"
    path = upload_path(sha)
    assert path == uploads_dir / sha[:2] / sha[2:4] / sha
    stored = [p for p in uploads_dir.rglob("*") if p.is_file()]
    assert stored == [path]
    with open_upload(sha) as fh:
        assert fh.read() == PNG


def test_oversize_is_refused_and_nothing_is_kept(uploads_dir):
    big = JPEG + b"\x00" * 2000
    with pytest.raises(UploadRejected) as exc:
        store_upload(big, "big.jpg", accept=PHOTO_TYPES, max_bytes=1000)
    assert exc.value.message("en") == 'File "big.jpg" is larger than the 1000 B limit.'
    assert exc.value.message("zh") == "文件“big.jpg”超过 1000 B 的大小限制。"
    assert [p for p in uploads_dir.rglob("*") if p.is_file()] == []


def test_platform_limit_caps_a_larger_field_limit(uploads_dir, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_UPLOAD_MAX_BYTES", "100")
    get_settings.cache_clear()
    with pytest.raises(UploadRejected):
        store_upload(PDF + b" " * 200, "a.pdf", max_bytes=10_000)


def test_text_disguised_as_jpeg_is_refused(uploads_dir):
    with pytest.raises(UploadRejected) as exc:
        store_upload(b"just some text, not a picture\n" * 10, "photo.jpg", accept=PHOTO_TYPES)
    assert exc.value.key == "bad_type"
    assert [p for p in uploads_dir.rglob("*") if p.is_file()] == []


def test_pdf_is_a_file_not_a_photo(uploads_dir):
    assert store_upload(PDF, "r.pdf")["content_type"] == "application/pdf"
    with pytest.raises(UploadRejected):
        store_upload(PDF, "r.pdf", accept=PHOTO_TYPES)


def test_empty_file_and_unsafe_names(uploads_dir):
    with pytest.raises(UploadRejected) as exc:
        store_upload(b"", "empty.png", accept=PHOTO_TYPES)
    assert exc.value.key == "empty_file"
    ref = store_upload(JPEG, "../../etc/\x00passwd.jpg", accept=PHOTO_TYPES)
    assert ref["name"] == "passwd.jpg"


def test_open_upload_refuses_paths_and_unknown_hashes(uploads_dir):
    with pytest.raises(FileNotFoundError):
        open_upload("../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        open_upload("f" * 64)
