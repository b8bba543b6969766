"""Telling the buyer what happened to their case: in their open chat, else by email.

A message goes into the case's conversation (or the customer's latest open one in the store)
through the conversations service, so it appears in the chat like any reply; without an open
conversation it is mailed if the customer's address is known. A notification that cannot be
delivered never undoes the case change that caused it: it runs in a savepoint and is logged.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.aftersales.models import AftersalesCase
from kefu.conversations import service as conversations
from kefu.conversations.models import Conversation
from kefu.core.audit import Actor
from kefu.core.errors import KefuError
from kefu.core.mail import queue_mail
from kefu.store.models import Customer

log = structlog.get_logger(__name__)

NOTIFIER = Actor("system", None, "售后通知")


async def _open_conversation(session: AsyncSession, case: AftersalesCase) -> Conversation | None:
    if case.conversation_id is not None:
        linked = await session.get(Conversation, case.conversation_id)
        if linked is not None and linked.status == "open":
            return linked
    if case.customer_id is None:
        return None
    found: Conversation | None = await session.scalar(
        select(Conversation)
        .where(
            Conversation.store_id == case.store_id,
            Conversation.customer_id == case.customer_id,
            Conversation.status == "open",
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return found


async def notify_customer(
    session: AsyncSession, case: AftersalesCase, text: str, *, event_id: int
) -> str:
    """Deliver `text` to the buyer; returns "chat", "mail" or "none" (for the case log)."""
    try:
        async with session.begin_nested():
            conversation = await _open_conversation(session, case)
            if conversation is not None:
                # A notice, not an answer: the chat's waiting clock and assignee stay as they are.
                await conversations.post_system_message(
                    session,
                    conversation.id,
                    client_msg_id=f"aftersales-{case.id}-{event_id}",
                    body=f"【售后单 {case.number}】{text}",
                    name=NOTIFIER.name,
                )
                return "chat"
            customer = await session.get(Customer, case.customer_id) if case.customer_id else None
            if customer is not None and customer.email:
                await queue_mail(
                    session,
                    customer.email,
                    f"售后单 {case.number} 进度更新",
                    f"{text}\n\n售后单号：{case.number}\n",
                    purpose="aftersales",
                    store_id=case.store_id,
                )
                return "mail"
    except KefuError as exc:
        log.warning("aftersales_notify_failed", case_id=case.id, error=exc.en)
    return "none"
