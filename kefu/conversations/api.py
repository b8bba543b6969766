"""Agent-side JSON routes and the agent WebSocket `/api/v1/agent/ws`.

Write routes commit before answering: an agent who saw "sent" must find the reply stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Query, WebSocket
from sqlalchemy import func, select

from kefu.accounts.deps import Principal, Require, user_from_cookie_session
from kefu.accounts.models import Group, User
from kefu.accounts.permissions import Permission, permissions_for
from kefu.conversations import inbox, routing, service, workspace
from kefu.conversations.events import (
    TypingEvent,
    ViewingEvent,
    event_out,
    publish_typing,
    publish_viewing,
    store_channel,
)
from kefu.conversations.models import ConversationEvent
from kefu.conversations.realtime import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
    Payload,
    Socket,
    in_transaction,
    reject,
)
from kefu.conversations.schemas import (
    AssignIn,
    ConversationDetail,
    EventOut,
    PostMessageIn,
    PostResultOut,
    PresenceIn,
    ReadFrame,
    ResumeFrame,
    SendFrame,
    SnoozeIn,
    Status,
    TransferIn,
    TypingFrame,
    View,
    ViewingFrame,
)
from kefu.core.audit import Actor
from kefu.core.db import Database
from kefu.core.deps import DbSession
from kefu.core.errors import Forbidden, Invalid, Unauthorized
from kefu.store.models import Store

log = structlog.get_logger(__name__)
router = APIRouter(tags=["conversations"])

InboxUser = Annotated[Principal, Require(Permission.inbox_use)]


@router.get("/conversations")
async def list_conversations(
    principal: InboxUser,
    session: DbSession,
    view: View = "all",
    status: Status | None = "open",
    group: int | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> dict[str, Any]:
    query = inbox.InboxQuery(view=view, status=status, group_id=group, q=q)
    items = await inbox.list_inbox(session, principal.user, query)
    groups = await inbox.groups_of(session, principal.user.id)
    counts = await inbox.count_views(session, principal.user, groups)
    return {"items": [i.model_dump(mode="json") for i in items], "counts": counts}


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: int, principal: InboxUser, session: DbSession
) -> ConversationDetail:
    conversation = await service.get_conversation(session, conversation_id)
    rows = await service.events_after(session, 0, conversation_id=conversation.id)
    return ConversationDetail(
        conversation=await service.summarize(session, conversation),
        events=[event_out(e, m) for e, m in rows],
    )


@router.get("/conversations/{conversation_id}/events")
async def conversation_events(
    conversation_id: int,
    principal: InboxUser,
    session: DbSession,
    after: Annotated[int, Query(ge=0)] = 0,
) -> list[EventOut]:
    await service.get_conversation(session, conversation_id)
    rows = await service.events_after(session, after, conversation_id=conversation_id)
    return [event_out(e, m) for e, m in rows]


@router.post("/conversations/{conversation_id}/messages", status_code=201)
async def post_message(
    conversation_id: int, body: PostMessageIn, principal: InboxUser, session: DbSession
) -> PostResultOut:
    posted = await service.post_agent_message(
        session,
        principal.actor,
        conversation_id,
        client_msg_id=body.client_id,
        body=body.body,
        audience=body.audience,
    )
    await workspace.record_mentions(session, principal.actor, posted)
    await session.commit()
    return PostResultOut(
        message_id=posted.message.id,
        event_id=posted.event.id,
        conversation_id=posted.conversation.id,
        duplicate=posted.duplicate,
    )


async def _answer(session: DbSession, conversation_id: int) -> dict[str, Any]:
    await session.commit()
    conversation = await service.get_conversation(session, conversation_id)
    return (await service.summarize(session, conversation)).model_dump(mode="json")


@router.post("/conversations/{conversation_id}/assign")
async def assign(
    conversation_id: int, body: AssignIn, principal: InboxUser, session: DbSession
) -> dict[str, Any]:
    conversation = await service.get_conversation(session, conversation_id)
    routing.check_reassign(principal.user, conversation, body.assignee_id)
    await service.assign_conversation(session, principal.actor, conversation_id, body.assignee_id)
    return await _answer(session, conversation_id)


@router.post("/conversations/{conversation_id}/transfer")
async def transfer(
    conversation_id: int, body: TransferIn, principal: InboxUser, session: DbSession
) -> dict[str, Any]:
    """To a colleague (`assignee_id`) or a group's queue (`group_id`), with a note for them."""
    await workspace.transfer_conversation(
        session,
        principal.user,
        conversation_id,
        assignee_id=body.assignee_id,
        group_id=body.group_id,
        note=body.note,
        actor=principal.actor,
    )
    if body.assignee_id is None:
        await routing.drain_queue(session)  # into a group's queue: route it within the group
    return await _answer(session, conversation_id)


