"""Images in a chat: upload, clean, store, post as a message of kind `image`, serve.

An upload is checked and re-encoded in memory first (`kefu.core.uploads.clean_image`: type
from the bytes, size, pixel limit, EXIF stripped, 240 px thumbnail). Then a `ChatImage` row is
added and the message is posted through the same service functions as text, so a resend
with the same client id returns the stored message (and the second copy is not kept).

Who may see a file: agents through `/api/v1/conversations/{id}/images/{image id}` (inbox
permission); customers through a signed URL `/api/v1/widget/images/{token}` that the message
payload carries. The widget lives in a third-party iframe where the shop's site decides about
cookies, so a cookie cannot be relied on; the unguessable signed token is the credential, and
only the people in the conversation are ever shown it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations import service
from kefu.conversations.models import ChatImage
from kefu.conversations.service import Contact, Posted
from kefu.core.audit import Actor
from kefu.core.config import get_settings
from kefu.core.db import utcnow
from kefu.core.errors import NotFound, TooManyRequests
from kefu.core.uploads import CleanImage, clean_image, resolve_stored, store_file

IMAGE_BODY = "[图片]"  # the text fallback and the inbox list preview
UPLOADS_PER_MINUTE = 10


class ImageNotFound(NotFound):
    code = "image_not_found"
    zh, en = "图片不存在或已删除", "Image not found"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key.get_secret_value(), salt="kefu.chat.image")


def customer_url(image_id: int, *, thumb: bool = False) -> str:
    token = _serializer().dumps(image_id)
    return f"/api/v1/widget/images/{token}" + ("/thumb" if thumb else "")


def image_id_from(token: str) -> int:
    try:
        value = _serializer().loads(token)
    except BadSignature:
        raise ImageNotFound() from None
    if not isinstance(value, int):
        raise ImageNotFound()
    return value


def _display_name(filename: str) -> str:
    return Path(filename or "").name[:120]


async def _check_rate(session: AsyncSession, uploaded_by: str) -> None:
    recent = await session.scalar(
        select(func.count())
        .select_from(ChatImage)
        .where(
            ChatImage.uploaded_by == uploaded_by,
            ChatImage.created_at >= utcnow() - timedelta(minutes=1),
        )
    )
    if (recent or 0) >= UPLOADS_PER_MINUTE:
        raise TooManyRequests("图片发送太频繁，请稍后再试", "Too many images; wait a minute")


def _new_row(store_id: int, cleaned: CleanImage, filename: str, raw: bytes, by: str) -> ChatImage:
    return ChatImage(
        store_id=store_id,
        name=_display_name(filename),
        content_type=cleaned.content_type,
        path="",
        thumb_type=cleaned.thumb_type,
        thumb_path="",
        size=len(cleaned.data),
        width=cleaned.width,
        height=cleaned.height,
        sha256=hashlib.sha256(raw).hexdigest(),
        uploaded_by=by,
        created_at=utcnow(),
    )


def _payload(image: ChatImage) -> dict[str, Any]:
    return {
        "image_id": image.id,
        "url": customer_url(image.id),
        "thumb_url": customer_url(image.id, thumb=True),
        "width": image.width,
        "height": image.height,
        "name": image.name,
    }


async def _settle(
    session: AsyncSession, image: ChatImage, cleaned: CleanImage, posted: Posted
) -> Posted:
    """Keep the files of a new message; drop the row of a resend the service deduplicated."""
    if posted.duplicate:
        await session.delete(image)
        await session.flush()
        return posted
    folder = f"chat/{posted.conversation.store_id}/{posted.conversation.id}"
    image.path = store_file(folder, cleaned.data, cleaned.content_type)
    image.thumb_path = store_file(folder, cleaned.thumb, cleaned.thumb_type)
    image.conversation_id = posted.conversation.id
    image.message_id = posted.message.id
    await session.flush()
    return posted


async def post_customer_image(
    session: AsyncSession,
    contact: Contact,
    data: bytes,
    filename: str,
    *,
    client_msg_id: str,
    conversation_id: int | None = None,
    channel: str = "web",
    context: dict[str, Any] | None = None,
) -> Posted:
    """A customer's picture, into their own conversation only (checked by the service)."""
    cleaned = clean_image(data, filename)
    by = f"customer:{contact.visitor_hash}"
    await _check_rate(session, by)
    image = _new_row(contact.store_id, cleaned, filename, data, by)
    session.add(image)
    await session.flush()
    posted = await service.post_customer_message(
        session,
        contact,
        client_msg_id=client_msg_id,
        body=IMAGE_BODY,
        kind="image",
        payload=_payload(image),
        conversation_id=conversation_id,
        channel=channel,
        context=context,
    )
    return await _settle(session, image, cleaned, posted)


async def post_agent_image(
    session: AsyncSession,
    actor: Actor,
    conversation_id: int,
    data: bytes,
    filename: str,
    *,
    client_msg_id: str,
) -> Posted:
    cleaned = clean_image(data, filename)
    conversation = await service.get_conversation(session, conversation_id)
    by = f"agent:{actor.id}"
    await _check_rate(session, by)
    image = _new_row(conversation.store_id, cleaned, filename, data, by)
    session.add(image)
    await session.flush()
    posted = await service.post_agent_message(
        session,
        actor,
        conversation.id,
        client_msg_id=client_msg_id,
        body=IMAGE_BODY,
        kind="image",
        payload=_payload(image),
    )
    return await _settle(session, image, cleaned, posted)


@dataclass(frozen=True)
class ImageFile:
    path: Path
    content_type: str


async def _file(session: AsyncSession, image: ChatImage | None, thumb: bool) -> ImageFile:
    if image is None or image.message_id is None:
        raise ImageNotFound()
    path = resolve_stored(image.thumb_path if thumb else image.path)
    if path is None:
        raise ImageNotFound()
    return ImageFile(path, image.thumb_type if thumb else image.content_type)


async def file_for_customer(session: AsyncSession, token: str, *, thumb: bool) -> ImageFile:
    """The file behind a signed URL (the token is the credential)."""
    image = await session.get(ChatImage, image_id_from(token))
    return await _file(session, image, thumb)


async def file_for_agent(
    session: AsyncSession, conversation_id: int, image_id: int, *, thumb: bool
) -> ImageFile:
    """The caller has the inbox permission; the image must belong to that conversation."""
    image = await session.get(ChatImage, image_id)
    if image is not None and image.conversation_id != conversation_id:
        image = None
    return await _file(session, image, thumb)
