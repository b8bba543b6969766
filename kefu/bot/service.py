"""The live bot: answers one customer message in a conversation (the `bot.reply` job).

`handle_message` runs after the customer's message is committed. It takes the conversation's
`BotSession` row with a lock (turns of one conversation never interleave), skips messages it
already handled (a retried job) or that a newer message superseded, and stops if an agent has
taken the chat meanwhile. It then understands the message with the store's cached pipeline
(`knowledge_cache`), reads its mood with the sentiment model, lets the dialogue decide, posts
the replies through the conversation service (so they reach the widget live like any other
message), hands over if the turn says so, and logs the turn in `bot_turns`. The caller commits.
"""

from __future__ import annotations

import re
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.bot import dialogue, handoff
from kefu.bot.context import Turn
from kefu.bot.knowledge_cache import pipeline_for
from kefu.bot.models import BotSession, BotTurn
from kefu.bot.pipeline import Thresholds
from kefu.bot.rating import rating_payload
from kefu.bot.replies import TurnResult
from kefu.bot.settings import bot_settings
from kefu.conversations import service as conversations
from kefu.conversations.models import Conversation, Message
from kefu.core.db import utcnow
from kefu.nlp.sentiment import predict_sentiment
from kefu.store.models import Customer, Store

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
MIN_MOOD_CHARS = 4  # "好的" or "嗯" says nothing about mood


async def _locked_state(session: AsyncSession, conversation: Conversation) -> BotSession:
    stmt = select(BotSession).where(BotSession.conversation_id == conversation.id)
    state = await session.scalar(stmt.with_for_update())
    if state is None:
        state = BotSession(
            conversation_id=conversation.id,
            store_id=conversation.store_id,
            customer_id=conversation.customer_id,
            verified_order_ids=[],
            pending={},
        )
        session.add(state)
        await session.flush()  # a concurrent first turn hits the unique key and retries
    return state


async def handle_message(
    session: AsyncSession, conversation_id: int, message_id: int
) -> BotTurn | None:
    """Answer customer message `message_id`, or do nothing if the bot should not (see module)."""
    started = time.perf_counter()
    conversation = await session.get(Conversation, conversation_id)
    message = await session.get(Message, message_id)
    if conversation is None or message is None or message.sender_kind != "customer":
        return None
    store = await session.get(Store, conversation.store_id)
    settings = bot_settings(store)
    if store is None or not settings.enabled:
        return None
    state = await _locked_state(session, conversation)
    await session.refresh(conversation)  # the agent may have taken the chat while we waited
    if conversation.assignee_id is not None or conversation.status != "open":
        return None
    if await session.scalar(select(BotTurn.id).where(BotTurn.message_id == message_id)):
        return None
    newer = await session.scalar(
        select(BotTurn.id).where(
            BotTurn.conversation_id == conversation_id, BotTurn.message_id > message_id
        )
    )
    if newer is not None:
        return None
    leaving_message = (state.pending or {}).get("step") == "leave_message"
    if state.handed_off_at is not None and not leaving_message:
        return None
    if conversation.customer_id is not None and state.customer_id is None:
        state.customer_id = conversation.customer_id
    customer = await session.get(Customer, state.customer_id) if state.customer_id else None

    thresholds = Thresholds(answer=settings.answer_threshold, suggest=settings.suggest_threshold)
    pipeline, faq_ids = await pipeline_for(session, store.id, conversation.channel, thresholds)
    understanding = pipeline.understand(message.body)
    negative = (
        predict_sentiment([message.body])[0].negative_prob
        if len(understanding.normalized) >= MIN_MOOD_CHARS
        else None
    )
    turn = Turn(
        session=session,
        store=store,
        settings=settings,
        conversation=conversation,
        state=state,
        text=message.body,
        understanding=understanding,
        customer=customer,
        now=utcnow(),
        negative_prob=negative,
        faq_ids=faq_ids,
    )
    if leaving_message:
        result = await _take_message(turn)
    else:
        result = await dialogue.respond(turn)
    note = ""
    if result.outcome == "handoff":
        note = await handoff.hand_over(turn, result)
    reply_id = await _post(session, turn, message_id, result, note)
    state.turns += 1
    if result.outcome == "handoff":
        state.low_confidence_streak = 0
    u = understanding
    answered = u.faq if result.outcome == "answered" else None
    row = BotTurn(
        conversation_id=conversation.id,
        store_id=store.id,
        message_id=message_id,
        text=message.body,
        normalized=u.normalized,
        label=u.label,
        confidence=round(u.confidence, 4),
        outcome=result.outcome,
        intent=u.label.removeprefix("intent:") if u.label.startswith("intent:") else "",
        faq_key=answered.id if answered is not None else None,
        faq_id=faq_ids.get(answered.id) if answered is not None else None,
        suggested_keys=[h.entry.id for h in u.suggestions[:3]]
        if result.outcome == "suggested"
        else [],
        slots=dict(u.slots),
        order_id=result.order_id,
        action_result=result.action_result,
        negative_prob=round(negative, 4) if negative is not None else None,
        handoff_reason=result.handoff_reason,
        reply_message_id=reply_id,
        latency_ms=int((time.perf_counter() - started) * 1000),
        created_at=turn.now,
    )
    session.add(row)
    await session.flush()
    if result.outcome == "handoff":
        await conversations.route_conversation(session, conversation.id)
    return row


