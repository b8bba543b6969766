"""Customer-side images and orders: `/api/v1/widget/images` and `/api/v1/widget/orders`.

Public routes (no Kefu account) on the widget prefix. The caller proves who they are exactly
as on the widget socket: the store's channel code, the visitor token, and for a signed-in
shopper the shop-signed identity (`uid` + `uid_hash`); a wrong hash is refused. Images go only
into the caller's own conversation; files come back only through their signed URLs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from kefu.channels import identity
from kefu.conversations import cards, media
from kefu.conversations.schemas import PostResultOut
from kefu.conversations.service import Contact
from kefu.core.deps import DbSession
from kefu.core.uploads import image_response, read_upload

router = APIRouter(prefix="/widget", tags=["channels"])


async def _contact(
    session: DbSession, channel: str, visitor: str, uid: str, uid_hash: str, name: str
) -> Contact:
    store = await identity.store_by_channel(session, channel)
    contact, _token = await identity.resolve_contact(
        session,
        store,
        visitor_token=visitor or None,
        user_id=uid or None,
        user_hash=uid_hash or None,
        name=name,
    )
    return contact


@router.post("/images", status_code=201)
async def send_image(
    request: Request,
    session: DbSession,
    file: Annotated[UploadFile, File()],
    channel: Annotated[str, Form(max_length=64)],
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    visitor: Annotated[str, Form(max_length=200)] = "",
    uid: Annotated[str, Form(max_length=128)] = "",
    uid_hash: Annotated[str, Form(max_length=128)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    conversation_id: Annotated[int | None, Form()] = None,
    entry: Annotated[str, Form(max_length=10)] = "h5",
    page: Annotated[str, Form(max_length=500)] = "",
) -> PostResultOut:
    """Multipart upload of one JPEG, PNG or WebP; the answer is the socket's `ack` shape."""
    contact = await _contact(session, channel, visitor or "", uid, uid_hash, name)
    data = await read_upload(file)
    posted = await media.post_customer_image(
        session,
        contact,
        data,
        file.filename or "",
        client_msg_id=client_id,
        conversation_id=conversation_id,
        channel="web" if entry == "widget" else "h5",
        context={
            "page_url": page,
            "user_agent": request.headers.get("user-agent", "")[:300],
            "entry": entry,
        },
    )
    await session.commit()
    return PostResultOut(
        message_id=posted.message.id,
        event_id=posted.event.id,
        conversation_id=posted.conversation.id,
        duplicate=posted.duplicate,
    )


@router.get("/images/{token}")
async def image(token: str, session: DbSession) -> Response:
    found = await media.file_for_customer(session, token, thumb=False)
    return image_response(found.path, found.content_type)


@router.get("/images/{token}/thumb")
async def image_thumb(token: str, session: DbSession) -> Response:
    found = await media.file_for_customer(session, token, thumb=True)
    return image_response(found.path, found.content_type)


@router.get("/orders")
async def my_orders(
    session: DbSession,
    channel: Annotated[str, Query(max_length=64)],
    visitor: Annotated[str, Query(max_length=200)] = "",
    uid: Annotated[str, Query(max_length=128)] = "",
    uid_hash: Annotated[str, Query(max_length=128)] = "",
) -> dict[str, Any]:
    """The signed-in shopper's recent orders, for the 选择订单 picker."""
    contact = await _contact(session, channel, visitor, uid, uid_hash, "")
    orders = await cards.customer_orders(session, contact)
    await session.commit()  # a first visit may have linked the shop's user to a customer
    return {"items": [o.payload() for o in orders]}
