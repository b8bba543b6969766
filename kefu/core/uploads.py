"""Uploaded images: type checks, cleaning, thumbnails and where the files live.

Shared by after-sales photos and chat images. The type is decided by the file's first bytes
(JPEG, PNG, WebP), never by its name or the browser's content type, so a renamed script
cannot be stored as an image. Files go under `settings.media_dir` with a random name; the
database keeps the relative path, and files are served only through routes that check who
is asking.

`clean_image` re-encodes a picture with Pillow: that drops EXIF (phones write the GPS
position of the shot there), applies the EXIF orientation first so the picture stays upright,
and makes a small thumbnail for chat bubbles. Pillow refuses decompression bombs (a tiny file
that claims a gigantic canvas) by its own pixel limit; we turn that into a clear error.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from fastapi import UploadFile
from fastapi.responses import FileResponse
from PIL import Image, ImageOps, UnidentifiedImageError

from kefu.core.config import get_settings
from kefu.core.errors import Invalid

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
THUMB_MAX_PX = 240


def sniff_image(data: bytes) -> str | None:
    """The image type from the magic bytes, or None if it is not JPEG, PNG or WebP."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def media_root() -> Path:
    return Path(get_settings().media_dir).resolve()


def check_photo(data: bytes, filename: str = "") -> str:
    """The content type of an acceptable image; `Invalid` with the reason otherwise."""
    limit = get_settings().upload_max_bytes
    name = filename or "照片"
    if not data:
        raise Invalid(f"{name} 是空文件", f"{filename or 'The photo'} is empty")
    if len(data) > limit:
        mb = limit / (1024 * 1024)
        raise Invalid(
            f"{name} 超过大小上限 {mb:g} MB", f"{filename or 'The photo'} is larger than {mb:g} MB"
        )
    kind = sniff_image(data)
    if kind is None:
        raise Invalid(
            f"{name} 不是 JPEG、PNG 或 WebP 图片",
            f"{filename or 'The file'} is not a JPEG, PNG or WebP image",
        )
    return kind


def store_file(folder: str, data: bytes, content_type: str) -> str:
    """Write `data` under `media_dir/folder/` with a random name; the relative path."""
    relative = f"{folder.strip('/')}/{secrets.token_hex(12)}.{EXTENSIONS[content_type]}"
    target = media_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return relative


async def read_upload(upload: UploadFile) -> bytes:
    """The uploaded bytes, reading at most one byte past the limit (then refused as too big)."""
    return await upload.read(get_settings().upload_max_bytes + 1)


def image_response(path: Path, content_type: str) -> FileResponse:
    # A stored file never changes (new content gets a new name); private: no shared caches.
    return FileResponse(
        path, media_type=content_type, headers={"Cache-Control": "private, max-age=86400"}
    )


def resolve_stored(relative: str) -> Path | None:
    """The absolute path of a stored file, or None if it is gone or escapes the media root."""
    root = media_root()
    path = (root / relative).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # re-encoded, without EXIF
    content_type: str
    width: int
    height: int
    thumb: bytes
    thumb_type: str


class ImageTooLarge(Invalid):
    code = "image_too_many_pixels"
    zh = "图片像素过大，无法处理，请压缩后再发送"
    en = "The image has too many pixels to process; resize it and try again"


class ImageUnreadable(Invalid):
    code = "image_unreadable"
    zh = "图片已损坏或无法读取"
    en = "The image is damaged or cannot be read"


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice the limit; both are refused here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge() from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise ImageUnreadable() from exc
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def clean_image(data: bytes, filename: str = "") -> CleanImage:
    """Check, re-encode without metadata, and make a thumbnail of at most 240 px a side."""
    content_type = check_photo(data, filename)
    image = _open(data)
    upright = ImageOps.exif_transpose(image) or image
    out = io.BytesIO()
    fmt = _PIL_FORMATS[content_type]
    if fmt == "JPEG":
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "WEBP":
        upright.save(out, "WEBP", quality=85)
    else:
        upright.save(out, "PNG", optimize=True)
    thumb_image = upright.copy()
    thumb_image.thumbnail((THUMB_MAX_PX, THUMB_MAX_PX))
    thumb = io.BytesIO()
    if _has_alpha(thumb_image):
        # Transparency survives in WebP; JPEG would paint it black.
        thumb_image.convert("RGBA").save(thumb, "WEBP", quality=80)
        thumb_type = "image/webp"
    else:
        thumb_image.convert("RGB").save(thumb, "JPEG", quality=80, optimize=True)
        thumb_type = "image/jpeg"
    return CleanImage(
        data=out.getvalue(),
        content_type=content_type,
        width=upright.width,
        height=upright.height,
        thumb=thumb.getvalue(),
        thumb_type=thumb_type,
    )
