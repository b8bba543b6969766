"""Public customer-side routes: widget configuration and the customer WebSocket.

These routes need no sign-in (a shopper is not a Kefu user); they are on the explicit public
allow-list (`/api/v1/widget/*`). A customer only ever reaches their own conversation: the
visitor token or the shop-signed identity decides which one.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from fastapi import APIRouter, WebSocket
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.channels import identity, offline
from kefu.channels.identity import IdentityRefused
from kefu.channels.offline import OfflineMessageIn
from kefu.channels.settings import widget_settings
from kefu.conversations import cards, queue, service
from kefu.conversations.cards import ProductCard
from kefu.conversations.events import (
    TypingEvent,
    conversation_channel,
    for_customer,
    publish_typing,
)
from kefu.conversations.groupcommit import CustomerSend, writer_for
from kefu.conversations.realtime import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    Payload,
    Socket,
    in_transaction,
    reject,
)
from kefu.conversations.routing_settings import public_entries
from kefu.conversations.schemas import ReadFrame, ResumeFrame, SendFrame, TypingFrame
from kefu.core.db import Database
from kefu.core.deps import DbSession
from kefu.core.errors import KefuError, TooManyRequests

router = APIRouter(tags=["channels"])

# A person types a few messages a second at most; a script on a public socket does not.
SEND_BURST = 20
SEND_WINDOW_S = 10.0


class SendRate:
    """Sliding-window limit of messages per customer socket."""

    def __init__(self, burst: int = SEND_BURST, window_s: float = SEND_WINDOW_S) -> None:
        self.burst, self.window_s = burst, window_s
        self._sent: deque[float] = deque()

    def check(self) -> None:
        now = time.monotonic()
        while self._sent and now - self._sent[0] > self.window_s:
            self._sent.popleft()
        if len(self._sent) >= self.burst:
            raise TooManyRequests("发送太频繁，请稍后再发", "Too many messages; wait a moment")
        self._sent.append(now)


@router.get("/widget/config")
async def widget_config(channel: str, session: DbSession) -> dict[str, Any]:
    """Name, colours and greeting of a shop's chat, for the widget and the H5 page."""
    store = await identity.store_by_channel(session, channel)
    return widget_settings(store)


def _context(ws: WebSocket, topic: str) -> dict[str, Any]:
    params = ws.query_params
    return {
        "page_url": (params.get("page") or "")[:500],
        "referrer": (params.get("ref") or "")[:500],
        "user_agent": ws.headers.get("user-agent", "")[:300],
        "entry": params.get("entry") or "h5",
        "topic": topic,
    }


def _topic(value: object) -> str:
    return value.strip().lower()[:32] if isinstance(value, str) else ""


@router.post("/widget/offline-messages", status_code=201)
async def offline_message(body: OfflineMessageIn, session: DbSession) -> dict[str, Any]:
    """The offline form (留言): stored in the chat, turned into a ticket, optionally mailed."""
    store = await identity.store_by_channel(session, body.channel)
    contact, _token = await identity.resolve_contact(
        session,
        store,
        visitor_token=body.visitor_token or None,
        user_id=body.uid or None,
        user_hash=body.uid_hash or None,
        name=body.name,
    )
    result = await offline.leave_offline_message(session, store, contact, body)
    await session.commit()
    return {
        "ticket_number": result.ticket_number,
        "conversation_id": result.conversation_id,
        "message_id": result.message_id,
        "duplicate": result.duplicate,
        "transcript_sent": result.transcript_sent,
    }


