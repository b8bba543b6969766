"""The agent workspace (工作台) at `/inbox`: conversation lists, the open chat, the customer.

The page is server-rendered; `static/js/inbox.js` keeps it live over the agent socket and
swaps the list and the conversation pane with the `/inbox/_list` and `/inbox/_pane/{id}`
fragments, so there is one renderer for each part.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.conversations import csat, routing, service
from kefu.conversations import inbox as inbox_queries
from kefu.conversations.events import event_out
from kefu.conversations.models import Conversation, ConversationEvent
from kefu.conversations.schemas import Status, View
from kefu.core.db import utcnow
from kefu.core.deps import DbSession
from kefu.core.errors import NotFound
from kefu.core.i18n import current_locale
from kefu.core.masking import mask_email, mask_name, mask_phone
from kefu.store.enums import ORDER_STATUS_LABELS, OrderStatus
from kefu.store.models import Customer, Order, Store
from kefu.web.templating import render

router = APIRouter(include_in_schema=False)

InboxUser = Annotated[Principal, Require(Permission.inbox_use)]
RECENT_ORDERS = 5
ORDER_TONE = {
    OrderStatus.WAIT_BUYER_PAY: "amber",
    OrderStatus.WAIT_SELLER_SEND_GOODS: "blue",
    OrderStatus.SELLER_CONSIGNED_PART: "blue",
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS: "purple",
    OrderStatus.TRADE_BUYER_SIGNED: "green",
    OrderStatus.TRADE_FINISHED: "green",
    OrderStatus.TRADE_CLOSED: "grey",
    OrderStatus.TRADE_CLOSED_BY_TAOBAO: "grey",
}


def _status_label(status: str) -> tuple[str, str]:
    try:
        known = OrderStatus(status)
    except ValueError:
        return status, "grey"
    zh, en = ORDER_STATUS_LABELS[known]
    return (zh if current_locale.get() == "zh_CN" else en), ORDER_TONE.get(known, "grey")


async def _customer_panel(
    session: AsyncSession, conversation: Conversation, principal: Principal
) -> dict[str, Any]:
    """What the agent sees about the customer; personal data masked unless the role may see it."""
    reveal = principal.can(Permission.customers_reveal_pii)
    store = await session.get(Store, conversation.store_id)
    panel: dict[str, Any] = {
        "store_name": store.name if store else "",
        "channel": conversation.channel,
        "context": conversation.context or {},
        "started_at": conversation.created_at,
        "first_response_at": conversation.first_response_at,
        "reveal": reveal,
        "customer": None,
        "orders": [],
        "order_count": 0,
    }
    if conversation.customer_id is None:
        return panel
    customer = await session.get(Customer, conversation.customer_id)
    if customer is None:
        return panel
    panel["customer"] = {
        "id": customer.id,
        "nickname": customer.nickname,
        "name": customer.name if reveal else mask_name(customer.name),
        "phone": customer.phone if reveal else mask_phone(customer.phone),
        "email": customer.email if reveal else mask_email(customer.email),
        "city": customer.city,
        "tier": customer.tier,
        "tags": customer.tags or [],
        "external_id": customer.external_id,
    }
    orders = list(
        await session.scalars(
            select(Order)
            .where(Order.customer_id == customer.id)
            .order_by(Order.placed_at.desc())
            .limit(RECENT_ORDERS)
        )
    )
    panel["order_count"] = int(
        await session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer.id)
        )
        or 0
    )
    panel["orders"] = [
        {
            "order_no": o.order_no,
            "status": o.status,
            "label": _status_label(o.status)[0],
            "tone": _status_label(o.status)[1],
            "total": o.total_amount,
            "placed_at": o.placed_at,
        }
        for o in orders
    ]
    return panel


async def _pane_context(
    session: AsyncSession, conversation_id: int, principal: Principal
) -> dict[str, Any]:
    try:
        conversation = await service.get_conversation(session, conversation_id)
    except service.ConversationNotFound:
        raise NotFound("会话不存在", "Conversation not found") from None
    rows = await service.events_after(session, 0, conversation_id=conversation.id)
    store = await session.get(Store, conversation.store_id)
    return {
        "conversation": await service.summarize(session, conversation),
        "target_s": inbox_queries.first_response_target(store),
        "events": [event_out(e, m).model_dump(mode="json") for e, m in rows],
        "panel": await _customer_panel(session, conversation, principal),
        "rating": await csat.rating_for(session, conversation.id),
    }


async def _list_context(
    session: AsyncSession,
    principal: Principal,
    view: str,
    status: str | None,
    group: int | None = None,
    q: str = "",
) -> dict[str, Any]:
    query = inbox_queries.InboxQuery(view=view, status=status, group_id=group, q=q.strip())
    items = await inbox_queries.list_inbox(session, principal.user, query)
    groups = await inbox_queries.groups_of(session, principal.user.id)
    return {
        "items": items,
        "counts": await inbox_queries.count_views(session, principal.user, groups),
        "my_groups": groups,
        "mentioned": await inbox_queries.unread_mentions(session, principal.user.id),
        "targets": await inbox_queries.response_targets(session),
        "view": view,
        "group": group or "",
        "q": query.q,
        "status": status or "",
    }


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(
    request: Request,
    session: DbSession,
    principal: InboxUser,
    view: View = "all",
    status: Status = "open",
    c: int | None = None,
    group: int | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    cursor = int(await session.scalar(select(func.max(ConversationEvent.id))) or 0)
    ctx: dict[str, Any] = {
        "section": "inbox",
        "shop_timezone": request.app.state.settings.default_timezone,
        "presence": await routing.agent_status(session, principal.user.id),
        "cursor": cursor,
        "current_id": c,
        "supervisor": principal.can(Permission.conversations_supervise),
        **await _list_context(session, principal, view, status, group, q),
    }
    if c is not None:
        ctx.update(await _pane_context(session, c, principal))
    return render(request, "conversations/inbox.html", ctx)


@router.get("/inbox/_list", response_class=HTMLResponse)
async def inbox_list(
    request: Request,
    session: DbSession,
    principal: InboxUser,
    view: View = "all",
    status: Status = "open",
    c: int | None = None,
    group: int | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    ctx = await _list_context(session, principal, view, status, group, q)
    return render(request, "conversations/_list.html", {**ctx, "current_id": c})


@router.get("/inbox/_pane/{conversation_id}", response_class=HTMLResponse)
async def inbox_pane(
    request: Request, conversation_id: int, session: DbSession, principal: InboxUser
) -> HTMLResponse:
    ctx = await _pane_context(session, conversation_id, principal)
    return render(request, "conversations/_pane.html", ctx)


@router.post("/inbox/{conversation_id}/ticket")
async def ticket_from_conversation(
    conversation_id: int,
    session: DbSession,
    principal: Annotated[Principal, Require(Permission.inbox_use, Permission.tickets_write)],
) -> RedirectResponse:
    """One click: a ticket carrying this chat's messages, assigned to the agent who made it."""
    from kefu.tickets.service import create_ticket_from_conversation

    conversation = await service.get_conversation(session, conversation_id)
    messages = await service.public_transcript(session, conversation_id)
    ticket = await create_ticket_from_conversation(
        session,
        principal.actor,
        conversation_id=conversation_id,
        messages=messages,
        customer_id=conversation.customer_id,
    )
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


@router.get("/inbox/team", response_class=HTMLResponse)
async def team(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Require(Permission.conversations_supervise)],
) -> HTMLResponse:
    """Who is on, how full each agent is, and who has kept a customer waiting longest."""
    return render(request, "conversations/team.html", await _team_context(session))


@router.get("/inbox/team/_board", response_class=HTMLResponse)
async def team_board(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Require(Permission.conversations_supervise)],
) -> HTMLResponse:
    return render(request, "conversations/_team_board.html", await _team_context(session))


async def _team_context(session: AsyncSession) -> dict[str, Any]:
    board = await inbox_queries.team_board(session)
    tally = {
        s: sum(1 for a in board if a.status == s) for s in ("online", "busy", "away", "offline")
    }
    return {
        "section": "inbox",
        "board": board,
        "tally": tally,
        "queue": await inbox_queries.queue_summary(session),
        "now": utcnow(),
    }
