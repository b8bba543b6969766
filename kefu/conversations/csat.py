"""CSAT for conversations: when a chat is resolved the customer is offered 1–5 stars.

The survey travels as a message of kind `csat` whose payload carries a signed token naming the
conversation; the widget renders stars and posts the score to `/api/v1/widget/csat/{token}`.
The token is the credential (like the ticket status link), so rating needs no identity
plumbing and cannot be pointed at another conversation. One rating per conversation; it is
credited to the agent who had the chat, and 1–2 stars alert the supervisors and that agent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.conversations.models import Conversation, ConversationRating
from kefu.core.audit import Actor, record_audit
from kefu.core.errors import Conflict, Invalid, NotFound
from kefu.core.events import queue_event
from kefu.core.signed import SignedId

TOKEN_MAX_AGE_S = 7 * 24 * 3600
_SALT = "kefu.conversations.csat"
SURVEY_TEXT = "本次服务已结束，请为客服打分（1–5 星），您的评价会帮助我们做得更好。"


_TOKENS = SignedId(
    _SALT,
    "c",
    TOKEN_MAX_AGE_S,
    ("评价已过期", "This survey has expired"),
    ("评价链接无效", "This survey link is not valid"),
)


def survey_token(conversation_id: int) -> str:
    return _TOKENS.dumps(conversation_id)


def conversation_id_from(token: str) -> int:
    return _TOKENS.loads(token)


def survey_payload(conversation_id: int) -> dict[str, Any]:
    """What the `csat` message carries for the widget."""
    return {"token": survey_token(conversation_id), "scale": 5}


async def rate(
    session: AsyncSession, token: str, score: int, comment: str = "", *, ip: str | None = None
) -> ConversationRating:
    conversation = await session.get(Conversation, conversation_id_from(token))
    if conversation is None:
        raise NotFound("会话不存在", "Conversation not found")
    if not 1 <= score <= 5:
        raise Invalid("请选择 1 到 5 星", "Choose 1 to 5 stars")
    rating = ConversationRating(
        conversation_id=conversation.id,
        store_id=conversation.store_id,
        agent_id=conversation.assignee_id,
        score=score,
        comment=" ".join(comment.split())[:1000],
    )
    try:
        async with session.begin_nested():
            session.add(rating)
    except IntegrityError as exc:
        raise Conflict("您已经评价过了，感谢反馈", "You have already rated this chat") from exc
    await record_audit(
        session,
        Actor("customer", conversation.customer_id, "客户", ip),
        "conversation.csat",
        "conversation",
        conversation.id,
        after={"score": score, "agent_id": rating.agent_id},
        store_id=conversation.store_id,
    )
    payload = {
        "type": "conversation.csat",
        "conversation_id": conversation.id,
        "score": score,
        "agent_id": rating.agent_id,
    }
    if score <= 2:
        alert = {**payload, "type": "conversation.csat_low"}
        supervisors = await session.scalars(
            select(User.id).where(User.role.in_(("supervisor", "admin")), User.is_active.is_(True))
        )
        for uid in {*supervisors.all(), *([rating.agent_id] if rating.agent_id else [])}:
            queue_event(session, f"agent:{uid}", alert)
    return rating


async def rating_for(session: AsyncSession, conversation_id: int) -> ConversationRating | None:
    return await session.scalar(
        select(ConversationRating).where(ConversationRating.conversation_id == conversation_id)
    )


async def agent_scores(session: AsyncSession, agent_ids: list[int]) -> dict[int, tuple[float, int]]:
    """Average score and number of ratings per agent."""
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(ConversationRating.agent_id, func.avg(ConversationRating.score), func.count())
        .where(ConversationRating.agent_id.in_(agent_ids))
        .group_by(ConversationRating.agent_id)
    )
    return {int(a): (round(float(avg), 2), int(n)) for a, avg, n in rows.all() if a is not None}
