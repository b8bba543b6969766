"""Group commit: many customers' messages stored in one transaction.

A busy shop's widget sockets each send a message and wait for its acknowledgement. Storing
each in its own transaction pays a dozen database round trips and a commit per message, and
on SQLite the writes take turns anyway. Instead the sockets of a process hand their messages
to one `CustomerWriter`, which stores whatever has gathered while the previous batch was
being written in ONE transaction and answers every socket after that commit — so an
acknowledged message is still a stored message, and under light load a batch is simply one
message.

Inside a batch, the common case in a busy shop — a text message to an open conversation an
agent already has — takes the fast path: one query loads the batch's conversations with their
customers and agents, and the messages and their log rows go in with one INSERT per table.
Anything else (the first message, a resolved or snoozed chat, a chat waiting for routing or
the bot, images and cards) runs through `service.post_customer_message` one by one in the
same transaction, so the rules live in one place.

If the batch fails as a whole (a client id stored twice by a race, a lost connection), it is
rolled back and every message is retried in its own transaction, where the usual duplicate
check and error reporting apply: one bad message never takes its neighbours' down with it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import User
from kefu.conversations import service
from kefu.conversations.events import queue_log_events
from kefu.conversations.models import Conversation, Message
from kefu.conversations.realtime import transaction_in_turn, write_turn
from kefu.core.audit import record_audit
from kefu.core.db import Database, utcnow
from kefu.core.errors import KefuError
from kefu.store.models import Customer

log = structlog.get_logger(__name__)

MAX_BATCH = 200  # bounds one transaction's length, and so the wait of the batch behind it

Work = Callable[[AsyncSession], Awaitable[service.Posted]]
Result = service.Posted | BaseException


@dataclass(frozen=True)
class CustomerSend:
    """One message from a customer socket. `work` stores it the ordinary way; the writer
    uses it for anything the fast path does not take, and for retries."""

    contact: service.Contact
    client_msg_id: str
    body: str
    work: Work
    kind: str = "text"
    conversation_id: int | None = None


@dataclass
class _Pending:
    index: int
    send: CustomerSend
    conversation: Conversation
    message: Message


@dataclass
class _Batch:
    session: AsyncSession
    results: list[Result | None]
    pending: list[_Pending] = field(default_factory=list)
    # Loaded rows kept referenced so the identity map (weak) still has them for summaries.
    keep: list[Any] = field(default_factory=list)


def _fast_candidate(send: CustomerSend) -> bool:
    return send.kind == "text" and send.conversation_id is not None


def _owned(conversation: Conversation, contact: service.Contact) -> bool:
    if conversation.store_id != contact.store_id:
        return False
    if contact.customer_id is not None and conversation.customer_id is not None:
        return conversation.customer_id == contact.customer_id
    return conversation.visitor_hash == contact.visitor_hash


async def post_batch(session: AsyncSession, sends: Sequence[CustomerSend]) -> list[Result]:
    """Store `sends` in the session's transaction (the caller commits). Per message: its
    `Posted`, or the `KefuError` that refused it (an empty message, someone else's chat)."""
    for store_id in sorted({s.contact.store_id for s in sends}):
        await service._lock_store_log(session, store_id)
    batch = _Batch(session, [None] * len(sends))
    conversations = await _load(batch, {s.conversation_id for s in sends if _fast_candidate(s)})
    for index, send in enumerate(sends):
        conversation = (
            conversations.get(send.conversation_id) if send.conversation_id is not None else None
        )
        try:
            if (
                conversation is not None
                and _fast_candidate(send)
                and _owned(conversation, send.contact)
                and conversation.status == "open"
                and conversation.assignee_id is not None
            ):
                _add_fast(batch, index, send, conversation)
            else:
                # The ordinary path re-reads its conversation: write ours out first.
                await _write_fast(batch)
                batch.results[index] = await send.work(session)
        except KefuError as exc:
            batch.results[index] = exc
    await _write_fast(batch)
    return [r if r is not None else RuntimeError("message not processed") for r in batch.results]


async def _load(batch: _Batch, ids: set[int | None]) -> dict[int, Conversation]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = (
        await batch.session.execute(
            select(Conversation, User, Customer)
            .outerjoin(User, User.id == Conversation.assignee_id)
            .outerjoin(Customer, Customer.id == Conversation.customer_id)
            .where(Conversation.id.in_(wanted))
        )
    ).all()
    batch.keep.extend(rows)
    return {row[0].id: row[0] for row in rows}


def _add_fast(batch: _Batch, index: int, send: CustomerSend, conversation: Conversation) -> None:
    body = service._clean_body(send.body)
    for earlier in batch.pending:
        if earlier.conversation is conversation and earlier.send.client_msg_id == (
            send.client_msg_id
        ):
            # The same message twice in one batch (a resend racing its original).
            batch.pending.append(_Pending(index, send, conversation, earlier.message))
            return
    contact, now = send.contact, utcnow()
    message = Message(
        conversation_id=conversation.id,
        sender_kind="customer",
        sender_id=contact.customer_id,
        sender_name=contact.name,
        client_msg_id=send.client_msg_id,
        kind="text",
        body=body,
        payload={},
        audience="public",
        created_at=now,
    )
    batch.session.add(message)
    if conversation.customer_id is None and contact.customer_id is not None:
        conversation.customer_id = contact.customer_id
    conversation.last_message_at = now
    conversation.last_message_preview = service._preview(body)
    conversation.unread_by_agent += 1
    if conversation.waiting_since is None:
        conversation.waiting_since = now
    batch.pending.append(_Pending(index, send, conversation, message))


async def _write_fast(batch: _Batch) -> None:
    """INSERT the gathered messages, then their log rows; publish after commit."""
    if not batch.pending:
        return
    pending, batch.pending = batch.pending, []
    session = batch.session
    await session.flush()
    events: dict[int, Any] = {}  # message id -> its log row
    logged: list[tuple[Conversation, service.Row]] = []
    for item in pending:
        if item.message.id in events:
            continue
        actor = item.send.contact.actor
        event = service._append(session, item.conversation, "message", actor, message=item.message)
        events[item.message.id] = event
        # The same trail as the ordinary path; no query, it goes in with the log rows.
        await record_audit(
            session,
            actor,
            "conversation.message",
            "conversation",
            item.conversation.id,
            after={"message_id": item.message.id, "sender": "customer", "kind": "text"},
            store_id=item.conversation.store_id,
        )
        logged.append((item.conversation, (event, item.message)))
    await session.flush()
    now = utcnow()
    chats = {conversation.id: conversation for conversation, _ in logged}
    for conversation, (event, _) in logged:  # in log order: the last one wins
        conversation.last_event_id = event.id
        conversation.updated_at = now
    summaries = {cid: await service.summarize(session, chat) for cid, chat in chats.items()}
    # Published in log order, each with its chat's inbox row as it stands after the batch.
    for conversation, row in logged:
        queue_log_events(session, [row], summaries[conversation.id])
    first: set[int] = set()
    for item in pending:
        duplicate = item.message.id in first
        first.add(item.message.id)
        batch.results[item.index] = service.Posted(
            item.conversation, item.message, events[item.message.id], duplicate=duplicate
        )


# --- the writer ----------------------------------------------------------------------------


class CustomerWriter:
    """The group-commit writer of one process and database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[CustomerSend, asyncio.Future[service.Posted]]] = []
        self._task: asyncio.Task[None] | None = None

    async def post(self, send: CustomerSend) -> service.Posted:
        future: asyncio.Future[service.Posted] = asyncio.get_running_loop().create_future()
        self._waiting.append((send, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                async with write_turn(self.db):
                    results = await self._write([send for send, _ in batch])
            except BaseException as exc:  # cancelled at shutdown: nobody is left unanswered
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                raise
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue  # the socket went away; its message is stored all the same
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _write(self, sends: list[CustomerSend]) -> list[Result]:
        try:
            async with self.db.sessionmaker() as session:
                results = await post_batch(session, sends)
                await session.commit()
            return results
        except Exception:
            if len(sends) > 1:
                log.warning("customer_batch_retried_one_by_one", size=len(sends))
            return [await self._one(send) for send in sends]

    async def _one(self, send: CustomerSend) -> Result:
        try:
            return await transaction_in_turn(self.db, send.work)
        except Exception as exc:
            return exc


_writers: weakref.WeakKeyDictionary[Database, dict[int, CustomerWriter]] = (
    weakref.WeakKeyDictionary()
)


def writer_for(db: Database) -> CustomerWriter:
    """The writer of `db` in the running event loop (tests run many loops)."""
    loop_id = id(asyncio.get_running_loop())
    per_loop = _writers.setdefault(db, {})
    writer = per_loop.get(loop_id)
    if writer is None:
        per_loop.clear()
        writer = per_loop[loop_id] = CustomerWriter(db)
    return writer
