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

from kefu.channels import identity
from kefu.channels.identity import IdentityRefused
from kefu.channels.settings import widget_settings
from kefu.conversations import routing, service
from kefu.conversations.events import (
    TypingEvent,
    conversation_channel,
    for_customer,
    publish_typing,
)
from kefu.conversations.realtime import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    Payload,
    Socket,
    in_transaction,
    reject,
)
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


def _context(ws: WebSocket) -> dict[str, Any]:
    params = ws.query_params
    return {
        "page_url": (params.get("page") or "")[:500],
        "referrer": (params.get("ref") or "")[:500],
        "user_agent": ws.headers.get("user-agent", "")[:300],
        "entry": params.get("entry") or "h5",
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
            agents_online = await routing.anyone_online(session)
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

    def visible(payload: Payload) -> Payload | None:
        if payload.get("type") == "typing" and payload.get("origin") == sock.origin:
            return None
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
            "agents_online": agents_online,
        }
    )

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
        )

    async def on_frame(frame: Payload) -> None:
        kind = frame.get("type")
        if kind == "resume":
            resume = ResumeFrame.model_validate(frame)
            await sock.send_backlog(fetch, resume.after)
            sock.resumed()
        elif kind == "send":
            sock.resumed()
            send = SendFrame.model_validate(frame)
            rate.check()

            async def work(session: AsyncSession) -> service.Posted:
                return await service.post_customer_message(
                    session,
                    contact,
                    client_msg_id=send.client_id,
                    body=send.body,
                    kind=send.kind,
                    conversation_id=send.conversation_id,
                    channel=channel_kind,
                    context=_context(ws),
                )

            posted = await in_transaction(db, work)
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
