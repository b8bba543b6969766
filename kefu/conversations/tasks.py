"""Conversation jobs and sweeps: queue hand-out, snooze wake-up, auto-away."""

from __future__ import annotations

import structlog

from kefu.core.jobs import job, job_session, schedule

log = structlog.get_logger(__name__)


@job("conversations.wake_snoozed")
async def wake_snoozed() -> list[int]:
    """Snoozed chats whose time has come go back to the open list (a missed run catches up)."""
    from kefu.conversations import workspace

    async with job_session() as session:
        woken = await workspace.wake_due(session)
        await session.commit()
    if woken:
        log.info("snoozed_conversations_woken", count=len(woken))
    return woken


schedule("conversations.wake_snoozed", 30)


@job("conversations.route_waiting")
async def route_waiting() -> list[int]:
    """Hand out waiting chats whose routing event was missed (a crashed process, an agent
    whose slot freed on another host), and refresh every waiting customer's place in line."""
    from kefu.conversations import queue, routing

    async with job_session() as session:
        routed = await routing.drain_queue(session)
        await session.commit()
    async with job_session() as session:
        await queue.publish_queue(session)
    if routed:
        log.info("waiting_conversations_routed", count=len(routed))
    return routed


@job("conversations.publish_queue")
async def publish_queue() -> int:
    """Push queue position and estimated wait to waiting customers (after a change)."""
    from kefu.conversations import queue

    async with job_session() as session:
        return await queue.publish_queue(session)


schedule("conversations.route_waiting", 15)
