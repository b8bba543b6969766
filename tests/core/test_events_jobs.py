"""Events and jobs leave only with a committed transaction; the Redis bus crosses processes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from kefu.core import events, jobs
from kefu.core.audit import Actor, AuditEntry, record_audit
from kefu.core.db import Database
from tests.fixtures.servers import RedisProcess


async def _collect(
    bus: events.EventBus, channel: str, ready: asyncio.Event, out: list[dict[str, Any]], count: int
) -> None:
    stream = bus.subscribe([channel])
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)  # the subscription is registered once the generator runs
    ready.set()
    _, payload = await first
    out.append(payload)
    while len(out) < count:
        _, payload = await stream.__anext__()
        out.append(payload)
    await stream.aclose()


async def test_event_published_after_commit_and_dropped_on_rollback(db: Database) -> None:
    bus = events.InProcessEventBus()
    events.set_bus(bus)
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(_collect(bus, "store:1", ready, received, 1))
    await ready.wait()

    async with db.sessionmaker() as session:
        events.queue_event(session, "store:1", {"type": "rolled.back"})
        assert events.pending_events(session)
        await record_audit(session, Actor.system(), "x", "thing", 1)
        await session.rollback()
        assert not events.pending_events(session)

    async with db.sessionmaker() as session:
        events.queue_event(session, "store:1", {"type": "order.upserted", "id": 7})
        await record_audit(session, Actor.system(), "x", "thing", 1)
        await asyncio.sleep(0.05)
        assert received == []  # not before commit
        await session.commit()

    await asyncio.wait_for(listener, 5)
    assert received == [{"type": "order.upserted", "id": 7}]


async def test_job_runs_after_commit_with_retries(db: Database) -> None:
    calls: list[int] = []

    @jobs.job("test.flaky")
    async def flaky(order_id: int) -> None:
        calls.append(order_id)
        if len(calls) < 2:
            raise RuntimeError("transient")

    runner = jobs.InProcessJobRunner(max_attempts=3, backoff_s=0.01)
    jobs.set_runner(runner)
    try:
        async with db.sessionmaker() as session:
            jobs.enqueue(session, "test.flaky", order_id=5)
            await session.rollback()
        async with db.sessionmaker() as session:
            jobs.enqueue(session, "test.flaky", order_id=9)
            await session.commit()
        for _ in range(100):
            if len(calls) >= 2:
                break
            await asyncio.sleep(0.02)
        await runner.drain()
    finally:
        jobs.set_runner(jobs.InProcessJobRunner())
    assert calls == [9, 9]


async def test_unknown_job_is_refused(db: Database) -> None:
    async with db.sessionmaker() as session:
        with pytest.raises(KeyError):
            jobs.enqueue(session, "no.such.job")


async def test_audit_keeps_only_changed_fields(db: Database) -> None:
    async with db.sessionmaker() as session:
        await record_audit(
            session,
            Actor("user", 3, "王芳"),
            "customer.update",
            "customer",
            42,
            before={"tier": "normal", "name": "李雷"},
            after={"tier": "vip", "name": "李雷"},
        )
        await session.commit()
        entry = await session.scalar(select(AuditEntry))
    assert entry is not None
    assert entry.before == {"tier": "normal"}
    assert entry.after == {"tier": "vip"}
    assert entry.actor_name == "王芳"
    assert entry.entity_id == "42"


async def test_redis_bus_delivers_across_bus_instances(redis_url: str) -> None:
    publisher = events.RedisEventBus(redis_url)
    subscriber = events.RedisEventBus(redis_url)  # as another web process would hold
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()
    task = asyncio.create_task(_collect(subscriber, "conversation:9", ready, received, 2))
    await ready.wait()
    await asyncio.sleep(0.1)
    await publisher.publish("conversation:9", {"type": "message", "n": 1})
    await publisher.publish("conversation:9", {"type": "message", "n": 2})
    await asyncio.wait_for(task, 5)
    assert [p["n"] for p in received] == [1, 2]
    await publisher.close()
    await subscriber.close()


async def test_redis_queue_runs_job_in_a_worker_with_retry(redis_url: str) -> None:
    from arq.worker import Worker

    seen: list[str] = []

    @jobs.job("test.via_redis")
    async def via_redis(note: str) -> None:
        seen.append(note)
        if len(seen) == 1:
            raise RuntimeError("first try fails")

    runner = jobs.RedisJobRunner(redis_url, queue_name="kefu:test-jobs")
    await runner.start()
    await runner.submit("test.via_redis", {"note": "催付提醒"})
    await runner.stop()

    settings = jobs.worker_settings(redis_url, burst=True, queue_name="kefu:test-jobs")
    worker = Worker(**settings)
    deadline = asyncio.get_running_loop().time() + 15
    while len(seen) < 2 and asyncio.get_running_loop().time() < deadline:
        await worker.async_run()
        await asyncio.sleep(0.2)
    await worker.close()
    assert seen == ["催付提醒", "催付提醒"]


# --- the per-process Redis multiplexer ---------------------------------------------------


async def _listen(bus: events.EventBus, channel: str, out: list[dict[str, Any]]) -> None:
    """One socket's pump: collects what its subscription delivers until cancelled."""
    async for _, payload in bus.subscribe([channel]):
        out.append(payload)