async def _post(
    session: AsyncSession, turn: Turn, message_id: int, result: TurnResult, note: str
) -> int | None:
    actor = turn.actor
    first_id: int | None = None
    # A FAQ answer (its first message) can be rated by the customer: 有帮助 / 没帮助.
    rateable = result.outcome == "answered" and turn.understanding.faq is not None
    for n, reply in enumerate(result.replies):
        payload = reply.payload()
        if rateable and n == 0:
            payload = {**payload, **rating_payload(message_id)}
        posted = await conversations.post_bot_message(
            session,
            actor,
            turn.conversation.id,
            client_msg_id=f"bot:{message_id}:{n}",
            body=reply.body,
            kind=reply.kind,
            payload=payload,
        )
        first_id = first_id or posted.message.id
    if note:
        await conversations.post_bot_message(
            session,
            actor,
            turn.conversation.id,
            client_msg_id=f"bot:{message_id}:note",
            body=note,
            audience="internal",
        )
    return first_id


async def _take_message(turn: Turn) -> TurnResult:
    """Nobody could take the chat: the customer's message becomes a ticket (留言)."""
    from kefu.tickets import service as tickets
    from kefu.tickets.schemas import TicketCreate

    text = turn.text.strip()
    if text in ("我要留言", "留言"):
        return TurnResult(outcome="asked").say(
            "请直接输入留言内容，并留下手机号或邮箱方便我们联系您。"
        )
    turn.clear_pending()
    email = _EMAIL.search(text)
    phone = _MOBILE.search(text)
    customer = turn.customer
    subject = " ".join(text.split())
    ticket = await tickets.create_ticket(
        turn.session,
        turn.actor,
        TicketCreate(
            subject=("在线留言：" + subject)[:60],
            description=text,
            type_code="inquiry",
            customer_id=customer.id if customer else None,
            conversation_id=turn.conversation.id,
            order_ids=[turn.state.order_id] if turn.state.order_id else [],
            contact_name=(customer.nickname if customer else turn.conversation.visitor_name)[:64],
            contact_email=email.group(0) if email else None,
            contact_phone=phone.group(1) if phone else None,
        ),
        source="chat_offline",
        store_id=turn.store.id,
    )
    return TurnResult(outcome="message_taken", action_result=f"leave_message:{ticket.number}").say(
        f"已收到您的留言（工单号 {ticket.number}），客服上线后会尽快联系您。"
    )