@router.websocket("/widget/ws")
async def customer_socket(ws: WebSocket) -> None:
    """`/api/v1/widget/ws?channel=<store code>&visitor=<token>[&uid=…&uid_hash=…&name=…]`."""
    db: Database = ws.app.state.db
    params = ws.query_params
    try:
        async with db.sessionmaker() as session:
            store = await identity.store_by_channel(session, params.get("channel") or "")
            contact, token = await identity.resolve_contact(
                session,
                store,
                visitor_token=params.get("visitor") or ws.cookies.get(identity.VISITOR_COOKIE),
                user_id=params.get("uid") or None,
                user_hash=params.get("uid_hash") or None,
                name=params.get("name") or "",
            )
            conversation = await service.current_conversation(session, contact)
            topic = _topic(params.get("topic"))
            available = await queue.availability(
                session, store, topic=topic, conversation=conversation
            )
            entries = public_entries(store)
            await session.commit()
    except IdentityRefused as exc:
        await reject(ws, exc, CLOSE_FORBIDDEN)
        return
    except KefuError as exc:
        await reject(ws, exc, CLOSE_NOT_FOUND)
        return
    await ws.accept()
    channel_kind = "web" if (params.get("entry") == "widget") else "h5"
    state: dict[str, int | None] = {"conversation_id": conversation.id if conversation else None}
    chosen = {"topic": topic}

    def visible(payload: Payload) -> Payload | None:
        if payload.get("type") == "typing" and payload.get("origin") == sock.origin:
            return None
        if payload.get("type") == "queue":
            return payload if payload.get("conversation_id") == state["conversation_id"] else None
        shown = for_customer(payload)
        if shown is None or shown.get("conversation_id") != state["conversation_id"]:
            return None
        return shown

    sock = Socket(ws, db, visible)
    rate = SendRate()

    async def follow(conversation_id: int | None) -> None:
        channels = [conversation_channel(conversation_id)] if conversation_id else []
        await sock.subscribe(channels)

    await follow(state["conversation_id"])
    await sock.send(
        {
            "type": "hello",
            "visitor_token": token,
            "conversation_id": state["conversation_id"],
            "identified": contact.customer_id is not None,
            "name": contact.name,
            "agent_read_up_to": conversation.agent_read_up_to if conversation else 0,
            "customer_read_up_to": conversation.customer_read_up_to if conversation else 0,
            "status": conversation.status if conversation else None,
            "agents_online": available.agents_online,
            "topic": topic,
            "entries": entries,
            "availability": available.frame(),
        }
    )

    async def send_queue_state() -> None:
        """Tell a waiting customer their place in line now (later changes come as pushes)."""
        conversation_id = state["conversation_id"]
        if conversation_id is None:
            return
        async with db.sessionmaker() as session:
            found = await queue.queue_state(session, conversation_id)
        if found is not None:
            await sock.send(found.frame())

    async def send_availability() -> None:
        async with db.sessionmaker() as session:
            current = (
                await service.get_conversation(session, state["conversation_id"])
                if state["conversation_id"] is not None
                else None
            )
            found = await queue.availability(
                session, store, topic=chosen["topic"], conversation=current
            )
            await session.commit()
        await sock.send(found.frame())

    async def fetch(session: AsyncSession, after: int) -> list[service.Row]:
        conversation_id = state["conversation_id"]
        if conversation_id is None:
            return []
        return await service.events_after(
            session,
            after,
            conversation_id=conversation_id,
            public_only=True,
            overlap_since=sock.overlap_since(),
            known_ids=sock.sent_ids,
        )

    async def on_frame(frame: Payload) -> None:
        kind = frame.get("type")
        if kind == "resume":
            resume = ResumeFrame.model_validate(frame)
            await sock.send_backlog(fetch, resume.after)
            sock.resumed()
            await send_queue_state()
        elif kind == "topic":
            # The visitor picked an entry (售前 / 售后) from the menu before writing.
            chosen["topic"] = _topic(frame.get("topic"))
            await send_availability()
        elif kind == "availability":
            await send_availability()
        elif kind == "send":
            sock.resumed()
            send = SendFrame.model_validate(frame)
            rate.check()

            async def work(session: AsyncSession) -> service.Posted:
                common: dict[str, Any] = {
                    "client_msg_id": send.client_id,
                    "conversation_id": send.conversation_id,
                    "channel": channel_kind,
                    "context": _context(ws, chosen["topic"]),
                }
                if send.kind == "product":
                    card = ProductCard.model_validate(send.product or {})
                    return await cards.post_product_card(session, contact, card, **common)
                if send.kind == "order":
                    order_no = send.order_no or ""
                    return await cards.post_customer_order_card(
                        session, contact, order_no, **common
                    )
                # Images arrive over HTTP (media_api); a frame cannot make one up.
                return await service.post_customer_message(
                    session, contact, body=send.body, kind=send.kind, **common
                )

            posted = await writer_for(db).post(
                CustomerSend(
                    contact,
                    send.client_id,
                    send.body,
                    work,
                    kind=send.kind,
                    # The socket knows its chat even when the frame does not say.
                    conversation_id=send.conversation_id or state["conversation_id"],
                )
            )
            if state["conversation_id"] != posted.conversation.id:
                # The first message opened the conversation: follow it, then catch up on
                # anything committed before the subscription was live.
                state["conversation_id"] = posted.conversation.id
                await follow(posted.conversation.id)
                await sock.send_backlog(fetch, sock.cursor)
            await sock.send(
                {
                    "type": "ack",
                    "client_id": send.client_id,
                    "message_id": posted.message.id,
                    "event_id": posted.event.id,
                    "conversation_id": posted.conversation.id,
                    "duplicate": posted.duplicate,
                }
            )
            if posted.conversation.assignee_id is None and posted.conversation.waiting_since:
                await send_queue_state()  # in line for an agent: where, and for how long
        elif kind == "follow":
            # A message posted over HTTP (an image) may have opened the conversation.
            if state["conversation_id"] is None:
                async with db.sessionmaker() as session:
                    found = await service.current_conversation(session, contact)
                if found is not None:
                    state["conversation_id"] = found.id
                    await follow(found.id)
                    await sock.send_backlog(fetch, sock.cursor)
                    await send_queue_state()
        elif kind == "typing":
            typing = TypingFrame.model_validate(frame)
            if state["conversation_id"] is not None:
                await publish_typing(
                    TypingEvent(
                        conversation_id=state["conversation_id"],
                        who="customer",
                        name=contact.name,
                        on=typing.on,
                        origin=sock.origin,
                    ),
                    contact.store_id,
                )
        elif kind == "read":
            ReadFrame.model_validate(frame)
            conversation_id = state["conversation_id"]
            if conversation_id is not None:

                async def mark(session: AsyncSession) -> object:
                    return await service.mark_read_by_customer(session, contact, conversation_id)

                await in_transaction(db, mark)

    await sock.run(on_frame)
