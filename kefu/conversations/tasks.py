"""Conversation jobs and sweeps: queue hand-out, snooze wake-up, auto-away."""

from __future__ import annotations

import asyncio

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
        await queue.publish_queue(session, force=True)
    if routed:
        log.info("waiting_conversations_routed", count=len(routed))
    return routed


PUBLISH_GAP_S = 0.25
_publisher = {"running": False, "again": False}


@job("conversations.publish_queue")
async def publish_queue() -> int:
    """Push queue position and estimated wait to waiting customers (after a change).

    Coalesced: while one run is in progress, further requests only ask it to go round once
    more after a short gap, so a burst of messages costs a few queue reads, not one each.
    """
    from kefu.conversations import queue

    _publisher["again"] = True
    if _publisher["running"]:
        return 0
    _publisher["running"] = True
    told = 0
    try:
        while _publisher["again"]:
            _publisher["again"] = False
            async with job_session() as session:
                told += await queue.publish_queue(session)
            if _publisher["again"]:
                await asyncio.sleep(PUBLISH_GAP_S)
    finally:
        _publisher["running"] = False
    return told


schedule("conversations.route_waiting", 15)
