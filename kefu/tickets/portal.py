"""What the customer sees: a status page and a CSAT (1–5) rating behind a signed link.

The link carries `itsdangerous`-signed ticket id (salted per purpose, valid 30 days), so it
needs no account and cannot be guessed or re-pointed at another ticket. The page shows only
the customer's own messages and our replies — never internal notes, events or names of
colleagues beyond the reply author. A rating can be given once per ticket (unique row), and
a low score (1–2) notifies the supervisors.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.config import get_settings
from kefu.core.errors import Conflict, Invalid, NotFound
from kefu.core.events import queue_event
from kefu.core.signed import SignedId
from kefu.tickets.models import CsatResponse, Ticket, TicketMessage

LINK_MAX_AGE_S = 30 * 24 * 3600
_SALT = "kefu.tickets.portal"


_LINKS = SignedId(
    _SALT,
    "t",
    LINK_MAX_AGE_S,
    ("链接已过期，请联系客服", "This link has expired"),
    ("链接无效", "This link is not valid"),
)


def link_token(ticket_id: int) -> str:
    return _LINKS.dumps(ticket_id)


def customer_url(ticket_id: int) -> str:
    return f"{get_settings().base_url.rstrip('/')}/t/{link_token(ticket_id)}"


def ticket_id_from(token: str) -> int:
    return _LINKS.loads(token)


async def public_view(session: AsyncSession, token: str) -> dict[str, Any]:
    ticket = await session.get(Ticket, ticket_id_from(token))
    if ticket is None:
        raise NotFound("找不到该工单", "Ticket not found")
    messages = (
        await session.scalars(
            select(TicketMessage)
            .where(
                TicketMessage.ticket_id == ticket.id, TicketMessage.kind.in_(("customer", "reply"))
            )
            .order_by(TicketMessage.created_at, TicketMessage.id)
        )
    ).all()
    rating = await session.scalar(select(CsatResponse).where(CsatResponse.ticket_id == ticket.id))
    return {"ticket": ticket, "messages": list(messages), "rating": rating}


async def rate(
    session: AsyncSession, token: str, score: int, comment: str, *, ip: str | None = None
) -> CsatResponse:
    ticket = await session.get(Ticket, ticket_id_from(token))
    if ticket is None:
        raise NotFound("找不到该工单", "Ticket not found")
    if ticket.status not in ("resolved", "closed"):
        raise Conflict("工单解决后才能评价", "You can rate once the ticket is resolved")
    if not 1 <= score <= 5:
        raise Invalid("请选择 1 到 5 星", "Choose 1 to 5 stars")
    response = CsatResponse(ticket_id=ticket.id, score=score, comment=comment.strip()[:1000])
    try:
        async with session.begin_nested():
            session.add(response)
    except IntegrityError as exc:
        raise Conflict("您已经评价过了，感谢反馈", "You have already rated this ticket") from exc
    await record_audit(
        session,
        Actor("customer", ticket.customer_id, "客户", ip),
        "ticket.csat",
        "ticket",
        ticket.id,
        after={"score": score},
        store_id=ticket.store_id,
    )
    payload = {
        "type": "ticket.csat",
        "ticket_id": ticket.id,
        "number": ticket.number,
        "score": score,
    }
    queue_event(session, f"ticket:{ticket.id}", payload)
    if score <= 2:
        from kefu.tickets.complaints import _notify_supervisors

        await _notify_supervisors(session, {**payload, "type": "ticket.csat_low"})
        if ticket.assignee_id:
            queue_event(
                session, f"agent:{ticket.assignee_id}", {**payload, "type": "ticket.csat_low"}
            )
    return response
