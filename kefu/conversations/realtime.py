"""The WebSocket loop shared by customer and agent sockets.

How delivery works, and why nothing is lost:

1. On connect the socket subscribes to its bus channels; `listen` returns only once the
   subscription is live (Redis acknowledged it), so it is live before anything is read.
2. The client sends `{"type": "resume", "after": N}` with the last event id it saw; the
   socket reads every visible log row after N from the database and sends it. Live events
   that arrived meanwhile wait in a queue and are then sent, skipping ids already sent.
3. If the Redis bus lost its connection, it hands every subscriber a RESYNC marker once it
   is back; the socket then reads the log again from its cursor (events published during
   the outage reached no process). Each heartbeat does the same, which also delivers events
   whose publishing process died between its commit and its publish.
4. A `send` frame is stored and committed first, and only then acknowledged with the message
   and event ids. A client that lost the acknowledgement resends the same client id and gets
   the same acknowledgement; nothing is stored twice.

Because the database, not the process, is the source of truth, a client can reconnect to
any web process (the Redis bus carries live events between them) and lose nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from kefu.conversations.service import Row
from kefu.core.db import Database, utcnow
from kefu.core.errors import KefuError
from kefu.core.events import RESYNC, Subscription, get_bus

log = structlog.get_logger(__name__)

HEARTBEAT_S = 25.0
IDLE_TIMEOUT_S = 90.0
OVERLAP = timedelta(seconds=10)
SENT_MEMORY = 5000

T = TypeVar("T")
Payload = dict[str, Any]
Visible = Callable[[Payload], Payload | None]
FrameHandler = Callable[[Payload], Awaitable[None]]
Fetch = Callable[[AsyncSession, int], Awaitable[list[Row]]]

# Close codes (4000-4999 are the application's): the clients stop retrying on these.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def error_frame(exc: KefuError, client_id: str | None = None) -> Payload:
    frame: Payload = {"type": "error", "code": exc.code, "message": exc.zh, "message_en": exc.en}
    if client_id is not None:
        frame["client_id"] = client_id
    if exc.errors:
        frame["errors"] = exc.errors
    return frame


async def in_transaction(db: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in its own transaction and commit; retried once on a unique-key race.

    Two sends of one client id racing each other both pass the duplicate check; the second
    insert hits the unique constraint, and the retry then finds and returns the first.

    On SQLite the socket writes of a process take turns on an asyncio lock: SQLite has one
    writer anyway, and letting many transactions race for its file lock makes them sleep
    in SQLite's busy handler (and a read-then-write transaction can fail outright).
    """
    async with write_turn(db):
        return await transaction_in_turn(db, work)


_sqlite_write_locks: weakref.WeakKeyDictionary[Database, asyncio.Lock] = weakref.WeakKeyDictionary()


def write_turn(db: Database) -> contextlib.AbstractAsyncContextManager[Any]:
    if not db.url.startswith("sqlite"):
        return contextlib.nullcontext()
    lock = _sqlite_write_locks.get(db)
    if lock is None:
        lock = _sqlite_write_locks[db] = asyncio.Lock()
    return lock


