"""Domain events, published only after the transaction that caused them commits.

A service calls `queue_event(session, channel, event)`; the event waits in the session's
buffer and goes to the bus when the session commits, and is dropped on rollback, so no
browser ever sees a change that did not happen. Channels are named by recipient:
`conversation:{id}`, `agent:{id}`, `group:{id}`, `store:{id}`.

The bus is in-process by default. With `KEFU_REDIS_URL` set, `RedisEventBus` carries the
same events across web processes through Redis pub/sub; callers see one interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import structlog
from pydantic import BaseModel
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

_BUFFER_KEY = "kefu_pending_events"


class DomainEvent(BaseModel):
    """Base of all typed events; subclasses fix `type` with a Literal."""

    type: str


class EventBus(Protocol):
    async def publish(self, channel: str, payload: dict[str, Any]) -> None: ...

    def subscribe(self, channels: Iterable[str]) -> AsyncIterator[tuple[str, dict[str, Any]]]: ...

    async def close(self) -> None: ...


Listener = Callable[[str, dict[str, Any]], Any]


class InProcessEventBus:
    """Fan-out inside one process: each subscriber has its own queue."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[tuple[str, dict[str, Any]]]]] = defaultdict(set)
        self._listeners: list[tuple[str, Listener]] = []

    def add_listener(self, channel_prefix: str, listener: Listener) -> None:
        """In-process handlers (e.g. the bot reacting to a message) keyed by channel prefix."""
        self._listeners.append((channel_prefix, listener))

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        for queue in list(self._queues.get(channel, ())):
            queue.put_nowait((channel, payload))
        for prefix, listener in self._listeners:
            if channel.startswith(prefix):
                result = listener(channel, payload)
                if asyncio.iscoroutine(result):
                    await result

    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        names = list(channels)
        for name in names:
            self._queues[name].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            for name in names:
                self._queues[name].discard(queue)

    async def close(self) -> None:
        self._queues.clear()


class RedisEventBus(InProcessEventBus):
    """Publishes through Redis so every web process's subscribers receive the event."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._prefix = "kefu:events:"

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(payload, default=str))
        for prefix, listener in self._listeners:
            if channel.startswith(prefix):
                result = listener(channel, payload)
                if asyncio.iscoroutine(result):
                    await result

    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(*[self._prefix + c for c in channels])
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                name = message["channel"].decode()[len(self._prefix) :]
                yield name, json.loads(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


_bus: EventBus = InProcessEventBus()


def get_bus() -> EventBus:
    return _bus


def set_bus(bus: EventBus) -> None:
    global _bus
    _bus = bus


def queue_event(session: AsyncSession, channel: str, event: DomainEvent | dict[str, Any]) -> None:
    payload = event.model_dump(mode="json") if isinstance(event, DomainEvent) else event
    session.sync_session.info.setdefault(_BUFFER_KEY, []).append((channel, payload))


def pending_events(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    """What this session will publish on commit (used by tests that capture events)."""
    return list(session.sync_session.info.get(_BUFFER_KEY, []))


@sa_event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    pending = session.info.pop(_BUFFER_KEY, None)
    if not pending:
        return
    bus = get_bus()

    async def send() -> None:
        for channel, payload in pending:
            try:
                await bus.publish(channel, payload)
            except Exception:  # a lost fan-out must not undo a committed change
                log.exception("event_publish_failed", channel=channel)

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(send())
        return
    task = loop.create_task(send())
    _inflight.add(task)
    task.add_done_callback(_inflight.discard)


_inflight: set[asyncio.Task[None]] = set()


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_BUFFER_KEY, None)


async def drain() -> None:
    """Wait for events already handed to the bus (tests and orderly shutdown)."""
    while _inflight:
        await asyncio.gather(*list(_inflight), return_exceptions=True)