@router.post("/conversations/{conversation_id}/snooze")
async def snooze(
    conversation_id: int, body: SnoozeIn, principal: InboxUser, session: DbSession
) -> dict[str, Any]:
    """Until a time (`until`, ISO 8601) or a preset: `1h`, or `tomorrow` 9:00 shop time."""
    if body.preset is not None:
        until = await workspace.snooze_until_preset(session, conversation_id, body.preset)
    elif body.until is not None:
        until = body.until
    else:
        raise workspace.SnoozeTimeInvalid()
    await workspace.snooze_conversation(
        session, principal.user, conversation_id, until, actor=principal.actor
    )
    return await _answer(session, conversation_id)


@router.post("/conversations/{conversation_id}/wake")
async def wake(conversation_id: int, principal: InboxUser, session: DbSession) -> dict[str, Any]:
    await workspace.wake_now(session, principal.user, conversation_id, actor=principal.actor)
    return await _answer(session, conversation_id)


@router.get("/agent/directory")
async def agent_directory(principal: InboxUser, session: DbSession) -> dict[str, Any]:
    """Colleagues and groups, for the transfer dialog and the @ picker."""
    board = await inbox.team_board(session)
    groups = await session.scalars(select(Group).order_by(Group.name))
    return {
        "agents": [
            {
                "id": a.user.id,
                "name": a.user.display_name,
                "status": a.status,
                "open_chats": a.open_chats,
                "cap": a.cap,
            }
            for a in board
        ],
        "groups": [{"id": g.id, "name": g.name} for g in groups],
    }


@router.post("/conversations/{conversation_id}/resolve")
async def resolve(conversation_id: int, principal: InboxUser, session: DbSession) -> dict[str, Any]:
    await service.resolve_conversation(session, principal.actor, conversation_id)
    return await _answer(session, conversation_id)


@router.post("/conversations/{conversation_id}/reopen")
async def reopen(conversation_id: int, principal: InboxUser, session: DbSession) -> dict[str, Any]:
    await service.reopen_conversation(session, principal.actor, conversation_id)
    return await _answer(session, conversation_id)


@router.post("/conversations/{conversation_id}/read")
async def read(conversation_id: int, principal: InboxUser, session: DbSession) -> dict[str, Any]:
    await workspace.mark_mentions_read(session, principal.user.id, conversation_id)
    await service.mark_read_by_agent(session, principal.actor, conversation_id)
    return await _answer(session, conversation_id)


@router.get("/agent/presence")
async def get_presence(principal: InboxUser, session: DbSession) -> dict[str, str]:
    return {"status": await routing.agent_status(session, principal.user.id)}


@router.post("/agent/presence")
async def set_presence(
    body: PresenceIn, principal: InboxUser, session: DbSession
) -> dict[str, str]:
    """Online (takes routed chats), busy or away (keep their chats, get no new ones)."""
    presence = await routing.set_status(session, principal.actor, principal.user.id, body.status)
    if presence.status == "online":
        await routing.drain_queue(session)
    await session.commit()
    return {"status": presence.status}


# --- the agent socket --------------------------------------------------------------------


def _same_origin(ws: WebSocket) -> bool:
    """Refuse sockets opened by other sites with the agent's cookie (cross-site hijacking)."""
    origin = ws.headers.get("origin")
    if not origin:
        return True  # not a browser
    return urlsplit(origin).netloc == ws.headers.get("host", "")


async def _agent(ws: WebSocket, db: Database) -> tuple[User, list[int], int] | None:
    uid = ws.session.get("uid") if "session" in ws.scope else None
    if uid is None or not _same_origin(ws):
        await reject(ws, Unauthorized(), CLOSE_UNAUTHORIZED)
        return None
    async with db.sessionmaker() as session:
        # The same check as pages: a signed-out or replayed cookie opens no socket.
        user = await user_from_cookie_session(
            ws.session, session, ws.app.state.settings.session_max_age_s
        )
        if user is None:
            await reject(ws, Unauthorized(), CLOSE_UNAUTHORIZED)
            return None
        if Permission.inbox_use not in permissions_for(user.role):
            await reject(
                ws,
                Forbidden("您没有使用工作台的权限", "Permission required: inbox.use"),
                CLOSE_FORBIDDEN,
            )
            return None
        store_ids = list(await session.scalars(select(Store.id)))
        last = await session.scalar(select(func.max(ConversationEvent.id))) or 0
    return user, store_ids, int(last)


