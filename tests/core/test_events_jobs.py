"""Events and jobs leave only with a committed transaction; the Redis bus crosses processes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from kefu.core import events, jobs
from kefu.core.audit import Actor, AuditEntry, record_audit
from kefu.core.db import Database


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
