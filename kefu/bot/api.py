"""Bot API under /api/v1/bot: a store's bot settings, and the bot's turns in a conversation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.bot.assist import Assist, assist_for
from kefu.bot.deps import BotEditor
from kefu.bot.models import BotTurn
from kefu.bot.settings import BotSettings, bot_settings, save_bot_settings
from kefu.core.deps import DbSession
from kefu.core.errors import NotFound
from kefu.store.models import Store

router = APIRouter(prefix="/bot", tags=["bot"])

Agent = Annotated[Principal, Require(Permission.inbox_use)]


class BotTurnOut(BaseModel):
    id: int
    message_id: int
    text: str
    label: str
    confidence: float
    outcome: str
    intent: str
    faq_key: str | None
    suggested_keys: list[str]
    order_id: int | None
    action_result: str
    negative_prob: float | None
    handoff_reason: str
    rating: int | None
    created_at: datetime


@router.get("/stores/{store_id}/settings")
async def get_settings(store_id: int, session: DbSession, principal: BotEditor) -> BotSettings:
    store = await session.get(Store, store_id)
    if store is None:
        raise NotFound("店铺不存在", "Store not found")
    return bot_settings(store)


@router.put("/stores/{store_id}/settings")
async def put_settings(
    store_id: int, data: BotSettings, session: DbSession, principal: BotEditor
) -> BotSettings:
    saved = await save_bot_settings(session, principal.actor, store_id, data.model_dump())
    return saved


@router.get("/conversations/{conversation_id}/turns")
async def conversation_turns(
    conversation_id: int, session: DbSession, principal: Agent
) -> list[BotTurnOut]:
    """What the bot understood and did with each customer message, oldest first."""
    rows = await session.scalars(
        select(BotTurn).where(BotTurn.conversation_id == conversation_id).order_by(BotTurn.id)
    )
    return [BotTurnOut.model_validate(row, from_attributes=True) for row in rows]


@router.get("/conversations/{conversation_id}/assist")
async def conversation_assist(
    conversation_id: int,
    session: DbSession,
    principal: Agent,
    message_id: Annotated[int | None, Query(ge=1)] = None,
) -> Assist:
    """Top FAQ answers and canned replies for the latest customer message (agent assist)."""
    return await assist_for(session, principal, conversation_id, message_id=message_id)
