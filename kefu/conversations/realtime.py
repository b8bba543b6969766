"""The WebSocket loop shared by customer and agent sockets.

How delivery works, and why nothing is lost:

1. On connect the socket subscribes to its bus channels and waits until a probe published on
   its private channel comes back, so the subscription is live before anything is read.
2. The client sends `{"type": "resume", "after": N}` with the last event id it saw; the
   socket reads every visible log row after N from the database and sends it. Live events
   that arrived meanwhile wait in a queue and are then sent, skipping ids already sent.
3. A `send` frame is stored and committed first, and only then acknowledged with the message
   and event ids. A client that lost the acknowledgement resends the same client id and gets
   the same acknowledgement; nothing is stored twice.

Because the database, not the process, is the source of truth, a client can reconnect to
any web process (the Redis bus carries live events between them) and lose nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
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
from kefu.core.events import get_bus

log = structlog.get_logger(__name__)

HEARTBEAT_S = 25.0
IDLE_TIMEOUT_S = 90.0
OVERLAP = timedelta(seconds=10)
PROBE_TIMEOUT_S = 5.0
SENT_MEMORY = 5000

T = TypeVar("T")
Payload = dict[str, Any]
Visible = Callable[[Payload], Payload | None]
FrameHandler = Callable[[Payload], Awaitable[None]]

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
    """
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
        self._probe_seen = asyncio.Event()
        # Called with every heartbeat (the agent socket refreshes presence with it).
        self.on_tick: Callable[[], Awaitable[None]] | None = None

    @property
    def private_channel(self) -> str:
        return f"socket:{self.origin}"

    async def send(self, frame: Payload) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False, default=str))

    # --- subscription ---------------------------------------------------------------------

    async def subscribe(self, channels: list[str]) -> None:
        """(Re)subscribe to `channels`; returns once the bus is known to deliver to us."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        self._probe_seen = asyncio.Event()
        self._pump = asyncio.create_task(self._run_pump([*channels, self.private_channel]))
        probe = {"type": "_probe", "origin": self.origin}
        deadline = asyncio.get_running_loop().time() + PROBE_TIMEOUT_S
        while not self._probe_seen.is_set():
            await get_bus().publish(self.private_channel, probe)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._probe_seen.wait(), 0.2)
            if asyncio.get_running_loop().time() > deadline:
                log.warning("socket_probe_timeout", channels=channels)
                break

    async def _run_pump(self, channels: list[str]) -> None:
        async for _channel, payload in get_bus().subscribe(channels):
            if payload.get("type") == "_probe":
                self._probe_seen.set()
                continue
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
        fetch: Callable[[AsyncSession, int], Awaitable[list[Row]]],
        after: int,
        *,
        with_summaries: bool = False,
    ) -> None:
        """Send stored rows after `after` (plus a short overlap) that this client may see.

        Agents also get each conversation's current list row, as they do with live events.
        """
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

    def resumed(self) -> None:
        self._resumed.set()

    @staticmethod
    def overlap_since() -> Any:
        return utcnow() - OVERLAP

    async def _forward_live(self) -> None:
        while True:
            payload = await self._live.get()
            await self._resumed.wait()
            await self.deliver(payload)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self.send({"type": "ping", "t": utcnow().isoformat()})
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
            if self.ws.client_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.ws.close()
