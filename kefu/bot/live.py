"""Where the live bot meets the conversation service.

`post_customer_message` asks `answers_first` before it routes the chat (in bot-first mode an
unassigned chat the bot has not handed over is not waiting for a person, so it is neither
routed nor marked waiting) and calls `queue_reply` after storing the message, which enqueues
the `bot.reply` job for after the commit. Both are cheap: one store row and one bot-session
row, no language work; that happens in the job.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot.models import BotSession
from kefu.bot.settings import bot_settings
from kefu.conversations.models import Conversation, Message
from kefu.core import jobs
from kefu.store.models import Store

REPLY_JOB = "bot.reply"


async def session_for(session: AsyncSession, conversation_id: int) -> BotSession | None:
    found: BotSession | None = await session.scalar(
        select(BotSession).where(BotSession.conversation_id == conversation_id)
    )
    return found


async def answers_first(
    session: AsyncSession, conversation: Conversation, kind: str = "text"
) -> bool:
    """True when the bot, not routing, takes this unassigned chat's next message.

    The bot reads text only: a picture or a card goes to a person."""
    if conversation.assignee_id is not None or conversation.status != "open" or kind != "text":
        return False
    settings = bot_settings(await session.get(Store, conversation.store_id))
    if not settings.enabled or settings.mode != "first":
        return False
    state = await session_for(session, conversation.id)
    return state is None or state.handed_off_at is None


async def queue_reply(session: AsyncSession, conversation: Conversation, message: Message) -> None:
    """Enqueue `bot.reply` for a customer message the bot should answer (text only)."""
    if (
        conversation.assignee_id is not None
        or conversation.status != "open"
        or message.kind != "text"
    ):
        return
    settings = bot_settings(await session.get(Store, conversation.store_id))
    if not settings.enabled:
        return
    state = await session_for(session, conversation.id)
    # After a handover the bot is silent, except to take down a message while nobody is online.
    if (
        state is not None
        and state.handed_off_at is not None
        and (state.pending or {}).get("step") != "leave_message"
    ):
        return
    jobs.enqueue(session, REPLY_JOB, conversation_id=conversation.id, message_id=message.id)


async def bot_holds_chat(
    session: AsyncSession, store: Store, conversation: Conversation | None
) -> bool:
    """Whether the bot will answer this customer when no person can (outside chat hours,
    nobody at work): then the widget keeps its composer instead of the 留言 form."""
    if not bot_settings(store).enabled:
        return False
    if conversation is None:
        return True
    if conversation.assignee_id is not None or conversation.status not in ("open", "resolved"):
        return False
    state = await session_for(session, conversation.id)
    if state is None or state.handed_off_at is None:
        return True
    return (state.pending or {}).get("step") == "leave_message"