@router.websocket("/agent/ws")
async def agent_socket(ws: WebSocket) -> None:
    db: Database = ws.app.state.db
    found = await _agent(ws, db)
    if found is None:
        return
    user, store_ids, last_event_id = found
    actor = Actor("user", user.id, user.display_name, ws.client.host if ws.client else None)
    await ws.accept()

    def visible(payload: Payload) -> Payload | None:
        # Colleagues' typing and viewing drive the collision notice; one's own socket's never.
        if payload.get("type") in ("typing", "viewing") and payload.get("origin") == sock.origin:
            return None
        return payload

    sock = Socket(ws, db, visible)
    await sock.subscribe([store_channel(i) for i in store_ids])

    last_touch: list[datetime] = []  # this socket's latest presence time, for `socket_gone`

    async def came_online(session: Any) -> None:
        last_touch[:] = [await routing.touch_presence(session, user.id)]
        if await routing.agent_status(session, user.id) == "online":
            await routing.drain_queue(session)  # chats that waited for someone like them

    async def tick() -> None:
        async def touch(session: Any) -> None:
            last_touch[:] = [await routing.touch_presence(session, user.id)]

        await in_transaction(db, touch)

    await in_transaction(db, came_online)
    sock.on_tick = tick
    await sock.send(
        {
            "type": "hello",
            "user": {"id": user.id, "name": user.display_name},
            "last_event_id": last_event_id,
        }
    )
    store_of: dict[int, int] = {}

    async def conversation_store(conversation_id: int) -> int:
        if conversation_id not in store_of:
            async with db.sessionmaker() as session:
                conversation = await service.get_conversation(session, conversation_id)
                store_of[conversation_id] = conversation.store_id
        return store_of[conversation_id]

    async def on_frame(frame: Payload) -> None:
        kind = frame.get("type")
        if kind == "resume":
            # The cursor is the last event id the client saw, or the `last_event_id` of the
            # hello frame / the page it loaded; everything after it comes from the database.
            resume = ResumeFrame.model_validate(frame)

            async def fetch(session: Any, after: int) -> list[service.Row]:
                # The overlap is taken at each fetch: the socket fetches again after a
                # Redis outage, possibly long after the resume.
                return await service.events_after(
                    session,
                    after,
                    store_ids=store_ids,
                    overlap_since=sock.overlap_since(),
                    known_ids=sock.sent_ids,
                )

            await sock.send_backlog(fetch, resume.after, with_summaries=True)
            sock.resumed()
        elif kind == "send":
            sock.resumed()
            send = SendFrame.model_validate(frame)
            if send.conversation_id is None:
                raise Invalid("缺少会话编号", "conversation_id is required")
            conversation_id = send.conversation_id

            async def work(session: Any) -> service.Posted:
                posted = await service.post_agent_message(
                    session,
                    actor,
                    conversation_id,
                    client_msg_id=send.client_id,
                    body=send.body,
                    audience=send.audience,
                )
                await workspace.record_mentions(session, actor, posted)
                return posted

            posted = await in_transaction(db, work)
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
            if typing.conversation_id is not None:
                store_id = await conversation_store(typing.conversation_id)
                await publish_typing(
                    TypingEvent(
                        conversation_id=typing.conversation_id,
                        who="agent",
                        name=user.display_name,
                        on=typing.on,
                        origin=sock.origin,
                        user_id=user.id,
                    ),
                    store_id,
                    to_customer=typing.audience == "public",
                )
        elif kind == "viewing":
            viewing = ViewingFrame.model_validate(frame)
            store_id = await conversation_store(viewing.conversation_id)
            await publish_viewing(
                ViewingEvent(
                    conversation_id=viewing.conversation_id,
                    user_id=user.id,
                    name=user.display_name,
                    on=viewing.on,
                    reply=viewing.reply,
                    origin=sock.origin,
                ),
                store_id,
            )
        elif kind == "read":
            read_frame = ReadFrame.model_validate(frame)
            if read_frame.conversation_id is not None:
                read_id = read_frame.conversation_id

                async def mark(session: Any) -> object:
                    await workspace.mark_mentions_read(session, user.id, read_id)
                    return await service.mark_read_by_agent(session, actor, read_id)

                await in_transaction(db, mark)

    try:
        await sock.run(on_frame)
    finally:

        async def gone(session: Any) -> None:
            await routing.socket_gone(session, user.id, last_touch[0] if last_touch else None)

        try:
            await in_transaction(db, gone)
        except Exception:  # presence then expires by itself within PRESENCE_TTL
            log.warning("presence_release_failed", user_id=user.id)
