"""Customers rate the bot's FAQ answers: 有帮助 / 没帮助 under the answer in the widget.

The bot's answer message carries `payload.rate`, a signed token naming the customer message
the answer replied to (its `bot_turns` row is unique per message). The widget posts the verdict
with it to `/api/v1/widget/bot-rating/{token}`. As with the CSAT survey, the token is the
credential: it only ever reaches the customer of that conversation, cannot be edited to point
at another answer, and needs no identity plumbing. A rating can be changed (the latest one
counts) and sending the same one again changes nothing. Unhelpful answers join the learning
queue (kefu/bot/learning.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.models import BotTurn
from kefu.conversations.models import Conversation
from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import NotFound
from kefu.core.signed import SignedId

HELPFUL, UNHELPFUL = 1, -1
# Long enough for a customer who scrolls back through an open chat; the answer itself stays.
TOKEN_MAX_AGE_S = 30 * 24 * 3600

_TOKENS = SignedId(
    "kefu.bot.rating",
    "m",
    TOKEN_MAX_AGE_S,
    ("这条回答已无法评价", "This answer can no longer be rated"),
    ("评价链接无效", "This rating link is not valid"),
)


def rating_payload(customer_message_id: int) -> dict[str, Any]:
    """What the bot's FAQ answer carries so the widget can offer 有帮助 / 没帮助."""
    return {"rate": _TOKENS.dumps(customer_message_id)}


async def rate_answer(
    session: AsyncSession, token: str, helpful: bool, *, ip: str | None = None
) -> BotTurn:
    """Record the customer's verdict on one FAQ answer (idempotent, changeable, audited)."""
    message_id = _TOKENS.loads(token)
    turn = await session.scalar(
        select(BotTurn).where(BotTurn.message_id == message_id).with_for_update()
    )
    if turn is None or turn.outcome != "answered" or not turn.faq_key:
        raise NotFound("没有可评价的回答", "There is no answer to rate")
    value = HELPFUL if helpful else UNHELPFUL
    if turn.rating == value:
        return turn
    before = turn.rating
    turn.rating = value
    turn.rated_at = utcnow()
    conversation = await session.get(Conversation, turn.conversation_id)
    customer_id = conversation.customer_id if conversation is not None else None
    await record_audit(
        session,
        Actor("customer", customer_id, "客户", ip),
        "bot.answer_rating",
        "bot_turn",
        turn.id,
        before={"rating": before},
        after={"rating": value, "faq_id": turn.faq_id},
        store_id=turn.store_id,
    )
    await session.flush()
    return turn
