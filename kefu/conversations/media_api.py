"""Agent-side images and order cards in a conversation (inbox permission)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.conversations import cards, media
from kefu.conversations.schemas import PostResultOut
from kefu.conversations.service import Posted
from kefu.core.deps import DbSession
from kefu.core.uploads import image_response, read_upload

router = APIRouter(prefix="/conversations/{conversation_id}", tags=["conversations"])

InboxUser = Annotated[Principal, Require(Permission.inbox_use)]


class OrderCardIn(BaseModel):
    client_id: str = Field(min_length=1, max_length=64)
    order_no: str = Field(min_length=1, max_length=64)


def _result(posted: Posted) -> PostResultOut:
    return PostResultOut(
        message_id=posted.message.id,
        event_id=posted.event.id,
        conversation_id=posted.conversation.id,
        duplicate=posted.duplicate,
    )


@router.post("/images", status_code=201)
async def send_image(
    conversation_id: int,
    principal: InboxUser,
    session: DbSession,
    file: Annotated[UploadFile, File()],
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
) -> PostResultOut:
    data = await read_upload(file)
    posted = await media.post_agent_image(
        session,
        principal.actor,
        conversation_id,
        data,
        file.filename or "",
        client_msg_id=client_id,
    )
    await session.commit()
    return _result(posted)


@router.get("/images/{image_id}")
async def image(
    conversation_id: int, image_id: int, principal: InboxUser, session: DbSession
) -> Response:
    found = await media.file_for_agent(session, conversation_id, image_id, thumb=False)
    return image_response(found.path, found.content_type)


@router.get("/images/{image_id}/thumb")
async def image_thumb(
    conversation_id: int, image_id: int, principal: InboxUser, session: DbSession
) -> Response:
    found = await media.file_for_agent(session, conversation_id, image_id, thumb=True)
    return image_response(found.path, found.content_type)


@router.post("/order-cards", status_code=201)
async def send_order_card(
    conversation_id: int, body: OrderCardIn, principal: InboxUser, session: DbSession
) -> PostResultOut:
    """One of the conversation's customer's orders, as a card the customer sees."""
    posted = await cards.post_agent_order_card(
        session, principal.actor, conversation_id, body.order_no, client_msg_id=body.client_id
    )
    await session.commit()
    return _result(posted)
