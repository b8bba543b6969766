"""Events and jobs leave only with the real commit; a savepoint is not a commit."""

from __future__ import annotations

from typing import Any

from kefu.core import events, jobs
from kefu.core.db import Database
from tests.fixtures.events import recorded_events


async def published_after(db: Database, work: Any) -> list[str]:
    async with recorded_events("test") as seen, db.sessionmaker() as session:
        await work(session)
    return [payload["n"] for payload in seen]


async def test_a_released_savepoint_publishes_nothing_until_the_commit(db: Database) -> None:
    async def work(session: Any) -> None:
        events.queue_event(session, "test", {"n": "before"})
        async with session.begin_nested():
            events.queue_event(session, "test", {"n": "inside"})
        assert [p["n"] for _, p in events.pending_events(session)] == ["before", "inside"]
        await session.rollback()

    assert await published_after(db, work) == []


async def test_a_rolled_back_savepoint_drops_only_its_own_work(db: Database) -> None:
    async def work(session: Any) -> None:
        events.queue_event(session, "test", {"n": "kept"})
        try:
            async with session.begin_nested():
                events.queue_event(session, "test", {"n": "dropped"})
                raise RuntimeError("the savepoint fails")
        except RuntimeError:
            pass
        events.queue_event(session, "test", {"n": "after"})
        await session.commit()

    assert await published_after(db, work) == ["kept", "after"]


async def test_jobs_wait_for_the_outer_commit(db: Database) -> None:
    ran: list[int] = []

    @jobs.job("test.aftercommit")
    async def record(n: int) -> None:
        ran.append(n)

    async with db.sessionmaker() as session:
        jobs.enqueue(session, "test.aftercommit", n=1)
        async with session.begin_nested():
            jobs.enqueue(session, "test.aftercommit", n=2)
        await jobs.drain()
        assert ran == []  # the savepoint's release is not a commit
        await session.commit()
    await jobs.drain()
    assert sorted(ran) == [1, 2]