async def _pubsub_clients(redis_url: str) -> int:
    import redis.asyncio as redis

    admin = redis.from_url(redis_url)
    try:
        clients = await admin.client_list(_type="pubsub")
        return len(clients)
    finally:
        await admin.aclose()


async def test_redis_bus_holds_one_connection_for_many_subscribers(redis_url: str) -> None:
    import redis.asyncio as redis

    before = await _pubsub_clients(redis_url)
    bus = events.RedisEventBus(redis_url)
    publisher = events.RedisEventBus(redis_url)
    received: list[list[dict[str, Any]]] = [[] for _ in range(300)]
    # 300 sockets following 50 chats
    pumps = [
        asyncio.create_task(_listen(bus, f"conversation:{i % 50}", received[i])) for i in range(300)
    ]
    await asyncio.sleep(0.3)
    assert await _pubsub_clients(redis_url) == before + 1
    assert bus.redis_channels == {f"conversation:{i}" for i in range(50)}

    await publisher.publish("conversation:7", {"type": "message", "body": "发货了吗"})
    async with asyncio.timeout(5):
        while not all(received[i] for i in range(300) if i % 50 == 7):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert [received[i] for i in range(300) if i % 50 == 7] == [
        [{"type": "message", "body": "发货了吗"}]
    ] * 6
    assert not any(received[i] for i in range(300) if i % 50 != 7)

    # Closing every socket of a chat unsubscribes its channel; the others stay.
    for i in range(300):
        if i % 50 == 3:
            pumps[i].cancel()
    await asyncio.gather(*pumps[3::50], return_exceptions=True)
    await events.drain()
    assert "conversation:3" not in bus.redis_channels
    assert "conversation:4" in bus.redis_channels
    admin = redis.from_url(redis_url)
    numsub = dict(
        await admin.pubsub_numsub("kefu:events:conversation:3", "kefu:events:conversation:4")
    )
    await admin.aclose()
    assert numsub == {b"kefu:events:conversation:3": 0, b"kefu:events:conversation:4": 1}
    for pump in pumps:
        pump.cancel()
    await asyncio.gather(*pumps, return_exceptions=True)
    await bus.close()
    await publisher.close()


async def test_redis_bus_resubscribes_after_its_connection_is_killed(redis_url: str) -> None:
    import redis.asyncio as redis

    bus = events.RedisEventBus(redis_url)
    publisher = events.RedisEventBus(redis_url)
    stream = bus.subscribe(["store:1"])
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.2)
    admin = redis.from_url(redis_url)
    await admin.client_kill_filter(_type="pubsub")  # what a Redis failover does to us
    await admin.aclose()

    # The subscriber is told to catch up from the database: events may have been missed.
    _, payload = await asyncio.wait_for(first, 5)
    assert payload == events.RESYNC
    assert bus.reconnects == 1
    await publisher.publish("store:1", {"type": "event", "id": 12})
    _, payload = await asyncio.wait_for(stream.__anext__(), 5)
    assert payload == {"type": "event", "id": 12}
    await stream.aclose()
    await bus.close()
    await publisher.close()


async def test_redis_bus_survives_a_redis_restart() -> None:
    server = RedisProcess()
    server.start()
    bus = events.RedisEventBus(server.url)
    publisher = events.RedisEventBus(server.url)
    try:
        stream = bus.subscribe(["conversation:5"])
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)
        server.kill()
        # While Redis is down a publish does not raise (the commit already happened); this
        # process's own subscribers get it directly.
        await bus.publish("conversation:5", {"type": "event", "id": 1})
        _, payload = await asyncio.wait_for(first, 5)
        assert payload == {"type": "event", "id": 1}

        server.start()
        _, payload = await asyncio.wait_for(stream.__anext__(), 10)
        assert payload == events.RESYNC
        await publisher.publish("conversation:5", {"type": "event", "id": 2})
        _, payload = await asyncio.wait_for(stream.__anext__(), 5)
        assert payload == {"type": "event", "id": 2}
        await stream.aclose()
    finally:
        await bus.close()
        await publisher.close()
        server.close()
