"""Fixtures of the forms tests: fixture form roots and an isolated uploads folder."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.forms.definitions import FormRegistry
from app.settings import get_settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def registry() -> FormRegistry:
    reg = FormRegistry(FIXTURES / "forms")
    assert reg.errors == []
    return reg


@pytest.fixture
def uploads_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing at a fresh var dir, so stored uploads land in tmp_path."""
    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield get_settings().uploads_dir
    get_settings.cache_clear()


# Smallest real files of each kind: what the browser would send.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
def _jpeg() -> bytes:
    """A real 1×1 JPEG (uploads are now opened by Pillow: a JFIF header alone is refused)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 40, 40)).save(buf, "JPEG")
    return buf.getvalue()


JPEG = _jpeg()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
