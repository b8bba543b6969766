"""JSON routes for canned replies under /api/v1/canned-replies (the inbox picker uses GET)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.deps import DbSession
from kefu.knowledge import canned_service as service
from kefu.knowledge.canned_models import CannedReply
from kefu.knowledge.canned_service import CannedFilters, CannedIn, Scope

router = APIRouter(prefix="/canned-replies", tags=["canned replies"])

Agent = Annotated[Principal, Require(Permission.inbox_use)]


class CannedOut(BaseModel):
    id: int
    title: str
    body: str
    rendered: str
    shortcut: str
    category: str
    store_id: int | None
    shared: bool
    is_active: bool
    editable: bool
    updated_at: datetime


def canned_out(principal: Principal, reply: CannedReply, context: dict[str, str]) -> CannedOut:
    return CannedOut(
        id=reply.id,
        title=reply.title,
        body=reply.body,
        rendered=service.render_canned(reply.body, context),
        shortcut=reply.shortcut,
        category=reply.category,
        store_id=reply.store_id,
        shared=reply.owner_id is None,
        is_active=reply.is_active,
        editable=service.can_edit(principal, reply),
        updated_at=reply.updated_at,
    )


@router.get("", response_model=list[CannedOut])
async def list_replies(
    session: DbSession,
    principal: Agent,
    q: Annotated[str, Query(max_length=100)] = "",
    conversation_id: int | None = None,
    scope: Scope = "all",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CannedOut]:
    """Replies this agent may use; with `conversation_id`, only those for the conversation's
    store and active ones, each with `rendered` filled in for that conversation's customer."""
    conversation = None
    if conversation_id is not None:
        conversation = await service.load_conversation(session, conversation_id)
    filters = CannedFilters(
        q=q,
        scope=scope,
        store_id=conversation.store_id if conversation else None,
        active_only=conversation is not None,
    )
    rows = await service.list_canned(session, principal, filters, limit)
    context = await service.render_context(session, principal, conversation)
    return [canned_out(principal, r, context) for r in rows]


@router.post("", response_model=CannedOut, status_code=201)
async def create_reply(session: DbSession, principal: Agent, data: CannedIn) -> CannedOut:
    reply = await service.create_canned(session, principal, data)
    return canned_out(principal, reply, await service.render_context(session, principal, None))


@router.get("/{reply_id}", response_model=CannedOut)
async def get_reply(session: DbSession, principal: Agent, reply_id: int) -> CannedOut:
    reply = await service.get_canned(session, principal, reply_id)
    return canned_out(principal, reply, await service.render_context(session, principal, None))


@router.put("/{reply_id}", response_model=CannedOut)
async def update_reply(
    session: DbSession, principal: Agent, reply_id: int, data: CannedIn
) -> CannedOut:
    reply = await service.update_canned(session, principal, reply_id, data)
    return canned_out(principal, reply, await service.render_context(session, principal, None))


@router.delete("/{reply_id}", status_code=204)
async def delete_reply(session: DbSession, principal: Agent, reply_id: int) -> Response:
    await service.delete_canned(session, principal, reply_id)
    return Response(status_code=204)
