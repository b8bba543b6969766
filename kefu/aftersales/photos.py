"""Case photos: the buyer's pictures of the problem and the warehouse's inspection pictures.

The type is decided by the file's first bytes (JPEG, PNG, WebP), never by its name or the
browser's content type, so a renamed script cannot be stored as a "photo". Files go under
`settings.media_dir/aftersales/<case id>/` with a random name; the database keeps the relative
path, and the files are served only through routes that check who is asking.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.aftersales.enums import PhotoStage
from kefu.aftersales.models import AftersalesCase, AftersalesPhoto
from kefu.core.audit import Actor, record_audit
from kefu.core.config import get_settings
from kefu.core.errors import Invalid, NotFound

MAX_PHOTOS_PER_STAGE = 9  # what a phone's picker usually allows at once

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


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
    """The content type of an acceptable photo; `Invalid` with the reason otherwise."""
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


async def add_photos(
    session: AsyncSession,
    actor: Actor,
    case: AftersalesCase,
    files: list[tuple[str, bytes]],
    stage: PhotoStage,
) -> list[AftersalesPhoto]:
    """Check every file first (all or nothing), then store them."""
    if not files:
        return []
    kinds = [check_photo(data, name) for name, data in files]
    have = await session.scalar(
        select(func.count())
        .select_from(AftersalesPhoto)
        .where(AftersalesPhoto.case_id == case.id, AftersalesPhoto.stage == stage.value)
    )
    if (have or 0) + len(files) > MAX_PHOTOS_PER_STAGE:
        raise Invalid(
            f"每个环节最多上传 {MAX_PHOTOS_PER_STAGE} 张照片",
            f"At most {MAX_PHOTOS_PER_STAGE} photos per step",
        )
    folder = media_root() / "aftersales" / str(case.id)
    folder.mkdir(parents=True, exist_ok=True)
    stored: list[AftersalesPhoto] = []
    for (_, data), kind in zip(files, kinds, strict=True):
        relative = f"aftersales/{case.id}/{secrets.token_hex(12)}.{_EXTENSIONS[kind]}"
        (media_root() / relative).write_bytes(data)
        photo = AftersalesPhoto(
            case_id=case.id,
            stage=stage.value,
            content_type=kind,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            path=relative,
            uploaded_by_kind=actor.kind,
            uploaded_by_name=actor.name,
        )
        session.add(photo)
        stored.append(photo)
    await session.flush()
    await record_audit(
        session,
        actor,
        "aftersales.photos_add",
        "aftersales_case",
        case.id,
        after={"stage": stage.value, "photo_ids": [p.id for p in stored]},
        store_id=case.store_id,
    )
    return stored


async def case_photos(session: AsyncSession, case_id: int) -> list[AftersalesPhoto]:
    rows = await session.scalars(
        select(AftersalesPhoto)
        .where(AftersalesPhoto.case_id == case_id)
        .order_by(AftersalesPhoto.id)
    )
    return list(rows.all())


async def photo_file(session: AsyncSession, case_id: int, photo_id: int) -> tuple[Path, str]:
    """The file of a photo of `case_id` (the caller has checked access to the case)."""
    photo = await session.get(AftersalesPhoto, photo_id)
    if photo is None or photo.case_id != case_id:
        raise NotFound("照片不存在", "Photo not found")
    root = media_root()
    path = (root / photo.path).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound("照片文件已不存在", "The photo file is gone")
    return path, photo.content_type