async def transaction_in_turn(db: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    for attempt in (1, 2):
        async with db.sessionmaker() as session:
            try:
                result = await work(session)
                await session.commit()
                return result
            except IntegrityError:
                await session.rollback()
                if attempt == 2:
                    raise
            except BaseException:
                await session.rollback()
                raise
    raise AssertionError("unreachable")


async def reject(ws: WebSocket, exc: KefuError, code: int) -> None:
    """Tell the client why (in Chinese and English), then close with an application code."""
    if ws.client_state == WebSocketState.CONNECTING:
        await ws.accept()
    with contextlib.suppress(Exception):
        await ws.send_json(error_frame(exc))
        await ws.close(code=code, reason=exc.code)


class Socket:
    """One connected client: its subscription, what it was sent, and its frame loop."""

    def __init__(self, ws: WebSocket, db: Database, visible: Visible) -> None:
        self.ws = ws
        self.db = db
        self.visible = visible
        self.origin = uuid.uuid4().hex
        self.cursor = 0
        self._sent: set[int] = set()
        self._sent_order: deque[int] = deque()
        self._send_lock = asyncio.Lock()
        self._live: asyncio.Queue[Payload] = asyncio.Queue()
        self._resumed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._fetch: Fetch | None = None
        self._with_summaries = False
        # Called with every heartbeat (the agent socket refreshes presence with it).
        self.on_tick: Callable[[], Awaitable[None]] | None = None

    async def send(self, frame: Payload) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False, default=str))

    # --- subscription ---------------------------------------------------------------------

    async def subscribe(self, channels: list[str]) -> None:
        """(Re)subscribe to `channels`; returns once the bus delivers to us.

        The new subscription is live before the old one is dropped, so a socket that
        switches channels (a customer's first message opens a conversation) misses nothing.
        """
        subscription = await get_bus().listen(channels)
        old_pump, old_subscription = self._pump, self._subscription
        self._subscription = subscription
        self._pump = asyncio.create_task(self._run_pump(subscription))
        if old_pump is not None:
            old_pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await old_pump
        if old_subscription is not None:
            old_subscription.close()

    async def _run_pump(self, subscription: Subscription) -> None:
        while True:
            _channel, payload = await subscription.get()
            self._live.put_nowait(payload)

    # --- delivery -------------------------------------------------------------------------

    def _remember(self, event_id: int) -> None:
        self._sent.add(event_id)
        self._sent_order.append(event_id)
        while len(self._sent_order) > SENT_MEMORY:
            self._sent.discard(self._sent_order.popleft())

    async def deliver(self, payload: Payload) -> None:
        shown = self.visible(payload)
        if shown is None:
            return
        if shown.get("type") == "event":
            event_id = int(shown["id"])
            if event_id in self._sent:
                return
            self._remember(event_id)
            self.cursor = max(self.cursor, event_id)
        await self.send(shown)

    async def send_backlog(
        self,
        fetch: Fetch,
        after: int,
        *,
        with_summaries: bool = False,
    ) -> None:
        """Send stored rows after `after` (plus a short overlap) that this client may see.

        Agents also get each conversation's current list row, as they do with live events.
        The query is remembered: after the bus lost Redis (RESYNC) the socket runs it again
        from its cursor, so events published during the outage still arrive.
        """
        self._fetch, self._with_summaries = fetch, with_summaries
        from kefu.conversations.events import event_out
        from kefu.conversations.service import summaries_for

        async with self.db.sessionmaker() as session:
            rows = await fetch(session, after)
            summaries = (
                await summaries_for(session, {e.conversation_id for e, _ in rows})
                if with_summaries
                else {}
            )
        for event, message in rows:
            out = event_out(event, message, summaries.get(event.conversation_id))
            await self.deliver(out.model_dump(mode="json"))
        self.cursor = max(self.cursor, after)

    @property
    def sent_ids(self) -> set[int]:
        """Event ids this socket delivered lately (a re-read need not load them again)."""
        return self._sent

    def resumed(self) -> None:
        self._resumed.set()

    @staticmethod
    def overlap_since() -> Any:
        return utcnow() - OVERLAP

    async def _forward_live(self) -> None:
        while True:
            payload = await self._live.get()
            await self._resumed.wait()
            if payload.get("type") == RESYNC["type"]:
                if self._fetch is not None:
                    await self.send_backlog(
                        self._fetch, self.cursor, with_summaries=self._with_summaries
                    )
                continue
            await self.deliver(payload)

    async def _heartbeat(self) -> None:
        # Sockets that connected together (after a restart, in a load test) would otherwise
        # re-read the log all at the same moment: spread them over the interval.
        await asyncio.sleep(random.uniform(0.0, HEARTBEAT_S))
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self.send({"type": "ping", "t": utcnow().isoformat()})
            # A process can die between committing an event and publishing it; nobody
            # republishes it, so every socket re-reads the log from its cursor now and then.
            self._live.put_nowait(RESYNC)
            if self.on_tick is not None:
                try:
                    await self.on_tick()
                except Exception:
                    log.exception("socket_tick_failed")

    # --- the loop -------------------------------------------------------------------------

    async def run(self, on_frame: FrameHandler) -> None:
        """Read frames until the client leaves; live events and pings go out meanwhile."""
        helpers = [
            asyncio.create_task(self._forward_live()),
            asyncio.create_task(self._heartbeat()),
        ]
        try:
            while True:
                raw = await asyncio.wait_for(self.ws.receive_text(), IDLE_TIMEOUT_S)
                try:
                    frame = json.loads(raw)
                except ValueError:
                    bad = KefuError("消息格式不正确", "Malformed frame", code="bad_frame")
                    await self.send(error_frame(bad))
                    continue
                if not isinstance(frame, dict):
                    continue
                if frame.get("type") == "ping":
                    await self.send({"type": "pong"})
                    continue
                if frame.get("type") == "pong":
                    continue
                raw_id = frame.get("client_id")
                client_id = raw_id if isinstance(raw_id, str) else None
                try:
                    await on_frame(frame)
                except KefuError as exc:
                    await self.send(error_frame(exc, client_id))
                except ValidationError as exc:
                    from kefu.core.errors import Invalid, field_errors

                    await self.send(
                        error_frame(Invalid(errors=field_errors(list(exc.errors()))), client_id)
                    )
                except (WebSocketDisconnect, TimeoutError):
                    raise
                except Exception:
                    # The client keeps the unacknowledged message and resends it later.
                    log.exception("socket_frame_failed", frame_type=frame.get("type"))
                    await self.send(
                        error_frame(
                            KefuError(
                                "服务器暂时无法处理，消息将自动重发",
                                "Server error; the message will be retried",
                                code="internal",
                            ),
                            client_id,
                        )
                    )
        except (WebSocketDisconnect, TimeoutError, RuntimeError):
            pass
        finally:
            for task in helpers:
                task.cancel()
            if self._pump is not None:
                self._pump.cancel()
            for task in [*helpers, *([self._pump] if self._pump else [])]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._subscription is not None:
                self._subscription.close()
            if self.ws.client_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.ws.close()
