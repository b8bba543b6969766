"""Telling the customer: replies, status changes and the CSAT survey go out where they came from.

A ticket made from a chat answers in that chat (the reply is posted into the conversation as
the agent's message, so the widget shows it live or on the next visit). Every ticket whose
customer left an email address (the web form, an offline message, the customer record) also
gets an email with the reply and the signed status link. Everything is queued in the caller's
transaction: no notice for a change that was rolled back, none lost for one that committed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor
from kefu.core.mail import queue_mail
from kefu.store.models import Customer, Store
from kefu.tickets import portal
from kefu.tickets.enums import TicketStatus
from kefu.tickets.models import Ticket, TicketMessage

# Tickets the customer opened themselves: they get a confirmation with the status link.
# (An offline chat message confirms itself, together with the transcript if one was asked for.)
CUSTOMER_SOURCES = frozenset({"web_form", "email"})

# Statuses the customer hears about; internal steps (pending_internal) stay internal.
_STATUS_NOTICE = {
    TicketStatus.pending_customer.value: "需要您补充信息",
    TicketStatus.resolved.value: "已解决",
    TicketStatus.closed.value: "已关闭",
}


async def customer_email(session: AsyncSession, ticket: Ticket) -> str | None:
    if ticket.contact_email:
        return ticket.contact_email
    if ticket.customer_id is not None:
        customer = await session.get(Customer, ticket.customer_id)
        if customer is not None and customer.email:
            return customer.email
    return None


async def _shop_name(session: AsyncSession, ticket: Ticket) -> str:
    store = await session.get(Store, ticket.store_id) if ticket.store_id else None
    return store.name if store is not None else "客服中心"


async def _mail(session: AsyncSession, ticket: Ticket, subject: str, lines: list[str]) -> None:
    to = await customer_email(session, ticket)
    if to is None:
        return
    shop = await _shop_name(session, ticket)
    url = portal.customer_url(ticket.id)
    text = "\n".join(
        [
            *lines,
            "",
            f"查看处理进度：{url}",
            "",
            f"— {shop}",
            "（此邮件由系统发送，请勿直接回复）",
        ]
    )
    await queue_mail(
        session,
        to,
        f"【{shop}】{subject}（工单 {ticket.number}）",
        text,
        purpose="ticket.notice",
        store_id=ticket.store_id,
    )


async def _to_chat(
    session: AsyncSession, actor: Actor, ticket: Ticket, client_msg_id: str, body: str
) -> None:
    if ticket.conversation_id is None:
        return
    from kefu.conversations import service as conversations
    from kefu.conversations.models import Conversation

    # Conversations can be deleted (retention); the ticket and its email still go on.
    if await session.get(Conversation, ticket.conversation_id) is None:
        return

    await conversations.post_agent_message(
        session, actor, ticket.conversation_id, client_msg_id=client_msg_id, body=body
    )


async def reply_sent(
    session: AsyncSession, actor: Actor, ticket: Ticket, message: TicketMessage
) -> None:
    """An agent answered the customer on the ticket."""
    await _to_chat(
        session,
        actor,
        ticket,
        f"ticket-reply:{message.id}",
        f"【工单 {ticket.number}】{message.body}",
    )
    await _mail(
        session,
        ticket,
        "客服回复了您的问题",
        [f"您好，关于「{ticket.subject}」：", "", message.body],
    )


async def status_changed(session: AsyncSession, actor: Actor, ticket: Ticket, status: str) -> None:
    notice = _STATUS_NOTICE.get(status)
    if notice is None:
        return
    lines = [f"您的工单「{ticket.subject}」{notice}。"]
    if status == TicketStatus.resolved.value:
        lines.append("请点击下方链接为本次服务打分（1–5 星），您的评价对我们很重要。")
        await _to_chat(
            session,
            actor,
            ticket,
            f"ticket-resolved:{ticket.id}:{ticket.resolved_at or ''}",
            f"【工单 {ticket.number}】已解决。欢迎为本次服务打分：{portal.customer_url(ticket.id)}",
        )
    await _mail(session, ticket, f"工单{notice}", lines)


async def created(session: AsyncSession, ticket: Ticket) -> None:
    """Confirmation for tickets the customer opened themselves (web form, offline message)."""
    await _mail(
        session,
        ticket,
        "我们已收到您的问题",
        [
            f"您好，我们已收到您的问题「{ticket.subject}」，工单号 {ticket.number}。",
            "客服会尽快处理并回复您。",
        ],
    )
