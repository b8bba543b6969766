"""Case photos: the buyer's pictures of the problem and the warehouse's inspection pictures.

The checks (type from the file's first bytes: JPEG, PNG or WebP, never the name; size) and
the random file naming are shared with chat images in `kefu.core.uploads`. Files go under
`settings.media_dir/aftersales/<case id>/` with a random name; the database keeps the relative
path, and the files are served only through routes that check who is asking.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.aftersales.enums import PhotoStage
from kefu.aftersales.models import AftersalesCase, AftersalesPhoto
from kefu.core.audit import Actor, record_audit
from kefu.core.errors import Invalid, NotFound
from kefu.core.uploads import check_photo, resolve_stored, store_file

__all__ = ["MAX_PHOTOS_PER_STAGE", "add_photos", "case_photos", "check_photo", "photo_file"]

MAX_PHOTOS_PER_STAGE = 9  # what a phone's picker usually allows at once


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
    stored: list[AftersalesPhoto] = []
    for (_, data), kind in zip(files, kinds, strict=True):
        relative = store_file(f"aftersales/{case.id}", data, kind)
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
    path = resolve_stored(photo.path)
    if path is None:
        raise NotFound("照片文件已不存在", "The photo file is gone")
    return path, photo.content_type
