"""Content-addressed storage for photos and files attached to form submissions.

A file is stored once at ``<uploads_dir>/ab/cd/<sha256>``: the same photo uploaded twice
takes the space once, and a reference (``{"sha256", "name", "size", "content_type"}``) is
small enough to live in task data. The content type comes from the file's first bytes,
never from the client, so a text file renamed ``.jpg`` is refused.

Images are checked before they are kept: the pixel count is read from the header, never by
decoding, and an image over ``MAX_IMAGE_PIXELS`` is refused (a few kilobytes of PNG can decode
to gigabytes: a decompression bomb); photos carrying EXIF/XMP metadata (GPS position, camera
serial) are re-encoded without it, after applying their orientation.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from app.forms.definitions import FILE_TYPES
from app.forms.messages import human_bytes, msg
from app.settings import get_settings

_CHUNK = 64 * 1024
#: the largest image accepted (pixels); 40 MP is more than any phone camera takes
MAX_IMAGE_PIXELS = 40_000_000
_IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}
_SHA = re.compile(r"^[0-9a-f]{64}$")
_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
    "application/pdf": ".pdf",
}


class UploadRejected(Exception):
    """An upload refused for size, type or emptiness; ``message(locale)`` says why."""

    def __init__(self, key: str, **params: Any):
        self.key, self.params = key, params
        super().__init__(msg(key, "en", **params))

    def message(self, locale: str) -> str:
        return msg(self.key, locale, **self.params)


def sniff_content_type(head: bytes) -> str | None:
    """The content type announced by a file's magic bytes (only the types we accept)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _root(root: Path | None) -> Path:
    return Path(root) if root is not None else get_settings().uploads_dir


def upload_path(sha256: str, root: Path | None = None) -> Path:
    """Where the file with this hash lives (``ab/cd/<sha256>``); ValueError on a bad hash."""
    if not isinstance(sha256, str) or not _SHA.match(sha256):
        raise ValueError("not a sha256 hex digest")
    return _root(root) / sha256[:2] / sha256[2:4] / sha256


def clean_name(filename: str | None, content_type: str) -> str:
    """A display name safe to keep: no folders, no control characters, bounded length."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:200]
    return name or f"upload{_EXTENSIONS.get(content_type, '')}"


def store_upload(
    data: BinaryIO | bytes,
    filename: str | None,
    *,
    accept: Iterable[str] = FILE_TYPES,
    max_bytes: int | None = None,
    root: Path | None = None,
) -> dict:
    """Store an upload and return its reference; raises ``UploadRejected``.

    ``max_bytes`` can only lower the platform limit (``upload_max_bytes``), never raise it.
    """
    limit = get_settings().upload_max_bytes
    if max_bytes is not None:
        limit = min(limit, max_bytes)
    accept = tuple(accept)
    display = (filename or "").replace("\\", "/").rsplit("/", 1)[-1] or "?"
    stream = data if hasattr(data, "read") else _BytesReader(data)
    base = _root(root)
    tmp_dir = base / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                if len(head) < 16:  # refuse a wrong type before reading the rest
                    head += chunk[: 16 - len(head)]
                    if len(head) == 16:
                        _check_type(head, accept, display)
                size += len(chunk)
                if size > limit:
                    raise UploadRejected("too_large", name=display, limit=human_bytes(limit))
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadRejected("empty_file", name=display)
        content_type = _check_type(head, accept, display)
        if content_type in _IMAGE_TYPES:
            cleaned = _clean_image(tmp_name, content_type, display)
            if cleaned is not None:
                with open(tmp_name, "wb") as out:
                    out.write(cleaned)
                digest, size = hashlib.sha256(cleaned), len(cleaned)
        sha = digest.hexdigest()
        final = upload_path(sha, base)
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return {"sha256": sha, "name": clean_name(filename, content_type), "size": size,
            "content_type": content_type}


def _clean_image(path: str, content_type: str, display: str) -> bytes | None:
    """Refuse a decompression bomb; the bytes of the image without metadata, or None if it
    carries none (kept byte for byte). Raises ``UploadRejected``."""
    import io
    import warnings

    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # Pillow's own guard, for any later decode
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:  # reads the header only
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise UploadRejected("too_many_pixels", name=display, limit=MAX_IMAGE_PIXELS // 1_000_000)
                # PNG's getexif() decodes the whole image to look past the pixels: read the
                # chunks seen before the pixel data instead (where phones put eXIf and XMP)
                meta = {"exif", "xmp", "XML:com.adobe.xmp"} & set(img.info)
                if not meta and (content_type == "image/png" or not img.getexif()):
                    return None
                if getattr(img, "n_frames", 1) > 1:
                    return None  # animations: GIF carries no EXIF; keep frames untouched
                clean = ImageOps.exif_transpose(img)
                if clean.mode not in ("RGB", "RGBA", "L", "LA", "P") or (
                        content_type == "image/jpeg" and clean.mode not in ("RGB", "L")):
                    clean = clean.convert("RGB")
                out = io.BytesIO()
                params = {"quality": 92} if content_type in ("image/jpeg", "image/webp") else {}
                clean.save(out, format=_IMAGE_TYPES[content_type], **params)  # no exif= → none written
                return out.getvalue()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected("too_many_pixels", name=display, limit=MAX_IMAGE_PIXELS // 1_000_000) from None
    except (OSError, ValueError, SyntaxError):
        raise UploadRejected("bad_image", name=display) from None


def _check_type(head: bytes, accept: tuple[str, ...], display: str) -> str:
    content_type = sniff_content_type(head)
    if content_type is None or content_type not in accept:
        raise UploadRejected("bad_type", name=display,
                             accept=", ".join(_EXTENSIONS.get(t, t) for t in accept))
    return content_type


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


def describe_upload(sha256: str, name: str | None = None, root: Path | None = None) -> dict | None:
    """The reference for an already-stored file, read from disk (size, sniffed type)."""
    try:
        path = upload_path(sha256, root)
    except ValueError:
        return None
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        content_type = sniff_content_type(fh.read(16)) or "application/octet-stream"
    return {"sha256": sha256, "name": clean_name(name, content_type),
            "size": path.stat().st_size, "content_type": content_type}


def open_upload(sha256: str, root: Path | None = None) -> BinaryIO:
    """Open a stored upload for serving; FileNotFoundError if it is not there."""
    try:
        path = upload_path(sha256, root)
    except ValueError as exc:
        raise FileNotFoundError(sha256) from exc
    return path.open("rb")
