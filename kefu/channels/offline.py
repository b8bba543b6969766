"""Offline messages (留言): a customer who cannot chat now leaves contact and question.

What happens, in one transaction:

1. The question is stored as the customer's message in their conversation (opening or
   reopening it, idempotent by the form's client id), so the chat log never loses it and an
   agent who opens the chat sees it.
2. A ticket of type 咨询 (`inquiry`, source `chat_offline`; at most 5 a day per conversation)
   is created in the conversation's skill group, unassigned, carrying the transcript, the
   contact left on the form (the ticket's contact fields, masked for roles without
   customers.reveal_pii) and a link to the chat, for the next shift; a signed-in shopper's
   customer record is linked too.
3. If asked and an email was given, the customer gets the conversation's transcript by email.

A resent form (same client id) returns the ticket created the first time.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.conversations import service as chat
from kefu.core.audit import record_audit
from kefu.core.db import utcnow
from kefu.core.mail import queue_mail
from kefu.store.models import Store

SOURCE = "chat_offline"
PER_CONVERSATION_PER_DAY = 5
_DAY = timedelta(days=1)
_PHONE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$")


class OfflineMessageIn(BaseModel):
    """The offline form. Error messages are Chinese first; the API adds English."""

    channel: str = Field(min_length=1, max_length=40)
    visitor_token: str = Field(default="", max_length=200)
    uid: str = Field(default="", max_length=128)
    uid_hash: str = Field(default="", max_length=128)
    client_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(default="", max_length=32)
    email: str = Field(default="", max_length=254)
    # Not "body": problem+json drops a "body" segment from error locations.
    question: str = Field(min_length=1, max_length=2000)
    topic: str = Field(default="", max_length=32)
    send_transcript: bool = False

    @field_validator("name", "question")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("不能为空 / must not be empty")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        value = value.strip().replace(" ", "")
        if value and not _PHONE.match(value):
            raise ValueError("手机号格式不正确 / not a valid phone number")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if value and not _EMAIL.match(value):
            raise ValueError("邮箱格式不正确 / not a valid email address")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> OfflineMessageIn:
        if not self.phone and not self.email:
            raise ValueError("请留下手机号或邮箱 / leave a phone number or an email address")
        if self.send_transcript and not self.email:
            raise ValueError("发送聊天记录需要邮箱 / the transcript needs an email address")
        return self


@dataclass(frozen=True)
class OfflineResult:
    ticket_id: int | None  # None: kept in the chat only (daily limit reached)
    ticket_number: str | None
    conversation_id: int
    message_id: int
    duplicate: bool
    transcript_sent: bool


def _transcript_text(
    store: Store, number: str, lines: list[dict[str, object]], status_url: str
) -> str:
    who = {"customer": "我", "agent": "客服", "bot": "机器人"}
    body = "\n".join(
        f"[{line['sent_at']:%Y-%m-%d %H:%M}] "
        f"{line['sender_name'] or who.get(str(line['sender']), '系统')}: {line['body']}"
        for line in lines
    )
    return (
        f"您好，我们已收到您的留言（工单号 {number}），客服上班后会尽快联系您。\n\n"
        f"查看处理进度：{status_url}\n\n"
        f"以下是您与「{store.name}」在线客服的聊天记录：\n\n{body}\n\n— {store.name} 客服"
    )


async def leave_offline_message(
    session: AsyncSession, store: Store, contact: chat.Contact, data: OfflineMessageIn
) -> OfflineResult:
    from kefu.tickets import notify, portal
    from kefu.tickets import service as tickets
    from kefu.tickets.models import Ticket, TicketMessage
    from kefu.tickets.schemas import ConversationMessage, TicketCreate

    posted = await chat.post_customer_message(
        session,
        contact,
        client_msg_id=data.client_id,
        body=data.question,
        channel="web",
        context={"entry": "offline_form", "topic": data.topic},
    )
    conversation = posted.conversation
    ref = f"conversation-message:{posted.message.id}"
    if posted.duplicate:
        # The form was resent: answer with the ticket made the first time.
        found = await session.scalar(
            select(Ticket)
            .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
            .where(Ticket.source == SOURCE, TicketMessage.external_ref == ref)
            .limit(1)
        )
        if found is not None:
            return OfflineResult(
                found.id, found.number, conversation.id, posted.message.id, True, False
            )
    recent = await session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.source == SOURCE,
            Ticket.conversation_id == conversation.id,
            Ticket.created_at >= utcnow() - _DAY,
        )
    )
    if (recent or 0) >= PER_CONVERSATION_PER_DAY:
        # A flood from one browser: the message is kept in the chat (step 1), but no more
        # tickets or mails (the transcript mail must not become a way to spam an address).
        return OfflineResult(None, None, conversation.id, posted.message.id, False, False)
    lines = await chat.public_transcript(session, conversation.id)
    subject = f"离线留言：{' '.join(data.question.split())}"
    ticket = await tickets.create_ticket(
        session,
        contact.actor,
        TicketCreate(
            subject=subject[:59] + "…" if len(subject) > 60 else subject,
            # The contact goes in the ticket's contact fields (masked), not in free text.
            description=data.question,
            type_code="inquiry",
            customer_id=contact.customer_id,
            conversation_id=conversation.id,
            group_id=conversation.group_id,
            tags=["留言"],
            contact_name=data.name,
            contact_phone=data.phone or None,
            contact_email=data.email or None,
        ),
        source=SOURCE,
        store_id=store.id,
        initial_messages=[ConversationMessage(**line) for line in lines],
    )
    await record_audit(
        session,
        contact.actor,
        "conversation.offline_message",
        "conversation",
        conversation.id,
        after={"ticket_id": ticket.id, "message_id": posted.message.id},
        store_id=store.id,
    )
    sent = False
    if data.email and not data.send_transcript:
        await notify.created(session, ticket)  # a short confirmation with the status link
    if data.send_transcript and data.email:
        text = _transcript_text(store, ticket.number, lines, portal.customer_url(ticket.id))
        await queue_mail(
            session,
            data.email,
            f"{store.name} 在线客服：您的留言已收到（{ticket.number}）",
            text,
            html='<pre style="font-family:inherit;white-space:pre-wrap">'
            + html.escape(text)
            + "</pre>",
            purpose="chat_transcript",
            store_id=store.id,
        )
        sent = True
    return OfflineResult(
        ticket.id, ticket.number, conversation.id, posted.message.id, posted.duplicate, sent
    )
