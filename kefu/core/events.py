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
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.aftercommit import AfterCommit

log = structlog.get_logger(__name__)

_BUFFER_KEY = "kefu_pending_events"


class DomainEvent(BaseModel):
    """Base of all typed events; subclasses fix `type` with a Literal."""

    type: str


Delivery = tuple[str, dict[str, Any]]


class Subscription:
    """A live subscription: every event published after `listen` returned waits in `queue`."""

    def __init__(self, release: Callable[[Subscription], None]) -> None:
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._release = release
        self.closed = False

    async def get(self) -> Delivery:
        return await self.queue.get()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._release(self)


class EventBus(Protocol):
    async def publish(self, channel: str, payload: dict[str, Any]) -> None: ...

    async def listen(self, channels: Iterable[str]) -> Subscription: ...

    def subscribe(self, channels: Iterable[str]) -> AsyncIterator[Delivery]: ...

    async def close(self) -> None: ...


Listener = Callable[[str, dict[str, Any]], Any]


class InProcessEventBus:
    """Fan-out inside one process: each subscriber has its own queue."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Delivery]]] = {}
        self._listeners: list[tuple[str, Listener]] = []

    def add_listener(self, channel_prefix: str, listener: Listener) -> None:
        """In-process handlers (e.g. the bot reacting to a message) keyed by channel prefix."""
        self._listeners.append((channel_prefix, listener))

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        self._fan_out(channel, payload)
        await self._notify_listeners(channel, payload)

    def _fan_out(self, channel: str, payload: dict[str, Any]) -> None:
        for queue in list(self._queues.get(channel, ())):
            queue.put_nowait((channel, payload))

    async def _notify_listeners(self, channel: str, payload: dict[str, Any]) -> None:
        for prefix, listener in self._listeners:
            if channel.startswith(prefix):
                result = listener(channel, payload)
                if asyncio.iscoroutine(result):
                    await result

    async def listen(self, channels: Iterable[str]) -> Subscription:
        """Subscribe; when this returns, the subscription is live (nothing published later
        is missed). Close the subscription when done."""
        return self._register(channels)

    def _register(self, channels: Iterable[str]) -> Subscription:
        names = list(dict.fromkeys(channels))

        def release(subscription: Subscription) -> None:
            for name in names:
                queues = self._queues.get(name)
                if queues is not None:
                    queues.discard(subscription.queue)
                    if not queues:
                        del self._queues[name]
            self._released()

        subscription = Subscription(release)
        for name in names:
            self._queues.setdefault(name, set()).add(subscription.queue)
        return subscription

    def _released(self) -> None:
        """Hook: a subscription went away (the Redis bus drops unused channels)."""

    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[Delivery]:
        subscription = await self.listen(channels)
        try:
            while True:
                yield await subscription.get()
        finally:
            subscription.close()

    async def close(self) -> None:
        self._queues.clear()


RESYNC: dict[str, Any] = {"type": "_resync"}
"""Handed to every local subscriber after the bus lost Redis and came back: events published
meanwhile were missed, so each subscriber catches up from the database log."""

RECONNECT_MIN_S = 0.05
RECONNECT_MAX_S = 2.0
CONFIRM_TIMEOUT_S = 5.0


class RedisEventBus(InProcessEventBus):
    """Publishes through Redis so every web process's subscribers receive the event.

    A process holds ONE pub/sub connection, whatever the number of sockets: a Redis channel
    is subscribed while at least one local subscriber wants it (reference counted through the
    local queue sets) and each message is decoded once and fanned out to the local queues.
    When the connection breaks (Redis restarted, network cut) a reader task reconnects with
    backoff, subscribes again to every wanted channel, and hands each subscriber `RESYNC`.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        self._redis = redis.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_keepalive=True,
        )
        self._prefix = "kefu:events:"
        self._conn: Any = None  # the pub/sub connection, None while (re)connecting
        self._reader: asyncio.Task[None] | None = None
        self._sub_lock = asyncio.Lock()
        self._requested: set[str] = set()  # SUBSCRIBE sent on the current connection
        self._confirmed: set[str] = set()  # ... and acknowledged by Redis
        self._waiters: dict[str, list[asyncio.Future[None]]] = defaultdict(list)
        self._closed = False
        self.reconnects = 0

    # --- publishing -----------------------------------------------------------------------

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, default=str, ensure_ascii=False)
        try:
            await self._redis.publish(self._prefix + channel, data)
        except Exception:
            # Redis is down: this process's own subscribers still get the event now; the
            # others catch up from the database log when the bus reconnects (RESYNC).
            log.warning("event_bus_publish_failed", channel=channel)
            self._fan_out(channel, payload)
        await self._notify_listeners(channel, payload)

    # --- subscribing ----------------------------------------------------------------------

    async def listen(self, channels: Iterable[str]) -> Subscription:
        names = list(dict.fromkeys(channels))
        subscription = self._register(names)
        await self._reconcile()
        await self._confirmation(names)
        return subscription

    def _released(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the process is ending
            task = asyncio.get_running_loop().create_task(self._reconcile())
            _inflight.add(task)
            task.add_done_callback(_inflight.discard)

    @property
    def redis_channels(self) -> set[str]:
        """Channels subscribed on the shared connection (for tests and diagnostics)."""
        return set(self._requested)

    async def _confirmation(self, names: list[str]) -> None:
        """Wait until Redis acknowledged the subscriptions (so a publish now reaches us)."""
        loop = asyncio.get_running_loop()
        pending = []
        for name in names:
            if name not in self._confirmed:
                future: asyncio.Future[None] = loop.create_future()
                self._waiters[name].append(future)
                pending.append(future)
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), CONFIRM_TIMEOUT_S)

    async def _reconcile(self) -> None:
        """Bring the Redis subscriptions in line with what local subscribers want."""
        self._ensure_reader()
        async with self._sub_lock:
            if self._conn is None:
                return  # the reader subscribes to everything wanted when it reconnects
            wanted = set(self._queues)
            add = sorted(wanted - self._requested)
            drop = sorted(self._requested - wanted)
            try:
                if drop:
                    self._requested.difference_update(drop)
                    self._confirmed.difference_update(drop)
                    await self._conn.send_command(
                        "UNSUBSCRIBE", *[self._prefix + c for c in drop], check_health=False
                    )
                if add:
                    self._requested.update(add)
                    await self._conn.send_command(
                        "SUBSCRIBE", *[self._prefix + c for c in add], check_health=False
                    )
            except Exception:
                log.warning("event_bus_subscribe_failed")  # the reader notices and reconnects

    # --- the reader -----------------------------------------------------------------------

    def _ensure_reader(self) -> None:
        if self._closed:
            return
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read_forever())

    async def _connect(self) -> None:
        pool = self._redis.connection_pool
        conn = pool.connection_class(**pool.connection_kwargs)
        await conn.connect()
        async with self._sub_lock:
            self._requested = set(self._queues)
            self._confirmed = set()
            if self._requested:
                names = [self._prefix + c for c in sorted(self._requested)]
                await conn.send_command("SUBSCRIBE", *names, check_health=False)
            self._conn = conn

    async def _read_forever(self) -> None:
        delay = RECONNECT_MIN_S
        gap = False  # True once events may have been missed (a connection broke or failed)
        while not self._closed:
            try:
                await self._connect()
                if gap:
                    self.reconnects += 1
                    log.info("event_bus_reconnected", channels=len(self._requested))
                delay = RECONNECT_MIN_S
                resynced = not gap
                if gap and not self._requested:
                    resynced = True  # nobody listening, nobody to catch up
                gap = False
                while True:
                    response = await self._conn.read_response(disconnect_on_error=False)
                    resynced = self._handle(response, resynced)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closed:
                    return
                gap = True
                log.warning("event_bus_connection_lost", error=str(exc), retry_in=delay)
                await self._drop_connection()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)

    def _handle(self, response: Any, resynced: bool) -> bool:
        """Route one pub/sub reply; returns whether the post-reconnect RESYNC went out."""
        if not isinstance(response, list) or len(response) < 3:
            return resynced
        kind = response[0].decode() if isinstance(response[0], bytes) else str(response[0])
        raw_channel = response[1].decode() if isinstance(response[1], bytes) else response[1]
        channel = str(raw_channel)[len(self._prefix) :]
        if kind == "message":
            try:
                payload = json.loads(response[2])
            except ValueError:
                log.warning("event_bus_bad_payload", channel=channel)
                return resynced
            self._fan_out(channel, payload)
        elif kind == "subscribe":
            if channel in self._requested:
                self._confirmed.add(channel)
            for future in self._waiters.pop(channel, []):
                if not future.done():
                    future.set_result(None)
            if not resynced and self._confirmed >= self._requested:
                self._resync()
                return True
        return resynced

    def _resync(self) -> None:
        seen: set[int] = set()
        for channel, queues in list(self._queues.items()):
            for queue in queues:
                if id(queue) not in seen:
                    seen.add(id(queue))
                    queue.put_nowait((channel, RESYNC))

    async def _drop_connection(self) -> None:
        async with self._sub_lock:
            conn, self._conn = self._conn, None
            self._requested, self._confirmed = set(), set()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._drop_connection()
        for futures in self._waiters.values():
            for future in futures:
                future.cancel()
        self._waiters.clear()
        await self._redis.aclose()


_bus: EventBus = InProcessEventBus()


def get_bus() -> EventBus:
    return _bus


def set_bus(bus: EventBus) -> None:
    global _bus
    _bus = bus


def queue_event(session: AsyncSession, channel: str, event: DomainEvent | dict[str, Any]) -> None:
    payload = event.model_dump(mode="json") if isinstance(event, DomainEvent) else event
    _after_commit.add(session.sync_session, (channel, payload))


def pending_events(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    """What this session will publish on commit (used by tests that capture events)."""
    return _after_commit.pending(session.sync_session)


def discard_pending(session: AsyncSession) -> None:
    """Drop the events this session would publish on commit."""
    _after_commit.discard(session.sync_session)


def _publish(pending: list[tuple[str, dict[str, Any]]]) -> None:
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


_after_commit = AfterCommit(_BUFFER_KEY, _publish)


async def drain() -> None:
    """Wait for events already handed to the bus (tests and orderly shutdown)."""
    while _inflight:
        await asyncio.gather(*list(_inflight), return_exceptions=True)
